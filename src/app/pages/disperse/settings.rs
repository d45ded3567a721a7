//! The Disperse settings form: encoder, text field, method, K and seed, written back to
//! `dtm.toml` as they change, and the run / stop buttons.

use super::STAGES;
use crate::app::frame::badge::Badge;
use crate::app::pages::PageCtx;
use crate::engine::pipeline::Project;
use eframe::egui;

/// The `[disperse]` settings as the form edits them.
#[derive(Debug, Clone, PartialEq)]
pub struct DisperseForm {
    /// builtin, minilm or a folder.
    pub encoder: String,
    /// instruction, response or both.
    pub field: String,
    /// kmeans, balanced, random or field.
    pub method: String,
    /// Portions.
    pub k: usize,
    /// Seed.
    pub seed: u64,
    /// Whether to compute the elbow table.
    pub elbow: bool,
}

impl Default for DisperseForm {
    fn default() -> Self {
        Self { encoder: "builtin".into(), field: "instruction".into(), method: "kmeans".into(), k: 4, seed: 0, elbow: false }
    }
}

impl DisperseForm {
    /// The project's settings.
    pub fn from_project(project: &Project) -> Self {
        let d = &project.raw.disperse;
        Self { encoder: d.encoder.clone(), field: d.field.clone(), method: d.method.clone(), k: d.k, seed: d.seed, elbow: d.elbow }
    }
}

/// A drop-down of `options` (value, text) named `id` for screen readers; returns whether it changed.
fn choice(ui: &mut egui::Ui, id: &str, value: &mut String, options: &[(&str, &str)]) -> bool {
    let before = value.clone();
    let shown = options.iter().find(|(v, _)| v == value).map(|(_, l)| *l).unwrap_or(value.as_str()).to_string();
    egui::ComboBox::from_id_salt(id)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for (v, label) in options {
                ui.selectable_value(value, v.to_string(), *label);
            }
        })
        .response
        .accessible_name(id);
    *value != before
}

/// Draws the form and the run controls; changed settings go to `dtm.toml`.
pub fn settings_ui(ui: &mut egui::Ui, form: &mut DisperseForm, cx: &mut PageCtx<'_>) {
    let running = cx.workspace.running().map(str::to_string);
    let mut changes: Vec<(String, toml_edit::Value)> = Vec::new();
    ui.add_enabled_ui(running.is_none(), |ui| {
        egui::Grid::new("disperse-settings").num_columns(4).spacing([14.0, 6.0]).show(ui, |ui| {
            ui.label("Encoder");
            let builtin = [("builtin", "built-in (no weights, fast)"), ("minilm", "MiniLM (all-MiniLM-L6-v2)")];
            let mut kind = if builtin.iter().any(|(v, _)| *v == form.encoder) { form.encoder.clone() } else { "folder".into() };
            let mut options = builtin.to_vec();
            options.push(("folder", "a sentence-transformers folder"));
            if choice(ui, "Encoder", &mut kind, &options) && kind != "folder" {
                form.encoder = kind.clone();
                changes.push(("disperse.encoder".into(), form.encoder.clone().into()));
            }
            ui.label("Text");
            if choice(
                ui,
                "Text",
                &mut form.field,
                &[("instruction", "instruction"), ("response", "response"), ("both", "instruction + response")],
            ) {
                changes.push(("disperse.field".into(), form.field.clone().into()));
            }
            ui.end_row();
            if kind == "folder" {
                ui.label("Encoder folder");
                let edit = ui
                    .add(egui::TextEdit::singleline(&mut form.encoder).hint_text("path to a sentence-transformers folder"))
                    .accessible_name("Encoder folder");
                if edit.lost_focus() && !form.encoder.trim().is_empty() {
                    changes.push(("disperse.encoder".into(), form.encoder.trim().to_string().into()));
                }
                ui.end_row();
            }
            ui.label("Method");
            let methods = [
                ("kmeans", "k-means"),
                ("balanced", "balanced k-means (equal sizes)"),
                ("random", "random (the paper found it as good)"),
                ("field", "by a column's value"),
            ];
            if choice(ui, "Method", &mut form.method, &methods) {
                changes.push(("disperse.method".into(), form.method.clone().into()));
            }
            ui.label("Seed");
            let seed = ui.add(egui::DragValue::new(&mut form.seed).range(0..=u32::MAX as u64)).accessible_name("Seed");
            if seed.drag_stopped() || (seed.changed() && !seed.dragged()) {
                changes.push(("disperse.seed".into(), (form.seed as i64).into()));
            }
            ui.end_row();
            ui.label("Portions K");
            let k = ui.add_enabled(form.method != "field", egui::Slider::new(&mut form.k, 2..=16).text("sub-models"));
            if k.drag_stopped() || (k.changed() && !k.dragged()) {
                changes.push(("disperse.k".into(), (form.k as i64).into()));
            }
            ui.label("Elbow");
            if ui.checkbox(&mut form.elbow, "inertia and silhouette for K = 2..8").changed() {
                changes.push(("disperse.elbow".into(), form.elbow.into()));
            }
            ui.end_row();
        });
    });
    if !changes.is_empty() {
        cx.workspace.set(changes, ui.ctx());
    }
    if let Some(e) = &cx.workspace.edit_error {
        ui.colored_label(ui.visuals().error_fg_color, format!("Not saved: {e}"));
    }
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        match &running {
            None => {
                let ready = !cx.workspace.is_saving();
                if ui
                    .add_enabled(ready, egui::Button::new("Run disperse"))
                    .on_hover_text("Runs the data, embed and cluster stages that are not done")
                    .clicked()
                {
                    cx.workspace.run("disperse", STAGES.iter().map(|s| s.to_string()).collect(), ui.ctx(), cx.activity);
                }
            }
            Some(label) => {
                ui.spinner();
                ui.label(format!("{label} is running"));
                if ui.button("Stop").clicked() {
                    cx.workspace.cancel_run();
                }
            }
        }
        for stage in STAGES {
            let status = cx.workspace.status(stage);
            ui.label(egui::RichText::new(stage).monospace());
            Badge::of(status.map(|s| s.state)).show(ui);
        }
    });
    if let Some((label, Err(e))) = &cx.workspace.last_run {
        if label == "disperse" {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }
    if let Some(figure) = cx.workspace.status("cluster").and_then(|s| s.figure.clone()) {
        ui.label(egui::RichText::new(figure).weak());
    }
}
