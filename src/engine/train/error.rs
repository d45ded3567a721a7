//! Errors of a training run.

use crate::engine::job::Cancelled;
use std::path::PathBuf;

/// Why a run could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The settings cannot work.
    #[error("training settings: {0}")]
    Config(String),
    /// There is nothing to train on.
    #[error("training data: {0}")]
    Data(String),
    /// The loss became NaN or infinite; the last good checkpoint is kept.
    #[error("the loss became {loss} at step {step}; stopped without saving this step (the last good checkpoint is kept). Lower the learning rate, or use f32 instead of f16")]
    NonFinite {
        /// The optimiser step.
        step: u64,
        /// The loss value.
        loss: f64,
    },
    /// The run would not fit in the device's memory; refused before loading anything.
    #[error("refused before loading anything: {0}. (To go ahead anyway: `[device] memory_check = false` in dtm.toml, or `train --no-memory-check`.)")]
    Memory(Box<super::memory_fit::NotEnoughMemory>),
    /// A checkpoint could not be written or read.
    #[error("{}: checkpoint: {detail}", path.display())]
    Checkpoint {
        /// The checkpoint folder.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The dataset could not be read or tokenised.
    #[error(transparent)]
    Dataset(#[from] crate::engine::data::DataError),
    /// The device could not be opened.
    #[error(transparent)]
    Device(#[from] crate::engine::device::DeviceError),
    /// The model or adapter failed.
    #[error(transparent)]
    Model(#[from] crate::engine::model::ModelError),
    /// A tensor computation failed.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// The stage was cancelled; what it had written stays valid.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(TrainError, Model, Dataset);
