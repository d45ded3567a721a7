//! The Playground: one prompt answered by several models side by side, streamed. The models are
//! the project's (base, vanilla, each sub-model, each merge) whose files exist; each answers on
//! its own worker, loads its weights once and keeps them for the next prompt.

pub mod column;
pub mod sampling;

use super::{needs, Page, PageCtx};
use crate::app::task::Task;
use crate::engine::pipeline::plan::model_labels;
use crate::engine::pipeline::stages::model_source;
use crate::engine::pipeline::Project;
use crate::engine::report::style::Colours;
use column::{Column, Source};
use eframe::egui::{self, Color32, RichText};
use sampling::SamplingForm;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

/// Narrowest column, in points; more models than fit scroll sideways.
const MIN_COLUMN_WIDTH: f32 = 280.0;

/// State of the Playground page.
#[derive(Default)]
pub struct PlaygroundPage {
    /// The prompt field.
    pub prompt: String,
    /// The sampling settings.
    pub sampling: SamplingForm,
    /// The models ticked.
    pub chosen: BTreeSet<String>,
    /// The project's models whose files exist, in table order.
    pub available: Vec<String>,
    /// One column per ticked model, in table order.
    pub columns: Vec<Column>,
    /// The prompt the columns answer.
    pub asked: String,
    chose_defaults: bool,
    checked_for: Option<u64>,
    checking: Option<Task<Vec<String>>>,
}

/// The models of `project` whose weights exist: the base always, an adapter when its
/// `adapter_model.safetensors` is there, a full merged model when its `config.json` is.
pub fn available_models(project: &Project) -> Vec<String> {
    model_labels(project, project.k())
        .into_iter()
        .filter(|label| match model_source(project, label) {
            (_, Some(adapter)) => adapter.join("adapter_model.safetensors").is_file(),
            (model, None) if label != "base" => Path::new(&model).join("config.json").is_file(),
            _ => true,
        })
        .collect()
}

impl PlaygroundPage {
    /// Looks again which models exist when the project was read again.
    fn check_models(&mut self, cx: &PageCtx<'_>, ctx: &egui::Context) {
        if let Some(result) = self.checking.as_mut().and_then(Task::poll) {
            self.checking = None;
            self.available = result.unwrap_or_default();
            if !self.chose_defaults && !self.available.is_empty() {
                self.chose_defaults = true;
                // Sub-models are many; the comparison that matters first is base, vanilla and the merges.
                self.chosen = self.available.iter().filter(|l| !l.starts_with("sub-")).cloned().collect();
            }
        }
        let Some(project) = cx.workspace.project() else { return };
        if self.checking.is_some() || self.checked_for == Some(cx.workspace.revision) {
            return;
        }
        self.checked_for = Some(cx.workspace.revision);
        let project = Arc::clone(project);
        self.checking = Some(Task::spawn("list models", ctx, move || available_models(&project)));
    }

    /// Keeps one column per ticked, existing model, in table order; a column unticked stops.
    fn sync_columns(&mut self) {
        let wanted: Vec<String> = self.available.iter().filter(|l| self.chosen.contains(*l)).cloned().collect();
        for c in self.columns.iter_mut().filter(|c| !wanted.contains(&c.label)) {
            c.stop();
        }
        let mut old = std::mem::take(&mut self.columns);
        self.columns = wanted
            .iter()
            .map(|label| match old.iter().position(|c| c.label == *label) {
                Some(i) => old.swap_remove(i),
                None => Column::new(label),
            })
            .collect();
    }

    /// Whether any column is loading or answering.
    pub fn is_running(&self) -> bool {
        self.columns.iter().any(Column::is_running)
    }

    fn generate(&mut self, project: &Project, cx: &mut PageCtx<'_>, ctx: &egui::Context) {
        self.asked = self.prompt.trim().to_string();
        let req = self.sampling.request(&self.asked);
        for c in &mut self.columns {
            let (model, adapter) = model_source(project, &c.label);
            let source = Source { model, adapter, device: cx.device, dtype: project.dtype };
            c.start(source, req.clone(), ctx, cx.activity);
        }
    }

    fn models_ui(&mut self, ui: &mut egui::Ui, project: &Project) {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Models:").strong());
            for label in &self.available {
                let mut on = self.chosen.contains(label);
                if ui.checkbox(&mut on, label).changed() {
                    if on {
                        self.chosen.insert(label.clone());
                    } else {
                        self.chosen.remove(label);
                    }
                }
            }
        });
        let missing: Vec<String> = model_labels(project, project.k()).into_iter().filter(|l| !self.available.contains(l)).collect();
        if !missing.is_empty() && self.checking.is_none() {
            ui.label(RichText::new(format!("Not trained or merged yet: {}.", missing.join(", "))).weak());
        }
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        let ctx = ui.ctx().clone();
        self.check_models(cx, &ctx);
        self.sync_columns();
        ui.heading("Playground");
        ui.label(
            "Ask every model the same thing and read the answers side by side: does the merge follow the instruction as \
             well as vanilla SFT, and does it keep what the base knew? Each model loads once and stays loaded for the next \
             prompt.",
        );
        let Some(project) = cx.workspace.project().cloned() else {
            needs(ui, cx, Page::Project, "a project (its models)");
            return;
        };
        ui.add_space(6.0);
        self.models_ui(ui, &project);
        self.sampling.ui(ui);
        let running = self.is_running();
        let mut go = false;
        ui.horizontal(|ui| {
            let label = ui.label("Prompt:");
            let field = egui::TextEdit::multiline(&mut self.prompt)
                .hint_text("ask the models something")
                .desired_rows(2)
                .desired_width((ui.available_width() - 180.0).max(200.0));
            let field = ui.add_enabled(!running, field).labelled_by(label.id);
            go |= field.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter) && i.modifiers.command);
            let ready = !running && !self.prompt.trim().is_empty() && !self.columns.is_empty();
            go |= ui.add_enabled(ready, egui::Button::new("Generate")).on_hover_text("Ctrl+Enter in the prompt").clicked();
            if running && ui.button("Stop").on_hover_text("Stops every model").clicked() {
                for c in &mut self.columns {
                    c.stop();
                }
            }
        });
        if go && !running && !self.prompt.trim().is_empty() {
            self.generate(&project, cx, &ctx);
        }
        if self.columns.is_empty() {
            ui.add_space(12.0);
            let text = if self.checking.is_some() { "looking for the models' files..." } else { "Tick at least one model above." };
            ui.label(RichText::new(text).weak());
            return;
        }
        if !self.asked.is_empty() {
            ui.label(RichText::new(format!("> {}", self.asked)).weak());
        }
        let labels = model_labels(&project, project.k());
        let palette = Colours::new(Some("base"), labels.iter().map(String::as_str));
        let n = self.columns.len() as f32;
        let spacing = ui.spacing().item_spacing.x;
        let width = ((ui.available_width() - spacing * (n - 1.0)) / n).max(MIN_COLUMN_WIDTH);
        egui::ScrollArea::horizontal().id_salt("playground-columns").show(ui, |ui| {
            ui.horizontal_top(|ui| {
                for c in &mut self.columns {
                    let rgb = palette.of(&c.label);
                    ui.vertical(|ui| {
                        ui.set_width(width);
                        c.ui(ui, Color32::from_rgb(rgb.0, rgb.1, rgb.2));
                    });
                }
            });
        });
    }
}
