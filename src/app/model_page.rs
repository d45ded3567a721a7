//! The base-model page: choose a model and see its description, loaded on a worker thread.

use crate::engine::device::{open_device, DeviceRequest};
use crate::engine::model::describe::describe_model;
use crate::engine::model::{load_model, LoadOptions};
use crossbeam_channel::{bounded, Receiver};
use eframe::egui;

type Rows = Vec<(&'static str, String)>;

/// State of the model page.
#[derive(Default)]
pub struct ModelPage {
    path: String,
    loading: Option<Receiver<Result<Rows, String>>>,
    rows: Rows,
    error: Option<String>,
}

impl ModelPage {
    /// Picks up a finished load, if any.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let Some(rx) = &self.loading else { return };
        match rx.try_recv() {
            Ok(Ok(rows)) => {
                self.rows = rows;
                self.error = None;
                self.loading = None;
            }
            Ok(Err(e)) => {
                self.error = Some(e);
                self.loading = None;
            }
            Err(crossbeam_channel::TryRecvError::Empty) => ctx.request_repaint_after(std::time::Duration::from_millis(100)),
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                self.error = Some("the loading thread stopped unexpectedly".into());
                self.loading = None;
            }
        }
    }

    fn start_loading(&mut self, ctx: &egui::Context) {
        let (tx, rx) = bounded(1);
        let path = self.path.clone();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("load-model".into()).spawn(move || {
            let result = open_device(DeviceRequest::Auto)
                .map_err(|e| e.to_string())
                .and_then(|device| load_model(&path, &LoadOptions { device, ..Default::default() }).map_err(|e| e.to_string()))
                .map(|loaded| describe_model(&loaded, 2000));
            let _ = tx.send(result);
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.loading = Some(rx),
            Err(e) => self.error = Some(format!("could not start the loading thread: {e}")),
        }
    }

    /// Draws the page.
    pub fn page_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Base model");
        ui.horizontal(|ui| {
            ui.label("Model:");
            ui.add(egui::TextEdit::singleline(&mut self.path).hint_text("HF folder, .gguf file or cached model id").desired_width(480.0));
            if ui.button("File…").clicked() {
                if let Some(p) = rfd::FileDialog::new().add_filter("GGUF", &["gguf"]).pick_file() {
                    self.path = p.display().to_string();
                }
            }
            if ui.button("Folder…").clicked() {
                if let Some(p) = rfd::FileDialog::new().pick_folder() {
                    self.path = p.display().to_string();
                }
            }
            let busy = self.loading.is_some();
            if ui.add_enabled(!busy && !self.path.trim().is_empty(), egui::Button::new("Load")).clicked() {
                self.start_loading(ui.ctx());
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
