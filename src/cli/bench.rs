//! `dtm-studio bench <what>`: one JSON line per figure, in the anchor scripts' units.

use super::RuntimeArgs;
use crate::engine::bench::{forward_throughput, train_throughput};
use crate::engine::known_models::smollm2_gguf;
use anyhow::Context;
use clap::{Args, Subcommand};

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub what: BenchWhat,
}

/// The measurements.
#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// Scoring forward pass (full logits, no gradients): tokens/s.
    Forward(ShapeArgs),
    /// LoRA training step (r16 on gate/up/down, AdamW): tokens/s and peak memory.
    Train(ShapeArgs),
    /// Benchmark scoring: multiple-choice scoring tokens/s (4 x 256) and ARC items/s.
    Eval(super::eval::EvalBenchArgs),
    /// Merging: seconds and GB/s to merge K adapters into the full model and write it, and the
    /// seconds of an in-memory re-weighting.
    Merge(super::merge::MergeBenchArgs),
    /// Sentence embedding: sentences/s over the reference script's 2,000 sentences, batch 64.
    Embed(super::embed::EmbedBenchArgs),
    /// k-means: seconds for 50,000 x 384 standard-normal points, k=4, 1 init, 100 iterations.
    Kmeans(super::cluster::KMeansBenchArgs),
}

/// Model and batch shape of a throughput measurement.
#[derive(Debug, Args)]
pub struct ShapeArgs {
    /// Model to measure (default: SmolLM2-135M-Instruct from the local models folder).
    #[arg(long)]
    pub model: Option<String>,
    /// Sequences per batch.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 256)]
    pub seq: usize,
    /// Timed repetitions (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

fn default_model(arg: &Option<String>) -> anyhow::Result<String> {
    match arg {
        Some(m) => Ok(m.clone()),
        None => smollm2_gguf()
            .map(|p| p.to_string_lossy().into_owned())
            .context("no --model given and SmolLM2 is not in the models folder: run scripts/fetch-test-models.sh or pass --model"),
    }
}

/// Runs the chosen measurement and prints its JSON line.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Eval(a) => super::eval::bench(a)?,
        BenchWhat::Merge(a) => super::merge::bench(a)?,
        BenchWhat::Embed(a) => super::embed::bench(a)?,
        BenchWhat::Kmeans(a) => super::cluster::bench(a)?,
        BenchWhat::Forward(s) => {
            let model = default_model(&s.model)?;
            let loaded = s.runtime.load(&model, None)?;
            let fig = forward_throughput(&loaded.model, s.batch, s.seq, s.reps)?;
            println!("{}", serde_json::to_string(&fig)?);
        }
        BenchWhat::Train(s) => {
            let model = default_model(&s.model)?;
            let mut loaded = s.runtime.load(&model, None)?;
            let (fig, peak_mb) = train_throughput(&mut loaded.model, s.batch, s.seq, s.reps)?;
            let mut line = serde_json::to_value(&fig)?;
            line["peak_rss_mb"] = serde_json::json!(peak_mb);
            println!("{line}");
        }
    }
    Ok(())
}
