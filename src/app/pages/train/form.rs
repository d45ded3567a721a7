//! The `[train]` settings form: the preset's values with the project's overrides, the paper's
//! value beside each, a one-line explanation on hover, and every change written to `dtm.toml`.

use crate::app::pages::PageCtx;
use crate::engine::pipeline::Project;
use crate::engine::train::schedule::Schedule;
use crate::engine::train::TrainConfig;
use eframe::egui::{self, RichText};
use std::ops::RangeInclusive;

/// The training settings as the form edits them (the preset with the overrides applied).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainForm {
    /// paper or quick.
    pub preset: String,
    /// Train the vanilla model on all the data too.
    pub vanilla: bool,
    /// The settings in effect.
    pub config: TrainConfig,
    /// Target modules as typed (comma separated).
    pub targets: String,
}

impl Default for TrainForm {
    fn default() -> Self {
        let config = TrainConfig::paper();
        Self { preset: "paper".into(), vanilla: true, targets: config.lora.targets.join(", "), config }
    }
}

impl TrainForm {
    /// The project's settings.
    pub fn from_project(project: &Project) -> Self {
        let config = project.train.clone();
        Self {
            preset: project.raw.train.preset.clone().unwrap_or_else(|| "paper".into()),
            vanilla: project.vanilla,
            targets: config.lora.targets.join(", "),
            config,
        }
    }
}

/// Where one number goes.
struct Field<'a> {
    label: &'a str,
    key: &'a str,
    tip: &'a str,
    paper: String,
}

/// A number of the form: label with its explanation, the value, and the paper's value beside it.
fn number<T: egui::emath::Numeric>(
    ui: &mut egui::Ui,
    field: Field<'_>,
    value: &mut T,
    range: RangeInclusive<T>,
    changes: &mut Vec<(String, toml_edit::Value)>,
    to_toml: impl Fn(T) -> toml_edit::Value,
    scientific: bool,
) {
    ui.label(field.label).on_hover_text(field.tip);
    let mut drag = egui::DragValue::new(value).range(range);
    if scientific {
        drag = drag.custom_formatter(|v, _| format!("{v:.1e}")).custom_parser(|s| s.trim().parse().ok()).speed(0.0);
    }
    let response = ui.add(drag).accessible_name(field.label).on_hover_text(field.tip);
    if response.drag_stopped() || (response.changed() && !response.dragged()) {
        changes.push((format!("train.{}", field.key), to_toml(*value)));
    }
    ui.label(RichText::new(format!("paper {}", field.paper)).weak().small());
}

fn int(v: impl TryInto<i64>) -> toml_edit::Value {
    toml_edit::Value::from(v.try_into().unwrap_or(i64::MAX))
}

/// Draws the form; changed settings go to `dtm.toml`. Disabled while a run works.
pub fn form_ui(ui: &mut egui::Ui, form: &mut TrainForm, cx: &mut PageCtx<'_>) {
    let paper = TrainConfig::paper();
    let mut changes: Vec<(String, toml_edit::Value)> = Vec::new();
    ui.add_enabled_ui(cx.workspace.running().is_none(), |ui| {
        ui.horizontal(|ui| {
            ui.label("Preset").on_hover_text("The starting values: paper = Fu et al. 2024 (GPU); quick = a short run a laptop CPU manages");
            let before = form.preset.clone();
            egui::ComboBox::from_id_salt("train-preset")
                .selected_text(form.preset.clone())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.preset, "paper".to_string(), "paper (Fu et al. 2024)");
                    ui.selectable_value(&mut form.preset, "quick".to_string(), "quick (CPU: r 8, length 256, lr 5e-4)");
                })
                .response
                .accessible_name("Preset");
            if form.preset != before {
                changes.push(("train.preset".into(), form.preset.clone().into()));
            }
            ui.add_space(16.0);
            let vanilla = ui
                .checkbox(&mut form.vanilla, "Also train the vanilla model on all the data")
                .on_hover_text("The baseline DTM is compared with: one model trained on every row");
            if vanilla.changed() {
                changes.push(("train.vanilla".into(), form.vanilla.into()));
            }
        });
        let c = &mut form.config;
        egui::Grid::new("train-settings").num_columns(9).spacing([10.0, 6.0]).show(ui, |ui| {
            let f = |label, key, tip, paper: String| Field { label, key, tip, paper };
            number(
                ui,
                f("LoRA rank", "lora_r", "Rank r of each adapter: more is more capacity and memory", paper.lora.rank.to_string()),
                &mut c.lora.rank,
                1..=512,
                &mut changes,
                int,
                false,
            );
            number(
                ui,
                f("LoRA alpha", "lora_alpha", "Scale of the adapter's update (alpha / r)", paper.lora.alpha.to_string()),
                &mut c.lora.alpha,
                0.1..=1024.0,
                &mut changes,
                toml_edit::Value::from,
                false,
            );
            number(
                ui,
                f("LoRA dropout", "lora_dropout", "Share of the adapter's inputs dropped while training", paper.lora.dropout.to_string()),
                &mut c.lora.dropout,
                0.0..=0.9,
                &mut changes,
                |v| toml_edit::Value::from(v as f64),
                false,
            );
            ui.end_row();
            number(
                ui,
                f(
                    "Learning rate",
                    "lr",
                    "Peak learning rate of AdamW; lower it when the loss blows up",
                    format!("{:.0e}", paper.learning_rate),
                ),
                &mut c.learning_rate,
                1e-7..=1e7,
                &mut changes,
                toml_edit::Value::from,
                true,
            );
            ui.label("Schedule").on_hover_text("How the learning rate falls after the warm-up");
            let before = c.schedule;
            egui::ComboBox::from_id_salt("train-schedule")
                .selected_text(format!("{:?}", c.schedule).to_lowercase())
                .show_ui(ui, |ui| {
                    for s in [Schedule::Cosine, Schedule::Linear, Schedule::Constant] {
                        ui.selectable_value(&mut c.schedule, s, format!("{s:?}").to_lowercase());
                    }
                })
                .response
                .accessible_name("Schedule");
            if c.schedule != before {
                changes.push(("train.schedule".into(), format!("{:?}", c.schedule).to_lowercase().into()));
            }
            ui.label(RichText::new("paper cosine").weak().small());
            number(
                ui,
                f("Warm-up steps", "warmup", "Steps over which the learning rate rises from 0 to its peak", paper.warmup_steps.to_string()),
                &mut c.warmup_steps,
                0..=100_000,
                &mut changes,
                int,
                false,
            );
            ui.end_row();
            number(
                ui,
                f("Epochs", "epochs", "Passes over the portion's rows (max steps wins when set)", paper.epochs.to_string()),
                &mut c.epochs,
                0.1..=100.0,
                &mut changes,
                toml_edit::Value::from,
                false,
            );
            number(
                ui,
                f("Batch", "batch", "Sequences per forward pass; lower it when memory runs out", paper.micro_batch.to_string()),
                &mut c.micro_batch,
                1..=512,
                &mut changes,
                int,
                false,
            );
            number(
                ui,
                f("Grad accum", "grad_accum", "Batches per optimiser step (effective batch = batch x this)", paper.grad_accum.to_string()),
                &mut c.grad_accum,
                1..=512,
                &mut changes,
                int,
                false,
            );
            ui.end_row();
            number(
                ui,
                f("Max length", "max_len", "Tokens per example after truncation; lower it when memory runs out", paper.max_len.to_string()),
                &mut c.max_len,
                2..=131_072,
                &mut changes,
                int,
                false,
            );
            let mut steps = c.max_steps.unwrap_or(0);
            number(
                ui,
                f("Max steps", "max_steps", "Stop after this many optimiser steps (0 in the box: unset keeps the epochs)", "unset".into()),
                &mut steps,
                0..=10_000_000,
                &mut changes,
                int,
                false,
            );
            if steps > 0 {
                c.max_steps = Some(steps);
            } else if changes.last().is_some_and(|(k, _)| k == "train.max_steps") {
                // 0 steps is no run: keep the file as it is.
                changes.pop();
            }
            number(
                ui,
                f("Seed", "seed", "Seed of the data order, the adapter's start and dropout", paper.seed.to_string()),
                &mut c.seed,
                0..=u32::MAX as u64,
                &mut changes,
                int,
                false,
            );
            ui.end_row();
            number(
                ui,
                f(
                    "Evaluate every",
                    "eval_every",
                    "Steps between validation-loss points (they make the ratio chart)",
                    paper.eval_every.to_string(),
                ),
                &mut c.eval_every,
                0..=100_000,
                &mut changes,
                int,
                false,
            );
            number(
                ui,
                f(
                    "Save every",
                    "save_every",
                    "Steps between checkpoints (a stopped run resumes from the last one)",
                    paper.save_every.to_string(),
                ),
                &mut c.save_every,
                0..=100_000,
                &mut changes,
                int,
                false,
            );
            ui.end_row();
        });
        ui.horizontal(|ui| {
            ui.label("Targets").on_hover_text("Layers that get adapters: names such as gate_proj, or all-linear");
            let edit = ui.add(egui::TextEdit::singleline(&mut form.targets).desired_width(260.0)).accessible_name("Targets");
            if edit.lost_focus() {
                let names: Vec<String> = form.targets.split([',', ' ']).filter(|t| !t.is_empty()).map(str::to_string).collect();
                if !names.is_empty() && names != c.lora.targets {
                    changes.push(("train.targets".into(), toml_edit::Value::Array(names.iter().collect())));
                }
            }
            ui.label(RichText::new(format!("paper {}", paper.lora.targets.join(", "))).weak().small());
        });
    });
    if !changes.is_empty() {
        cx.workspace.set(changes, ui.ctx());
    }
    if let Some(e) = &cx.workspace.edit_error {
        ui.colored_label(ui.visuals().error_fg_color, format!("Not saved: {e}"));
    }
}
