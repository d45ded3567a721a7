//! Numeric parity of a device against the CPU: the same model, the same batch, the same adapters,
//! computed on both, and how far apart the results are. What a GPU build must show before its
//! figures are trusted: the logits of a scoring pass, the per-row log-likelihoods multiple-choice
//! scoring sums, and one training step's loss and LoRA gradients (plain or checkpointed).
//! Against the CPU itself (`--device cpu`) every difference is zero: the check's own dry run.

use crate::engine::bench::random_ids;
use crate::engine::device::{describe_device, dtype_name};
use crate::engine::model::linear::ForwardCtx;
use crate::engine::model::lora::{LoraSet, LoraSpec};
use crate::engine::model::{load_model, CausalLm, LoadOptions};
use crate::engine::train::batch::{collate, TokenSequence};
use crate::engine::train::gradients::loss_and_gradients;
use crate::engine::train::TrainError;
use candle_core::{DType, Device, Tensor, Var, D};
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// How far a device's results are from the CPU's (f32) on one batch.
#[derive(Debug, Clone, Serialize)]
pub struct ParityFigure {
    /// "parity".
    pub what: &'static str,
    /// The device checked.
    pub device: String,
    /// Its working dtype.
    pub dtype: String,
    /// Sequences x tokens of the batch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq: usize,
    /// Largest |logit difference| over every position and vocabulary entry.
    pub logits_max_abs: f64,
    /// The same, over the largest |logit| on the CPU.
    pub logits_max_rel: f64,
    /// Largest |difference| of a row's summed next-token log-likelihood (what scoring sums).
    pub loglik_max_abs: f64,
    /// The training step's loss on the CPU and on the device.
    pub loss_cpu: f64,
    /// The training step's loss on the device.
    pub loss_device: f64,
    /// Largest relative difference (difference norm over CPU norm) of a LoRA parameter's gradient.
    pub grad_max_rel: f64,
    /// The parameter where it was largest.
    pub grad_worst: String,
    /// Whether the training step used gradient checkpointing.
    pub checkpointing: bool,
    /// Whether the device kept a GGUF base in its quantized blocks (the CPU reference is always
    /// the de-quantised base in f32).
    pub blocks: bool,
}

/// Adapters on every linear layer with A as initialised and B random (seeded), so that every
/// gradient is non-zero: made on the CPU, then copied to `device`, so both sides hold the same.
fn adapters(model: &mut CausalLm, device: &Device) -> Result<LoraSet, TrainError> {
    let spec = LoraSpec { rank: 8, alpha: 16.0, dropout: 0.0, targets: vec!["all-linear".into()], use_rslora: false };
    let cpu = LoraSet::init(&spec, &model.lora_targets(&spec), 0, &Device::Cpu)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut set = cpu.clone();
    for (a, b) in set.params.values_mut() {
        let values: Vec<f32> = (0..b.elem_count()).map(|_| rng.random_range(-0.05f32..0.05)).collect();
        let b_cpu = Tensor::from_vec(values, b.shape(), &Device::Cpu)?;
        *b = Var::from_tensor(&b_cpu.to_device(device)?)?;
        *a = Var::from_tensor(&a.as_tensor().to_device(device)?)?;
    }
    model.attach_lora(&set)?;
    Ok(set)
}

fn to_cpu_f32(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_device(&Device::Cpu)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

/// Per-row sum of log p(next token) over every position but the last.
fn row_logliks(logits: &Tensor, ids: &Tensor) -> candle_core::Result<Vec<f32>> {
    let (_, t, _) = logits.dims3()?;
    let logp = candle_nn::ops::log_softmax(&logits.to_dtype(DType::F32)?.narrow(1, 0, t - 1)?, D::Minus1)?;
    let next = ids.narrow(1, 1, t - 1)?.unsqueeze(2)?;
    to_cpu_f32(&logp.gather(&next.contiguous()?, 2)?.squeeze(2)?.sum(1)?)
}

/// Checks `device` in `dtype` (with a GGUF base kept in its `blocks`, or de-quantised) against
/// the CPU in f32 on the de-quantised `model`, with a random `[batch, seq]` batch.
pub fn device_parity(
    model: &str,
    device: &Device,
    dtype: DType,
    batch: usize,
    seq: usize,
    checkpointing: bool,
    blocks: bool,
) -> Result<ParityFigure, TrainError> {
    let mut cpu =
        load_model(model, &LoadOptions { device: Device::Cpu, dtype: Some(DType::F32), adapter: None, keep_quantized: false })?.model;
    let mut dev =
        load_model(model, &LoadOptions { device: device.clone(), dtype: Some(dtype), adapter: None, keep_quantized: blocks })?.model;
    let ids_cpu = random_ids(batch, seq, cpu.config().vocab_size, 3, &Device::Cpu)?;
    let ids_dev = ids_cpu.to_device(device)?;
    // Scoring: logits and the log-likelihoods multiple-choice scoring sums.
    let (logits_cpu, logits_dev) = (cpu.forward_inference(&ids_cpu, None)?, dev.forward_inference(&ids_dev, None)?);
    let (a, b) = (to_cpu_f32(&logits_cpu)?, to_cpu_f32(&logits_dev)?);
    let logits_max_abs = a.iter().zip(&b).map(|(x, y)| f64::from((x - y).abs())).fold(0.0, f64::max);
    let scale = a.iter().map(|x| f64::from(x.abs())).fold(0.0, f64::max).max(1e-12);
    let (ll_cpu, ll_dev) = (row_logliks(&logits_cpu, &ids_cpu)?, row_logliks(&logits_dev, &ids_dev)?);
    let loglik_max_abs = ll_cpu.iter().zip(&ll_dev).map(|(x, y)| f64::from((x - y).abs())).fold(0.0, f64::max);
    // One training step: loss and every LoRA gradient.
    let (set_cpu, set_dev) = (adapters(&mut cpu, &Device::Cpu)?, adapters(&mut dev, device)?);
    let rows: Vec<TokenSequence> = ids_cpu
        .to_vec2::<u32>()?
        .into_iter()
        .map(|r| TokenSequence { labels: r.iter().map(|&t| i64::from(t)).collect(), input_ids: r })
        .collect();
    let refs: Vec<&TokenSequence> = rows.iter().collect();
    let named = |set: &LoraSet| -> Vec<(String, Var)> { set.named_vars().into_iter().map(|(n, v)| (n, v.clone())).collect() };
    let step = |model: &CausalLm, params: &[(String, Var)], on: &Device| -> Result<(f64, Vec<Tensor>), TrainError> {
        let batch = collate(&refs, 0, on)?;
        loss_and_gradients(model, &batch, ForwardCtx::DIFFERENTIABLE, params, checkpointing)?
            .ok_or_else(|| TrainError::Data("the parity batch has no labelled position".into()))
    };
    let (params_cpu, params_dev) = (named(&set_cpu), named(&set_dev));
    let (loss_cpu, grads_cpu) = step(&cpu, &params_cpu, &Device::Cpu)?;
    let (loss_device, grads_dev) = step(&dev, &params_dev, device)?;
    let (mut grad_max_rel, mut grad_worst) = (0.0, String::new());
    for ((name, _), (g_cpu, g_dev)) in params_cpu.iter().zip(grads_cpu.iter().zip(&grads_dev)) {
        let (x, y) = (to_cpu_f32(g_cpu)?, to_cpu_f32(g_dev)?);
        let norm = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt().max(1e-30);
        let diff = x.iter().zip(&y).map(|(p, q)| f64::from(p - q).powi(2)).sum::<f64>().sqrt();
        if diff / norm > grad_max_rel || grad_worst.is_empty() {
            (grad_max_rel, grad_worst) = (diff / norm, name.clone());
        }
    }
    Ok(ParityFigure {
        what: "parity",
        device: describe_device(device),
        dtype: dtype_name(dtype).into(),
        batch,
        seq,
        logits_max_abs,
        logits_max_rel: logits_max_abs / scale,
        loglik_max_abs,
        loss_cpu,
        loss_device,
        grad_max_rel,
        grad_worst,
        checkpointing,
        blocks,
    })
}
