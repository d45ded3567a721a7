//! Errors of the report: every variant names the file it was reading or writing.

use std::path::PathBuf;

/// What went wrong while gathering the report's inputs or writing its files.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or folder could not be written (or a stale chart removed).
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A chart could not be drawn or encoded.
    #[error("drawing {path}: {detail}")]
    Chart {
        /// The PNG file.
        path: PathBuf,
        /// What plotters or the PNG encoder said.
        detail: String,
    },
    /// A result folder could not be read.
    #[error("reading results in {path}: {source}")]
    Results {
        /// The folder.
        path: PathBuf,
        /// The cause (names the file).
        #[source]
        source: Box<crate::engine::eval::EvalError>,
    },
    /// A run folder's `trainer_state.json` could not be read, or there is none.
    #[error("reading the training run in {path}: {detail}")]
    Run {
        /// The run folder.
        path: PathBuf,
        /// What was wrong and what to do.
        detail: String,
    },
    /// The clusters file could not be read.
    #[error("reading {path}: {source}")]
    Clusters {
        /// The clusters.json file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<crate::engine::cluster::ClusterError>,
    },
    /// The base label names none of the result folders.
    #[error("base '{label}': no result folder has that name (folders: {found}); name one of them, or put the base first")]
    NoSuchBase {
        /// The label asked for.
        label: String,
        /// The folder names given.
        found: String,
    },
    /// Nothing to report.
    #[error("no result folders given: the report needs at least the base model's results")]
    NoModels,
}
