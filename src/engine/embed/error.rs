//! Errors of the sentence encoders and of embedding files. Each names the file at fault and what
//! to do about it.

use crate::engine::job::Cancelled;
use std::path::PathBuf;

/// What went wrong while loading an encoder, embedding texts, or reading an embeddings file.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The encoder folder is not a sentence-transformers BERT folder.
    #[error("{}: not a usable sentence encoder: {detail}. Pass a sentence-transformers folder of a BERT-family model (config.json with model_type \"bert\", model.safetensors, tokenizer.json), or the `builtin` encoder", path.display())]
    NotAnEncoder {
        /// The folder given.
        path: PathBuf,
        /// What is missing or wrong.
        detail: String,
    },
    /// A configuration file of the encoder folder is malformed.
    #[error("{}: {detail}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The encoder's tokenizer failed.
    #[error("{}: tokenizer: {detail}", path.display())]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The model's forward pass failed (weights missing or of the wrong shape, device error).
    #[error("{}: {source}", path.display())]
    Model {
        /// The encoder folder.
        path: PathBuf,
        /// candle's error, naming the tensor where known.
        source: candle_core::Error,
    },
    /// An embeddings file is malformed or does not belong to the data at hand.
    #[error("{}: {detail}", path.display())]
    File {
        /// The embeddings file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Nothing to embed.
    #[error("no texts to embed: the data has no rows")]
    NoTexts,
    /// A setting is not understood (e.g. the encoder name).
    #[error("{0}")]
    Setting(String),
    /// The instruction data could not be read.
    #[error(transparent)]
    Data(#[from] crate::engine::data::DataError),
    /// The stage was cancelled; what it had written stays valid.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(EmbedError, Data);

impl EmbedError {
    /// An I/O error at `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
