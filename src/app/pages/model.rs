//! The Base model page: choose a model and see its description, loaded on a worker thread.

use super::PageCtx;
use crate::app::frame::badge::Badge;
use crate::app::task::Job;
use crate::engine::device::{open_device, DeviceRequest};
use crate::engine::model::describe::describe_model;
use crate::engine::model::{load_model_stage, LoadOptions, LoadRequest};
use crate::engine::pipeline::Project;
use eframe::egui;

type Rows = Vec<(&'static str, String)>;

/// State of the model page.
#[derive(Default)]
pub struct ModelPage {
    path: String,
    loaded_path: Option<String>,
    loading: Option<Job<Result<Rows, String>>>,
    rows: Rows,
    error: Option<String>,
    pending: Option<(String, DeviceRequest)>,
}

impl ModelPage {
    /// Loads `model` (folder, .gguf or cached HF id) on `device`.
    pub fn open(&mut self, model: String, device: DeviceRequest, _ctx: &egui::Context) {
        self.path = model.clone();
        self.pending = Some((model, device));
    }

    /// Shows the project's base model.
    pub fn follow(&mut self, project: &Project, device: DeviceRequest, ctx: &egui::Context) {
        if self.loaded_path.as_deref() != Some(project.model.as_str()) && self.pending.is_none() {
            self.open(project.model.clone(), device, ctx);
        }
    }

    /// The page's badge.
    pub fn badge(&self) -> Badge {
        match (&self.loading, &self.error, self.rows.is_empty()) {
            (Some(_), _, _) => Badge::Running,
            (_, Some(_), _) => Badge::Failed,
            (_, _, false) => Badge::Done,
            _ => Badge::NotStarted,
        }
    }

    fn start_loading(&mut self, model: String, device: DeviceRequest, cx: &mut PageCtx<'_>, ctx: &egui::Context) {
        self.loaded_path = Some(model.clone());
        self.error = None;
        self.loading = Some(Job::spawn("load model", ctx, cx.activity, move |sink, cancel| {
            let device = open_device(device).map_err(|e| e.to_string())?;
            let req = LoadRequest { model, options: LoadOptions { device, ..Default::default() } };
            let loaded = load_model_stage(&req, sink, cancel).map_err(|e| e.to_string())?;
            Ok(describe_model(&loaded, 2000))
        }));
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        if let Some(result) = self.loading.as_mut().and_then(Job::poll) {
            self.loading = None;
            match result.and_then(|r| r) {
                Ok(rows) => self.rows = rows,
                Err(e) => {
                    self.rows.clear();
                    self.error = Some(e);
                }
            }
        }
        if self.loading.is_none() {
            if let Some((model, device)) = self.pending.take() {
                self.start_loading(model, device, cx, ui.ctx());
            }
        }
        ui.heading("Base model");
        ui.horizontal(|ui| {
            ui.label("Model:");
            ui.add(egui::TextEdit::singleline(&mut self.path).hint_text("HF folder, .gguf file or cached model id").desired_width(480.0));
            let busy = self.loading.is_some();
            if ui.add_enabled(!busy && !self.path.trim().is_empty(), egui::Button::new("Load")).clicked() {
                self.pending = Some((self.path.trim().to_string(), cx.device));
            }
            if busy {
                ui.spinner();
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        egui::Grid::new("model-description").num_columns(2).striped(true).show(ui, |ui| {
            for (label, value) in &self.rows {
                ui.label(*label);
                ui.label(value);
                ui.end_row();
            }
        });
    }
}
