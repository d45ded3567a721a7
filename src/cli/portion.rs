//! The instruction data, portion and prompt options that `train` and `fisher` share.

use crate::engine::data::prompt::{PromptOptions, PromptTemplate};
use crate::engine::data::{DataFormat, LoadDataOptions};
use clap::Args;
use std::path::PathBuf;

/// Which examples, and how they are rendered.
#[derive(Debug, Clone, Args)]
pub struct PortionArgs {
    /// Instruction data (Alpaca JSON/JSONL, ShareGPT, OpenAI messages, CSV, Parquet).
    #[arg(long)]
    pub data: PathBuf,
    /// These rows only: a portion of a split (clusters.json:2), ranges like 0-99,200-299, or a file of row indices.
    #[arg(long)]
    pub rows: Option<String>,
    /// Data format (default: detected).
    #[arg(long)]
    pub format: Option<DataFormat>,
    /// Prompt template: alpaca (the paper's) or chat (the model's chat template).
    #[arg(long, default_value = "alpaca")]
    pub template: PromptTemplate,
    /// Use every turn of multi-turn data, not just the first exchange.
    #[arg(long)]
    pub all_turns: bool,
}

impl PortionArgs {
    /// How to read the data file.
    pub fn data_options(&self) -> LoadDataOptions {
        LoadDataOptions { format: self.format, ..Default::default() }
    }

    /// Prompt rendering with examples cut at `max_len` tokens.
    pub fn prompt(&self, max_len: usize) -> PromptOptions {
        PromptOptions { template: self.template, max_len, first_turn_only: !self.all_turns }
    }
}
