//! Which models and benchmarks the Compare page shows and runs: one checkbox each, a button that
//! runs the selected evaluations (and the report) through the pipeline, the run's progress with
//! a Stop button, and the evaluations still missing.

use crate::app::pages::PageCtx;
use crate::engine::pipeline::plan::with_inputs;
use crate::engine::pipeline::Project;
use eframe::egui::{self, RichText};
use std::collections::BTreeSet;

/// The models and benchmarks left out (everything is selected until unticked).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Model labels unticked.
    pub hidden_models: BTreeSet<String>,
    /// Benchmarks unticked.
    pub hidden_benches: BTreeSet<String>,
}

impl Selection {
    /// The ticked labels among `all`, in order.
    pub fn models(&self, all: &[String]) -> Vec<String> {
        all.iter().filter(|l| !self.hidden_models.contains(*l)).cloned().collect()
    }

    /// The ticked benchmarks among `all`, in order.
    pub fn benches(&self, all: &[String]) -> Vec<String> {
        all.iter().filter(|b| !self.hidden_benches.contains(*b)).cloned().collect()
    }
}

fn ticks_ui(ui: &mut egui::Ui, title: &str, all: &[String], hidden: &mut BTreeSet<String>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(title).strong());
        for item in all {
            let mut on = !hidden.contains(item);
            if ui.checkbox(&mut on, item).changed() {
                if on {
                    hidden.remove(item);
                } else {
                    hidden.insert(item.clone());
                }
            }
        }
    });
}

/// Draws the checkboxes of `labels` and `benches`.
pub fn selection_ui(ui: &mut egui::Ui, sel: &mut Selection, labels: &[String], benches: &[String]) {
    ticks_ui(ui, "Models:", labels, &mut sel.hidden_models);
    ticks_ui(ui, "Benchmarks:", benches, &mut sel.hidden_benches);
}

/// The evaluation stages of `labels` on `benches`.
pub fn eval_stages(labels: &[String], benches: &[String]) -> Vec<String> {
    labels.iter().flat_map(|l| benches.iter().map(move |b| format!("eval:{l}:{b}"))).collect()
}

/// What a run of `evals` needs: the stages themselves, the training and merging they read from
/// (done ones are skipped by the pipeline), then the report.
pub fn run_patterns(project: &Project, evals: &[String]) -> Vec<String> {
    let mut only = with_inputs(project, project.k(), evals);
    only.push("report".into());
    only
}

/// Draws the Run button (enabled when `any` is; runs the stages `only` gives, worked out when
/// it is clicked), and while a run works its stage, progress and Stop.
pub fn run_ui(ui: &mut egui::Ui, cx: &mut PageCtx<'_>, label: &str, any: bool, only: impl FnOnce() -> Vec<String>) {
    let running = cx.workspace.running().map(str::to_string);
    ui.horizontal(|ui| {
        let button = ui.add_enabled(running.is_none() && any, egui::Button::new(label));
        if button.on_hover_text("Runs what the selected evaluations need that is not done yet, then the report").clicked() {
            cx.workspace.run("compare", only(), ui.ctx(), cx.activity);
        }
        let Some(run) = running else { return };
        ui.spinner();
        match cx.activity.current() {
            Some(stage) => {
                ui.label(format!("{run}: {}", stage.stage));
                if let Some(f) = stage.fraction() {
                    ui.add(egui::ProgressBar::new(f).desired_width(160.0).show_percentage());
                }
            }
            None => {
                ui.label(format!("{run} is running"));
            }
        }
        if ui.button("Stop").on_hover_text("Stops the run; finished evaluations stay done").clicked() {
            cx.workspace.cancel_run();
        }
    });
    if let Some((label, Err(e))) = &cx.workspace.last_run {
        if label == "compare" {
            ui.colored_label(ui.visuals().error_fg_color, format!("The run stopped: {e}"));
        }
    }
}
