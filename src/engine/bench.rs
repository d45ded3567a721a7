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
    Ok(BenchFigure {
        what: "forward".into(),
        tokens_per_s: (batch * seq) as f64 / seconds,
        seconds,
        batch,
        seq,
        threads: candle_core::utils::get_num_threads(),
        dtype: crate::engine::device::dtype_name(model.dtype()).into(),
        device: crate::engine::device::describe_device(model.device()),
    })
}
