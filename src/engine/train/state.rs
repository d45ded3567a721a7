//! `trainer_state.json`: the loss log, the evaluation points (for the loss-reduction-ratio
//! diagnostic), the status, and the step a checkpoint was taken at.

use super::error::TrainError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One logged optimiser step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Optimiser step (1-based, after the update).
    pub step: u64,
    /// Mean training loss of the step's micro-batches.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Tokens (including padding) per second in this step.
    pub tokens_per_s: f64,
}

/// Loss on the fixed train slice and on the validation slice at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalEntry {
    /// Optimiser step.
    pub step: u64,
    /// Loss on a fixed slice of the training data.
    pub train_loss: f64,
    /// Loss on the validation slice; missing when the run has no validation rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still going.
    Running,
    /// Reached its last step.
    Finished,
    /// Stopped by the user; resumable from the checkpoint.
    Cancelled,
    /// Stopped by an error (e.g. a non-finite loss); the last good checkpoint is kept.
    Failed,
}

/// The contents of `trainer_state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Run name ("vanilla", "sub-0", ...).
    pub run: String,
    /// Status.
    pub status: RunStatus,
    /// Why it stopped, when it did not finish.
    pub message: Option<String>,
    /// Optimiser steps done.
    pub global_step: u64,
    /// Steps the run will take.
    pub total_steps: u64,
    /// Step of the last checkpoint.
    pub checkpoint_step: Option<u64>,
    /// Training examples / validation examples.
    pub train_examples: usize,
    /// Validation examples.
    pub val_examples: usize,
    /// Per-step log.
    pub log: Vec<LogEntry>,
    /// Evaluation points.
    pub evals: Vec<EvalEntry>,
    /// The settings, for the record.
    pub config: super::config::TrainConfig,
}

impl TrainerState {
    /// The file name inside a run folder.
    pub const FILE: &'static str = "trainer_state.json";

    /// Reads `dir/trainer_state.json`; `Ok(None)` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Self>, TrainError> {
        let path = dir.join(Self::FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrainError::Checkpoint { path, detail: e.to_string() }),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| TrainError::Checkpoint { path, detail: format!("line {}: {e}", e.line()) })
    }

    /// Writes `dir/trainer_state.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), TrainError> {
        let path = dir.join(Self::FILE);
        let text = serde_json::to_vec_pretty(self).map_err(|e| TrainError::Checkpoint { path: path.clone(), detail: e.to_string() })?;
        crate::engine::fsutil::write_atomic(&path, &text).map_err(|e| TrainError::Checkpoint { path, detail: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_without_validation_rows_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let state = TrainerState {
            run: "sub-0".into(),
            status: RunStatus::Cancelled,
            message: Some("stop".into()),
            global_step: 2,
            total_steps: 4,
            checkpoint_step: Some(2),
            train_examples: 9,
            val_examples: 0,
            log: vec![LogEntry { step: 1, loss: 2.0, lr: 1e-4, grad_norm: 0.5, tokens_per_s: 100.0 }],
            evals: vec![
                EvalEntry { step: 0, train_loss: 2.5, val_loss: None },
                EvalEntry { step: 2, train_loss: 2.0, val_loss: Some(2.2) },
            ],
            config: super::super::config::TrainConfig::preset("quick").unwrap(),
        };
        state.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(TrainerState::FILE)).unwrap();
        assert!(!text.contains("\"val_loss\": null") && !text.contains("NaN"), "{text}");
        assert_eq!(TrainerState::read(dir.path()).unwrap(), Some(state));
        assert_eq!(TrainerState::read(&dir.path().join("absent")).unwrap(), None);
    }
}
