//! The training charts, every run on one x-axis (the fraction of the run, step / total steps):
//! `loss.png` (training loss per step, faint, with its smoothed curve, and the validation loss
//! as joined points) and `lrr.png` (the loss-reduction ratio ΔL_train / ΔL_val per segment).

use super::style::{
    draw_legend, padded_range, render_png, split_legend, Area, Colours, DrawResult, Mark, AXIS_DESC_PX, FONT, GRID, INK, LABEL_PX, TITLE_PX,
};
use super::summary::{segments, span_steps};
use super::ReportError;
use crate::engine::train::state::TrainerState;
use plotters::prelude::*;
use std::path::Path;

/// Ratios beyond these bounds are drawn at the edge of `lrr.png` as triangles.
pub const LRR_AXIS_BOUNDS: (f64, f64) = (-10.0, 50.0);

/// An exponential moving average whose span grows with the curve (about 1/12 of its points),
/// started at the first value.
pub fn smooth(values: &[f64]) -> Vec<f64> {
    let span = (values.len() / 12).max(1) as f64;
    let alpha = 2.0 / (span + 1.0);
    let mut out = Vec::with_capacity(values.len());
    let mut ema: Option<f64> = None;
    for &v in values {
        let next = match ema {
            Some(e) if v.is_finite() => e + alpha * (v - e),
            Some(e) => e,
            None => v,
        };
        ema = Some(next);
        out.push(next);
    }
    out
}

/// Every how many points a marker is drawn, so a line shows at most about 30 markers.
fn marker_stride(points: usize) -> usize {
    points.div_ceil(30).max(1)
}

fn x_axis_desc() -> &'static str {
    "fraction of the run (step / total steps)"
}

/// Draws `loss.png`.
pub fn loss_chart(path: &Path, runs: &[TrainerState], colours: &Colours) -> Result<(), ReportError> {
    render_png(path, |root| draw_loss(root, runs, colours))
}

fn draw_loss(root: &Area, runs: &[TrainerState], colours: &Colours) -> DrawResult {
    let (plot, legend) = split_legend(root);
    let all = runs.iter().flat_map(|r| r.log.iter().map(|l| l.loss).chain(r.evals.iter().filter_map(|e| e.val_loss)));
    let (lo, hi) = padded_range(all, 0.05).unwrap_or((0.0, 1.0));
    let mut chart = ChartBuilder::on(&plot)
        .caption("Training and validation loss", (FONT, TITLE_PX).into_font().color(&INK))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..1f64, lo.max(0.0)..hi)?;
    configure(&mut chart, "loss (nats per response token)", 2)?;
    let mut entries: Vec<(String, Mark)> = vec![("run".into(), Mark::None)];
    for run in runs {
        let c = colours.of(&run.run);
        let total = span_steps(run);
        let xs: Vec<f64> = run.log.iter().map(|l| l.step as f64 / total).collect();
        let raw: Vec<f64> = run.log.iter().map(|l| l.loss).collect();
        let finite = |(x, y): (f64, f64)| y.is_finite().then_some((x, y));
        chart.draw_series(LineSeries::new(xs.iter().copied().zip(raw.iter().copied()).filter_map(finite), c.mix(0.35).stroke_width(1)))?;
        chart.draw_series(LineSeries::new(xs.iter().copied().zip(smooth(&raw)).filter_map(finite), c.stroke_width(2)))?;
        let val: Vec<(f64, f64)> = run.evals.iter().filter_map(|e| Some((e.step as f64 / total, e.val_loss?))).filter_map(finite).collect();
        chart.draw_series(LineSeries::new(val.iter().copied(), c.stroke_width(1)))?;
        let dots = || val.iter().step_by(marker_stride(val.len()));
        chart.draw_series(dots().map(|&p| Circle::new(p, 4, c.filled())))?;
        chart.draw_series(dots().map(|&p| Circle::new(p, 4, WHITE.stroke_width(1))))?;
        entries.push((run.run.clone(), Mark::Swatch(c)));
    }
    entries.push((String::new(), Mark::None));
    entries.push(("train, per step".into(), Mark::Faint(INK)));
    entries.push(("train, smoothed".into(), Mark::Line(INK, 2)));
    entries.push(("validation".into(), Mark::LineDot(INK)));
    draw_legend(&legend, &entries)
}

/// Draws `lrr.png`; runs without two validation points are left out (the caller says so).
pub fn lrr_chart(path: &Path, runs: &[TrainerState], colours: &Colours) -> Result<(), ReportError> {
    render_png(path, |root| draw_lrr(root, runs, colours))
}

fn draw_lrr(root: &Area, runs: &[TrainerState], colours: &Colours) -> DrawResult {
    let (plot, legend) = split_legend(root);
    let (min_r, max_r) = LRR_AXIS_BOUNDS;
    let series: Vec<(&TrainerState, Vec<(f64, f64)>)> = runs
        .iter()
        .map(|run| {
            let total = span_steps(run);
            let pts =
                segments(run).iter().filter_map(|s| Some((s.end_step as f64 / total, s.ratio?))).filter(|p| p.1.is_finite()).collect();
            (run, pts)
        })
        .filter(|(_, p): &(_, Vec<_>)| !p.is_empty())
        .collect();
    let ys = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1.clamp(min_r, max_r)));
    let (lo, hi) = padded_range(ys.chain([0.0, 1.0]), 0.08).unwrap_or((0.0, 2.0));
    let mut chart = ChartBuilder::on(&plot)
        .caption("Loss-reduction ratio per segment", (FONT, TITLE_PX).into_font().color(&INK))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..1f64, lo..hi)?;
    configure(&mut chart, "ΔL_train / ΔL_val (ratio)", if hi - lo > 8.0 { 0 } else { 1 })?;
    for y in [0.0, 1.0] {
        let dash = if y == 1.0 { INK.stroke_width(1) } else { INK.mix(0.6).stroke_width(1) };
        chart.draw_series(DashedLineSeries::new([(0.0, y), (1.0, y)], 6, 4, dash))?;
    }
    let mut entries: Vec<(String, Mark)> = vec![("run".into(), Mark::None)];
    let mut clipped = false;
    for (run, pts) in &series {
        let c = colours.of(&run.run);
        let shown: Vec<(f64, f64)> = pts.iter().map(|&(x, y)| (x, y.clamp(min_r, max_r))).collect();
        chart.draw_series(LineSeries::new(shown.iter().copied(), c.stroke_width(2)))?;
        let stride = marker_stride(shown.len());
        for (i, (&(x, y), &(_, raw))) in shown.iter().zip(pts.iter()).enumerate() {
            if raw == y {
                if i % stride != 0 {
                    continue;
                }
                chart.draw_series(std::iter::once(Circle::new((x, y), 4, c.filled())))?;
            } else {
                clipped = true;
                chart.draw_series(std::iter::once(TriangleMarker::new((x, y), 7, c.filled())))?;
            }
        }
        entries.push((run.run.clone(), Mark::LineDot(c)));
    }
    entries.push((String::new(), Mark::None));
    entries.push(("ratio = 1".into(), Mark::Dashed(INK)));
    entries.push(("x: segment end".into(), Mark::None));
    if clipped {
        entries.push((format!("▲ beyond {min_r:.0}…{max_r:.0}"), Mark::None));
    }
    draw_legend(&legend, &entries)
}

fn configure<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>,
    y_desc: &str,
    y_decimals: usize,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_mesh()
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .axis_style(INK)
        .x_desc(x_axis_desc())
        .y_desc(y_desc)
        .axis_desc_style((FONT, AXIS_DESC_PX).into_font().color(&INK))
        .label_style((FONT, LABEL_PX).into_font().color(&INK))
        .x_label_formatter(&|x| format!("{x:.1}"))
        .y_label_formatter(&|y| format!("{:.*}", y_decimals, y))
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_smoothing_starts_at_the_first_value_and_follows_the_curve() {
        let v: Vec<f64> = (0..100).map(|i| 3.0 - i as f64 * 0.01).collect();
        let s = smooth(&v);
        assert_eq!(s[0], 3.0);
        assert!(s.iter().zip(&v).all(|(a, b)| (a - b).abs() < 0.05), "lags by at most a few steps");
        assert_eq!(smooth(&[1.0, f64::NAN, 1.0]), vec![1.0, 1.0, 1.0]);
    }
}
