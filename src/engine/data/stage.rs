//! The data stage: read an instruction-data file with its validation report and, given a model,
//! measure token lengths and what truncation would do. The CLI's `data validate` and the GUI's
//! Data page both check data through [`run_data_check`].

use super::error::DataError;
use super::example::{Dataset, LoadDataOptions};
use super::load::load_dataset_in;
use super::prompt::PromptOptions;
use super::tokenize::{load_tokenizer, record_lengths, tokenize_dataset_until, TokenizeReport};
use crate::engine::job::{run_stage, CancelToken, EventSink};
use std::path::PathBuf;

/// Token lengths to measure: whose tokenizer, and the prompt settings of training.
#[derive(Debug, Clone)]
pub struct LengthCheck {
    /// A model folder, `.gguf` file or cached id (only its tokenizer is read).
    pub model: String,
    /// Template, turns and maximum length.
    pub prompt: PromptOptions,
}

/// The request of the data stage.
#[derive(Debug, Clone)]
pub struct DataCheckRequest {
    /// The data file.
    pub path: PathBuf,
    /// How to read it.
    pub options: LoadDataOptions,
    /// Token lengths, when a model is given.
    pub lengths: Option<LengthCheck>,
}

/// What the data stage found.
#[derive(Debug, Clone)]
pub struct DataCheckOutcome {
    /// The examples and their validation report (over-long examples are issues in it).
    pub dataset: Dataset,
    /// What tokenisation and truncation do, when lengths were measured.
    pub tokenized: Option<TokenizeReport>,
}

/// The data stage (`data`).
pub fn run_data_check(req: &DataCheckRequest, sink: &EventSink, cancel: &CancelToken) -> Result<DataCheckOutcome, DataError> {
    run_stage("data", sink, cancel, |scope| {
        let mut dataset = load_dataset_in(&req.path, &req.options, &scope)?;
        let mut tokenized = None;
        if let Some(check) = &req.lengths {
            scope.check()?;
            let tok = load_tokenizer(&check.model)?;
            // One tokenisation gives both the report and the lengths the validation report counts.
            let report = tokenize_dataset_until(&dataset, &tok, &check.prompt, cancel)?.1;
            record_lengths(&mut dataset, &report.lengths, check.prompt.max_len);
            tokenized = Some(report);
        }
        Ok(DataCheckOutcome { dataset, tokenized })
    })
}
