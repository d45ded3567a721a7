//! A sub-model's Fisher diagonals from files: its base model, its adapter folder and its own data
//! portion, rendered and tokenised exactly as for training. The result is saved as
//! `fisher.safetensors` in the adapter folder, where the `fisher` merge method reads it.

use super::base::BaseModel;
use super::error::{MergeError, Result};
use super::fisher::{compute_fisher, FisherDiagonal, FisherExample, FISHER_FILE};
use crate::engine::data::prompt::PromptOptions;
use crate::engine::data::split::select_rows;
use crate::engine::data::tokenize::tokenize_dataset_until;
use crate::engine::data::{load_dataset, LoadDataOptions};
use crate::engine::hash::SplitMix64;
use crate::engine::job::{run_stage, CancelToken, EventSink};
use crate::engine::model::adapter::LoraAdapter;
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;

/// Everything one Fisher computation needs.
#[derive(Debug, Clone)]
pub struct FisherRequest {
    /// The base model the adapter was trained on (folder, .gguf or cached id).
    pub base: String,
    /// The sub-model's adapter folder; the result is written into it.
    pub adapter: PathBuf,
    /// The instruction data the sub-model was trained on.
    pub data: PathBuf,
    /// How to read it.
    pub data_options: LoadDataOptions,
    /// The sub-model's portion (`clusters.json:N`, `0-99,...` or a file of row indices; see
    /// [`select_rows`]); `None` = all rows.
    pub rows: Option<String>,
    /// Prompt template, turns and maximum length, as in training.
    pub prompt: PromptOptions,
    /// At most this many examples, drawn with `seed` (empirical Fisher on a sample).
    pub samples: usize,
    /// Seed of the sample.
    pub seed: u64,
    /// Where to compute.
    pub device: Device,
}

/// The Fisher stage (`fisher`): computes the adapter's diagonal empirical Fisher on (a seeded
/// sample of) its portion and writes `fisher.safetensors` into the adapter folder. Returns the
/// diagonals and the path.
pub fn run_fisher(req: &FisherRequest, events: &EventSink, cancel: &CancelToken) -> Result<(FisherDiagonal, PathBuf)> {
    run_stage("fisher", events, cancel, |_| fisher_from_files(req, events, cancel))
}

fn fisher_from_files(req: &FisherRequest, events: &EventSink, cancel: &CancelToken) -> Result<(FisherDiagonal, PathBuf)> {
    if req.samples == 0 {
        return Err(MergeError::Spec("samples must be at least 1".into()));
    }
    let adapter = LoraAdapter::load(&req.adapter)?;
    let base = BaseModel::open(&req.base)?;
    let tokenizer = base.tokenizer()?;
    let dataset = load_dataset(&req.data, &req.data_options)?;
    let prompt = PromptOptions { max_len: req.prompt.max_len.min(base.config.max_position_embeddings), ..req.prompt.clone() };
    let (tokenized, report) = tokenize_dataset_until(&dataset, &tokenizer, &prompt, cancel)?;
    let mut portion = select_rows(&dataset, tokenized, &report.source_index, req.rows.as_deref())?;
    if portion.is_empty() {
        return Err(MergeError::Spec(format!(
            "{}: no examples left after row selection and tokenisation ({}); raise the maximum length if responses were cut off",
            req.data.display(),
            report.summary()
        )));
    }
    SplitMix64::new(req.seed).shuffle(&mut portion);
    portion.truncate(req.samples);
    events.log(format!("Fisher diagonals of {} on {} examples of {}", req.adapter.display(), portion.len(), req.data.display()));
    let examples: Vec<FisherExample> = portion.iter().map(|t| FisherExample::from_labels(&t.input_ids, &t.labels)).collect();
    let tensors: HashMap<String, Tensor> =
        base.entries().par_iter().map(|e| Ok((e.name.clone(), base.tensor_f32(e)?))).collect::<Result<_>>()?;
    let mut fisher = compute_fisher(&base.config, &tensors, &adapter, &examples, DType::F32, &req.device, events, cancel)?;
    let path = req.adapter.join(FISHER_FILE);
    fisher.save(&path)?;
    fisher.path = Some(path.clone());
    Ok((fisher, path))
}
