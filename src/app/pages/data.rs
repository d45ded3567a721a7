//! The Data page: the instruction data file, checked on a worker: format, counts and the
//! validation report.

use super::PageCtx;
use crate::app::frame::badge::Badge;
use crate::app::task::Job;
use crate::engine::data::{run_data_check, DataCheckOutcome, DataCheckRequest, LengthCheck, LoadDataOptions};
use crate::engine::pipeline::Project;
use eframe::egui;
use std::path::PathBuf;

/// State of the Data page.
#[derive(Default)]
pub struct DataPage {
    path: String,
    request: Option<DataCheckRequest>,
    checking: Option<Job<Result<DataCheckOutcome, String>>>,
    outcome: Option<DataCheckOutcome>,
    error: Option<String>,
}

impl DataPage {
    /// Checks the data file at `path` with default options.
    pub fn open(&mut self, path: PathBuf, _ctx: &egui::Context) {
        self.path = path.display().to_string();
        self.request = Some(DataCheckRequest { path, options: LoadDataOptions::default(), lengths: None });
    }

    /// Shows the project's data file, read with the project's options.
    pub fn follow(&mut self, project: &Project, _ctx: &egui::Context) {
        let same = self.outcome.as_ref().is_some_and(|o| o.dataset.path == project.data);
        if !same {
            self.path = project.data.display().to_string();
            self.request = Some(DataCheckRequest {
                path: project.data.clone(),
                options: project.data_options.clone(),
                lengths: Some(LengthCheck { model: project.model.clone(), prompt: project.prompt.clone() }),
            });
        }
    }

    /// The page's badge (without a project).
    pub fn badge(&self) -> Badge {
        match (&self.checking, &self.error, &self.outcome) {
            (Some(_), _, _) => Badge::Running,
            (_, Some(_), _) => Badge::Failed,
            (_, _, Some(_)) => Badge::Done,
            _ => Badge::NotStarted,
        }
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        if let Some(result) = self.checking.as_mut().and_then(Job::poll) {
            self.checking = None;
            match result.and_then(|r| r) {
                Ok(outcome) => self.outcome = Some(outcome),
                Err(e) => self.error = Some(e),
            }
        }
        if self.checking.is_none() {
            if let Some(req) = self.request.take() {
                self.error = None;
                self.outcome = None;
                self.checking = Some(Job::spawn("data", ui.ctx(), cx.activity, move |sink, cancel| {
                    run_data_check(&req, sink, cancel).map_err(|e| e.to_string())
                }));
            }
        }
        ui.heading("Data");
        ui.horizontal(|ui| {
            ui.label("File:");
            ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(480.0));
            if ui.add_enabled(self.checking.is_none(), egui::Button::new("Check")).clicked() {
                self.open(PathBuf::from(self.path.trim()), ui.ctx());
            }
            if self.checking.is_some() {
                ui.spinner();
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(o) = &self.outcome {
            ui.label(format!("{} ({}): {}", o.dataset.path.display(), o.dataset.format.name(), o.dataset.report.summary()));
        }
    }
}
