//! Throughput measurements in the units of the reference ("anchor") scripts, so that figures can
//! be compared side by side as ratios.

use crate::engine::model::CausalLm;
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

/// One measured figure, printed as a JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct BenchFigure {
    /// What was measured ("forward", ...).
    pub what: String,
    /// Tokens processed per second (median repetition).
    pub tokens_per_s: f64,
    /// Median seconds per repetition.
    pub seconds: f64,
    /// Sequences per batch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq: usize,
    /// CPU threads available to the kernels.
    pub threads: usize,
    /// Working dtype.
    pub dtype: String,
    /// Device description.
    pub device: String,
}

/// Median wall time of `reps` runs of `f` after `warmup` untimed runs.
pub fn median_seconds<E>(warmup: usize, reps: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    for _ in 0..warmup {
        f()?;
    }
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}

/// A throughput figure for `batch x seq` tokens processed in `seconds` by `model`.
fn figure(what: &str, model: &CausalLm, batch: usize, seq: usize, seconds: f64) -> BenchFigure {
    BenchFigure {
        what: what.into(),
        tokens_per_s: (batch * seq) as f64 / seconds,
        seconds,
        batch,
        seq,
        threads: candle_core::utils::get_num_threads(),
        dtype: crate::engine::device::dtype_name(model.dtype()).into(),
        device: crate::engine::device::describe_device(model.device()),
    }
}

/// Random token ids `[batch, seq]` below `vocab`, seeded.
pub fn random_ids(batch: usize, seq: usize, vocab: usize, seed: u64, device: &Device) -> candle_core::Result<Tensor> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let ids: Vec<u32> = (0..batch * seq).map(|_| rng.random_range(0..vocab as u32)).collect();
    Tensor::from_vec(ids, (batch, seq), device)
}

/// Scoring-forward throughput: full logits for a random `[batch, seq]` batch, no gradients.
pub fn forward_throughput(model: &CausalLm, batch: usize, seq: usize, reps: usize) -> candle_core::Result<BenchFigure> {
    let ids = random_ids(batch, seq, model.config().vocab_size, 0, model.device())?;
    let seconds = median_seconds(1, reps, || {
        let logits = model.forward_inference(&ids, None)?;
        model.device().synchronize()?;
        drop(logits);
        Ok::<(), candle_core::Error>(())
    })?;
    Ok(figure("forward", model, batch, seq, seconds))
}

/// Decoding throughput with the KV cache: `batch` rows of 16 random prompt tokens, then `new`
/// greedy tokens each, one position at a time; `seq` in the figure is `new`, and the prompt
/// pass is not timed.
pub fn decode_throughput(model: &CausalLm, batch: usize, new: usize, reps: usize) -> candle_core::Result<BenchFigure> {
    let prompt = random_ids(batch, 16, model.config().vocab_size, 0, model.device())?;
    let mut times = Vec::new();
    for rep in 0..reps.max(1) + 1 {
        let mut cache = model.new_cache();
        let logits = model.forward_inference(&prompt, Some(&mut cache))?;
        let mut next = logits.narrow(1, 15, 1)?.argmax(candle_core::D::Minus1)?;
        model.device().synchronize()?;
        let started = Instant::now();
        for _ in 0..new {
            let logits = model.forward_inference(&next, Some(&mut cache))?;
            next = logits.argmax(candle_core::D::Minus1)?;
        }
        model.device().synchronize()?;
        if rep > 0 {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(figure("decode", model, batch, new, times[times.len() / 2]))
}

/// Peak resident memory of this process in MB (Linux `VmHWM`), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// LoRA training throughput as the reference measures it: random `[batch, seq]` ids with the
/// loss on every position, r16/alpha16/dropout 0.05 on gate/up/down, AdamW at 3e-4.
pub fn train_throughput(
    model: &mut CausalLm,
    batch: usize,
    seq: usize,
    reps: usize,
    checkpointing: bool,
) -> Result<(BenchFigure, Option<f64>), crate::engine::train::TrainError> {
    use crate::engine::model::linear::{ForwardCtx, Kernels};
    use crate::engine::model::lora::{LoraSet, LoraSpec};
    use crate::engine::train::batch::{collate, TokenSequence};
    use crate::engine::train::gradients::loss_and_gradients;
    use crate::engine::train::optimizer::{AdamW, AdamWConfig};
    let device = model.device().clone();
    let spec = LoraSpec::paper();
    let set = LoraSet::init(&spec, &model.lora_targets(&spec), 0, &device)?;
    model.attach_lora(&set)?;
    let params = set.named_vars().into_iter().map(|(n, v)| (n, v.clone())).collect();
    let mut opt = AdamW::new(params, AdamWConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 })?;
    let ids = random_ids(batch, seq, model.config().vocab_size, 0, &device)?.to_vec2::<u32>()?;
    let rows: Vec<TokenSequence> =
        ids.into_iter().map(|r| TokenSequence { labels: r.iter().map(|&t| t as i64).collect(), input_ids: r }).collect();
    let refs: Vec<&TokenSequence> = rows.iter().collect();
    let b = collate(&refs, 0, &device)?;
    let mut k = 0u64;
    let seconds = median_seconds(2, reps, || {
        k += 1;
        let ctx = ForwardCtx { kernels: Kernels::Differentiable, dropout_seed: Some(k) };
        let Some((_, g)) = loss_and_gradients(model, &b, ctx, opt.params(), checkpointing)? else { return Ok(()) };
        opt.step(&g, 3e-4, 1.0)?;
        device.synchronize()?;
        Ok::<(), candle_core::Error>(())
    })?;
    let fig = figure("lora_train", model, batch, seq, seconds);
    Ok((fig, peak_rss_mb()))
}

/// Resident memory of the process around one training stage, in MB.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemoryFigure {
    /// What was measured: "train_memory".
    pub what: &'static str,
    /// Before the stage (nothing loaded).
    pub before_mb: f64,
    /// The highest value sampled (every 20 ms) while the stage ran.
    pub during_peak_mb: f64,
    /// After the stage returned, its model dropped and freed memory handed back.
    pub after_mb: f64,
    /// Optimiser steps the run took.
    pub steps: u64,
}

/// Runs `req` as the training stage while a thread samples the resident set size, and reports
/// it before, during (peak) and after.
pub fn training_memory(req: &crate::engine::train::SftRequest) -> Result<MemoryFigure, crate::engine::train::TrainError> {
    use crate::engine::job::{CancelToken, EventSink};
    use crate::engine::memory::resident_bytes;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let before = resident_bytes().unwrap_or(0);
    let (peak, running) = (AtomicU64::new(before), AtomicBool::new(true));
    let state = std::thread::scope(|s| {
        s.spawn(|| {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(resident_bytes().unwrap_or(0), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        let state = crate::engine::train::run_sft(req, &EventSink::discard(), &CancelToken::new());
        running.store(false, Ordering::Relaxed);
        state
    })?;
    let after = resident_bytes().unwrap_or(0);
    Ok(MemoryFigure {
        what: "train_memory",
        before_mb: mb(before),
        during_peak_mb: mb(peak.load(Ordering::Relaxed)),
        after_mb: mb(after),
        steps: state.global_step,
    })
}
