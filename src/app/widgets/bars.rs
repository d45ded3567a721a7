//! A grouped bar chart (egui_plot): one group per category on the x axis, one bar per series
//! in each group, each series in its own colour, every bar with a standard-error whisker; and
//! a legend row of coloured swatches that several charts can share.

use eframe::egui::{self, Color32, RichText};
use egui_plot::{Bar, BarChart, GridInput, GridMark, HLine, Line, Plot};

/// Share of a group's slot the bars fill together.
const GROUP_WIDTH: f64 = 0.8;

/// One series: a label, its colour, and per group its value and standard error (`None`: no bar).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its name in the legend and in hover texts.
    pub label: String,
    /// Bar colour.
    pub colour: Color32,
    /// Per group, in the chart's group order: (value, standard error).
    pub values: Vec<Option<(f64, f64)>>,
}

/// A grouped bar chart to draw.
pub struct GroupedBars<'a> {
    /// Distinguishes this chart's plot memory from other charts'.
    pub id: &'a str,
    /// The categories on the x axis.
    pub groups: &'a [String],
    /// The series, drawn left to right in each group.
    pub series: &'a [Series],
    /// The y axis' label.
    pub y_label: &'a str,
    /// How a value reads in hover texts (e.g. `|v| format!("{v:.1} %")`).
    pub format: &'a dyn Fn(f64) -> String,
    /// Height in points.
    pub height: f32,
    /// Draws a line at y = 0 (for differences that may be negative).
    pub zero_line: bool,
}

/// Where bar `i` of `n` in group `g` stands on the x axis, and how wide it is.
pub fn bar_position(g: usize, i: usize, n: usize) -> (f64, f64) {
    let width = GROUP_WIDTH / n.max(1) as f64;
    (g as f64 + (i as f64 - (n as f64 - 1.0) / 2.0) * width, width)
}

/// A whisker from `value - se` to `value + se` at `x`, with caps, as one polyline.
fn whisker(x: f64, cap: f64, value: f64, se: f64) -> Vec<[f64; 2]> {
    let (lo, hi) = (value - se, value + se);
    vec![[x - cap, lo], [x + cap, lo], [x, lo], [x, hi], [x - cap, hi], [x + cap, hi]]
}

/// Draws `chart` at the available width; returns how many bars it drew.
pub fn grouped_bars_ui(ui: &mut egui::Ui, chart: &GroupedBars<'_>) -> usize {
    let ink = ui.visuals().strong_text_color().gamma_multiply(0.8);
    let n = chart.series.len();
    let groups = chart.groups.to_vec();
    let mut drawn = 0;
    let mut charts = Vec::new();
    let mut whiskers = Vec::new();
    for (i, s) in chart.series.iter().enumerate() {
        let mut bars = Vec::new();
        for (g, v) in s.values.iter().enumerate() {
            let Some((value, se)) = *v else { continue };
            let (x, width) = bar_position(g, i, n);
            let group = chart.groups.get(g).map(String::as_str).unwrap_or("");
            let name = format!("{} on {group}: {} ± {}", s.label, (chart.format)(value), (chart.format)(se));
            bars.push(Bar::new(x, value).width(width * 0.92).fill(s.colour).name(name));
            if se > 0.0 && se.is_finite() {
                whiskers.push(whisker(x, width * 0.18, value, se));
            }
            drawn += 1;
        }
        let formatter = Box::new(|bar: &Bar, _: &BarChart| bar.name.clone());
        charts.push(BarChart::new(s.label.clone(), bars).color(s.colour).element_formatter(formatter));
    }
    let count = groups.len();
    // The axis drops a label wider than its group's slot: long names break at their separators.
    let slot = (ui.available_width() - 60.0) / count.max(1) as f32;
    let groups: Vec<String> = groups.iter().map(|g| axis_label(g, slot)).collect();
    Plot::new(chart.id)
        .height(chart.height)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_grid([false, true])
        .include_x(-0.5)
        .include_x(count as f64 - 0.5)
        .include_y(0.0)
        .x_grid_spacer(move |_: GridInput| (0..count).map(|g| GridMark { value: g as f64, step_size: 1.0 }).collect())
        .x_axis_formatter(move |mark, _| {
            let g = mark.value.round();
            if (mark.value - g).abs() < 1e-6 && g >= 0.0 {
                groups.get(g as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_axis_label(chart.y_label)
        .show(ui, |plot| {
            if chart.zero_line {
                plot.add(HLine::new("", 0.0).color(ink).width(1.0));
            }
            for c in charts {
                plot.bar_chart(c);
            }
            for points in whiskers {
                plot.line(Line::new("", points).color(ink).width(1.2));
            }
        });
    drawn
}

/// Approximate width of one character of the axis font, in points.
const AXIS_CHAR_WIDTH: f32 = 6.5;

/// `name` as an axis label in a slot `slot` points wide: unchanged when it fits, else broken into
/// lines at its underscores, spaces and hyphens ("bias_opening" -> "bias\nopening").
fn axis_label(name: &str, slot: f32) -> String {
    if name.chars().count() as f32 * AXIS_CHAR_WIDTH < slot {
        return name.to_string();
    }
    name.split(['_', ' ', '-']).filter(|p| !p.is_empty()).collect::<Vec<_>>().join("\n")
}

/// Draws a row of coloured swatches with their labels (the legend of the charts below it).
pub fn legend_ui(ui: &mut egui::Ui, entries: &[(String, Color32)]) {
    ui.horizontal_wrapped(|ui| {
        for (label, colour) in entries {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
            ui.painter().rect_filled(rect, 2.0, *colour);
            ui.label(RichText::new(label));
            ui.add_space(10.0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_of_a_group_sit_side_by_side_within_its_slot() {
        let xs: Vec<(f64, f64)> = (0..4).map(|i| bar_position(2, i, 4)).collect();
        assert!((xs[0].0 - xs[0].1 / 2.0 - (2.0 - GROUP_WIDTH / 2.0)).abs() < 1e-9, "{xs:?}");
        assert!((xs[3].0 + xs[3].1 / 2.0 - (2.0 + GROUP_WIDTH / 2.0)).abs() < 1e-9, "{xs:?}");
        assert!(xs.windows(2).all(|w| (w[1].0 - w[0].0 - w[0].1).abs() < 1e-9), "touching, not overlapping: {xs:?}");
        assert_eq!(bar_position(1, 0, 1), (1.0, GROUP_WIDTH));
    }

    #[test]
    fn long_axis_labels_break_at_their_separators() {
        assert_eq!(axis_label("bias_opening", 200.0), "bias_opening");
        assert_eq!(axis_label("bias_opening", 60.0), "bias\nopening");
        assert_eq!(axis_label("truthfulqa mc1", 40.0), "truthfulqa\nmc1");
        assert_eq!(axis_label("knowledge", 40.0), "knowledge");
    }

    #[test]
    fn a_whisker_spans_one_standard_error_each_way() {
        let w = whisker(1.0, 0.1, 0.5, 0.2);
        let ys: Vec<f64> = w.iter().map(|p| p[1]).collect();
        assert!((ys.iter().cloned().fold(f64::MAX, f64::min) - 0.3).abs() < 1e-12);
        assert!((ys.iter().cloned().fold(f64::MIN, f64::max) - 0.7).abs() < 1e-12);
    }
}
