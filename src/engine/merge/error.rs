//! Errors of merging. Each names the file, the tensor or the setting at fault and what to do.

use crate::engine::job::Cancelled;
use crate::engine::model::ModelError;
use std::path::PathBuf;

/// What went wrong while merging adapters.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Loading the base model or an adapter failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The instruction data (for Fisher diagonals) could not be read or tokenised.
    #[error(transparent)]
    Data(#[from] crate::engine::data::DataError),
    /// A benchmark or the held-out rows of a preview could not be read or scored.
    #[error(transparent)]
    Eval(#[from] crate::engine::eval::EvalError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An adapter does not fit the base model (or the other adapters).
    #[error("{}: {detail}", path.display())]
    Adapter {
        /// The adapter file or folder.
        path: PathBuf,
        /// What is wrong, naming the tensor.
        detail: String,
    },
    /// A base-model tensor cannot be merged (unsupported dtype, damaged file).
    #[error("{}: tensor '{name}': {detail}", path.display())]
    Tensor {
        /// The weights file.
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The merge settings are inconsistent (weights, density, method).
    #[error("merge settings: {0}")]
    Spec(String),
    /// Fisher diagonals are missing or do not fit.
    #[error("{}: Fisher diagonals: {detail}", path.display())]
    Fisher {
        /// The Fisher file (or the adapter folder that lacks one).
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The output folder exists and overwriting was not asked for.
    #[error("{}: already exists; choose another output folder, or allow `overwrite`", path.display())]
    OutputExists {
        /// The output folder.
        path: PathBuf,
    },
    /// A numeric failure inside candle.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// The stage was cancelled; what it had written stays valid.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(MergeError, Model, Data, Eval);

impl MergeError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, MergeError>;
