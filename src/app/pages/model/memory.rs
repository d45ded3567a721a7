//! The memory a training run with the current settings needs, part by part, against the free
//! memory of the device work runs on, and what to lower when it does not fit. The estimate is
//! arithmetic ([`crate::engine::train::memory_plan`]); the device listing runs on a worker.

use crate::app::frame::status_bar::bytes_text;
use crate::app::task::Task;
use crate::engine::device::{default_dtype, find_device, list_devices, DeviceInfo, DeviceRequest};
use crate::engine::model::ModelConfig;
use crate::engine::train::memory_plan::{fit_in, plan_training_memory, Fit, KernelKind};
use crate::engine::train::TrainConfig;
use candle_core::{DType, Device};
use eframe::egui;

/// The training settings the estimate is for, and where they come from.
pub struct TrainSettings<'a> {
    /// The settings.
    pub config: &'a TrainConfig,
    /// "the project's [train]" or "the paper preset (no project open)".
    pub origin: &'a str,
    /// The project's working dtype, if it names one (else the device's default).
    pub dtype: Option<DType>,
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

/// The changes that would fit, each on its own ("lower the micro-batch 4 → 2 (raise grad_accum
/// 4 → 8 to keep the effective batch of 16)", "lower max_len 1024 → 512 (...)").
pub fn advice(train: &TrainConfig, fit: &Fit) -> Vec<String> {
    if fit.nothing_fits {
        return vec!["Even one sequence of 64 tokens does not fit: the weights alone are too big for this device. Choose a device with more memory, a smaller model, or a lower-precision dtype.".into()];
    }
    let mut out = Vec::new();
    if let Some(b) = fit.batch.filter(|b| *b < train.micro_batch) {
        let effective = train.micro_batch * train.grad_accum;
        let keep = if effective % b == 0 {
            format!(" (raise grad_accum {} → {} to keep the effective batch of {effective})", train.grad_accum, effective / b)
        } else {
            String::new()
        };
        out.push(format!("lower the micro-batch {} → {b}{keep}", train.micro_batch));
    }
    if let Some(l) = fit.max_len.filter(|l| *l < train.max_len) {
        out.push(format!("lower max_len {} → {l} (longer examples are truncated)", train.max_len));
    }
    if out.is_empty() {
        out.push(format!("even micro-batch 1 at max_len {} or max_len 64 at micro-batch {} does not fit: lower both", train.max_len, train.micro_batch));
    }
    out
}

/// Draws the estimate for `config` on the device `request` names.
pub fn memory_ui(
    ui: &mut egui::Ui,
    devices: &mut DeviceMemory,
    window_devices: &[DeviceInfo],
    request: DeviceRequest,
    config: &ModelConfig,
    train: &TrainSettings<'_>,
) {
    devices.poll();
    let list = devices.measured.as_deref().unwrap_or(window_devices);
    let device = find_device(list, request);
    let kind = device.map(|d| d.request).unwrap_or(request);
    let kernels = if kind == DeviceRequest::Cpu { KernelKind::FusedCpu } else { KernelKind::Composed };
    let dtype = training_dtype(kind, train.dtype);
    let t = train.config;
    let plan = plan_training_memory(config, t, dtype, kernels);
    ui.label(format!(
        "With {}: micro-batch {} × max_len {}, LoRA r{} on {}, {} weights{}.",
        train.origin,
        t.micro_batch,
        t.max_len,
        t.lora.rank,
        t.lora.targets.join(", "),
        crate::engine::device::dtype_name(dtype),
        if kernels == KernelKind::Composed { " (on GPUs a rough guide: calibrated on the CPU)" } else { "" }
    ));
    egui::Grid::new("memory-plan").num_columns(2).spacing([24.0, 2.0]).show(ui, |ui| {
        for (name, bytes) in plan.parts() {
            ui.label(name);
            ui.label(bytes_text(bytes));
            ui.end_row();
        }
        ui.strong("needed");
        ui.strong(bytes_text(plan.total()));
        ui.end_row();
    });
    ui.add_space(4.0);
    let name = device.map(|d| d.name.clone()).unwrap_or_else(|| request.to_string());
    let Some(free) = device.and_then(|d| d.free_bytes) else {
        let why = if device.is_none() { "is not in the device list (still listing, or not found)" } else { "does not report its free memory" };
        ui.label(format!("{name} {why}: the estimate cannot be compared."));
        measure_button(ui, devices);
        return;
    };
    let total = device.and_then(|d| d.total_bytes).map(|t| format!(" of {}", bytes_text(t))).unwrap_or_default();
    let need = plan.total();
    let fits = need <= free;
    let color = if fits { ui.visuals().widgets.active.bg_fill } else { ui.visuals().error_fg_color };
    ui.horizontal(|ui| {
        ui.label(format!("{name}: {} free{total}", bytes_text(free)));
        measure_button(ui, devices);
    });
    let fraction = (need as f64 / free.max(1) as f64) as f32;
    let bar = egui::ProgressBar::new(fraction.min(1.0))
        .fill(color)
        .desired_width(ui.available_width().min(520.0))
        .text(format!("needs {} of {} free ({:.0}%)", bytes_text(need), bytes_text(free), fraction * 100.0));
    ui.add(bar);
    if fits {
        ui.label(format!("Fits, with {} to spare.", bytes_text(free - need)));
    } else {
        ui.colored_label(ui.visuals().error_fg_color, format!("Does not fit: {} more than is free.", bytes_text(need - free)));
        let lines = advice(t, &fit_in(config, t, dtype, kernels, free));
        if lines.len() > 1 {
            ui.label("To fit, either:");
        }
        for line in lines {
            ui.label(format!("• {line}"));
        }
    }
}

fn measure_button(ui: &mut egui::Ui, devices: &mut DeviceMemory) {
    let busy = devices.measuring.is_some();
    if ui.add_enabled(!busy, egui::Button::new("Measure again").small()).on_hover_text("List the devices and their free memory again").clicked() {
        devices.measure(ui.ctx());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_names_the_values_that_fit() {
        let t = TrainConfig::paper();
        let lines = advice(&t, &Fit { batch: Some(1), max_len: Some(512), nothing_fits: false });
        assert_eq!(lines[0], "lower the micro-batch 4 → 1 (raise grad_accum 4 → 16 to keep the effective batch of 16)");
        assert_eq!(lines[1], "lower max_len 1024 → 512 (longer examples are truncated)");
        let only_len = advice(&t, &Fit { batch: None, max_len: Some(256), nothing_fits: false });
        assert_eq!(only_len, vec!["lower max_len 1024 → 256 (longer examples are truncated)".to_string()]);
        let none = advice(&t, &Fit { batch: None, max_len: None, nothing_fits: true });
        assert!(none[0].contains("too big for this device"), "{none:?}");
        assert_eq!(training_dtype(DeviceRequest::Cpu, None), DType::F32);
        assert_eq!(training_dtype(DeviceRequest::Cuda(0), None), DType::BF16);
        assert_eq!(training_dtype(DeviceRequest::Cpu, Some(DType::BF16)), DType::BF16);
    }
}
