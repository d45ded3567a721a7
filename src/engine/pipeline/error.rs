//! Errors of the pipeline: a bad project file (with its line and key), a locked project, and the
//! failures of stages, which carry the stage's own error text.

use crate::engine::job::Cancelled;
use std::path::PathBuf;

/// What stops a project from being planned or run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The project file is not valid TOML of the expected shape (unknown key, wrong type).
    #[error("{}: {detail}", file.display())]
    Toml {
        /// The project file.
        file: PathBuf,
        /// The parser's message, with the line and column.
        detail: String,
    },
    /// A setting has a value that cannot work.
    #[error("{}:{line}: {key}: {detail}", file.display())]
    Invalid {
        /// The project file.
        file: PathBuf,
        /// 1-based line of the key (0 when unknown).
        line: usize,
        /// The key, e.g. `disperse.k` or `merge[1].method`.
        key: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Another process runs this project.
    #[error("{}: {detail}", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it and what to do.
        detail: String,
    },
    /// A stage name or pattern is not understood.
    #[error("{0}")]
    Stage(String),
    /// Stages failed; the others finished.
    #[error("{} stage(s) failed: {}", failed.len(), failed.iter().map(|(s, m)| format!("{s}: {m}")).collect::<Vec<_>>().join("; "))]
    StagesFailed {
        /// Each failed stage and its message.
        failed: Vec<(String, String)>,
    },
    /// The run was cancelled; finished stages stay done and training resumes from its checkpoint.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(PipelineError);

impl PipelineError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
