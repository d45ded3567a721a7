//! The memory a training run with the current settings needs, part by part, against the free
//! memory of the device work runs on, and what to lower when it does not fit. The estimate is
//! arithmetic ([`crate::engine::train::memory_plan`]); the device listing runs on a worker.

use crate::app::task::Task;
use crate::engine::device::{default_dtype, dtype_name, find_device, list_devices, DeviceInfo, DeviceRequest};
use crate::engine::memory::bytes_text;
use crate::engine::model::ModelConfig;
use crate::engine::train::memory_fit::{check_training_memory, Checkpointing};
use crate::engine::train::memory_plan::{lora_parameters, KernelKind};
use crate::engine::train::TrainConfig;
use candle_core::{DType, Device};
use eframe::egui;

/// Above this share of the free memory a fit is called tight.
const TIGHT: f32 = 0.9;

/// The bar's colour when the run fits comfortably.
const FITS_COLOR: egui::Color32 = egui::Color32::from_rgb(0x3c, 0x8d, 0x52);

/// The bar's colour when the run does not fit.
const TOO_BIG_COLOR: egui::Color32 = egui::Color32::from_rgb(0xa8, 0x38, 0x38);

/// The training settings the estimate is for, and where they come from.
pub struct TrainSettings<'a> {
    /// The settings.
    pub config: &'a TrainConfig,
    /// "the project's [train]" or "the paper preset (no project open)".
    pub origin: &'a str,
    /// The project's working dtype, if it names one (else the device's default).
    pub dtype: Option<DType>,
    /// The project's gradient checkpointing choice (auto without a project).
    pub checkpointing: Checkpointing,
}

/// The devices with their memory as last measured by this page (refreshed after each model
/// load and on request, since loading a model changes what is free).
#[derive(Default)]
pub struct DeviceMemory {
    measured: Option<Vec<DeviceInfo>>,
    measuring: Option<Task<Vec<DeviceInfo>>>,
}

impl DeviceMemory {
    /// Lists the devices again on a worker.
    pub fn measure(&mut self, ctx: &egui::Context) {
        if self.measuring.is_none() {
            self.measuring = Some(Task::spawn("list devices", ctx, list_devices));
        }
    }

    fn poll(&mut self) {
        if let Some(result) = self.measuring.as_mut().and_then(Task::poll) {
            self.measuring = None;
            if let Ok(list) = result {
                self.measured = Some(list);
            }
        }
    }
}

/// The working dtype training would use on `request`: the project's, else f32 on the CPU and
/// bf16 on GPUs (as loading chooses).
fn training_dtype(request: DeviceRequest, project: Option<DType>) -> DType {
    project.unwrap_or_else(|| match request {
        DeviceRequest::Cpu => default_dtype(&Device::Cpu),
        _ => DType::BF16,
    })
}

/// Draws the estimate for `config` on the device `request` names. With `can_apply` (a project
/// is open) each suggestion has an Apply button; returns the settings of the one pressed.
pub fn memory_ui(
    ui: &mut egui::Ui,
    devices: &mut DeviceMemory,
    window_devices: &[DeviceInfo],
    request: DeviceRequest,
    config: &ModelConfig,
    train: &TrainSettings<'_>,
    can_apply: bool,
) -> Option<Vec<(&'static str, toml_edit::Value)>> {
    devices.poll();
    let list = devices.measured.as_deref().unwrap_or(window_devices);
    let device = find_device(list, request);
    let kind = device.map(|d| d.request).unwrap_or(request);
    let dtype = training_dtype(kind, train.dtype);
    let kernels = KernelKind::for_run(kind == DeviceRequest::Cpu, dtype);
    let t = train.config;
    let name = device.map(|d| d.name.clone()).unwrap_or_else(|| request.to_string());
    let free = device.and_then(|d| d.free_bytes);
    let check = check_training_memory(config, t, dtype, kernels, train.checkpointing, free, &name);
    let (plan, checkpointing) = match &check {
        Ok(c) => (c.plan, c.checkpointing),
        Err(e) => (e.plan, train.checkpointing != Checkpointing::Off),
    };
    ui.label(format!(
        "With {}: micro-batch {} × max_len {}, LoRA r{} on {}, {}{}{}.",
        train.origin,
        t.micro_batch,
        t.max_len,
        t.lora.rank,
        t.lora.targets.join(", "),
        match config.quantized {
            Some(_) => format!("weights in their GGUF blocks, {} compute", dtype_name(dtype)),
            None => format!("{} weights", dtype_name(dtype)),
        },
        if checkpointing { ", gradient checkpointing" } else { "" },
        if kernels == KernelKind::Composed { " (on GPUs a rough guide: calibrated on the CPU)" } else { "" }
    ));
    let notes = part_notes(config, t, dtype, checkpointing);
    egui::Grid::new("memory-plan").num_columns(3).spacing([16.0, 2.0]).striped(true).show(ui, |ui| {
        for ((name, bytes), note) in plan.parts().into_iter().zip(notes) {
            ui.label(name);
            ui.label(bytes_text(bytes));
            ui.add(egui::Label::new(egui::RichText::new(note).weak()).wrap());
            ui.end_row();
        }
        ui.strong("needed");
        ui.strong(bytes_text(plan.total()));
        ui.end_row();
    });
    ui.add_space(4.0);
    let Some(free) = free else {
        let why =
            if device.is_none() { "is not in the device list (still listing, or not found)" } else { "does not report its free memory" };
        ui.label(format!("{name} {why}: the estimate cannot be compared."));
        measure_button(ui, devices);
        return None;
    };
    let total = device.and_then(|d| d.total_bytes).map(|t| format!(" of {}", bytes_text(t))).unwrap_or_default();
    let need = plan.total();
    let fits = need <= free;
    let fraction = (need as f64 / free.max(1) as f64) as f32;
    let color = match fraction {
        f if f > 1.0 => TOO_BIG_COLOR,
        f if f > TIGHT => ui.visuals().warn_fg_color,
        _ => FITS_COLOR,
    };
    ui.horizontal(|ui| {
        ui.label(format!("{name}: {} free{total}", bytes_text(free)));
        measure_button(ui, devices);
    });
    let bar = egui::ProgressBar::new(fraction.min(1.0)).fill(color).desired_width(ui.available_width().min(520.0)).text(format!(
        "needs {} of {} free ({:.0}%)",
        bytes_text(need),
        bytes_text(free),
        fraction * 100.0
    ));
    ui.add(bar);
    if fits && fraction > TIGHT {
        ui.colored_label(
            color,
            format!("Fits, but tightly: {} to spare, and the estimate is within a few percent.", bytes_text(free - need)),
        );
    } else if fits {
        let how = if checkpointing && train.checkpointing == Checkpointing::Auto {
            " with gradient checkpointing (chosen because it does not fit without)"
        } else {
            ""
        };
        ui.label(format!("Fits{how}, with {} to spare.", bytes_text(free - need)));
    } else if let Err(refused) = check {
        ui.colored_label(
            ui.visuals().error_fg_color,
            format!("Does not fit: {} more than is free. A run with these settings is refused before loading.", bytes_text(need - free)),
        );
        let lines = refused.advice;
        if lines.len() > 1 {
            ui.label("To fit, either:");
        }
        let mut chosen = None;
        for line in lines {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!("• {}", line.text));
                if can_apply && !line.changes.is_empty() && ui.small_button("Apply").on_hover_text("Write it to dtm.toml").clicked() {
                    chosen = Some(line.changes.clone());
                }
            });
        }
        return chosen;
    }
    None
}

/// A parameter count as "134.5M".
fn millions(n: u64) -> String {
    format!("{:.1}M", n as f64 / 1e6)
}

/// What each part of [`crate::engine::train::memory_plan::MemoryPlan::parts`] is, in its order.
fn part_notes(config: &ModelConfig, t: &TrainConfig, dtype: DType, checkpointing: bool) -> [String; 7] {
    let adapters = lora_parameters(config, &t.lora);
    let tokens = format!("{} × {}", t.micro_batch, t.max_len);
    let (weights, copies) = match config.quantized {
        Some(q) => (
            match config.parameter_count().saturating_sub(q.parameters) {
                // The norms (and biases) only.
                rest if rest * 100 < config.parameter_count() => {
                    format!("{} parameters in quantized GGUF blocks, the norms in {}", millions(q.parameters), dtype_name(dtype))
                }
                rest => {
                    format!("{} parameters in quantized GGUF blocks, {} in {}", millions(q.parameters), millions(rest), dtype_name(dtype))
                }
            },
            "one de-quantised tile at a time".to_string(),
        ),
        None => (
            format!("{} parameters × {} bytes ({})", millions(config.parameter_count()), dtype.size_in_bytes(), dtype_name(dtype)),
            "row-major copies for the backward pass".to_string(),
        ),
    };
    [
        weights,
        copies,
        format!("{} parameters: values + gradients, f32", millions(adapters)),
        "two moments per adapter parameter, f32".into(),
        if checkpointing {
            format!("{tokens} tokens: every layer's input and one layer's activations (checkpointing)")
        } else {
            format!("{tokens} tokens; attention grows with max_len squared")
        },
        format!("{tokens} × {} vocabulary, f32", config.vocab_size),
        "program, tokenizer, allocator".into(),
    ]
}

fn measure_button(ui: &mut egui::Ui, devices: &mut DeviceMemory) {
    let busy = devices.measuring.is_some();
    if ui
        .add_enabled(!busy, egui::Button::new("Measure again").small())
        .on_hover_text("List the devices and their free memory again")
        .clicked()
    {
        devices.measure(ui.ctx());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_runs_in_f32_on_the_cpu_and_bf16_on_gpus() {
        assert_eq!(training_dtype(DeviceRequest::Cpu, None), DType::F32);
        assert_eq!(training_dtype(DeviceRequest::Cuda(0), None), DType::BF16);
        assert_eq!(training_dtype(DeviceRequest::Cpu, Some(DType::BF16)), DType::BF16);
    }
}
