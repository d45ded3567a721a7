//! The shape of `dtm.toml` as written by people: sections and keys with their defaults. Unknown
//! keys and wrong types are refused by the parser with their line; [`super::project`] turns a
//! parsed file into checked settings.

use crate::engine::train::memory_fit::Checkpointing;
use crate::engine::train::schedule::Schedule;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Instruction data.
    pub data: DataSection,
    /// The base model.
    pub model: ModelSection,
    /// How the data is split.
    #[serde(default)]
    pub disperse: DisperseSection,
    /// Training of the vanilla model and the sub-models.
    #[serde(default)]
    pub train: TrainSection,
    /// Named merges of the sub-models.
    #[serde(default, rename = "merge")]
    pub merges: Vec<MergeSection>,
    /// Benchmarks every model is scored on.
    #[serde(default, rename = "eval")]
    pub evals: Vec<EvalSection>,
    /// Where the work runs.
    #[serde(default)]
    pub device: DeviceSection,
}

/// `[data]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// The data file, relative to `dtm.toml`.
    pub path: String,
    /// auto, alpaca, sharegpt, messages, csv or parquet.
    #[serde(default = "auto")]
    pub format: String,
    /// Column mapping for CSV / Parquet / flat JSON (`{ prompt = "question", response = "answer" }`).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// alpaca (the paper) or chat (the model's template).
    #[serde(default = "alpaca")]
    pub template: String,
    /// Train on every assistant turn, not only the first exchange.
    #[serde(default)]
    pub all_turns: bool,
    /// Fraction of each run's rows held out for validation.
    #[serde(default = "val_fraction")]
    pub val_fraction: f64,
    /// At most this many validation rows per run.
    #[serde(default = "val_max")]
    pub val_max: usize,
    /// Skip malformed rows instead of stopping at the first.
    #[serde(default)]
    pub skip_bad_rows: bool,
}

/// `[model]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// A folder with config.json, a `.gguf` file (relative to `dtm.toml`), or a cached HF id.
    pub path: String,
    /// auto, f32, bf16 or f16.
    #[serde(default = "auto")]
    pub dtype: String,
}

/// `[disperse]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DisperseSection {
    /// builtin, minilm or a sentence-transformers folder.
    #[serde(default = "builtin")]
    pub encoder: String,
    /// instruction, response or both.
    #[serde(default = "instruction")]
    pub field: String,
    /// kmeans, balanced, random or field.
    #[serde(default = "kmeans")]
    pub method: String,
    /// Number of portions (sub-models).
    #[serde(default = "four")]
    pub k: usize,
    /// Seed of the split.
    #[serde(default)]
    pub seed: u64,
    /// k-means restarts.
    #[serde(default = "three")]
    pub n_init: usize,
    /// The column to split by, for the method `field`.
    #[serde(default)]
    pub by: Option<String>,
    /// Also compute the elbow table (inertia and silhouette for K = 2..8).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub elbow: bool,
}

impl Default for DisperseSection {
    fn default() -> Self {
        Self { encoder: builtin(), field: instruction(), method: kmeans(), k: four(), seed: 0, n_init: three(), by: None, elbow: false }
    }
}

/// `[train]`: a preset and any override of it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// paper or quick.
    #[serde(default)]
    pub preset: Option<String>,
    /// Also train the vanilla model on all the data (the baseline DTM is compared with).
    #[serde(default)]
    pub vanilla: Option<bool>,
    /// LoRA rank.
    pub lora_r: Option<usize>,
    /// LoRA alpha.
    pub lora_alpha: Option<f64>,
    /// LoRA dropout.
    pub lora_dropout: Option<f32>,
    /// Target modules (e.g. ["gate_proj", "up_proj", "down_proj"] or ["all-linear"]).
    pub targets: Option<Vec<String>>,
    /// rsLoRA scaling (alpha / sqrt(r)).
    pub rslora: Option<bool>,
    /// Peak learning rate.
    pub lr: Option<f64>,
    /// cosine, linear or constant.
    pub schedule: Option<Schedule>,
    /// Warm-up steps.
    pub warmup: Option<u64>,
    /// Epochs.
    pub epochs: Option<f64>,
    /// Stop after this many optimiser steps.
    pub max_steps: Option<u64>,
    /// Sequences per micro-batch.
    pub batch: Option<usize>,
    /// Micro-batches per optimiser step.
    pub grad_accum: Option<usize>,
    /// Maximum tokens per example.
    pub max_len: Option<usize>,
    /// Seed of data order, initialisation and dropout.
    pub seed: Option<u64>,
    /// Evaluate every N steps.
    pub eval_every: Option<u64>,
    /// Checkpoint every N steps.
    pub save_every: Option<u64>,
    /// Gradient checkpointing: "auto" (when the memory plan needs it), "on" or "off". How a run
    /// computes, not what it learns: changing it does not make trained runs stale.
    pub checkpointing: Option<Checkpointing>,
}

/// One `[[merge]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MergeSection {
    /// Its name: the folder `merge/<name>` and the label in tables.
    pub name: String,
    /// linear, lora-param-average, task-arithmetic, ties, dare-linear, dare-ties, fisher or slerp.
    #[serde(default = "linear")]
    pub method: String,
    /// One weight per sub-model (default equal).
    pub weights: Option<Vec<f64>>,
    /// Fraction of delta entries kept (ties, dare).
    pub density: Option<f64>,
    /// Scale of the merged delta (task arithmetic, ties, dare).
    pub lambda: Option<f64>,
    /// Seed of DARE's drop masks.
    pub seed: Option<u64>,
    /// Divide the weights by their sum.
    pub normalize: Option<bool>,
    /// adapter or full.
    #[serde(default = "adapter")]
    pub output: String,
    /// Rank of the merged adapter for methods that are not exact as a LoRA.
    pub rank: Option<usize>,
}

/// One `[[eval]]`: a benchmark.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// A known benchmark name (arc_easy, mmlu, ...) or any name with a `.toml` task definition.
    pub name: String,
    /// The benchmark file or folder, relative to `dtm.toml`.
    pub path: String,
    /// Few-shot examples (default: the benchmark's).
    pub fewshot: Option<usize>,
    /// Score only the first N items (per subject for MMLU).
    pub limit: Option<usize>,
    /// Sequences per forward pass.
    #[serde(default = "eight")]
    pub batch: usize,
    /// Most tokens generated per answer (generative benchmarks; default 256, IFEval 1280).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<usize>,
}

/// `[device]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSection {
    /// auto, cpu, cuda[:N] or metal[:N].
    #[serde(default = "auto")]
    pub device: String,
    /// Several devices (e.g. ["cuda:0", "cuda:1"]): independent stages run in parallel, one per
    /// device. Replaces `device`.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Refuse a training run whose memory plan does not fit the device's free memory (default
    /// true). Off, the run is only warned about: for a device whose estimate is too cautious.
    #[serde(default)]
    pub memory_check: Option<bool>,
    /// Keep a GGUF base in its quantized blocks for training, scoring and generation (default
    /// true); false de-quantises it to the working dtype (several times the memory).
    #[serde(default)]
    pub keep_quantized: Option<bool>,
}

impl Default for DeviceSection {
    fn default() -> Self {
        Self { device: auto(), devices: Vec::new(), memory_check: None, keep_quantized: None }
    }
}

fn auto() -> String {
    "auto".into()
}
fn alpaca() -> String {
    "alpaca".into()
}
fn builtin() -> String {
    "builtin".into()
}
fn instruction() -> String {
    "instruction".into()
}
fn kmeans() -> String {
    "kmeans".into()
}
fn linear() -> String {
    "linear".into()
}
fn adapter() -> String {
    "adapter".into()
}
fn val_fraction() -> f64 {
    0.05
}
fn val_max() -> usize {
    200
}
fn three() -> usize {
    3
}
fn four() -> usize {
    4
}
fn eight() -> usize {
    8
}
