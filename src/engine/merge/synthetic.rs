//! Random PEFT adapters for a base model, for benchmarks and tests: A like PEFT's
//! Kaiming-uniform init (`U(-1/sqrt(in), 1/sqrt(in))`), B ~ N(0, std) so the delta is not zero.

use super::error::{MergeError, Result};
use crate::engine::hash::splitmix64;
use crate::engine::model::adapter::PEFT_PREFIX;
use candle_core::{Device, Tensor};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// What random adapters to make.
#[derive(Debug, Clone)]
pub struct SyntheticAdapter {
    /// LoRA rank.
    pub rank: usize,
    /// LoRA alpha.
    pub alpha: f64,
    /// Module leaf names to adapt (`gate_proj`, ...).
    pub targets: Vec<String>,
    /// Standard deviation of B's entries.
    pub b_std: f64,
    /// Seed.
    pub seed: u64,
}

fn uniform(state: &mut u64) -> f64 {
    *state = state.wrapping_add(1);
    (splitmix64(*state) >> 11) as f64 / (1u64 << 53) as f64
}

/// Writes one random adapter for the modules of `shapes` (base tensor name -> shape) whose leaf
/// is in `spec.targets`, into `dir` in PEFT's layout.
pub fn write_random_adapter(dir: &Path, shapes: &HashMap<String, Vec<usize>>, spec: &SyntheticAdapter, base_name: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| MergeError::io(dir, e))?;
    let mut names: Vec<&String> = shapes.keys().collect();
    names.sort();
    let mut state = spec.seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut used = BTreeSet::new();
    for name in names {
        let Some(module) = name.strip_suffix(".weight") else { continue };
        let leaf = module.rsplit('.').next().unwrap_or(module);
        let shape = &shapes[name];
        if !spec.targets.iter().any(|t| t == leaf) || shape.len() != 2 {
            continue;
        }
        let (out, inp) = (shape[0], shape[1]);
        let bound = 1.0 / (inp as f64).sqrt();
        let a: Vec<f32> = (0..spec.rank * inp).map(|_| ((uniform(&mut state) * 2.0 - 1.0) * bound) as f32).collect();
        let b: Vec<f32> = (0..out * spec.rank)
            .map(|_| {
                let (u1, u2) = (uniform(&mut state).max(1e-300), uniform(&mut state));
                ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * spec.b_std) as f32
            })
            .collect();
        tensors.insert(format!("{PEFT_PREFIX}{module}.lora_A.weight"), Tensor::from_vec(a, (spec.rank, inp), &Device::Cpu)?);
        tensors.insert(format!("{PEFT_PREFIX}{module}.lora_B.weight"), Tensor::from_vec(b, (out, spec.rank), &Device::Cpu)?);
        used.insert(leaf.to_string());
    }
    let config = serde_json::json!({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name,
        "r": spec.rank, "lora_alpha": spec.alpha, "lora_dropout": 0.0, "use_rslora": false,
        "target_modules": used.into_iter().collect::<Vec<_>>(), "bias": "none",
    });
    let cfg = dir.join("adapter_config.json");
    std::fs::write(&cfg, serde_json::to_string_pretty(&config).unwrap_or_default()).map_err(|e| MergeError::io(&cfg, e))?;
    candle_core::safetensors::save(&tensors, dir.join("adapter_model.safetensors"))?;
    Ok(dir.to_path_buf())
}
