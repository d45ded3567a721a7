//! The figures the report states and charts, derived once from its input: the headline metric
//! of each benchmark, the role of each model (base, vanilla, sub-model, merge), each merge
//! against vanilla, and the per-run training summary.

use crate::engine::cluster::ClustersFile;
use crate::engine::eval::comparison::{tax, ModelResults, Row};
use crate::engine::eval::diagnose::{loss_reduction_ratios, EvalPoint, Segment, DEFAULT_VAL_TOLERANCE};
use crate::engine::train::state::TrainerState;

/// The label of the model trained on all the data.
pub const VANILLA: &str = "vanilla";

/// What a model is in the experiment, read from its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The first model: the reference of the alignment tax.
    Base,
    /// Trained on all the data (`vanilla`).
    Vanilla,
    /// Trained on one portion (`sub-<p>`).
    Sub,
    /// Anything else: a merge of the sub-models.
    Merge,
}

/// The role of model `index` labelled `label` (index 0 is the base).
pub fn role(index: usize, label: &str) -> Role {
    if index == 0 {
        Role::Base
    } else if label.eq_ignore_ascii_case(VANILLA) {
        Role::Vanilla
    } else if label.strip_prefix("sub-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
        Role::Sub
    } else {
        Role::Merge
    }
}

/// The headline row of each benchmark (its first metric, as `compare` orders them).
pub fn headline_rows(rows: &[Row]) -> Vec<&Row> {
    let mut out: Vec<&Row> = Vec::new();
    for r in rows {
        if !out.iter().any(|o| o.benchmark == r.benchmark) {
            out.push(r);
        }
    }
    out
}

/// Whether a row holds fractions that read as percentages (not a loss or a perplexity).
pub fn is_percent(row: &Row) -> bool {
    !matches!(row.metric.as_str(), "loss" | "perplexity" | "example_loss")
        && row.values.iter().flatten().all(|v| v.value.is_finite() && (0.0..=1.0).contains(&v.value))
}

/// A merge's difference from vanilla on one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct VersusVanilla {
    /// Benchmark.
    pub benchmark: String,
    /// Metric.
    pub metric: String,
    /// merge − vanilla (fraction; positive: the merge scores higher).
    pub diff: f64,
    /// Standard error of `diff` (paired when both scored the same items).
    pub stderr: f64,
    /// Whether the error is paired.
    pub paired: bool,
}

/// Each percentage headline metric of `merge` against `vanilla`.
pub fn versus_vanilla(vanilla: &ModelResults, merge: &ModelResults, headlines: &[&Row]) -> Vec<VersusVanilla> {
    headlines
        .iter()
        .filter(|r| is_percent(r))
        .filter_map(|r| {
            let t = tax(vanilla.results.get(&r.benchmark)?, merge.results.get(&r.benchmark)?, &r.metric)?;
            Some(VersusVanilla {
                benchmark: r.benchmark.clone(),
                metric: r.metric.clone(),
                diff: -t.tax,
                stderr: t.stderr,
                paired: t.paired,
            })
        })
        .collect()
}

/// What the report says about one training run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Run name.
    pub run: String,
    /// Status word (`finished`, `running`, ...).
    pub status: String,
    /// Optimiser steps done.
    pub steps: u64,
    /// Steps planned.
    pub total_steps: u64,
    /// Training / validation examples.
    pub examples: (usize, usize),
    /// Training loss of the first and last logged step.
    pub train: Option<(f64, f64)>,
    /// Validation loss at the first and last evaluation that has one.
    pub val: Option<(f64, f64)>,
    /// Loss-reduction ratio of the first and last segment that has one.
    pub lrr: Option<(f64, f64)>,
}

/// The evaluation points of a run that have a validation loss.
pub fn eval_points(run: &TrainerState) -> Vec<EvalPoint> {
    run.evals.iter().filter_map(|e| Some(EvalPoint { step: e.step, train_loss: e.train_loss, val_loss: e.val_loss? })).collect()
}

/// The most stages a run's loss-reduction ratio is shown over.
pub const MAX_STAGES: usize = 10;

/// At most `MAX_STAGES + 1` of `points`, evenly spaced and keeping the first and last, so the
/// ratio is taken over stages of the run (as the paper does) rather than between every pair of
/// frequent, noisy evaluations.
pub fn stage_points(points: &[EvalPoint]) -> Vec<EvalPoint> {
    let n = points.len();
    if n <= MAX_STAGES + 1 {
        return points.to_vec();
    }
    let mut idx: Vec<usize> = (0..=MAX_STAGES).map(|i| (i * (n - 1) + MAX_STAGES / 2) / MAX_STAGES).collect();
    idx.dedup();
    idx.into_iter().map(|i| points[i]).collect()
}

/// The loss-reduction-ratio segments of a run over at most [`MAX_STAGES`] stages (empty with
/// fewer than two validation points).
pub fn segments(run: &TrainerState) -> Vec<Segment> {
    let mut points = eval_points(run);
    points.sort_by_key(|p| p.step);
    loss_reduction_ratios(&stage_points(&points), DEFAULT_VAL_TOLERANCE)
}

/// The steps a run's x-axis spans (`total_steps`, or the last step seen when that is 0).
pub fn span_steps(run: &TrainerState) -> f64 {
    if run.total_steps > 0 {
        return run.total_steps as f64;
    }
    let seen = run.log.iter().map(|l| l.step).chain(run.evals.iter().map(|e| e.step)).max().unwrap_or(0).max(run.global_step);
    seen.max(1) as f64
}

/// The summary of one run.
pub fn run_summary(run: &TrainerState) -> RunSummary {
    let train = match (run.log.first(), run.log.last()) {
        (Some(a), Some(b)) => Some((a.loss, b.loss)),
        _ => None,
    };
    let vals: Vec<f64> = run.evals.iter().filter_map(|e| e.val_loss).collect();
    let ratios: Vec<f64> = segments(run).iter().filter_map(|s| s.ratio).collect();
    RunSummary {
        run: run.run.clone(),
        status: format!("{:?}", run.status).to_lowercase(),
        steps: run.global_step,
        total_steps: run.total_steps,
        examples: (run.train_examples, run.val_examples),
        train,
        val: vals.first().zip(vals.last()).map(|(a, b)| (*a, *b)),
        lrr: ratios.first().zip(ratios.last()).map(|(a, b)| (*a, *b)),
    }
}

/// Rows per portion, counted from the assignment.
pub fn portion_sizes(c: &ClustersFile) -> Vec<usize> {
    let mut sizes = vec![0usize; c.k];
    for &a in &c.assignment {
        if let Some(s) = sizes.get_mut(a as usize) {
            *s += 1;
        }
    }
    sizes
}

/// A loss or ratio with 3 decimals, or "n/a" when not finite.
pub fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "n/a".into()
    }
}

/// A fraction in percent with one decimal, or "n/a".
pub fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.1}", 100.0 * x)
    } else {
        "n/a".into()
    }
}

/// A signed difference in percentage points with one decimal, or "n/a".
pub fn pp(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.1}", 100.0 * x)
    } else {
        "n/a".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_stages_keep_the_ends_and_cap_the_count() {
        let pts: Vec<EvalPoint> = (0..=400).map(|s| EvalPoint { step: 5 * s, train_loss: 1.0, val_loss: 1.0 }).collect();
        let st = stage_points(&pts);
        assert_eq!(st.len(), MAX_STAGES + 1);
        assert_eq!((st[0].step, st[1].step, st[MAX_STAGES].step), (0, 200, 2000));
        assert_eq!(stage_points(&pts[..5]).len(), 5);
        assert_eq!(role(0, "vanilla"), Role::Base);
        assert_eq!(
            (role(1, "Vanilla"), role(2, "sub-12"), role(3, "sub-x"), role(4, "linear")),
            (Role::Vanilla, Role::Sub, Role::Merge, Role::Merge)
        );
    }
}
