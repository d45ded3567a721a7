//! PEFT LoRA adapters (`adapter_config.json` + `adapter_model.safetensors`): reading them with
//! checks against the base model, and folding them into the base weights (`W += s * B A`).

use super::error::{ModelError, Result};
use super::safetensors_file::load_safetensors;
use super::weights::Weights;
use candle_core::{DType, Device, Tensor};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The fields of PEFT's `adapter_config.json` that change the numbers.
#[derive(Debug, Clone, Deserialize)]
pub struct AdapterConfig {
    /// LoRA rank.
    pub r: usize,
    /// LoRA alpha (scale numerator).
    pub lora_alpha: f64,
    /// rsLoRA: scale is alpha / sqrt(r) instead of alpha / r.
    #[serde(default)]
    pub use_rslora: bool,
    /// Per-module rank overrides (regex on the module name).
    #[serde(default)]
    pub rank_pattern: HashMap<String, serde_json::Value>,
    /// Per-module alpha overrides (regex on the module name).
    #[serde(default)]
    pub alpha_pattern: HashMap<String, serde_json::Value>,
    /// PEFT method; only "LORA" is supported.
    #[serde(default)]
    pub peft_type: Option<String>,
    /// DoRA adapters are not supported.
    #[serde(default)]
    pub use_dora: bool,
    /// Base model the adapter was trained on, as recorded by PEFT.
    #[serde(default)]
    pub base_model_name_or_path: Option<String>,
}

/// One adapted module: `delta W = scale * B A`.
#[derive(Debug, Clone)]
pub struct LoraPair {
    /// `[r, in]`.
    pub a: Tensor,
    /// `[out, r]`.
    pub b: Tensor,
    /// alpha / r (or alpha / sqrt(r)).
    pub scale: f64,
}

/// A LoRA adapter: its config and its (A, B, scale) per module, keyed by the HF module name
/// (`model.layers.0.mlp.gate_proj`).
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    /// The folder it was read from.
    pub dir: PathBuf,
    /// Its `adapter_config.json`.
    pub config: AdapterConfig,
    /// The adapted modules.
    pub modules: BTreeMap<String, LoraPair>,
}

/// The PEFT tensor-name prefix in saved adapters.
pub const PEFT_PREFIX: &str = "base_model.model.";

fn pattern_value(patterns: &HashMap<String, serde_json::Value>, module: &str) -> Option<f64> {
    patterns.iter().find_map(|(key, v)| {
        let re = regex::Regex::new(&format!(r"(.*\.)?{key}$")).ok()?;
        if re.is_match(module) {
            v.as_f64()
        } else {
            None
        }
    })
}

impl LoraAdapter {
    /// Reads a PEFT adapter folder onto the CPU in f32.
    pub fn load(dir: &Path) -> Result<Self> {
        let bad = |path: &Path, detail: String| ModelError::Adapter { path: path.to_path_buf(), detail };
        let cfg_path = dir.join("adapter_config.json");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| {
            bad(&cfg_path, format!("cannot read it ({e}); an adapter folder needs adapter_config.json and adapter_model.safetensors"))
        })?;
        let config: AdapterConfig = serde_json::from_str(&text).map_err(|e| bad(&cfg_path, format!("line {}: {e}", e.line())))?;
        if let Some(kind) = config.peft_type.as_deref() {
            if !kind.eq_ignore_ascii_case("lora") {
                return Err(bad(&cfg_path, format!("peft_type is {kind}; only LORA adapters are supported")));
            }
        }
        if config.use_dora {
            return Err(bad(&cfg_path, "DoRA adapters (use_dora = true) are not supported".into()));
        }
        let weights_path = dir.join("adapter_model.safetensors");
        if !weights_path.is_file() {
            let pickle = dir.join("adapter_model.bin");
            if pickle.is_file() {
                return Err(ModelError::PickleRefused { path: pickle });
            }
            return Err(bad(&weights_path, "missing".into()));
        }
        let mut raw = Weights::new(&weights_path);
        load_safetensors(std::slice::from_ref(&weights_path), &mut raw, &Device::Cpu)?;
        let mut modules = BTreeMap::new();
        for name in raw.names() {
            let Some(module) = name.strip_suffix(".lora_A.weight") else {
                if name.ends_with(".lora_B.weight") {
                    continue;
                }
                return Err(bad(
                    &weights_path,
                    format!("tensor '{name}' is not a LoRA A/B weight (modules_to_save, embeddings and DoRA are not supported)"),
                ));
            };
            let b_name = format!("{module}.lora_B.weight");
            let a = raw.get(&name).cloned().ok_or_else(|| bad(&weights_path, format!("tensor '{name}' vanished")))?;
            let b = raw
                .get(&b_name)
                .cloned()
                .ok_or_else(|| bad(&weights_path, format!("tensor '{b_name}' is missing (every lora_A needs its lora_B)")))?;
            let (rank, _) = a.dims2().map_err(|_| bad(&weights_path, format!("tensor '{name}' must be 2-D [r, in]")))?;
            let (_, rank_b) = b.dims2().map_err(|_| bad(&weights_path, format!("tensor '{b_name}' must be 2-D [out, r]")))?;
            if rank != rank_b || rank == 0 {
                return Err(bad(&weights_path, format!("'{name}' has rank {rank} but '{b_name}' has rank {rank_b}")));
            }
            let hf_module = module.strip_prefix(PEFT_PREFIX).unwrap_or(module).to_string();
            let alpha = pattern_value(&config.alpha_pattern, &hf_module).unwrap_or(config.lora_alpha);
            let scale = if config.use_rslora { alpha / (rank as f64).sqrt() } else { alpha / rank as f64 };
            let a = a.to_dtype(DType::F32)?;
            let b = b.to_dtype(DType::F32)?;
            modules.insert(hf_module, LoraPair { a, b, scale });
        }
        if modules.is_empty() {
            return Err(bad(&weights_path, "holds no lora_A / lora_B tensors".into()));
        }
        Ok(Self { dir: dir.to_path_buf(), config, modules })
    }

    /// Adds `scale * B A` to each adapted dense base weight, checking shapes so that an adapter
    /// made for another base model is reported by tensor name. Weights kept in quantized blocks
    /// cannot take the sum: their modules are returned, for the adapter to be attached unmerged.
    pub fn merge_into(&self, weights: &mut Weights) -> Result<Vec<String>> {
        let mut unmerged = Vec::new();
        for (module, pair) in &self.modules {
            let name = format!("{module}.weight");
            let dims = match (weights.get(&name), weights.quantized(&name)) {
                (Some(base), _) => base.dims2()?,
                (None, Some(q)) => q.dims(),
                (None, None) => {
                    return Err(ModelError::Adapter {
                        path: self.dir.clone(),
                        detail: format!("adapts '{module}', which the base model does not have: is it an adapter for another base?"),
                    })
                }
            };
            let (out, inp) = dims;
            let (_, a_in) = pair.a.dims2()?;
            let (b_out, _) = pair.b.dims2()?;
            if a_in != inp || b_out != out {
                return Err(ModelError::Adapter {
                    path: self.dir.clone(),
                    detail: format!(
                        "tensor '{PEFT_PREFIX}{module}.lora_A/B.weight' implies a [{b_out}, {a_in}] weight but the base's '{name}' is [{out}, {inp}]: the adapter was trained on a different base model"
                    ),
                });
            }
            let Some(base) = weights.get(&name) else {
                unmerged.push(module.clone());
                continue;
            };
            let dtype = base.dtype();
            let delta = (pair.b.matmul(&pair.a)? * pair.scale)?;
            let merged = (base.to_dtype(DType::F32)? + delta.to_device(base.device())?)?.to_dtype(dtype)?;
            weights.insert(name, merged);
        }
        Ok(unmerged)
    }
}
