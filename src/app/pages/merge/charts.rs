//! The preview's charts: held-out loss per portion, the merge beside the base, the sub-models
//! and the vanilla model (grouped bars); and the preview score against the weight share of one
//! sub-model, a point for every setting tried and the sweep's curve.

use super::live::{LiveScores, TriedPoint};
use crate::app::pages::disperse::map_data::portion_colors;
use crate::engine::merge::preview::ReferenceScores;
use crate::engine::report::style::vanilla_rgb;
use eframe::egui::{self, Color32};
use egui_plot::{Bar, BarChart, Legend, Line, Plot, PlotPoints, Points};

/// What the tried-settings chart plots upwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Score {
    /// Mean held-out loss over the portions (lower is better).
    #[default]
    Loss,
    /// Benchmark subset accuracy (higher is better).
    Accuracy,
}

impl Score {
    /// Its name on the axis and in the picker.
    pub fn name(self) -> &'static str {
        match self {
            Score::Loss => "mean held-out loss",
            Score::Accuracy => "benchmark accuracy",
        }
    }

    fn of(self, p: &TriedPoint) -> Option<f64> {
        match self {
            Score::Loss => Some(p.mean_loss),
            Score::Accuracy => p.acc,
        }
    }
}

fn series_color(label: &str, k: usize, dark: bool) -> Color32 {
    match label {
        "merge" => {
            if dark {
                Color32::from_rgb(250, 250, 250)
            } else {
                Color32::from_rgb(20, 20, 20)
            }
        }
        "base" => Color32::from_gray(140),
        "vanilla" => {
            let [r, g, b] = vanilla_rgb();
            Color32::from_rgb(r, g, b)
        }
        sub => {
            let i: usize = sub.trim_start_matches("sub-").parse().unwrap_or(0);
            portion_colors(k).get(i).copied().unwrap_or(Color32::GRAY).gamma_multiply(0.75)
        }
    }
}

/// Grouped bars: for each portion, the loss of every reference model and of the merge.
pub fn portion_bars_ui(ui: &mut egui::Ui, current: &LiveScores, references: &[ReferenceScores], width: f32) {
    let k = current.portion_loss.len();
    let mut series: Vec<(String, Vec<Option<f64>>)> = references.iter().map(|r| (r.label.clone(), r.scores.portion_loss.clone())).collect();
    series.push(("merge".into(), current.portion_loss.clone()));
    let n = series.len() as f64;
    let bar_width = 0.8 / n;
    let dark = ui.visuals().dark_mode;
    let charts: Vec<BarChart> = series
        .iter()
        .enumerate()
        .map(|(s, (label, losses))| {
            let bars: Vec<Bar> = (0..k)
                .filter_map(|p| {
                    let loss = losses.get(p).copied().flatten()?;
                    let x = p as f64 - 0.4 + bar_width * (s as f64 + 0.5);
                    let color = series_color(label, k, dark);
                    let fill = if label == "merge" { color } else { color.gamma_multiply(0.55) };
                    Some(
                        Bar::new(x, loss)
                            .width(bar_width * 0.9)
                            .fill(fill)
                            .stroke((1.0, color))
                            .name(format!("portion {p}, {label}: {loss:.3}")),
                    )
                })
                .collect();
            BarChart::new(label.clone(), bars).color(series_color(label, k, dark))
        })
        .collect();

    Plot::new("merge-portion-bars")
        .height(230.0)
        .width(width)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .legend(Legend::default())
        .x_axis_label("portion")
        .y_axis_label("held-out loss")
        .include_y(0.0)
        // Room right of the last portion keeps the legend off the bars.
        .include_x(k as f64 - 0.5 + 0.1 * n)
        .x_axis_formatter(move |mark, _| {
            let whole = (mark.value - mark.value.round()).abs() < 1e-6;
            if whole && mark.value >= 0.0 && mark.value < k as f64 - 0.5 {
                format!("{}", mark.value.round())
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            for c in charts {
                plot.bar_chart(c);
            }
        });
}

/// The score of every setting tried against the weight share of sub-model `selected`; the
/// sweep's points joined by a line.
pub fn tried_ui(ui: &mut egui::Ui, points: &[TriedPoint], selected: usize, score: Score, width: f32) {
    let at = |p: &TriedPoint| Some([p.shares.get(selected).copied()?, score.of(p)?]);
    let tried: Vec<[f64; 2]> = points.iter().filter(|p| !p.from_sweep).filter_map(at).collect();
    let mut swept: Vec<[f64; 2]> = points.iter().filter(|p| p.from_sweep).filter_map(at).collect();
    swept.sort_by(|a, b| a[0].total_cmp(&b[0]));
    if tried.is_empty() && swept.is_empty() {
        ui.label(
            egui::RichText::new("No setting scored yet: each finished preview adds a point here, and Sweep scores a row of weights.")
                .weak(),
        );
        return;
    }
    let dark = ui.visuals().dark_mode;
    Plot::new("merge-tried")
        .height(230.0)
        .width(width)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .legend(Legend::default())
        .include_x(0.0)
        // Room right of share 1 keeps the legend off the points; shares past 1 are not labelled.
        .include_x(1.4)
        .x_axis_formatter(
            |mark, _| if mark.value <= 1.0 + 1e-9 && mark.value >= -1e-9 { format!("{:.1}", mark.value) } else { String::new() },
        )
        .x_axis_label(format!("share of sub-{selected}'s weight"))
        .y_axis_label(score.name())
        .show(ui, |plot| {
            if !swept.is_empty() {
                plot.line(Line::new("sweep", PlotPoints::from(swept.clone())).color(Color32::from_rgb(70, 130, 220)));
                plot.points(Points::new("sweep points", swept).radius(3.5).color(Color32::from_rgb(70, 130, 220)));
            }
            plot.points(Points::new("settings tried", tried).radius(4.5).color(series_color("merge", 0, dark)));
        });
}
