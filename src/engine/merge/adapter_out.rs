//! The merged delta as one PEFT LoRA adapter: exact for `linear` and `task-arithmetic` (the
//! A's stacked, the weighted B's side by side: rank = sum of ranks) and for
//! `lora-param-average`; a truncated SVD of the chosen rank for the other methods (or when a
//! rank is asked for), with each module's relative Frobenius error reported.

use super::delta::{exact_factors, merged_delta, MergeInputs, ModuleSlot};
use super::error::{MergeError, Result};
use super::fisher::FisherSet;
use super::kernels::tensor_seed;
use super::lowrank::truncated_svd;
use super::spec::MergeSpec;
use crate::engine::job::{CancelToken, EventSink};
use crate::engine::model::adapter::PEFT_PREFIX;
use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// How one module of the merged adapter was formed.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleReport {
    /// HF module name.
    pub module: String,
    /// Rank written.
    pub rank: usize,
    /// Whether the factors are exact (no truncation).
    pub exact: bool,
    /// `||dW - B A||_F / ||dW||_F` (0 when exact).
    pub rel_error: f64,
}

/// What writing the adapter produced.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterReport {
    /// Per module, sorted by name.
    pub modules: Vec<ModuleReport>,
    /// Largest relative error over modules.
    pub max_rel_error: f64,
    /// Mean relative error over modules.
    pub mean_rel_error: f64,
}

fn module_factors(slot: &ModuleSlot, spec: &MergeSpec, fisher: Option<&FisherSet>) -> Result<(Tensor, Tensor, ModuleReport)> {
    if spec.adapter_rank.is_none() {
        if let Some((a, b)) = exact_factors(slot, spec)? {
            let rank = a.dims()[0];
            return Ok((a, b, ModuleReport { module: slot.module.clone(), rank, exact: true, rel_error: 0.0 }));
        }
    }
    let delta = merged_delta(slot, spec, fisher)?;
    let rank = spec.adapter_rank.unwrap_or_else(|| slot.total_rank());
    let lr = truncated_svd(&delta, slot.out, slot.inp, rank, tensor_seed(spec.seed, usize::MAX, &slot.weight_name))?;
    let a = Tensor::from_vec(lr.a, (lr.rank, slot.inp), &Device::Cpu)?;
    let b = Tensor::from_vec(lr.b, (slot.out, lr.rank), &Device::Cpu)?;
    let exact = lr.rel_error == 0.0;
    Ok((a, b, ModuleReport { module: slot.module.clone(), rank: lr.rank, exact, rel_error: lr.rel_error }))
}

/// The last component of a module name (`gate_proj`).
fn leaf(module: &str) -> &str {
    module.rsplit('.').next().unwrap_or(module)
}

/// PEFT's `target_modules`: the leaf names when the adapter covers every module with those
/// leaves in the base, else an exact regex over the module names.
fn target_modules(modules: &[String], base_modules: &BTreeSet<String>) -> serde_json::Value {
    let leaves: BTreeSet<&str> = modules.iter().map(|m| leaf(m)).collect();
    let covered: BTreeSet<&String> = base_modules.iter().filter(|m| leaves.contains(leaf(m))).collect();
    if covered.len() == modules.len() {
        return serde_json::json!(leaves.into_iter().collect::<Vec<_>>());
    }
    let alts: Vec<String> = modules.iter().map(|m| regex::escape(m)).collect();
    serde_json::Value::String(format!("^({})$", alts.join("|")))
}

/// Writes `adapter_config.json` and `adapter_model.safetensors` for the merged delta into `dir`.
/// `base_modules` are the base's linear module names (for `target_modules`); `base_name` is
/// recorded as `base_model_name_or_path`.
pub fn write_adapter(
    inputs: MergeInputs<'_>,
    base_modules: &BTreeSet<String>,
    base_name: &str,
    dir: &Path,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<AdapterReport> {
    let MergeInputs { set, spec, fisher } = inputs;
    let done = AtomicU64::new(0);
    let total = set.slots.len() as u64;
    let results: Vec<(Tensor, Tensor, ModuleReport)> = set
        .slots
        .par_iter()
        .map(|slot| {
            cancel.check()?;
            let r = module_factors(slot, spec, fisher)?;
            sink.progress("merge", done.fetch_add(1, Ordering::Relaxed) + 1, total, slot.module.clone());
            Ok(r)
        })
        .collect::<Result<_>>()?;
    // Threads finish out of order: the last event sent may not be the highest count.
    sink.progress("merge", total, total, "modules merged");
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut ranks: BTreeMap<usize, usize> = BTreeMap::new();
    for (a, b, rep) in &results {
        tensors.insert(format!("{PEFT_PREFIX}{}.lora_A.weight", rep.module), a.contiguous()?);
        tensors.insert(format!("{PEFT_PREFIX}{}.lora_B.weight", rep.module), b.contiguous()?);
        *ranks.entry(rep.rank).or_default() += 1;
    }
    // The most common rank is `r`; the others go to rank_pattern / alpha_pattern. alpha = rank
    // everywhere, so every module's scale is 1 (the weights and scales are folded into B).
    let r = ranks.iter().max_by_key(|(rank, n)| (**n, **rank)).map(|(rank, _)| *rank).unwrap_or(1);
    let mut rank_pattern = serde_json::Map::new();
    for (_, _, rep) in results.iter().filter(|(_, _, rep)| rep.rank != r) {
        rank_pattern.insert(regex::escape(&rep.module), rep.rank.into());
    }
    let modules: Vec<String> = results.iter().map(|(_, _, rep)| rep.module.clone()).collect();
    let config = serde_json::json!({
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_name,
        "r": r,
        "lora_alpha": r,
        "lora_dropout": 0.0,
        "target_modules": target_modules(&modules, base_modules),
        "rank_pattern": rank_pattern,
        "alpha_pattern": rank_pattern,
        "use_rslora": false,
        "use_dora": false,
        "bias": "none",
        "fan_in_fan_out": false,
        "init_lora_weights": true,
        "inference_mode": true,
        "modules_to_save": null,
    });
    let cfg_path = dir.join("adapter_config.json");
    let text = serde_json::to_string_pretty(&config).map_err(|e| MergeError::Spec(e.to_string()))?;
    std::fs::write(&cfg_path, text + "\n").map_err(|e| MergeError::io(&cfg_path, e))?;
    let st_path = dir.join("adapter_model.safetensors");
    let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    safetensors::serialize_to_file(tensors.iter().collect::<Vec<_>>(), Some(meta), &st_path)
        .map_err(|e| MergeError::Spec(format!("{}: cannot write: {e}", st_path.display())))?;
    let reports: Vec<ModuleReport> = results.into_iter().map(|(_, _, r)| r).collect();
    let max_rel_error = reports.iter().map(|r| r.rel_error).fold(0.0, f64::max);
    let mean_rel_error = if reports.is_empty() { 0.0 } else { reports.iter().map(|r| r.rel_error).sum::<f64>() / reports.len() as f64 };
    Ok(AdapterReport { modules: reports, max_rel_error, mean_rel_error })
}
