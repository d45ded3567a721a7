//! The loss chart of every run with its controls, and the loss-reduction ratio per run with what
//! it tells.

use super::curves::RunCurve;
use crate::app::widgets::loss_chart::{loss_chart, LossChartOptions, LossSeries};
use eframe::egui::{self, Color32, RichText};
use egui_plot::{Line, MarkerShape, Plot, PlotPoints, Points};

/// A run as the charts draw it.
pub struct ChartRun<'a> {
    /// Run name.
    pub run: &'a str,
    /// Its colour.
    pub color: Color32,
    /// Its history.
    pub curve: &'a RunCurve,
}

/// The controls over the loss chart.
pub fn controls_ui(ui: &mut egui::Ui, options: &mut LossChartOptions) {
    ui.horizontal(|ui| {
        ui.label("Smoothing").on_hover_text("Weight of the moving average drawn over the raw loss (0: none)");
        ui.add(egui::Slider::new(&mut options.smoothing, 0.0..=0.99).fixed_decimals(2)).accessible_name("Smoothing");
        ui.add_space(12.0);
        ui.label("x axis");
        ui.selectable_value(&mut options.x_as_fraction, false, "step");
        ui.selectable_value(&mut options.x_as_fraction, true, "share of the run")
            .on_hover_text("Portions differ in size, so their runs take different numbers of steps; this lines up their starts and ends");
        ui.add_space(12.0);
        ui.checkbox(&mut options.log_y, "log y");
    });
}

/// The loss chart, or a line saying why it is empty.
pub fn loss_ui(ui: &mut egui::Ui, runs: &[ChartRun<'_>], options: LossChartOptions) {
    let val: Vec<Vec<[f64; 2]>> = runs.iter().map(|r| r.curve.val_points()).collect();
    let series: Vec<LossSeries<'_>> = runs
        .iter()
        .zip(&val)
        .filter(|(r, _)| !r.curve.steps.is_empty())
        .map(|(r, v)| LossSeries { name: r.run, color: r.color, points: &r.curve.steps, markers: v, total_steps: r.curve.total_steps })
        .collect();
    if series.is_empty() {
        ui.label(RichText::new("No loss yet: the curves appear here as soon as a run logs its first step.").weak());
        return;
    }
    ui.label(
        RichText::new("Faint: the loss of each step; solid: its moving average; diamonds: the validation loss at each evaluation.").weak(),
    );
    loss_chart(ui, "train-loss", 300.0, &series, options);
}

/// What the ratio shows, after the paper.
const RATIO_TEXT: &str = "Between two evaluations, how much the training loss fell divided by how much \
the validation loss fell. Near 1, the model learns what carries over to unseen rows. When it rises late in training, the \
training loss keeps falling faster than the validation loss: the model is fitting the dataset's own habits (its biases), the \
source of the alignment tax in Fu et al. 2024. Training small portions briefly, as DTM does, keeps the ratio low.";

/// One small ratio chart per run that has two evaluations with a validation loss.
pub fn ratio_ui(ui: &mut egui::Ui, runs: &[ChartRun<'_>], x_as_fraction: bool) {
    ui.label(RichText::new("Loss-reduction ratio (ΔL train / ΔL validation)").strong());
    ui.label(RichText::new(RATIO_TEXT).weak());
    let with_ratios: Vec<(&ChartRun<'_>, Vec<[f64; 2]>)> = runs
        .iter()
        .map(|r| {
            let scale = if x_as_fraction { 1.0 / r.curve.total_steps.max(1) as f64 } else { 1.0 };
            let pts = r.curve.ratios().iter().filter_map(|s| s.ratio.map(|v| [s.end_step as f64 * scale, v])).collect();
            (r, pts)
        })
        .filter(|(_, pts): &(_, Vec<[f64; 2]>)| !pts.is_empty())
        .collect();
    if with_ratios.is_empty() {
        ui.label(RichText::new("No ratio yet: it needs two evaluation points with a validation loss (see Evaluate every).").weak());
        return;
    }
    let per_row = ((ui.available_width() / 300.0).floor() as usize).clamp(1, 4);
    let width = (ui.available_width() - 12.0 * (per_row as f32 - 1.0)) / per_row as f32;
    for chunk in with_ratios.chunks(per_row) {
        ui.horizontal_top(|ui| {
            for (r, pts) in chunk {
                ui.vertical(|ui| {
                    ui.set_width(width);
                    ui.label(RichText::new(r.run).color(r.color).strong());
                    Plot::new(("train-ratio", r.run))
                        .height(150.0)
                        .width(width)
                        .allow_drag(false)
                        .allow_zoom(false)
                        .allow_scroll(false)
                        .include_y(0.0)
                        .include_y(1.0)
                        .x_axis_label(if x_as_fraction { "share of the run" } else { "step" })
                        .y_axis_label("ratio")
                        .show(ui, |plot| {
                            plot.line(Line::new(r.run, PlotPoints::new(pts.clone())).color(r.color).width(2.0));
                            plot.points(
                                Points::new(r.run, PlotPoints::new(pts.clone())).color(r.color).shape(MarkerShape::Circle).radius(3.0),
                            );
                        });
                });
            }
        });
    }
}
