//! LoRA: `y = W x + s * B (A dropout(x))` with `s = alpha / r` (rsLoRA: `alpha / sqrt(r)`), A
//! Kaiming-uniform and B zero at the start, the base frozen. Trainable A/B live in candle `Var`s
//! and are saved in PEFT's names and layout.

use super::adapter::{LoraAdapter, PEFT_PREFIX};
use super::error::{ModelError, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Which modules get adapters and how they are scaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraSpec {
    /// Rank r.
    pub rank: usize,
    /// Alpha.
    pub alpha: f64,
    /// Dropout probability on the adapter's input during training.
    pub dropout: f32,
    /// Module names (suffixes such as "gate_proj"), or "all-linear".
    pub targets: Vec<String>,
    /// rsLoRA scaling.
    pub use_rslora: bool,
}

impl LoraSpec {
    /// The paper's setting: r 16, alpha 16, dropout 0.05 on gate/up/down.
    pub fn paper() -> Self {
        Self {
            rank: 16,
            alpha: 16.0,
            dropout: 0.05,
            targets: vec!["gate_proj".into(), "up_proj".into(), "down_proj".into()],
            use_rslora: false,
        }
    }

    /// `alpha / r`, or `alpha / sqrt(r)` for rsLoRA.
    pub fn scale(&self) -> f64 {
        if self.use_rslora {
            self.alpha / (self.rank as f64).sqrt()
        } else {
            self.alpha / self.rank as f64
        }
    }

    /// Whether the module (e.g. `model.layers.3.mlp.up_proj`) is a target.
    pub fn targets_module(&self, module: &str) -> bool {
        let leaf = module.rsplit('.').next().unwrap_or(module);
        self.targets.iter().any(|t| t == "all-linear" || t == leaf || module.ends_with(&format!(".{t}")))
    }
}

/// The adapter attached to one linear layer.
#[derive(Debug, Clone)]
pub struct LoraWeights {
    /// `[r, in]`, f32.
    pub a: Tensor,
    /// `[out, r]`, f32.
    pub b: Tensor,
    /// The scale s.
    pub scale: f64,
    /// Input dropout during training.
    pub dropout: f32,
    /// Distinct per layer, so each draws its own dropout mask.
    pub mask_stream: u64,
}

impl LoraWeights {
    /// The seed of this layer's dropout mask in the pass seeded `pass_seed`.
    pub fn mask_seed(&self, pass_seed: u64) -> u64 {
        pass_seed ^ self.mask_stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// `s * B A dropout(x)` for `x [n, in]`, in f32, cast back to `x`'s dtype.
    pub fn delta(&self, x: &Tensor, dropout_seed: Option<u64>) -> candle_core::Result<Tensor> {
        let x32 = x.to_dtype(DType::F32)?;
        let x32 = match dropout_seed {
            Some(seed) if self.dropout > 0.0 => {
                let mask = dropout_mask(x32.elem_count(), self.dropout, self.mask_seed(seed));
                (x32 * Tensor::from_vec(mask, x.shape(), x.device())?)?
            }
            _ => x32,
        };
        let h = x32.matmul(&self.a.t()?)?;
        // Scaling the rank-r activations costs r / out of scaling the output.
        (h * self.scale)?.matmul(&self.b.t()?)?.to_dtype(x.dtype())
    }
}

/// A seeded dropout mask: 0 with probability p, else 1 / (1 - p).
pub fn dropout_mask(len: usize, p: f32, seed: u64) -> Vec<f32> {
    let keep = 1.0 / (1.0 - p);
    dropout_kept(len, p, seed).into_iter().map(|k| if k { keep } else { 0.0 }).collect()
}

/// Which of `len` values a seeded dropout of rate `p` keeps. Drawn in parallel chunks, each from
/// its own seeded stream, so the result depends only on the seed.
pub fn dropout_kept(len: usize, p: f32, seed: u64) -> Vec<bool> {
    const CHUNK: usize = 1 << 14;
    let mut kept = vec![false; len];
    kept.par_chunks_mut(CHUNK).enumerate().for_each(|(i, chunk)| {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
        for k in chunk.iter_mut() {
            *k = rng.random::<f32>() >= p;
        }
    });
    kept
}

/// Trainable adapters of a model, by HF module name.
#[derive(Debug, Clone)]
pub struct LoraSet {
    /// How they were made.
    pub spec: LoraSpec,
    /// (A, B) per module.
    pub params: BTreeMap<String, (Var, Var)>,
}

impl LoraSet {
    /// Fresh adapters: A Kaiming-uniform (bound 1/sqrt(in), as PEFT), B zero; seeded.
    pub fn init(spec: &LoraSpec, shapes: &[(String, usize, usize)], seed: u64, device: &Device) -> Result<Self> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut params = BTreeMap::new();
        for (module, out, inp) in shapes {
            let bound = 1.0 / (*inp as f32).sqrt();
            let a: Vec<f32> = (0..spec.rank * inp).map(|_| rng.random_range(-bound..bound)).collect();
            let a = Var::from_tensor(&Tensor::from_vec(a, (spec.rank, *inp), device)?)?;
            let b = Var::zeros((*out, spec.rank), DType::F32, device)?;
            params.insert(module.clone(), (a, b));
        }
        Ok(Self { spec: spec.clone(), params })
    }

    /// Trainable copies of a saved adapter's weights (to resume or continue training).
    pub fn from_adapter(adapter: &LoraAdapter, spec: &LoraSpec, device: &Device) -> Result<Self> {
        let mut params = BTreeMap::new();
        for (module, pair) in &adapter.modules {
            let a = Var::from_tensor(&pair.a.to_device(device)?)?;
            let b = Var::from_tensor(&pair.b.to_device(device)?)?;
            params.insert(module.clone(), (a, b));
        }
        Ok(Self { spec: spec.clone(), params })
    }

    /// The adapter of one module as attached to its layer.
    pub fn weights_for(&self, module: &str, mask_stream: u64) -> Option<LoraWeights> {
        let (a, b) = self.params.get(module)?;
        Some(LoraWeights {
            a: a.as_tensor().clone(),
            b: b.as_tensor().clone(),
            scale: self.spec.scale(),
            dropout: self.spec.dropout,
            mask_stream,
        })
    }

    /// Every trainable tensor with its PEFT name.
    pub fn named_vars(&self) -> Vec<(String, &Var)> {
        self.params
            .iter()
            .flat_map(|(m, (a, b))| [(format!("{PEFT_PREFIX}{m}.lora_A.weight"), a), (format!("{PEFT_PREFIX}{m}.lora_B.weight"), b)])
            .collect()
    }

    /// Number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.params.values().map(|(a, b)| a.elem_count() + b.elem_count()).sum()
    }

    /// The tensors under their PEFT names, on the CPU.
    pub fn peft_tensors(&self) -> Result<HashMap<String, Tensor>> {
        self.named_vars().into_iter().map(|(n, v)| Ok((n, v.as_tensor().to_device(&Device::Cpu)?))).collect()
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` in PEFT's layout into `dir`.
    pub fn save_peft(&self, dir: &Path, base_model: &str) -> Result<()> {
        let io = |source| ModelError::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let targets: Vec<String> = {
            let mut leaves: Vec<String> = self.params.keys().map(|m| m.rsplit('.').next().unwrap_or(m).to_string()).collect();
            leaves.sort();
            leaves.dedup();
            leaves
        };
        let config = serde_json::json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": base_model,
            "r": self.spec.rank,
            "lora_alpha": self.spec.alpha,
            "lora_dropout": self.spec.dropout,
            "target_modules": targets,
            "use_rslora": self.spec.use_rslora,
            "bias": "none",
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "modules_to_save": null,
            "layers_to_transform": null,
            "rank_pattern": {},
            "alpha_pattern": {},
            "use_dora": false,
            "revision": null,
        });
        let text =
            serde_json::to_string_pretty(&config).map_err(|e| ModelError::Adapter { path: dir.to_path_buf(), detail: e.to_string() })?;
        crate::engine::fsutil::write_atomic(&dir.join("adapter_config.json"), text.as_bytes()).map_err(io)?;
        let tensors = self.peft_tensors()?;
        let mut metadata = HashMap::new();
        metadata.insert("format".to_string(), "pt".to_string());
        let bytes = safetensors::serialize(tensors.iter().map(|(k, v)| (k.clone(), v)), Some(metadata))
            .map_err(|e| ModelError::Adapter { path: dir.to_path_buf(), detail: e.to_string() })?;
        crate::engine::fsutil::write_atomic(&dir.join("adapter_model.safetensors"), &bytes).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_match_by_leaf_name_or_all_linear() {
        let spec = LoraSpec::paper();
        assert!(spec.targets_module("model.layers.0.mlp.gate_proj"));
        assert!(!spec.targets_module("model.layers.0.self_attn.q_proj"));
        let all = LoraSpec { targets: vec!["all-linear".into()], ..LoraSpec::paper() };
        assert!(all.targets_module("model.layers.0.self_attn.q_proj"));
    }

    #[test]
    fn dropout_mask_is_seeded_and_has_the_right_rate() {
        let a = dropout_mask(100_000, 0.1, 7);
        assert_eq!(a, dropout_mask(100_000, 0.1, 7));
        assert_ne!(a, dropout_mask(100_000, 0.1, 8));
        let dropped = a.iter().filter(|&&m| m == 0.0).count() as f64 / a.len() as f64;
        assert!((dropped - 0.1).abs() < 0.01, "{dropped}");
        let kept_value = a.iter().find(|&&m| m > 0.0).copied().unwrap();
        assert!((kept_value - 1.0 / 0.9).abs() < 1e-6);
    }

    #[test]
    fn rslora_scale() {
        let s = LoraSpec { rank: 16, alpha: 32.0, use_rslora: true, ..LoraSpec::paper() };
        assert_eq!(s.scale(), 8.0);
        assert_eq!(LoraSpec { use_rslora: false, ..s }.scale(), 2.0);
    }
}
