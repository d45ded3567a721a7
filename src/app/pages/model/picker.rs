//! Choosing a model: the path field, file and folder dialogs and the models in the local Hugging
//! Face cache. Dialogs and the cache listing run on workers.

use crate::app::task::Task;
use crate::engine::model::source::{cached_hf_models, hf_cache_dir};
use eframe::egui;
use std::path::PathBuf;

/// Room kept on the row for the buttons and the cached-model list, in points.
const BUTTONS_WIDTH: f32 = 520.0;

/// State of the picker.
#[derive(Default)]
pub struct Picker {
    /// The text of the model field: a folder, a `.gguf` file or a cached HF id.
    pub path: String,
    dialog: Option<Task<Option<PathBuf>>>,
    cached: Option<Vec<String>>,
    listing: Option<Task<Vec<String>>>,
}

impl Picker {
    /// Takes in a finished dialog or listing; starts the cache listing once.
    fn poll(&mut self, ctx: &egui::Context) -> Option<String> {
        if self.cached.is_none() && self.listing.is_none() {
            self.listing = Some(Task::spawn("list cached models", ctx, cached_hf_models));
        }
        if let Some(result) = self.listing.as_mut().and_then(Task::poll) {
            self.listing = None;
            self.cached = Some(result.unwrap_or_default());
        }
        let result = self.dialog.as_mut().and_then(Task::poll)?;
        self.dialog = None;
        let path = result.ok().flatten()?.display().to_string();
        self.path = path.clone();
        Some(path)
    }

    fn open_dialog(&mut self, folder: bool, ctx: &egui::Context) {
        self.dialog = Some(Task::spawn("file dialog", ctx, move || {
            let dialog = rfd::FileDialog::new();
            if folder {
                dialog.set_title("Base model: a folder with config.json and safetensors").pick_folder()
            } else {
                dialog.set_title("Base model (.gguf)").add_filter("GGUF", &["gguf"]).pick_file()
            }
        }));
    }

    /// Draws the picker row; `busy` disables loading. Returns the model the user chose to load
    /// (the field's text, a dialog's path or a cached id), if any.
    pub fn ui(&mut self, ui: &mut egui::Ui, busy: bool) -> Option<String> {
        let mut pick = self.poll(ui.ctx());
        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Model:");
            // The field takes what the buttons leave, so that long paths show whole.
            let width = (ui.available_width() - BUTTONS_WIDTH).max(260.0);
            let field = ui.add(
                egui::TextEdit::singleline(&mut self.path)
                    .hint_text("a .gguf file, an HF folder or a cached model id (org/name)")
                    .desired_width(width),
            );
            let field = field.labelled_by(label.id);
            let typed = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let can_load = !busy && !self.path.trim().is_empty();
            if ui.add_enabled(can_load, egui::Button::new("Load")).on_hover_text("Load the model named in the field").clicked()
                || (typed && can_load)
            {
                pick = Some(self.path.trim().to_string());
            }
            let idle = !busy && self.dialog.is_none();
            if ui.add_enabled(idle, egui::Button::new("Choose .gguf…")).clicked() {
                self.open_dialog(false, ui.ctx());
            }
            if ui.add_enabled(idle, egui::Button::new("Choose folder…")).clicked() {
                self.open_dialog(true, ui.ctx());
            }
            let cached = self.cached.clone().unwrap_or_default();
            let text = match (&self.cached, cached.len()) {
                (None, _) => "listing…".to_string(),
                (Some(_), 0) => "none found".to_string(),
                (Some(_), n) => format!("{n} HF models"),
            };
            let label = ui.label("Cached:");
            ui.add_enabled_ui(idle && !cached.is_empty(), |ui| {
                let combo = egui::ComboBox::from_id_salt("cached-models").selected_text(text).width(120.0).show_ui(ui, |ui| {
                    for id in &cached {
                        if ui.selectable_label(false, id).clicked() {
                            self.path = id.clone();
                            pick = Some(id.clone());
                        }
                    }
                });
                combo
                    .response
                    .labelled_by(label.id)
                    .on_hover_text(format!("Models in the local Hugging Face cache ({})", hf_cache_dir().display()));
            });
        });
        pick
    }
}
