//! The grouped bar charts: `scores.png` (each model's headline metric per benchmark, ± one
//! standard error) and `tax.png` (each model's alignment tax against the base per benchmark,
//! ± its paired standard error, with a zero line).

use super::style::{
    draw_legend, padded_range, render_png, shorten, split_legend, Area, Colours, DrawResult, Mark, AXIS_DESC_PX, FONT, GRID, INK, LABEL_PX,
    TITLE_PX,
};
use super::ReportError;
use crate::engine::eval::comparison::{ModelResults, Row};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// One series of bars: a model.
struct Series {
    label: String,
    colour: RGBColor,
    /// Per group: (value, error) in the chart's unit.
    values: Vec<Option<(f64, f64)>>,
}

/// A grouped bar chart.
struct Bars {
    title: String,
    y_desc: String,
    /// Per group: benchmark and metric.
    groups: Vec<(String, String)>,
    series: Vec<Series>,
    y_range: (f64, f64),
    zero_line: bool,
    legend_note: Option<String>,
}

/// Draws `scores.png`: one group per benchmark, one bar per model.
pub fn scores_chart(path: &Path, models: &[ModelResults], headlines: &[&Row], colours: &Colours) -> Result<(), ReportError> {
    let series: Vec<Series> = models
        .iter()
        .enumerate()
        .map(|(i, m)| Series {
            label: m.label.clone(),
            colour: colours.of(&m.label),
            values: headlines.iter().map(|r| r.values[i].map(|v| (100.0 * v.value, 100.0 * v.stderr))).collect(),
        })
        .collect();
    let top = series.iter().flat_map(|s| s.values.iter().flatten()).map(|(v, e)| v + e).fold(0.0f64, f64::max);
    let bars = Bars {
        title: "Scores per benchmark".into(),
        y_desc: "score (%), ± 1 standard error".into(),
        groups: group_labels(headlines),
        series,
        y_range: (0.0, ((top * 1.08 / 10.0).ceil() * 10.0).clamp(10.0, 100.0)),
        zero_line: false,
        legend_note: None,
    };
    render_png(path, |root| draw_bars(root, &bars))
}

/// Draws `tax.png`: one group per benchmark, one bar per non-base model.
pub fn tax_chart(path: &Path, models: &[ModelResults], headlines: &[&Row], colours: &Colours) -> Result<(), ReportError> {
    let series: Vec<Series> = models
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, m)| Series {
            label: m.label.clone(),
            colour: colours.of(&m.label),
            values: headlines.iter().map(|r| r.taxes[i].map(|t| (100.0 * t.tax, 100.0 * t.stderr))).collect(),
        })
        .collect();
    let ends = series.iter().flat_map(|s| s.values.iter().flatten()).flat_map(|(v, e)| [v - e, v + e]);
    let (lo, hi) = padded_range(ends.chain([0.0]), 0.08).unwrap_or((-1.0, 1.0));
    let unpaired = models.len() > 1 && headlines.iter().any(|r| r.taxes.iter().flatten().any(|t| !t.paired));
    let bars = Bars {
        title: format!("Alignment tax against {} (above 0: score lost)", shorten(&models[0].label, 24)),
        y_desc: "tax = base − model (percentage points)".into(),
        groups: group_labels(headlines),
        series,
        y_range: (lo, hi),
        zero_line: true,
        legend_note: Some(if unpaired { "± 1 s.e. (some unpaired)".into() } else { "± 1 paired s.e.".into() }),
    };
    render_png(path, |root| draw_bars(root, &bars))
}

fn group_labels(headlines: &[&Row]) -> Vec<(String, String)> {
    headlines.iter().map(|r| (r.benchmark.clone(), r.metric.clone())).collect()
}

fn draw_bars(root: &Area, b: &Bars) -> DrawResult {
    let (plot, legend) = split_legend(root);
    let n = b.groups.len().max(1);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&b.title, (FONT, TITLE_PX).into_font().color(&INK))
        .margin(12)
        .x_label_area_size(76)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, b.y_range.0..b.y_range.1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .axis_style(INK)
        .x_desc("benchmark (headline metric)")
        .y_desc(b.y_desc.as_str())
        .axis_desc_style((FONT, AXIS_DESC_PX).into_font().color(&INK))
        .label_style((FONT, LABEL_PX).into_font().color(&INK))
        .x_labels(0)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_labels(8)
        .draw()?;
    let m = b.series.len().max(1) as f64;
    let slot = 0.8 / m;
    let base_y = b.y_range.0.max(0.0).min(b.y_range.1);
    for (si, s) in b.series.iter().enumerate() {
        for (g, v) in s.values.iter().enumerate() {
            let Some((value, err)) = *v else { continue };
            if !value.is_finite() {
                continue;
            }
            let x0 = g as f64 - 0.4 + si as f64 * slot + slot * 0.06;
            let x1 = x0 + slot * 0.88;
            chart.draw_series(std::iter::once(Rectangle::new([(x0, base_y), (x1, value)], s.colour.filled())))?;
            if err.is_finite() && err > 0.0 {
                let xc = (x0 + x1) / 2.0;
                let cap = slot * 0.22;
                let (lo, hi) = (value - err, value + err);
                let lines = [vec![(xc, lo), (xc, hi)], vec![(xc - cap, lo), (xc + cap, lo)], vec![(xc - cap, hi), (xc + cap, hi)]];
                chart.draw_series(lines.into_iter().map(|p| PathElement::new(p, INK.stroke_width(1))))?;
            }
        }
    }
    if b.zero_line {
        chart.draw_series(std::iter::once(PathElement::new(vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)], INK.stroke_width(2))))?;
    }
    // Group names under the axis, centred on their group, the metric below the benchmark;
    // each cut to the group's width.
    let names = (FONT, LABEL_PX).into_font().color(&INK).pos(Pos::new(HPos::Center, VPos::Top));
    let area = chart.plotting_area();
    let group_px = (area.dim_in_pixel().0 as f64 / n as f64 - 8.0).max(20.0) as u32;
    for (g, (bench, metric)) in b.groups.iter().enumerate() {
        let (px, py) = area.map_coordinate(&(g as f64, b.y_range.0));
        for (k, line) in [bench, &format!("({metric})")].into_iter().enumerate() {
            let mut text = line.clone();
            let mut chars = text.chars().count();
            while chars > 3 && root.estimate_text_size(&text, &names)?.0 > group_px {
                chars -= 1;
                text = shorten(line, chars);
            }
            root.draw(&Text::new(text, (px, py + 8 + k as i32 * (LABEL_PX as i32 + 3)), names.clone()))?;
        }
    }
    let mut entries: Vec<(String, Mark)> = vec![("model".into(), Mark::None)];
    entries.extend(b.series.iter().map(|s| (s.label.clone(), Mark::Swatch(s.colour))));
    entries.push((b.legend_note.clone().unwrap_or_else(|| "whiskers: ± 1 s.e.".into()), Mark::None));
    draw_legend(&legend, &entries)
}
