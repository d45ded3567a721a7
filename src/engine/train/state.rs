//! `trainer_state.json`: the loss log, the evaluation points (for the loss-reduction-ratio
//! diagnostic), the status, and the step a checkpoint was taken at.

use serde::{Deserialize, Serialize};

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
    /// Loss on the validation slice.
    pub val_loss: f64,
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
