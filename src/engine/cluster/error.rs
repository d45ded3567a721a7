//! Errors of the Disperse split: bad K, mismatched inputs, missing label columns.

use crate::engine::job::Cancelled;
use std::path::PathBuf;

/// What went wrong while splitting the data into portions.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// K is zero.
    #[error("K = 0: ask for at least 1 portion (the paper's best was K = 4)")]
    ZeroK,
    /// More portions than rows.
    #[error("K = {k} is larger than the number of rows ({rows}): every portion needs at least one row; use K <= {rows}")]
    KTooLarge {
        /// Portions asked for.
        k: usize,
        /// Rows available.
        rows: usize,
    },
    /// The embeddings do not match the data.
    #[error("{detail}")]
    Mismatch {
        /// What differs and what to do.
        detail: String,
    },
    /// The "by field" split names a column some rows lack.
    #[error("row {row} (line {line}) has no field '{field}'; every row needs it to split by field (fields found: {found})")]
    MissingField {
        /// The column name.
        field: String,
        /// Row index (0-based) in the data.
        row: usize,
        /// Line in the data file (1-based; 0 when unknown).
        line: usize,
        /// The fields that row has.
        found: String,
    },
    /// A bad option value.
    #[error("{0}")]
    Invalid(String),
    /// The linear algebra behind the 2-D projection failed.
    #[error("2-D projection failed: {0}")]
    Projection(String),
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A clusters file is malformed.
    #[error("{}: {detail}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The instruction data could not be read.
    #[error(transparent)]
    Data(#[from] crate::engine::data::DataError),
    /// The embeddings could not be made or read.
    #[error(transparent)]
    Embed(#[from] crate::engine::embed::EmbedError),
    /// The stage was cancelled; what it had written stays valid.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(ClusterError, Data, Embed);
