//! Errors of benchmark loading, scoring and result handling. Each names the file (and line or
//! field) at fault and says what to do.

use crate::engine::job::Cancelled;
use std::path::PathBuf;

/// What went wrong while evaluating.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not in the format the benchmark expects.
    #[error("{}: not in the expected format ({expected}): {detail}", path.display())]
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// The format that was expected, described so the user can fix the file.
        expected: String,
        /// What was found instead.
        detail: String,
    },
    /// One record of a benchmark file is malformed.
    #[error("{}:{line}: {detail}", path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// 1-based line (for JSON arrays: the line where the record starts).
        line: usize,
        /// What is wrong with the record and what it should look like.
        detail: String,
    },
    /// The benchmark name or `NAME:PATH` argument is not understood.
    #[error("benchmark '{name}': {detail}")]
    UnknownBenchmark {
        /// What the user gave.
        name: String,
        /// What is known and how to write it.
        detail: String,
    },
    /// A task definition (TOML) is invalid.
    #[error("{}: task definition: {detail}", path.display())]
    TaskDefinition {
        /// The TOML file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The benchmark has no items to score (after the `limit`).
    #[error("{}: no items to evaluate{detail}", path.display())]
    Empty {
        /// The benchmark file.
        path: PathBuf,
        /// Extra explanation (e.g. how many malformed rows were skipped).
        detail: String,
    },
    /// A results file or trainer state is not what this version writes.
    #[error("{}: {detail}", path.display())]
    BadResults {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Running the model failed.
    #[error(transparent)]
    Model(#[from] crate::engine::model::ModelError),
    /// A numeric failure inside candle.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// The stage was cancelled; what it had written stays valid.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(EvalError, Model);

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, EvalError>;

impl EvalError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// A malformed record at `path:line`.
    pub fn record(path: impl Into<PathBuf>, line: usize, detail: impl Into<String>) -> Self {
        Self::BadRecord { path: path.into(), line, detail: detail.into() }
    }
}

impl From<crate::engine::hash::HashError> for EvalError {
    fn from(e: crate::engine::hash::HashError) -> Self {
        match e {
            crate::engine::hash::HashError::Io { path, source } => EvalError::Io { path, source },
            crate::engine::hash::HashError::Cancelled(c) => EvalError::Cancelled(c),
        }
    }
}
