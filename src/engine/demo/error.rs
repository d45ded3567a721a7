//! Errors of the teaching demo: making its world, training its base model, running its project.

use crate::engine::job::Cancelled;
use crate::engine::model::ModelError;
use crate::engine::pipeline::PipelineError;
use std::path::PathBuf;

/// What stops the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The generated tokenizer could not be built or used (a bug in the demo's vocabulary).
    #[error("the demo's tokenizer: {0}")]
    Tokenizer(String),
    /// A tensor operation failed while training the base model.
    #[error("training the demo's base model: {0}")]
    Tensor(#[from] candle_core::Error),
    /// The base model could not be built from its own config.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Pre-training diverged.
    #[error("training the demo's base model diverged at step {step} (loss {loss}); run the demo again with another --seed")]
    Diverged {
        /// The step.
        step: usize,
        /// The loss there.
        loss: f64,
    },
    /// The output folder already holds something that is not a demo project.
    #[error("{}: {detail}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What is there and what to do.
        detail: String,
    },
    /// The project could not be written or run.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The demo was stopped.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(DemoError, Pipeline, Model);

impl DemoError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
