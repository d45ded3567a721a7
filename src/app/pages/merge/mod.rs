//! The Merge page: the merge method and weights, a live preview of the merged model's scores
//! (held-out loss per portion beside the sub-models' own, benchmark-subset accuracy), every
//! setting tried on a chart with a sweep along one weight, and export.

mod charts;
mod export;
pub mod form;
pub mod live;

use super::{needs, Page, PageCtx};
use crate::app::frame::badge::Badge;
use crate::engine::device::open_device;
use crate::engine::merge::preview::PreviewSizes;
use crate::engine::merge::{MergePreview, WeightValue};
use crate::engine::pipeline::plan::glob_match;
use crate::engine::pipeline::stages::preview_request;
use crate::engine::pipeline::StageState;
use charts::Score;
use eframe::egui::{self, RichText};
use export::Export;
use form::MergeForm;
use live::Live;

/// Points of a sweep along one weight share (0, 0.2, ..., 1).
const SWEEP_POINTS: usize = 6;

/// State of the Merge page.
#[derive(Default)]
pub struct MergePage {
    /// The settings on show.
    pub form: MergeForm,
    /// The preview and its figures.
    pub live: Live,
    /// Which sub-model's weight share the tried-settings chart plots along.
    pub selected: usize,
    /// What that chart plots upwards.
    pub score: Score,
    /// Sizes of every preview (smaller is faster).
    pub sizes: PreviewSizes,
    export: Export,
    opened_for: Option<String>,
}

/// What the preview was opened for: the project folder, K, and every sub-model's training record.
fn preview_key(cx: &PageCtx<'_>) -> Option<String> {
    let project = cx.workspace.project()?;
    let subs: Vec<String> = cx
        .workspace
        .statuses
        .iter()
        .filter(|s| glob_match("train:sub-*", &s.stage))
        .map(|s| format!("{}:{:?}:{:?}", s.stage, s.seconds, s.figure))
        .collect();
    Some(format!("{}|{}|{}|{:?}", project.dir.display(), project.k(), subs.join(","), cx.device))
}

/// Whether every sub-model has finished training (a stale one still has its adapter).
fn subs_trained(cx: &PageCtx<'_>) -> bool {
    let subs: Vec<_> = cx.workspace.statuses.iter().filter(|s| glob_match("train:sub-*", &s.stage)).collect();
    !subs.is_empty() && subs.iter().all(|s| matches!(s.state, StageState::Done | StageState::Stale))
}

impl MergePage {
    /// Opens the preview when the project or its sub-models changed.
    fn follow(&mut self, cx: &PageCtx<'_>, ctx: &egui::Context) {
        let Some(key) = preview_key(cx) else { return };
        if self.opened_for.as_ref() == Some(&key) || cx.workspace.running().is_some() || !subs_trained(cx) {
            return;
        }
        let Some(project) = cx.workspace.project().cloned() else { return };
        self.opened_for = Some(key);
        if self.form.weights.len() != project.k() {
            self.form = MergeForm::new(project.k());
        }
        self.selected = self.selected.min(project.k().saturating_sub(1));
        let (device, sizes) = (cx.device, self.sizes);
        self.live.open(ctx, move || {
            let device = open_device(device).map_err(|e| e.to_string())?;
            MergePreview::open(&preview_request(&project, sizes, device), &Default::default()).map_err(|e| e.to_string())
        });
        if let Ok(spec) = self.form.spec() {
            self.live.changed(spec, self.form.weights.clone());
        }
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
        self.live.poll(ui.ctx());
        ui.heading("Merge");
        ui.label(
            "Each sub-model learned the shared skill of following instructions plus the habits of its own portion. Merging \
             averages the habits away. Move the weights and the preview re-merges in memory and re-scores a few held-out rows of \
             every portion and the first items of a benchmark, beside the sub-models' own figures on the same rows.",
        );
        ui.add_space(6.0);
        if cx.workspace.project().is_none() {
            needs(ui, cx, Page::Project, "a project");
            return;
        }
        if !subs_trained(cx) {
            needs(ui, cx, Page::Train, "trained sub-models (train:sub-0 and the others)");
            stages_ui(ui, cx);
            return;
        }
        self.follow(cx, ui.ctx());
        let width = ui.available_width();
        let left = 360.0f32.min(width * 0.4);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(left);
                if form::form_ui(ui, &mut self.form) {
                    match self.form.spec() {
                        Ok(spec) => self.live.changed(spec, self.form.weights.clone()),
                        Err(e) => self.live.error = Some(e),
                    }
                }
                ui.add_space(10.0);
                export::export_ui(ui, &mut self.export, &self.form, cx);
            });
            ui.add_space(16.0);
            ui.vertical(|ui| self.preview_ui(ui, (width - left - 30.0).max(300.0)));
        });
        ui.add_space(10.0);
        stages_ui(ui, cx);
    }

    fn preview_ui(&mut self, ui: &mut egui::Ui, width: f32) {
        ui.label(RichText::new("Live preview").strong());
        if let Some(e) = &self.live.open_error {
            ui.colored_label(ui.visuals().error_fg_color, format!("The preview could not be opened: {e}"));
            return;
        }
        let Some(preview) = self.live.preview.clone() else {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("reading the base model, the sub-models and the held-out rows…");
            });
            return;
        };
        let rows = preview.portion_rows();
        let bench = preview.bench().map(|(n, items)| format!(" and the first {items} items of {n}")).unwrap_or_default();
        ui.label(
            RichText::new(format!(
                "Each preview scores {} held-out rows per portion ({} tokens in all){bench}.",
                rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("/"),
                preview.heldout_tokens()
            ))
            .weak(),
        );
        ui.horizontal(|ui| {
            if self.live.is_scoring() {
                ui.spinner();
            }
            ui.label(RichText::new(self.summary()).strong());
        });
        if let Some(e) = &self.live.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        self.accuracy_ui(ui);
        if !self.live.references_done {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(RichText::new("scoring the sub-models, the vanilla model and the base on the same rows…").weak());
            });
        }
        charts::portion_bars_ui(ui, &self.live.current, &self.live.references, width);
        ui.add_space(6.0);
        self.tried_controls_ui(ui);
        charts::tried_ui(ui, &self.live.points, self.selected, self.score, width);
    }

    /// One line with the preview's figures so far.
    fn summary(&self) -> String {
        let cur = &self.live.current;
        let known = cur.portion_loss.iter().flatten().count();
        let loss = match cur.mean_loss() {
            Some(l) => format!("mean held-out loss {l:.4}"),
            None if known > 0 => format!("held-out loss: {known} of {} portions scored", cur.portion_loss.len()),
            None => "waiting for the first figure".into(),
        };
        let acc =
            cur.bench.map(|b| format!(" · accuracy {:.3} ± {:.3} ({}/{} items)", b.acc, b.stderr, b.done, b.total)).unwrap_or_default();
        format!("Preview: {loss}{acc}")
    }

    fn accuracy_ui(&self, ui: &mut egui::Ui) {
        let refs: Vec<String> = self
            .live
            .references
            .iter()
            .filter_map(|r| r.scores.bench.filter(|b| b.done == b.total).map(|b| format!("{} {:.3} ± {:.3}", r.label, b.acc, b.stderr)))
            .collect();
        if !refs.is_empty() {
            ui.label(RichText::new(format!("Accuracy on the same items: {}", refs.join(" · "))).small());
        }
    }

    fn tried_controls_ui(&mut self, ui: &mut egui::Ui) {
        let k = self.form.weights.len();
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Settings tried").strong());
            egui::ComboBox::from_id_salt("merge-chart-sub")
                .selected_text(format!("along sub-{}", self.selected))
                .show_ui(ui, |ui| {
                    for i in 0..k {
                        ui.selectable_value(&mut self.selected, i, format!("along sub-{i}"));
                    }
                })
                .response
                .accessible_name("Sub-model on the x axis");
            egui::ComboBox::from_id_salt("merge-chart-score")
                .selected_text(self.score.name())
                .show_ui(ui, |ui| {
                    for s in [Score::Loss, Score::Accuracy] {
                        ui.selectable_value(&mut self.score, s, s.name());
                    }
                })
                .response
                .accessible_name("Score on the y axis");
            if self.live.sweeping.is_some() {
                ui.spinner();
                let done = self.live.points.iter().filter(|p| p.from_sweep).count();
                ui.label(format!("sweeping: {done} points"));
                if ui.button("Stop sweep").clicked() {
                    self.live.cancel_sweep();
                }
            } else if ui.add_enabled(self.form.spec().is_ok() && k > 1, egui::Button::new(format!("Sweep sub-{}", self.selected))).clicked()
            {
                self.start_sweep(ui.ctx());
            }
            let n = self.live.points.len();
            ui.label(format!("{n} point{}", if n == 1 { "" } else { "s" }));
        });
    }

    fn start_sweep(&mut self, ctx: &egui::Context) {
        let k = self.form.weights.len();
        let Ok(base) = self.form.spec() else { return };
        self.live.points.retain(|p| !p.from_sweep);
        let grid = (0..SWEEP_POINTS)
            .map(|i| {
                let t = i as f64 / (SWEEP_POINTS - 1) as f64;
                let weights: Vec<f64> = (0..k).map(|j| if j == self.selected { t } else { (1.0 - t) / (k - 1) as f64 }).collect();
                let mut spec = base.clone();
                spec.weights = Some(weights.iter().map(|&w| WeightValue::Constant(w)).collect());
                spec.overrides.clear();
                (spec, weights.clone(), weights)
            })
            .collect();
        self.live.sweep(ctx, self.selected, grid);
    }
}

/// The project's merges as the pipeline records them, with a button that runs them.
fn stages_ui(ui: &mut egui::Ui, cx: &mut PageCtx<'_>) {
    let rows: Vec<_> = cx.workspace.statuses.iter().filter(|s| glob_match("merge:*", &s.stage)).cloned().collect();
    ui.label(RichText::new("Merges in dtm.toml").strong());
    egui::Grid::new("merge-stages").num_columns(4).striped(true).show(ui, |ui| {
        for s in &rows {
            ui.label(RichText::new(&s.stage).monospace());
            Badge::of(Some(s.state)).show(ui);
            ui.label(s.seconds.map(|x| format!("{x:.1} s")).unwrap_or_default());
            ui.label(s.figure.clone().unwrap_or_default());
            ui.end_row();
        }
    });
    let running = cx.workspace.running().map(str::to_string);
    ui.horizontal(|ui| {
        if ui.add_enabled(running.is_none() && !rows.is_empty(), egui::Button::new("Run merge")).clicked() {
            cx.workspace.run("merge", vec!["merge:*".into()], ui.ctx(), cx.activity);
        }
        if let Some(label) = running {
            ui.spinner();
            ui.label(format!("{label} is running"));
            if ui.button("Stop").clicked() {
                cx.workspace.cancel_run();
            }
        }
    });
}
