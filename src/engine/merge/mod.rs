//! Merging LoRA sub-models: the second half of Disperse-Then-Merge.
//!
//! Every method combines the deltas `dW_k = s_k B_k A_k` of K adapters trained on the same base
//! ([`spec::MergeMethod`]: linear, lora-param-average, task-arithmetic, ties, dare-linear,
//! dare-ties, fisher, slerp), with per-sub-model weights, per-module overrides by regex, weight
//! gradients across layers, `normalize`, density, lambda and seed ([`spec::MergeSpec`]).
//! Outputs ([`run_merge`]): a merged PEFT adapter (exact where the method allows, else a
//! truncated SVD with its error per module), or the full merged model as an HF folder streamed
//! tensor by tensor; both come with `merge.yaml` (the recipe in mergekit's vocabulary) and
//! `merge_report.json`. [`session::MergeSession`] re-merges in memory for interactive use.

pub mod adapter_out;
pub mod base;
pub mod bench;
pub mod delta;
pub mod error;
pub mod fisher;
pub mod fisher_run;
pub mod full;
pub mod kernels;
pub mod lowrank;
pub mod preview;
mod preview_data;
pub mod recipe;
pub mod session;
pub mod spec;
pub mod synthetic;
pub mod writer;

pub use error::MergeError;
pub use preview::{MergePreview, PreviewRequest, PreviewSizes, PreviewUpdate};
pub use session::MergeSession;
pub use spec::{MergeMethod, MergeSpec, WeightValue};

use crate::engine::job::{run_stage, CancelToken, EventSink};
use adapter_out::AdapterReport;
use base::BaseModel;
use delta::{load_adapters, AdapterSet, MergeInputs};
use error::Result;
use fisher::FisherSet;
use full::{FullOptions, FullReport};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;
use writer::OutputDir;

/// Which artefact to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeOutput {
    /// A PEFT adapter folder (`adapter_config.json`, `adapter_model.safetensors`).
    Adapter,
    /// A full HF model folder (config, weights, tokenizer, generation config).
    Full,
}

/// A complete merge job.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    /// Base model: folder, `.gguf` file or cached HF id.
    pub base: String,
    /// Adapter folders, in order (weights refer to this order).
    pub adapters: Vec<PathBuf>,
    /// Method and settings.
    pub spec: MergeSpec,
    /// Adapter or full model.
    pub output: MergeOutput,
    /// Output folder (written under a temporary name, then renamed).
    pub out: PathBuf,
    /// Full-model options (dtype, shard size).
    pub full: FullOptions,
    /// Replace an existing non-empty output folder.
    pub overwrite: bool,
}

/// What a merge produced; also written as `merge_report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct MergeOutcome {
    /// The output folder.
    pub out: PathBuf,
    /// Method name.
    pub method: String,
    /// Adapter or full model.
    pub output: MergeOutput,
    /// The base model argument.
    pub base: String,
    /// The adapters, in order.
    pub adapters: Vec<PathBuf>,
    /// Each adapter's weight (one value, or a gradient's values).
    pub weights: Vec<Vec<f64>>,
    /// Whether weights were normalised.
    pub normalize: bool,
    /// Modules touched by at least one adapter.
    pub modules: usize,
    /// Full-model details, for full merges.
    pub full: Option<FullReport>,
    /// Per-module ranks and errors, for adapter merges.
    pub adapter: Option<AdapterReport>,
    /// Things the user should know (e.g. adapters recorded for another base).
    pub warnings: Vec<String>,
    /// Wall time, reading included.
    pub seconds: f64,
}

fn file_name_of(p: &str) -> String {
    Path::new(p.trim_end_matches('/')).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The merge stage (`merge`): checks, reads, merges, writes the folder atomically (a cancelled
/// or failed merge leaves no output folder).
pub fn run_merge(req: &MergeRequest, sink: &EventSink, cancel: &CancelToken) -> Result<MergeOutcome> {
    run_stage("merge", sink, cancel, |_| merge_files(req, sink, cancel))
}

fn merge_files(req: &MergeRequest, sink: &EventSink, cancel: &CancelToken) -> Result<MergeOutcome> {
    let start = Instant::now();
    req.spec.validate(req.adapters.len())?;
    let base = BaseModel::open(&req.base)?;
    let adapters = load_adapters(&req.adapters)?;
    let set = AdapterSet::new(adapters, &base.shapes(), base.config.num_hidden_layers)?;
    let mut warnings = Vec::new();
    for (dir, name) in set.dirs.iter().zip(&set.base_names) {
        if let Some(name) = name {
            if file_name_of(name) != file_name_of(&req.base) && !name.is_empty() {
                warnings.push(format!(
                    "{}: recorded base '{name}' differs from '{}' (shapes match, so it was merged)",
                    dir.display(),
                    req.base
                ));
            }
        }
    }
    let fisher = if req.spec.method == MergeMethod::Fisher { Some(FisherSet::from_adapter_dirs(&req.adapters)?) } else { None };
    let out = OutputDir::create(&req.out, req.overwrite)?;
    let dtype = req.full.dtype.unwrap_or_else(|| base.dtype());
    let (mut full, mut adapter) = (None, None);
    let inputs = MergeInputs { set: &set, spec: &req.spec, fisher: fisher.as_ref() };
    match req.output {
        MergeOutput::Full => {
            full = Some(full::write_full_weights(&base, inputs, out.path(), &req.full, sink, cancel)?);
            base.write_support_files(out.path(), dtype)?;
        }
        MergeOutput::Adapter => {
            let modules: BTreeSet<String> = base
                .entries()
                .iter()
                .filter(|e| e.shape.len() == 2)
                .filter_map(|e| e.name.strip_suffix(".weight").map(str::to_string))
                .collect();
            adapter = Some(adapter_out::write_adapter(inputs, &modules, &req.base, out.path(), sink, cancel)?);
        }
    }
    let yaml = recipe::mergekit_yaml(&req.spec, &req.base, &req.adapters, base::hf_dtype_name(dtype));
    let yaml_path = out.path().join("merge.yaml");
    std::fs::write(&yaml_path, yaml).map_err(|e| MergeError::io(&yaml_path, e))?;
    let mut outcome = MergeOutcome {
        out: req.out.clone(),
        method: req.spec.method.name().into(),
        output: req.output,
        base: req.base.clone(),
        adapters: req.adapters.clone(),
        weights: req.spec.weight_values(req.adapters.len()),
        normalize: req.spec.normalize(),
        modules: set.slots.len(),
        full,
        adapter,
        warnings,
        seconds: 0.0,
    };
    outcome.seconds = start.elapsed().as_secs_f64();
    let report_path = out.path().join("merge_report.json");
    let text = serde_json::to_string_pretty(&outcome).map_err(|e| MergeError::Spec(e.to_string()))?;
    std::fs::write(&report_path, text + "\n").map_err(|e| MergeError::io(&report_path, e))?;
    out.commit()?;
    Ok(outcome)
}
