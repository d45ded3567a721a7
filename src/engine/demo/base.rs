//! The demo's base model: a small Llama (every weight trained from scratch) that learns the
//! world's corpus, written as an ordinary HF folder (`config.json`, `model.safetensors`,
//! `tokenizer.json`, `tokenizer_config.json`) that every stage loads like any other model.
//!
//! Training runs the engine's own decoder ([`CausalLm`]) on weights held as candle `Var`s: the
//! decoder's layers take the differentiable path for variable weights, so one backward pass
//! reaches every weight, embeddings included. The model is cached by a hash of everything that
//! determines it (corpus, vocabulary, shape, schedule, seed), so a second demo with the same
//! seed starts at once.

use super::error::DemoError;
use super::vocab::{tokenizer_config_json, tokenizer_json, EOS};
use crate::engine::fsutil::write_atomic;
use crate::engine::job::StageScope;
use crate::engine::model::linear::ForwardCtx;
use crate::engine::model::weights::Weights;
use crate::engine::model::{CausalLm, ModelConfig};
use crate::engine::train::batch::{collate, TokenSequence};
use crate::engine::train::loss::masked_lm_loss;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The base model's shape and its pre-training schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseSize {
    /// Width of the residual stream.
    pub hidden: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of the MLP.
    pub intermediate: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Sequences per step.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Peak learning rate (AdamW, linear warm-up over the first 5% then cosine to a tenth).
    pub lr: f64,
}

impl BaseSize {
    /// The demo's size: about 0.46M parameters (with the standard world's vocabulary), 800 steps
    /// (about two minutes on two cores; 400 steps left the base knowing a third to a half of the facts).
    pub fn standard() -> Self {
        Self { hidden: 128, layers: 2, heads: 4, intermediate: 384, steps: 800, batch: 16, seq_len: 64, lr: 5e-3 }
    }

    /// A few seconds' worth, for tests (it learns little).
    pub fn tiny() -> Self {
        Self { hidden: 32, layers: 1, heads: 2, intermediate: 64, steps: 12, batch: 4, seq_len: 32, lr: 3e-3 }
    }
}

/// Version of the recipe, part of the cache key: bump it when training changes.
const RECIPE: u32 = 1;

/// `config.json` of the demo model.
pub fn config_json(size: &BaseSize, vocab_size: usize) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": size.hidden,
        "intermediate_size": size.intermediate,
        "num_hidden_layers": size.layers,
        "num_attention_heads": size.heads,
        "num_key_value_heads": size.heads,
        "head_dim": size.hidden / size.heads,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "max_position_embeddings": 256,
        "tie_word_embeddings": true,
        "eos_token_id": 1,
        "torch_dtype": "float32",
    })
}

/// The cache key of a base model: the corpus, the vocabulary, the size and the seed.
pub fn cache_key(lines: &[String], vocab: &[String], size: &BaseSize, seed: u64) -> String {
    let mut h = Sha256::new();
    h.update(format!("recipe {RECIPE} seed {seed} {}", serde_json::to_string(size).unwrap_or_default()));
    for l in lines.iter().chain(vocab) {
        h.update(l.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Where trained base models are kept: `$DTM_DEMO_CACHE`, else `~/.cache/dtm-studio/demo-base`.
pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("DTM_DEMO_CACHE") {
        return PathBuf::from(d);
    }
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join(".cache/dtm-studio/demo-base")
}

/// A freshly initialised weight set (seeded): normal-like entries of standard deviation 0.02
/// (output projections scaled down by the depth), RMSNorm weights at one.
fn init_vars(cfg: &ModelConfig, seed: u64, device: &Device) -> candle_core::Result<Vec<(String, Var)>> {
    let mut rng = super::world::rng_for(seed, 20);
    let mut normal = |shape: (usize, usize), std: f64| -> candle_core::Result<Var> {
        // Sum of three uniforms: close to normal, bounded.
        let a = std * 1.0;
        let data: Vec<f32> = (0..shape.0 * shape.1).map(|_| (0..3).map(|_| rng.random_range(-a..a)).sum::<f64>() as f32).collect();
        Var::from_tensor(&Tensor::from_vec(data, shape, device)?)
    };
    let (h, i, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
    let deep = 0.02 / (2.0 * cfg.num_hidden_layers as f64).sqrt();
    let ones = |n: usize| Var::from_tensor(&Tensor::ones(n, DType::F32, device)?);
    let mut vars = vec![("model.embed_tokens.weight".to_string(), normal((v, h), 0.02)?)];
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        for (name, shape, std) in [
            ("self_attn.q_proj", (h, h), 0.02),
            ("self_attn.k_proj", (h, h), 0.02),
            ("self_attn.v_proj", (h, h), 0.02),
            ("self_attn.o_proj", (h, h), deep),
            ("mlp.gate_proj", (i, h), 0.02),
            ("mlp.up_proj", (i, h), 0.02),
            ("mlp.down_proj", (h, i), deep),
        ] {
            vars.push((format!("{p}.{name}.weight"), normal(shape, std)?));
        }
        vars.push((format!("{p}.input_layernorm.weight"), ones(h)?));
        vars.push((format!("{p}.post_attention_layernorm.weight"), ones(h)?));
    }
    vars.push(("model.norm.weight".to_string(), ones(h)?));
    Ok(vars)
}

/// Learning rate at `step`: linear warm-up, then cosine down to a tenth of the peak.
fn lr_at(size: &BaseSize, step: usize) -> f64 {
    let warmup = (size.steps / 20).max(1);
    if step < warmup {
        return size.lr * (step + 1) as f64 / warmup as f64;
    }
    let t = (step - warmup) as f64 / (size.steps - warmup).max(1) as f64;
    size.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

/// Trains a base model on `lines` and writes it to `out` (an HF folder). Returns the last loss.
pub fn train_base(
    lines: &[String],
    vocab: &[String],
    size: &BaseSize,
    seed: u64,
    out: &Path,
    scope: &StageScope<'_>,
) -> Result<f64, DemoError> {
    let device = Device::Cpu;
    let config = config_json(size, vocab.len());
    let cfg = ModelConfig::from_hf_json(&config.to_string(), out)?;
    let tokenizer =
        tokenizers::Tokenizer::from_bytes(tokenizer_json(vocab).to_string().as_bytes()).map_err(|e| DemoError::Tokenizer(e.to_string()))?;
    let eos = tokenizer.token_to_id(EOS).unwrap_or(1);
    let docs: Vec<Vec<u32>> = lines
        .iter()
        .map(|l| tokenizer.encode(l.as_str(), false).map(|e| e.get_ids().iter().copied().chain([eos]).collect()))
        .collect::<Result<_, _>>()
        .map_err(|e| DemoError::Tokenizer(e.to_string()))?;
    let vars = init_vars(&cfg, seed, &device)?;
    let map: HashMap<String, Tensor> = vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())).collect();
    let model = CausalLm::from_weights(&cfg, &mut Weights::from_map(map, out), DType::F32, &device)?;
    let params = ParamsAdamW { lr: size.lr, beta1: 0.9, beta2: 0.98, eps: 1e-8, weight_decay: 0.01 };
    let mut opt = AdamW::new(vars.iter().map(|(_, v)| v.clone()).collect(), params)?;
    let mut rng = super::world::rng_for(seed, 21);
    let started = Instant::now();
    let mut last = f64::NAN;
    for step in 0..size.steps {
        scope.check()?;
        let seqs: Vec<TokenSequence> = (0..size.batch)
            .map(|_| {
                let mut ids = Vec::with_capacity(size.seq_len + 16);
                while ids.len() < size.seq_len {
                    ids.extend_from_slice(&docs[rng.random_range(0..docs.len())]);
                }
                ids.truncate(size.seq_len);
                TokenSequence { labels: ids.iter().map(|&i| i64::from(i)).collect(), input_ids: ids }
            })
            .collect();
        let refs: Vec<&TokenSequence> = seqs.iter().collect();
        let batch = collate(&refs, eos, &device)?;
        let Some((loss, _)) = masked_lm_loss(&model, &batch, ForwardCtx::DIFFERENTIABLE)? else { continue };
        opt.set_learning_rate(lr_at(size, step));
        opt.backward_step(&loss)?;
        last = f64::from(loss.to_scalar::<f32>()?);
        if !last.is_finite() {
            return Err(DemoError::Diverged { step, loss: last });
        }
        let per_step = started.elapsed().as_secs_f64() / (step + 1) as f64;
        scope.progress(
            step as u64 + 1,
            size.steps as u64,
            format!("loss {last:.3}, {:.0} s left", per_step * (size.steps - step - 1) as f64),
        );
    }
    write_folder(out, &vars, &config, vocab)?;
    Ok(last)
}

/// Writes the HF folder atomically: into `out.tmp`, then renamed.
fn write_folder(out: &Path, vars: &[(String, Var)], config: &serde_json::Value, vocab: &[String]) -> Result<(), DemoError> {
    let tmp = out.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| DemoError::io(&tmp, e))?;
    let tensors: HashMap<String, Tensor> = vars.iter().map(|(n, v)| (n.clone(), v.as_tensor().detach())).collect();
    let weights = tmp.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &weights)?;
    let pretty = |v: &serde_json::Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    for (name, bytes) in [
        ("config.json", pretty(config)),
        ("tokenizer.json", tokenizer_json(vocab).to_string().into_bytes()),
        ("tokenizer_config.json", pretty(&tokenizer_config_json())),
        ("generation_config.json", pretty(&serde_json::json!({"eos_token_id": 1}))),
    ] {
        write_atomic(&tmp.join(name), &bytes).map_err(|e| DemoError::io(tmp.join(name), e))?;
    }
    let _ = std::fs::remove_dir_all(out);
    std::fs::rename(&tmp, out).map_err(|e| DemoError::io(out, e))
}

/// Copies a model folder's files (the cached base into a project).
pub fn copy_folder(from: &Path, to: &Path) -> Result<(), DemoError> {
    std::fs::create_dir_all(to).map_err(|e| DemoError::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| DemoError::io(from, e))? {
        let entry = entry.map_err(|e| DemoError::io(from, e))?;
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(|e| DemoError::io(entry.path(), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::job::{CancelToken, EventSink};

    #[test]
    fn pre_training_lowers_the_loss_and_writes_a_folder_the_engine_loads() {
        let lines: Vec<String> = (0..20).map(|i| format!("item {i} goes with item {} .", (i * 7) % 20)).collect();
        let vocab = super::super::vocab::vocabulary(lines.iter().map(String::as_str));
        let size = BaseSize { steps: 40, ..BaseSize::tiny() };
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("base");
        let (sink, cancel) = (EventSink::discard(), CancelToken::new());
        let scope = StageScope { name: "t", sink: &sink, cancel: &cancel };
        let loss = train_base(&lines, &vocab, &size, 3, &out, &scope).unwrap();
        // Untrained, the loss is about ln(vocabulary); every weight learning brings it well below.
        assert!(loss < 0.6 * (vocab.len() as f64).ln(), "loss {loss} after {} steps", size.steps);
        let opts = crate::engine::model::LoadOptions { device: Device::Cpu, dtype: Some(DType::F32), adapter: None, keep_quantized: false };
        let loaded = crate::engine::model::load_model(out.to_str().unwrap(), &opts).unwrap();
        assert_eq!(loaded.model.config().vocab_size, vocab.len());
    }
}
