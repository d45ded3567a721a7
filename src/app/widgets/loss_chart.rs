//! A chart of several loss curves on one plot: each run in its colour, the raw curve faint under
//! its smoothed copy, evaluation points as markers, the y axis linear or logarithmic and the x
//! axis in steps or as the share of each run done. Every point is kept; the drawing is thinned
//! per pixel column with spikes kept (see [`curve_data`](super::curve_data)).

use super::curve_data::{downsample, smooth};
use eframe::egui::{self, Color32};
use egui_plot::{ColorConflictHandling, HoverPosition, Legend, Line, MarkerShape, Plot, PlotPoints, Points};

/// One run's curve.
pub struct LossSeries<'a> {
    /// The run's name, shown in the legend.
    pub name: &'a str,
    /// Its colour.
    pub color: Color32,
    /// (step, loss) per logged step, by step.
    pub points: &'a [[f64; 2]],
    /// (step, loss) of the evaluation points drawn as markers (validation loss).
    pub markers: &'a [[f64; 2]],
    /// The run's steps in all, for the x axis as a share of the run.
    pub total_steps: u64,
}

/// How the curves are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossChartOptions {
    /// Weight of the debiased moving average, 0 (none) to 0.99.
    pub smoothing: f64,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// x axis as the share of each run done (0..1) instead of steps.
    pub x_as_fraction: bool,
}

impl Default for LossChartOptions {
    fn default() -> Self {
        Self { smoothing: 0.6, log_y: false, x_as_fraction: false }
    }
}

/// Draws `series` in a plot `id`, `height` points high, with a legend naming the runs.
pub fn loss_chart(ui: &mut egui::Ui, id: &str, height: f32, series: &[LossSeries<'_>], options: LossChartOptions) -> egui::Response {
    let log_y = options.log_y;
    let map = move |points: &[[f64; 2]], scale: f64| -> Vec<[f64; 2]> {
        points.iter().filter(|p| !log_y || p[1] > 0.0).map(|&[x, y]| [x * scale, if log_y { y.log10() } else { y }]).collect()
    };
    // Per run: the raw curve, its smoothed copy and the markers, in the axes' units.
    let prepared: Vec<[Vec<[f64; 2]>; 3]> = series
        .iter()
        .map(|s| {
            let scale = if options.x_as_fraction { 1.0 / s.total_steps.max(1) as f64 } else { 1.0 };
            let raw = map(s.points, scale);
            let smoothed = smooth(&raw, options.smoothing);
            [raw, smoothed, map(s.markers, scale)]
        })
        .collect();
    let mut plot = Plot::new(id)
        .height(height)
        .legend(Legend::default().color_conflict_handling(ColorConflictHandling::PickLast))
        .x_axis_label(if options.x_as_fraction { "share of the run" } else { "step" })
        .y_axis_label(if log_y { "loss (log scale)" } else { "loss" })
        .allow_scroll(false);
    if log_y {
        plot = plot.y_axis_formatter(|mark, _| format_loss(10f64.powf(mark.value))).label_formatter(|hover| {
            Some(match hover {
                HoverPosition::NearDataPoint { plot_name, position, .. } => {
                    format!("{plot_name}\nx {:.3}\nloss {}", position.x, format_loss(10f64.powf(position.y)))
                }
                HoverPosition::Elsewhere { position } => format!("x {:.3}\nloss {}", position.x, format_loss(10f64.powf(position.y))),
            })
        });
    }
    plot.show(ui, |plot_ui| {
        let bounds = plot_ui.plot_bounds();
        let columns = plot_ui.transform().frame().width().max(1.0) as usize;
        let auto = plot_ui.auto_bounds().x;
        for (s, [raw, smoothed, markers]) in series.iter().zip(&prepared) {
            let (x_min, x_max) = match (auto, raw.first(), raw.last()) {
                (true, Some(a), Some(b)) => (a[0], b[0]),
                _ => (bounds.min()[0], bounds.max()[0]),
            };
            let thin = |pts: &[[f64; 2]]| PlotPoints::new(downsample(pts, x_min, x_max, columns));
            let raw_color = if options.smoothing > 0.0 { s.color.gamma_multiply(0.3) } else { s.color };
            plot_ui.line(Line::new(s.name, thin(raw)).color(raw_color).width(1.0).allow_hover(options.smoothing == 0.0));
            if options.smoothing > 0.0 {
                plot_ui.line(Line::new(s.name, thin(smoothed)).color(s.color).width(2.0));
            }
            if !markers.is_empty() {
                plot_ui.points(
                    Points::new(s.name, PlotPoints::new(markers.clone()))
                        .color(s.color)
                        .shape(MarkerShape::Diamond)
                        .radius(4.0)
                        .filled(true),
                );
            }
        }
    })
    .response
}

/// A loss for an axis or a tooltip: three significant figures.
fn format_loss(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}
