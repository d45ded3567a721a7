//! `dtm-studio bench <what>`: one JSON line per figure, in the anchor scripts' units.

use super::RuntimeArgs;
use crate::engine::bench::{decode_throughput, forward_throughput, train_throughput, training_memory};
use crate::engine::data::PromptOptions;
use crate::engine::known_models::smollm2_gguf;
use crate::engine::train::{SftRequest, TrainConfig};
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
    /// Greedy decoding with the KV cache (`--seq` new tokens per row after a 16-token prompt):
    /// generated tokens/s.
    Decode(ShapeArgs),
    /// LoRA training step (r16 on gate/up/down, AdamW): tokens/s and peak memory.
    Train(ShapeArgs),
    /// Benchmark scoring: multiple-choice scoring tokens/s (4 x 256) and ARC items/s.
    Eval(super::eval::EvalBenchArgs),
    /// Merging: seconds and GB/s to merge K adapters into the full model and write it, and the
    /// seconds of an in-memory re-weighting.
    Merge(super::merge::MergeBenchArgs),
    /// Merge preview: milliseconds from a new weight vector (a slider released) to the first
    /// portion's loss and to the benchmark subset's final accuracy, with the rows and tokens
    /// each preview scores.
    Preview(PreviewArgs),
    /// Sentence embedding: sentences/s over the reference script's 2,000 sentences, batch 64.
    Embed(super::embed::EmbedBenchArgs),
    /// k-means: seconds for 50,000 x 384 standard-normal points, k=4, 1 init, 100 iterations.
    Kmeans(super::cluster::KMeansBenchArgs),
    /// Process memory (RSS) before, during and after a short training stage, in MB.
    Memory(MemoryArgs),
    /// Numeric parity of a device against the CPU (f32): logits, per-row log-likelihoods and one
    /// training step's loss and LoRA gradients on the same batch and adapters.
    Parity(ParityArgs),
    /// The window's frame time (UI-thread CPU ms) on the Disperse page with N points on the map,
    /// or on the Train page with loss curves (`--page train`).
    Gui(GuiArgs),
}

/// Arguments of `bench gui`.
#[derive(Debug, Args)]
pub struct GuiArgs {
    /// The page drawn: disperse (the cluster map) or train (loss curves).
    #[arg(long, default_value = "disperse", value_parser = ["disperse", "train"])]
    pub page: String,
    /// Points on the cluster map (Disperse; default 50,000), or logged steps per run (Train;
    /// default 5,000).
    #[arg(long)]
    pub points: Option<usize>,
    /// Runs on the loss chart (Train).
    #[arg(long, default_value_t = 4)]
    pub runs: usize,
    /// Frames measured.
    #[arg(long, default_value_t = 200)]
    pub frames: usize,
    /// Run k-means on a worker thread while measuring, as during a Disperse run.
    #[arg(long)]
    pub background: bool,
}

#[cfg(feature = "gui")]
fn gui(args: GuiArgs) -> anyhow::Result<()> {
    if args.page == "train" {
        let opts = crate::app::bench::TrainBenchOptions {
            runs: args.runs,
            points: args.points.unwrap_or(5_000),
            frames: args.frames,
            size: [1280.0, 800.0],
        };
        println!("{}", serde_json::to_string(&crate::app::bench::measure_train(&opts))?);
        return Ok(());
    }
    let opts = crate::app::bench::GuiBenchOptions {
        points: args.points.unwrap_or(50_000),
        k: 8,
        frames: args.frames,
        background: args.background,
        size: [1280.0, 800.0],
    };
    println!("{}", serde_json::to_string(&crate::app::bench::measure(&opts))?);
    Ok(())
}

#[cfg(not(feature = "gui"))]
fn gui(_args: GuiArgs) -> anyhow::Result<()> {
    anyhow::bail!("this build has no GUI (built without the `gui` feature)")
}

/// Arguments of `bench preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// A project whose sub-models are trained: its base, adapters, portions' held-out rows and
    /// first multiple-choice benchmark (the other options are then ignored, except the sizes).
    #[arg(long)]
    pub project: Option<std::path::PathBuf>,
    /// Base model (default: SmolLM2-135M-Instruct from the local models folder).
    #[arg(long)]
    pub base: Option<String>,
    /// Adapter folders (default: K random r16 adapters on gate/up/down in a temporary folder).
    #[arg(long, num_args = 1..)]
    pub adapters: Vec<std::path::PathBuf>,
    /// Number of random adapters when none are given.
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Instruction data whose validation slice is dealt into the K portions (default:
    /// alpaca_en_demo.json in $DTM_DATA_DIR).
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// Multiple-choice benchmark file (default: bench/arc_easy_dev.jsonl in $DTM_DATA_DIR).
    #[arg(long)]
    pub bench: Option<std::path::PathBuf>,
    /// Held-out rows per portion.
    #[arg(long)]
    pub rows: Option<usize>,
    /// Tokens per held-out row.
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Benchmark items.
    #[arg(long)]
    pub items: Option<usize>,
    /// Method.
    #[arg(long, default_value = "linear")]
    pub method: crate::engine::merge::MergeMethod,
    /// Slider releases timed (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
}

fn data_dir() -> std::path::PathBuf {
    std::env::var_os("DTM_DATA_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| "../shared/data".into())
}

fn preview(args: PreviewArgs) -> anyhow::Result<()> {
    use crate::engine::eval::heldout::HeldoutOptions;
    use crate::engine::eval::BenchSpec;
    use crate::engine::merge::preview::{BenchSource, HeldoutSource, PreviewRequest, PreviewSizes};
    let mut sizes = PreviewSizes::default();
    sizes.rows_per_portion = args.rows.unwrap_or(sizes.rows_per_portion);
    sizes.max_tokens = args.max_tokens.unwrap_or(sizes.max_tokens);
    sizes.bench_items = args.items.unwrap_or(sizes.bench_items);
    let device = candle_core::Device::Cpu;
    let tmp = std::env::temp_dir().join(format!("dtm-bench-preview-{}", std::process::id()));
    let req = match &args.project {
        Some(dir) => {
            let project = crate::engine::pipeline::Project::load(dir)?;
            crate::engine::pipeline::stages::preview_request(&project, sizes, device)
        }
        None => {
            let base = default_model(&args.base)?;
            let adapters = if args.adapters.is_empty() {
                crate::engine::merge::bench::make_bench_adapters(&base, &tmp, args.k)?
            } else {
                args.adapters.clone()
            };
            let data = args.data.clone().or_else(default_alpaca).context("no --data given and no alpaca_en_demo.json: pass --data")?;
            let bench = args.bench.clone().unwrap_or_else(|| data_dir().join("bench/arc_easy_dev.jsonl"));
            let k = adapters.len();
            PreviewRequest {
                base,
                adapters,
                vanilla: None,
                heldout: HeldoutSource::Dealt { data, data_options: Default::default(), options: HeldoutOptions::default(), k },
                bench: vec![BenchSource { spec: BenchSpec { name: "arc_easy".into(), path: bench, extra: None }, fewshot: None }],
                sizes,
                device,
                dtype: None,
            }
        }
    };
    let fig = crate::engine::merge::bench::bench_preview(&req, args.method, args.reps);
    let _ = std::fs::remove_dir_all(&tmp);
    println!("{}", serde_json::to_string(&fig?)?);
    Ok(())
}

/// Arguments of `bench memory`.
#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// Model to train (default: SmolLM2-135M-Instruct from the local models folder).
    #[arg(long)]
    pub model: Option<String>,
    /// Instruction data (default: alpaca_en_demo.json in $DTM_DATA_DIR or ../shared/data).
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// Optimiser steps (quick preset).
    #[arg(long, default_value_t = 4)]
    pub steps: u64,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

fn default_alpaca() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("DTM_DATA_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| "../shared/data".into());
    Some(base.join("instruct/alpaca_en_demo.json")).filter(|p| p.is_file())
}

fn memory(args: MemoryArgs) -> anyhow::Result<()> {
    let out = tempfile_dir()?;
    let mut config = TrainConfig::preset("quick").context("the quick preset")?;
    config.max_steps = Some(args.steps);
    config.max_len = 128;
    let req = SftRequest {
        run: "memory".into(),
        model: default_model(&args.model)?,
        load: args.runtime.options(None)?,
        data: args
            .data
            .clone()
            .or_else(default_alpaca)
            .context("no --data given and no alpaca_en_demo.json: pass --data or set DTM_DATA_DIR")?,
        data_options: Default::default(),
        rows: None,
        prompt: PromptOptions { max_len: config.max_len, ..Default::default() },
        val_fraction: 0.05,
        val_max: 16,
        out_dir: out.join("run"),
        config,
        checkpointing: Default::default(),
        memory_check: true,
    };
    let fig = training_memory(&req);
    let _ = std::fs::remove_dir_all(&out);
    println!("{}", serde_json::to_string(&fig?)?);
    Ok(())
}

/// Arguments of `bench parity`.
#[derive(Debug, Args)]
pub struct ParityArgs {
    /// Model to check (default: SmolLM2-135M-Instruct from the local models folder).
    #[arg(long)]
    pub model: Option<String>,
    /// Sequences in the batch.
    #[arg(long, default_value_t = 2)]
    pub batch: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// The training step with gradient checkpointing.
    #[arg(long)]
    pub checkpointing: bool,
    /// Keep a GGUF base in its quantized blocks on the device (the CPU reference is de-quantised).
    #[arg(long)]
    pub blocks: bool,
    /// The device to check against the CPU (`--device cpu` is the check's own dry run), and its
    /// dtype (default f32, the tight check; bf16 shows the half-precision drift).
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

fn parity(args: ParityArgs) -> anyhow::Result<()> {
    let model = default_model(&args.model)?;
    let device = crate::engine::device::open_device(args.runtime.device)?;
    let dtype = args.runtime.dtype.map(|d| d.0).unwrap_or(candle_core::DType::F32);
    let fig = crate::engine::parity::device_parity(&model, &device, dtype, args.batch, args.seq, args.checkpointing, args.blocks)?;
    println!("{}", serde_json::to_string(&fig)?);
    Ok(())
}

/// A fresh folder under the system's temporary folder.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("dtm-bench-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
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
    /// `bench train`: with gradient checkpointing (each layer recomputed in the backward pass).
    #[arg(long)]
    pub checkpointing: bool,
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
        BenchWhat::Memory(a) => memory(a)?,
        BenchWhat::Parity(a) => parity(a)?,
        BenchWhat::Preview(a) => preview(a)?,
        BenchWhat::Gui(a) => gui(a)?,
        BenchWhat::Forward(s) => {
            let model = default_model(&s.model)?;
            let loaded = s.runtime.load(&model, None)?;
            let fig = forward_throughput(&loaded.model, s.batch, s.seq, s.reps)?;
            println!("{}", serde_json::to_string(&fig)?);
        }
        BenchWhat::Decode(s) => {
            let model = default_model(&s.model)?;
            let loaded = s.runtime.load(&model, None)?;
            let fig = decode_throughput(&loaded.model, s.batch, s.seq, s.reps)?;
            println!("{}", serde_json::to_string(&fig)?);
        }
        BenchWhat::Train(s) => {
            let model = default_model(&s.model)?;
            let mut loaded = s.runtime.load(&model, None)?;
            let (fig, peak_mb) = train_throughput(&mut loaded.model, s.batch, s.seq, s.reps, s.checkpointing)?;
            let mut line = serde_json::to_value(&fig)?;
            line["peak_rss_mb"] = serde_json::json!(peak_mb);
            line["checkpointing"] = serde_json::json!(s.checkpointing);
            println!("{line}");
        }
    }
    Ok(())
}
