//! The Compare page: benchmark scores of the models side by side, the alignment tax, and the
//! items whose answer changed. Models and benchmarks are ticked; the selected evaluations run
//! through the pipeline (`eval:MODEL:BENCH`, then `report`); results are read on a worker and
//! read again whenever the evaluation stages' records change.

mod charts;
pub mod data;
pub mod drill;
mod export;
pub mod selection;
pub mod table;

use super::{needs, Page, PageCtx};
use crate::app::task::Task;
use crate::engine::pipeline::plan::model_labels;
use crate::engine::pipeline::StageState;
use data::{CompareData, View};
use eframe::egui::{self, RichText};
use selection::{eval_stages, run_patterns, run_ui, selection_ui, Selection};
use std::sync::Arc;

/// The evaluation stages' records the results were read for: (stage, state, seconds).
type Record = Vec<(String, StageState, Option<u64>)>;

/// State of the Compare page.
#[derive(Default)]
pub struct ComparePage {
    /// The models and benchmarks ticked.
    pub selection: Selection,
    /// The results as last read.
    pub data: Option<Arc<CompareData>>,
    /// The view of the selection, with the selection and data revision it was made for.
    pub view: Option<View>,
    /// Bars the charts drew in the last frame: (scores, taxes).
    pub bars: (usize, usize),
    /// What the copy buttons last put on the clipboard.
    pub copied: Option<table::Copied>,
    /// The drill-down.
    pub drill: drill::Drill,
    export: export::Export,
    view_for: Option<(Selection, u64)>,
    revision: u64,
    read_for: Option<(Vec<String>, Vec<String>, Record)>,
    reading: Option<Task<CompareData>>,
}

/// Draws a section title.
fn section(ui: &mut egui::Ui, title: &str) {
    ui.add_space(14.0);
    ui.label(RichText::new(title).size(17.0).strong());
    ui.separator();
}

impl ComparePage {
    /// Reads the results again when the project's models, benchmarks or evaluation records changed.
    fn reread_when_new(&mut self, cx: &PageCtx<'_>, ctx: &egui::Context) {
        let Some(project) = cx.workspace.project() else { return };
        if self.reading.is_some() {
            return;
        }
        let labels = model_labels(project, project.k());
        let benches: Vec<String> = project.evals.iter().map(|e| e.spec.name.clone()).collect();
        let record: Record = cx
            .workspace
            .statuses
            .iter()
            .filter(|s| s.stage.starts_with("eval:"))
            .map(|s| (s.stage.clone(), s.state, s.seconds.map(f64::to_bits)))
            .collect();
        let wanted = (labels.clone(), benches.clone(), record);
        if self.read_for.as_ref() == Some(&wanted) {
            return;
        }
        self.read_for = Some(wanted);
        let dir = project.dir.clone();
        self.reading = Some(Task::spawn("read results", ctx, move || CompareData::read(&dir, labels, benches)));
    }

    fn poll(&mut self) {
        if let Some(result) = self.reading.as_mut().and_then(Task::poll) {
            self.reading = None;
            if let Ok(data) = result {
                self.data = Some(Arc::new(data));
                self.revision += 1;
            }
        }
    }

    /// The view of the current selection, made again when the selection or the results changed.
    fn refresh_view(&mut self) {
        let Some(data) = &self.data else { return };
        let key = (self.selection.clone(), self.revision);
        if self.view_for.as_ref() == Some(&key) {
            return;
        }
        let (models, benches) = (self.selection.models(&data.labels), self.selection.benches(&data.benches));
        self.view = Some(View::of(data, &models, &benches));
        self.view_for = Some(key);
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        self.poll();
        self.reread_when_new(cx, ui.ctx());
        self.refresh_view();
        ui.heading("Compare");
        ui.label(
            "Every model on every benchmark: the base, vanilla SFT on all the data, each sub-model and each merge. The \
             alignment tax is what a model lost against the base (base - model); DTM works when a merge pays less tax \
             than vanilla while following instructions as well.",
        );
        let Some(project) = cx.workspace.project().cloned() else {
            needs(ui, cx, Page::Project, "a project (its models and benchmarks)");
            return;
        };
        if project.evals.is_empty() {
            ui.add_space(12.0);
            ui.label("The project has no benchmarks yet: add an [[eval]] section to dtm.toml (name and path, e.g. arc and an ARC .jsonl file), then come back.");
            return;
        }
        let Some(data) = self.data.clone() else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("reading the results...");
            });
            return;
        };
        ui.add_space(6.0);
        selection_ui(ui, &mut self.selection, &data.labels, &data.benches);
        let (models, benches) = (self.selection.models(&data.labels), self.selection.benches(&data.benches));
        let any = !models.is_empty() && !benches.is_empty();
        run_ui(ui, cx, "Run the selected evaluations", any, || run_patterns(&project, &eval_stages(&models, &benches)));
        for p in &data.problems {
            ui.colored_label(ui.visuals().error_fg_color, p);
        }
        let missing = data.missing(&models, &benches);
        if !missing.is_empty() {
            ui.label(RichText::new(format!("Not evaluated yet ({}): {}", missing.len(), missing.join(", "))).weak());
            if cx.workspace.running().is_none() && ui.button("Run the missing evaluations").clicked() {
                cx.workspace.run("compare", run_patterns(&project, &missing), ui.ctx(), cx.activity);
            }
        }
        let Some(view) = self.view.clone().filter(|v| !v.models.is_empty()) else {
            ui.add_space(12.0);
            ui.label(
                RichText::new(
                    "No results for the selection yet: run its evaluations above. Training and merging run first where they are missing.",
                )
                .weak(),
            );
            return;
        };
        section(ui, "Scores and alignment tax");
        self.bars = charts::charts_ui(ui, &view);
        section(ui, "Table");
        if let Some(c) = table::table_ui(ui, &view) {
            self.copied = Some(c);
        }
        if let Some(c) = self.copied {
            let what = if c == table::Copied::Markdown { "Markdown" } else { "CSV" };
            ui.label(RichText::new(format!("Copied the table as {what}.")).weak());
        }
        section(ui, "Answers that changed");
        let shown_benches: Vec<String> =
            benches.iter().filter(|b| view.models.iter().any(|m| data.result(m, b).is_some())).cloned().collect();
        let specs = project.evals.clone();
        self.drill.ui(ui, &data, self.revision, &view.models, &shown_benches, |name| {
            specs.iter().find(|e| e.spec.name == name).map(|e| e.spec.clone())
        });
        section(ui, "Export");
        self.export.ui(ui, cx, &view.markdown);
    }
}
