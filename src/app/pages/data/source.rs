//! Which file the page checks and how it is read: the path field, "Choose…" (the file dialog runs
//! on a worker), and the reading options (in a project they are the project's, saved to dtm.toml).

use crate::app::task::Task;
use crate::engine::pipeline::Project;
use eframe::egui;
use std::path::{Path, PathBuf};

/// What the user asked for in the file row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceAction {
    /// Check this file (a new one, or the same one again).
    Check(PathBuf),
    /// Stop the check in progress.
    Stop,
    /// Save `data.skip_bad_rows` in the project.
    SkipBadRows(bool),
}

/// The file row's state.
pub struct SourceForm {
    /// The path as typed.
    pub path: String,
    /// Skip malformed records instead of stopping at the first (without a project).
    pub skip_bad_rows: bool,
    /// Drop exact duplicates (without a project).
    pub drop_duplicates: bool,
    picking: Option<Task<Option<PathBuf>>>,
}

impl Default for SourceForm {
    fn default() -> Self {
        // Without a project the page is a validator: list every bad record rather than stop at one.
        Self { path: String::new(), skip_bad_rows: true, drop_duplicates: false, picking: None }
    }
}

/// `path` as `data.path` in the project's dtm.toml: relative to the project folder when inside it.
pub fn project_relative(project: &Project, path: &Path) -> String {
    path.strip_prefix(&project.dir).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
}

/// The typed `text` as a path; in a project, relative paths are relative to its folder.
pub fn resolve(text: &str, project: Option<&Project>) -> PathBuf {
    let path = PathBuf::from(text.trim());
    match project {
        Some(p) if path.is_relative() => p.dir.join(path),
        _ => path,
    }
}

impl SourceForm {
    fn pick(&mut self, ctx: &egui::Context) {
        self.picking = Some(Task::spawn("file dialog", ctx, || {
            rfd::FileDialog::new()
                .set_title("Instruction data")
                .add_filter("Data", &["jsonl", "json", "csv", "tsv", "parquet", "pq"])
                .pick_file()
        }));
    }

    /// Draws the row; `checking` disables a second check.
    pub fn ui(&mut self, ui: &mut egui::Ui, project: Option<&Project>, checking: bool) -> Option<SourceAction> {
        let mut action = None;
        if let Some(result) = self.picking.as_mut().and_then(Task::poll) {
            self.picking = None;
            if let Ok(Some(path)) = result {
                self.path = path.display().to_string();
                action = Some(SourceAction::Check(path));
            }
        }
        ui.horizontal(|ui| {
            ui.label("File:");
            let hint = "a .jsonl, .json, .csv or .parquet file of instruction data";
            let edit =
                ui.add(egui::TextEdit::singleline(&mut self.path).hint_text(hint).desired_width(ui.available_width().min(620.0) - 190.0));
            let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.add_enabled(self.picking.is_none(), egui::Button::new("Choose…")).on_hover_text("Pick the file in a dialog").clicked() {
                self.pick(ui.ctx());
            }
            if checking {
                if ui.button("Stop").on_hover_text("Stop checking").clicked() {
                    action = Some(SourceAction::Stop);
                }
                ui.spinner();
            } else {
                let ready = !self.path.trim().is_empty();
                let check = ui.add_enabled(ready, egui::Button::new("Check")).on_hover_text("Read and validate the file again");
                if ready && (check.clicked() || entered) {
                    action = Some(SourceAction::Check(resolve(&self.path, project)));
                }
            }
        });
        ui.horizontal(|ui| match project {
            Some(p) => {
                let mut skip = p.data_options.skip_bad_rows;
                if ui
                    .checkbox(&mut skip, "Skip malformed records")
                    .on_hover_text("data.skip_bad_rows in dtm.toml: otherwise the first malformed record stops every stage")
                    .changed()
                {
                    action = Some(SourceAction::SkipBadRows(skip));
                }
                ui.label(egui::RichText::new("The project's data file: a change here is saved to dtm.toml.").weak());
            }
            None => {
                let skip = ui
                    .checkbox(&mut self.skip_bad_rows, "Skip malformed records")
                    .on_hover_text("List every bad record instead of stopping at the first")
                    .changed();
                let drop = ui.checkbox(&mut self.drop_duplicates, "Drop exact duplicates").changed();
                if (skip || drop) && !self.path.trim().is_empty() && !checking {
                    action = Some(SourceAction::Check(resolve(&self.path, None)));
                }
            }
        });
        action
    }
}
