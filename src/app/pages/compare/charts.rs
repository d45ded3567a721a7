//! The Compare page's charts: each benchmark's headline score per model, and the alignment tax
//! (base - model) per model, both with one-standard-error whiskers and one shared legend.

use super::data::View;
use crate::app::widgets::bars::{grouped_bars_ui, legend_ui, GroupedBars};
use eframe::egui::{self, RichText};

/// Height of each chart, in points.
const CHART_HEIGHT: f32 = 260.0;

/// Bars drawn by the last frame: (scores, taxes).
pub type BarCounts = (usize, usize);

fn points(v: f64) -> String {
    format!("{v:.1}")
}

/// Draws the legend and both charts side by side; returns how many bars each drew.
pub fn charts_ui(ui: &mut egui::Ui, view: &View) -> BarCounts {
    legend_ui(ui, &view.colours);
    let width = (ui.available_width() - 16.0) / 2.0;
    let mut counts = (0, 0);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(width);
            ui.label(RichText::new("Score per benchmark (higher is better)").strong());
            counts.0 = grouped_bars_ui(
                ui,
                &GroupedBars {
                    id: "compare-scores",
                    groups: &view.groups,
                    series: &view.scores,
                    y_label: "score (%)",
                    format: &points,
                    height: CHART_HEIGHT,
                    zero_line: false,
                },
            );
        });
        ui.vertical(|ui| {
            ui.set_width(width);
            ui.label(RichText::new("Alignment tax: base - model (lower is better)").strong());
            if view.base.is_none() {
                ui.label(RichText::new("Tick the base model to see the tax of the others against it.").weak());
                return;
            }
            if view.taxes.is_empty() {
                ui.label(RichText::new("Tick a model besides the base to see its tax.").weak());
                return;
            }
            counts.1 = grouped_bars_ui(
                ui,
                &GroupedBars {
                    id: "compare-tax",
                    groups: &view.groups,
                    series: &view.taxes,
                    y_label: "tax (points)",
                    format: &points,
                    height: CHART_HEIGHT,
                    zero_line: true,
                },
            );
        });
    });
    ui.label(
        RichText::new(
            "Whiskers: one standard error. The tax's error is paired over the same items, so a tax larger than its whisker \
             is unlikely to be noise.",
        )
        .weak()
        .small(),
    );
    counts
}
