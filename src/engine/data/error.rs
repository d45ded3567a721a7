//! Errors of reading, validating and tokenising instruction data. Each names the file, the
//! line or row, and the field at fault, and says what to do.

use crate::engine::job::Cancelled;
use std::path::PathBuf;

/// Where in a data file something was found: a 0-based row and, when known, a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowRef {
    /// 0-based index of the record in the file.
    pub row: usize,
    /// 1-based source line where the record starts; 0 when unknown (Parquet).
    pub line: usize,
}

impl std::fmt::Display for RowRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "row {} (line {})", self.row, self.line)
        } else {
            write!(f, "row {}", self.row)
        }
    }
}

/// What went wrong with a data file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file holds no records.
    #[error("{}: the file is empty{detail}; it needs at least one example", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
        /// Extra detail, e.g. " (only whitespace)"; may be empty.
        detail: String,
    },
    /// The file or one of its lines is larger than the configured bound.
    #[error("{}: {what} is {size_bytes} bytes, over the limit of {limit_bytes} bytes; {hint}", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// "the file" or "line N".
        what: String,
        /// The size found.
        size_bytes: u64,
        /// The configured limit.
        limit_bytes: u64,
        /// What to do.
        hint: String,
    },
    /// A line or document is not valid JSON.
    #[error("{}:{line}: invalid JSON: {detail}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// The parser's message.
        detail: String,
    },
    /// The shape of the records matches no known format.
    #[error("{}: {detail}", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// What was found and which formats are understood.
        detail: String,
    },
    /// One record is malformed (missing or empty field, wrong type, bad role order).
    #[error("{}: {at}: {}{detail}", path.display(), field.as_deref().map(|f| format!("field '{f}' ")).unwrap_or_default())]
    Row {
        /// The file.
        path: PathBuf,
        /// The record.
        at: RowRef,
        /// The field at fault, when one is.
        field: Option<String>,
        /// What is wrong (and, for the first error, how to skip such rows).
        detail: String,
    },
    /// A CSV or Parquet file lacks the columns the mapping names.
    #[error("{}: missing column(s) {}; the file has: {}. {hint}", path.display(), missing.join(", "), present.join(", "))]
    MissingColumns {
        /// The file.
        path: PathBuf,
        /// Columns asked for but absent.
        missing: Vec<String>,
        /// Columns the file has.
        present: Vec<String>,
        /// What to do.
        hint: String,
    },
    /// A CSV file could not be parsed.
    #[error("{}:{line}: CSV: {detail}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// The parser's message.
        detail: String,
    },
    /// A Parquet file could not be read.
    #[error("{}: Parquet: {detail}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An option given by the user is malformed (column mapping, row selection, format name).
    #[error("{0}")]
    BadOption(String),
    /// The tokenizer failed (or could not be loaded).
    #[error(transparent)]
    Model(#[from] crate::engine::model::ModelError),
    /// Tokenising or rendering a prompt failed.
    #[error("{}{at}: {detail}", if path.as_os_str().is_empty() { String::new() } else { format!("{}: ", path.display()) })]
    Prompt {
        /// The data file (empty when unknown).
        path: PathBuf,
        /// The record (indices of the dataset's examples list and the file row).
        at: RowRef,
        /// What failed.
        detail: String,
    },
    /// The stage was cancelled; what it had written stays valid.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(DataError, Model);

/// Result with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;
