//! The Train page: the training settings, the queue of runs (vanilla and one sub-model per
//! portion) with their progress and controls, and the live loss curves with the loss-reduction
//! ratio.

pub mod advice;
mod charts;
pub mod curves;
mod form;
pub mod queue;
mod rows;

use super::disperse::map_data::portion_colors;
use super::{needs, Page, PageCtx};
use crate::app::widgets::loss_chart::LossChartOptions;
use crate::engine::pipeline::Project;
use charts::ChartRun;
use curves::{RunCurve, RunFiles};
use eframe::egui::{self, Color32, RichText};
pub use form::TrainForm;
use queue::Queue;
use rows::{RowAction, RunView};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// State of the Train page.
#[derive(Default)]
pub struct TrainPage {
    /// The settings as the form shows them.
    pub form: TrainForm,
    /// The runs waiting or training.
    pub queue: Queue,
    /// The runs' files as last read.
    pub files: RunFiles,
    /// How the loss chart is drawn.
    pub chart: LossChartOptions,
    /// Curves handed in directly (the frame-time bench), drawn instead of the project's.
    pub shown: Option<BTreeMap<String, RunCurve>>,
    /// The project folder the files were read from.
    dir: Option<PathBuf>,
}

/// A run's colour: the vanilla run in the text colour, sub-model N in portion N's colour (as on
/// the Disperse page).
fn run_color(run: &str, visuals: &egui::Visuals) -> Color32 {
    match run.strip_prefix("sub-").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) => portion_colors(n + 1)[n],
        None => visuals.strong_text_color(),
    }
}

impl TrainPage {
    /// Takes the project's settings into the form.
    pub fn follow(&mut self, project: &Arc<Project>, _ctx: &egui::Context) {
        self.form = TrainForm::from_project(project);
    }

    /// Shows `curves` instead of the project's runs (the bench hands synthetic ones in).
    pub fn show_curves(&mut self, curves: BTreeMap<String, RunCurve>) {
        self.shown = Some(curves);
    }

    /// The curve of every run: the handed-in ones, else each run's file joined with its live
    /// points.
    pub fn curves(&self, cx: &PageCtx<'_>) -> BTreeMap<String, RunCurve> {
        if let Some(shown) = &self.shown {
            return shown.clone();
        }
        cx.workspace
            .statuses
            .iter()
            .filter_map(|s| s.stage.strip_prefix("train:"))
            .map(|run| {
                let file = self.files.files.get(run).and_then(|f| f.state.as_ref());
                (run.to_string(), RunCurve::joined(file, cx.activity.runs.get(run)))
            })
            .collect()
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        ui.heading("Train");
        ui.label(
            "Each portion of the data trains its own small LoRA adapter on the base model, briefly, so that it picks up \
             its portion's skills without settling into its habits; the vanilla run trains one adapter on all the data, \
             the baseline DTM is compared with.",
        );
        ui.add_space(6.0);
        if self.shown.is_none() {
            let Some(project) = cx.workspace.project().cloned() else {
                needs(ui, cx, Page::Project, "a project");
                return;
            };
            if self.dir.as_ref() != Some(&project.dir) {
                self.files.clear();
                self.queue = Queue::default();
                self.dir = Some(project.dir.clone());
            }
            self.files.refresh(&project.dir, &cx.workspace.statuses, cx.activity.ended, ui.ctx());
            self.queue.drive(cx.workspace, cx.activity, ui.ctx());
            form::form_ui(ui, &mut self.form, cx);
            ui.add_space(8.0);
            self.queue_ui(ui, cx, &project);
        }
        ui.add_space(10.0);
        let curves = self.curves(cx);
        let runs: Vec<ChartRun<'_>> =
            curves.iter().map(|(run, curve)| ChartRun { run, color: run_color(run, ui.visuals()), curve }).collect();
        ui.label(RichText::new("Loss").strong());
        charts::controls_ui(ui, &mut self.chart);
        charts::loss_ui(ui, &runs, self.chart);
        ui.add_space(10.0);
        charts::ratio_ui(ui, &runs, self.chart.x_as_fraction);
    }

    fn queue_ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>, project: &Project) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Runs").strong());
            let runs: Vec<String> =
                cx.workspace.statuses.iter().filter_map(|s| s.stage.strip_prefix("train:")).map(str::to_string).collect();
            let busy_elsewhere = cx.workspace.running().is_some() && !self.queue.is_active();
            if ui
                .add_enabled(!busy_elsewhere && !runs.is_empty(), egui::Button::new("Train all"))
                .on_hover_text("Queue every run that is not done; a stopped run goes on from its checkpoint")
                .clicked()
            {
                self.queue.add(&runs, false);
            }
            let busy = self.queue.is_active() || !self.queue.wanted.is_empty();
            if ui
                .add_enabled(busy, egui::Button::new("Stop all"))
                .on_hover_text("Stop training; every run writes its checkpoint first")
                .clicked()
            {
                self.queue.stop_all(cx.workspace);
            }
            if self.queue.is_active() {
                ui.spinner();
            } else if busy_elsewhere {
                ui.label(RichText::new(format!("waiting: {} is running", cx.workspace.running().unwrap_or_default())).weak());
            }
        });
        if let Some(e) = &self.queue.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some((label, Err(e))) = &cx.workspace.last_run {
            if label == queue::RUN_LABEL && !e.contains("stopped") {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        }
        let views: Vec<RunView<'_>> = cx
            .workspace
            .statuses
            .iter()
            .filter_map(|status| {
                let run = status.stage.strip_prefix("train:")?;
                let live = cx.activity.runs.get(run);
                Some(RunView {
                    run,
                    color: run_color(run, ui.visuals()),
                    status,
                    file: self.files.files.get(run),
                    outcome: live.and_then(|l| l.outcome.as_ref()).map(|(o, _)| o),
                    running: cx.activity.running.iter().find(|r| r.stage.strip_prefix("train ") == Some(run)),
                })
            })
            .collect();
        if views.is_empty() {
            needs(ui, cx, Page::Disperse, "the split into portions (the runs are known once it is done)");
            return;
        }
        let pressed = rows::rows_ui(ui, &views, &self.queue);
        drop(views);
        match pressed {
            Some((run, RowAction::Start | RowAction::Resume)) => self.queue.add(&[run], false),
            Some((run, RowAction::Retry)) => self.queue.retry(&run, project, ui.ctx()),
            Some((run, RowAction::Stop)) => self.queue.stop(&run, cx.workspace),
            None => {}
        }
    }
}
