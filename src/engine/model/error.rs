//! Errors of model loading and running. Each names the file or tensor at fault and what to do.

use crate::engine::job::Cancelled;
use std::path::PathBuf;

/// What went wrong while loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The model argument names nothing DTM Studio can load.
    #[error("{}: {detail}", path.display())]
    NotFound {
        /// What the user gave.
        path: PathBuf,
        /// What was looked for and what to do.
        detail: String,
    },
    /// A PyTorch pickle checkpoint, which is never unpickled.
    #[error("{}: PyTorch pickle checkpoints (*.bin, *.pt, *.pth) are not loaded, because unpickling can run arbitrary code. Convert it to safetensors first, e.g. in Python: `AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(OUT, safe_serialization=True)`", path.display())]
    PickleRefused {
        /// The pickle file.
        path: PathBuf,
    },
    /// `config.json` names an architecture this build does not run.
    #[error("{}: unknown architecture '{name}'; supported: {}", path.display(), super::config::Architecture::SUPPORTED)]
    UnknownArchitecture {
        /// The config file.
        path: PathBuf,
        /// The architecture it names.
        name: String,
    },
    /// `config.json` or GGUF metadata is malformed.
    #[error("{}: bad model config: {detail}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A weights file is damaged or incomplete.
    #[error("{}: {detail}", path.display())]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong, naming the tensor where known.
        detail: String,
    },
    /// A tensor the architecture needs is absent or has the wrong shape.
    #[error("{}: tensor '{name}': {detail}", path.display())]
    Tensor {
        /// The weights file (or folder).
        path: PathBuf,
        /// The tensor name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// The tokenizer is missing or unreadable.
    #[error("{}: tokenizer: {detail}", path.display())]
    Tokenizer {
        /// The tokenizer file (or the model it should come with).
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The chat template failed to render.
    #[error("chat template: {0}")]
    Template(String),
    /// A LoRA adapter does not fit the base model or is malformed.
    #[error("{}: adapter: {detail}", path.display())]
    Adapter {
        /// The adapter folder or file.
        path: PathBuf,
        /// What is wrong, naming the tensor where known.
        detail: String,
    },
    /// A numeric failure inside candle.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// The stage was cancelled; what it had written stays valid.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

crate::engine::job::stage::impl_stage_error!(ModelError);

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, ModelError>;
