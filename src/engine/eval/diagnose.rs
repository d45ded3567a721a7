//! The paper's pilot diagnostic: the loss-reduction ratio ΔL_train / ΔL_val per segment of
//! training, from the trainer's `trainer_state.json`.
//!
//! The trainer evaluates a fixed slice of the training data and the validation slice at
//! intervals (`"evals": [{"step", "train_loss", "val_loss"}]`). Between consecutive evaluations,
//! ΔL = loss at the segment's start − loss at its end, and the ratio is ΔL_train / ΔL_val. A
//! ratio near 1 means training and validation loss fall together; a large one means the model
//! fits the training data faster than it generalises (the paper sees ~1 early, ~20 late). The
//! ratio is undefined when the validation loss barely moves, and flagged when it rises.

use super::error::{EvalError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One evaluation point of `trainer_state.json`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
pub struct EvalPoint {
    /// Optimiser step.
    pub step: u64,
    /// Loss on the fixed training slice.
    pub train_loss: f64,
    /// Loss on the validation slice.
    pub val_loss: f64,
}

/// An evaluation point as stored: the validation loss is missing when the run had no
/// validation rows.
#[derive(Debug, Deserialize)]
struct StoredPoint {
    step: u64,
    train_loss: f64,
    #[serde(default)]
    val_loss: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct TrainerState {
    #[serde(default)]
    evals: Vec<StoredPoint>,
}

/// What is special about a segment's ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentFlag {
    /// |ΔL_val| is below the tolerance: the ratio is undefined.
    ValFlat,
    /// The validation loss rose (ΔL_val < 0) while the training loss fell.
    ValRose,
    /// The training loss rose.
    TrainRose,
}

/// One segment between consecutive evaluations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Step at the start.
    pub start_step: u64,
    /// Step at the end.
    pub end_step: u64,
    /// ΔL_train = train loss at start − at end.
    pub delta_train: f64,
    /// ΔL_val = val loss at start − at end.
    pub delta_val: f64,
    /// ΔL_train / ΔL_val, `None` when undefined.
    pub ratio: Option<f64>,
    /// A warning about this segment.
    pub flag: Option<SegmentFlag>,
}

/// Default tolerance on |ΔL_val| below which the ratio is undefined.
pub const DEFAULT_VAL_TOLERANCE: f64 = 1e-4;

/// Ratios for consecutive evaluation points (sorted by step). `tolerance` is the smallest
/// |ΔL_val| for which a ratio is given.
pub fn loss_reduction_ratios(points: &[EvalPoint], tolerance: f64) -> Vec<Segment> {
    let mut pts = points.to_vec();
    pts.sort_by_key(|p| p.step);
    pts.windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            let delta_train = a.train_loss - b.train_loss;
            let delta_val = a.val_loss - b.val_loss;
            let flat = delta_val.abs() < tolerance || !delta_val.is_finite();
            let flag = if flat {
                Some(SegmentFlag::ValFlat)
            } else if delta_val < 0.0 && delta_train > 0.0 {
                Some(SegmentFlag::ValRose)
            } else if delta_train < 0.0 {
                Some(SegmentFlag::TrainRose)
            } else {
                None
            };
            Segment { start_step: a.step, end_step: b.step, delta_train, delta_val, ratio: (!flat).then(|| delta_train / delta_val), flag }
        })
        .collect()
}

/// Reads the evaluation points of a `trainer_state.json`.
pub fn read_eval_points(path: &Path) -> Result<Vec<EvalPoint>> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    let state: TrainerState = serde_json::from_str(&text).map_err(|e| EvalError::BadResults {
        path: path.to_path_buf(),
        detail: format!("not a trainer_state.json with \"evals\": [{{step, train_loss, val_loss}}] (line {}): {e}", e.line()),
    })?;
    let stored = state.evals.len();
    let points: Vec<EvalPoint> =
        state.evals.into_iter().filter_map(|p| Some(EvalPoint { step: p.step, train_loss: p.train_loss, val_loss: p.val_loss? })).collect();
    if points.len() < 2 {
        let detail = if stored >= 2 {
            format!("has {stored} evaluation points but {} with a validation loss; the run had no validation rows (train with a validation fraction above 0 on more than 9 rows)", points.len())
        } else {
            format!("has {stored} evaluation points; the ratio needs at least 2 (train with validation at intervals)")
        };
        return Err(EvalError::BadResults { path: path.to_path_buf(), detail });
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_per_segment_from_a_hand_made_state() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trainer_state.json");
        let state = r#"{"log": [{"step": 1, "loss": 2.5, "lr": 0.0003, "tokens_per_s": 900.0}],
            "evals": [
              {"step": 0,   "train_loss": 2.00, "val_loss": 2.10},
              {"step": 200, "train_loss": 1.50, "val_loss": 1.60},
              {"step": 100, "train_loss": 1.80, "val_loss": 1.85},
              {"step": 300, "train_loss": 1.30, "val_loss": 1.59995},
              {"step": 400, "train_loss": 1.10, "val_loss": 1.62}
            ]}"#;
        std::fs::write(&p, state).unwrap();
        let segs = loss_reduction_ratios(&read_eval_points(&p).unwrap(), DEFAULT_VAL_TOLERANCE);
        assert_eq!(segs.iter().map(|s| (s.start_step, s.end_step)).collect::<Vec<_>>(), vec![(0, 100), (100, 200), (200, 300), (300, 400)]);
        // 0.20 / 0.25 = 0.8 and 0.30 / 0.25 = 1.2
        assert!((segs[0].ratio.unwrap() - 0.8).abs() < 1e-9 && segs[0].flag.is_none());
        assert!((segs[1].ratio.unwrap() - 1.2).abs() < 1e-9);
        // ΔL_val = 5e-5: undefined.
        assert_eq!((segs[2].ratio, segs[2].flag), (None, Some(SegmentFlag::ValFlat)));
        // Validation loss rises: negative ratio, flagged.
        assert!(segs[3].ratio.unwrap() < 0.0);
        assert_eq!(segs[3].flag, Some(SegmentFlag::ValRose));
    }

    #[test]
    fn too_few_points_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trainer_state.json");
        std::fs::write(&p, r#"{"log": [], "evals": [{"step": 0, "train_loss": 2.0, "val_loss": 2.0}]}"#).unwrap();
        assert!(read_eval_points(&p).unwrap_err().to_string().contains("at least 2"));
    }

    #[test]
    fn a_run_without_validation_rows_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trainer_state.json");
        std::fs::write(&p, r#"{"evals": [{"step": 0, "train_loss": 2.0}, {"step": 5, "train_loss": 1.5, "val_loss": null}]}"#).unwrap();
        let err = read_eval_points(&p).unwrap_err().to_string();
        assert!(err.contains("no validation rows"), "{err}");
    }
}
