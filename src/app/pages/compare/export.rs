//! Exporting the comparison: the pipeline's report (`report/report.md` with its charts and
//! results.csv), written by the `report` stage, or the table saved as a Markdown file chosen in
//! a save dialog (dialog and write on a worker).

use crate::app::pages::PageCtx;
use crate::app::task::Task;
use crate::engine::pipeline::plan::paths;
use crate::engine::pipeline::StageState;
use eframe::egui::{self, RichText};
use std::path::PathBuf;

/// State of the export buttons.
#[derive(Default)]
pub struct Export {
    saving: Option<Task<Option<Result<PathBuf, String>>>>,
    /// Where the table was last saved, or why it was not.
    pub saved: Option<Result<PathBuf, String>>,
}

fn save_markdown(markdown: String) -> Option<Result<PathBuf, String>> {
    let path = rfd::FileDialog::new()
        .set_title("Save the comparison as Markdown")
        .set_file_name("comparison.md")
        .add_filter("Markdown", &["md"])
        .save_file()?;
    Some(
        crate::engine::fsutil::write_atomic(&path, markdown.as_bytes())
            .map(|_| path.clone())
            .map_err(|e| format!("Could not write {}: {e}; choose a folder you can write to.", path.display())),
    )
}

impl Export {
    /// Draws the buttons and where the report is; `markdown` is the table to save.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>, markdown: &str) {
        if let Some(result) = self.saving.as_mut().and_then(Task::poll) {
            self.saving = None;
            match result {
                Ok(Some(outcome)) => self.saved = Some(outcome),
                Ok(None) => {}
                Err(e) => self.saved = Some(Err(e)),
            }
        }
        let Some(dir) = cx.workspace.project().map(|p| p.dir.clone()) else { return };
        let idle = cx.workspace.running().is_none();
        ui.horizontal(|ui| {
            let report = ui.add_enabled(idle, egui::Button::new("Write the report"));
            if report.on_hover_text("Runs the report stage: report.md, results.csv and the charts as PNG").clicked() {
                cx.workspace.run("report", vec!["report".into()], ui.ctx(), cx.activity);
            }
            let save = ui.add_enabled(self.saving.is_none(), egui::Button::new("Save the table as Markdown..."));
            if save.clicked() {
                let text = markdown.to_string();
                self.saving = Some(Task::spawn("save markdown", ui.ctx(), move || save_markdown(text)));
            }
        });
        match cx.workspace.status("report").map(|s| s.state) {
            Some(StageState::Done) => {
                let file = paths::report(&dir).join("report.md");
                ui.label(format!("Report: {}", file.display()));
            }
            Some(StageState::Stale) => {
                ui.label(RichText::new("The report in report/ is older than the results: write it again.").weak());
            }
            _ => {}
        }
        match &self.saved {
            Some(Ok(path)) => {
                ui.label(format!("Saved {}", path.display()));
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            None => {}
        }
    }
}
