//! `dtm-studio embed`: sentence embeddings of a dataset's instructions, responses or both, written
//! as safetensors (`embeddings` [rows, dim] + `encoder`, `field`, `data_sha256`); and
//! `bench embed`.

use super::progress::with_progress;
use crate::engine::data::{load_dataset, Dataset, LoadDataOptions};
use crate::engine::device::{describe_device, open_device, DeviceRequest};
use crate::engine::embed::bench::{anchor_sentences, embed_throughput};
use crate::engine::embed::{embed_dataset, save_embeddings, EmbedOptions, Encoder, EncoderSpec, TextField};
use crate::engine::known_models::minilm_dir;
use crate::engine::pipeline::CancelToken;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Instruction data (Alpaca / ShareGPT / messages JSON or JSONL, CSV, Parquet).
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub encoder: EncoderArgs,
    /// Output file (.safetensors).
    #[arg(long)]
    pub out: PathBuf,
}

/// Which encoder, text field and device (shared by `embed` and `cluster`).
#[derive(Debug, Clone, Args)]
pub struct EncoderArgs {
    /// `builtin` (hashed n-grams, no weights), `minilm` (all-MiniLM-L6-v2 from the models
    /// folder), or a sentence-transformers folder of a BERT model.
    #[arg(long, default_value = "builtin")]
    pub encoder: String,
    /// Text to embed: instruction (with its input), response, or both.
    #[arg(long, default_value = "instruction")]
    pub field: TextField,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// auto (CUDA, then Metal, then CPU), cpu, cuda[:N] or metal[:N].
    #[arg(long, default_value = "auto")]
    pub device: DeviceRequest,
}

impl EncoderArgs {
    /// Resolves `--encoder` (with the `minilm` shortcut) and loads it.
    pub fn load(&self) -> anyhow::Result<Encoder> {
        let spec = resolve_encoder(&self.encoder)?;
        let device = open_device(self.device)?;
        Encoder::load(&spec, &device).with_context(|| format!("loading encoder '{}'", self.encoder))
    }
}

/// `builtin`, `minilm` or a folder.
pub fn resolve_encoder(arg: &str) -> anyhow::Result<EncoderSpec> {
    if arg.trim().eq_ignore_ascii_case("minilm") {
        let dir =
            minilm_dir().context("all-MiniLM-L6-v2 is not in the models folder: run scripts/fetch-test-models.sh, or pass its folder")?;
        return Ok(EncoderSpec::Dir(dir));
    }
    arg.parse::<EncoderSpec>().map_err(anyhow::Error::msg)
}

/// Loads a dataset and warns about rows whose chosen text is empty.
pub fn load_data(path: &Path, field: Option<TextField>) -> anyhow::Result<Dataset> {
    let data = load_dataset(path, &LoadDataOptions::default()).with_context(|| format!("reading {}", path.display()))?;
    if let Some(field) = field {
        let empty = data.examples.iter().filter(|e| field.select(&e.instruction_text(), &e.response_text()).trim().is_empty()).count();
        if empty > 0 {
            eprintln!("warning: {empty} of {} rows have an empty {field} text; they are embedded as empty strings", data.examples.len());
        }
    }
    Ok(data)
}

/// Runs `embed`.
pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let data = load_data(&args.data, Some(args.encoder.field))?;
    let encoder = args.encoder.load()?;
    let started = Instant::now();
    let opts = EmbedOptions { batch_size: args.encoder.batch };
    let emb = with_progress(|sink| embed_dataset(&data, args.encoder.field, &encoder, &opts, sink, &CancelToken::new()))?;
    let secs = started.elapsed().as_secs_f64();
    save_embeddings(&args.out, &emb)?;
    println!(
        "wrote {}: {} rows x {} ({}, field {}) in {secs:.1} s ({:.0} texts/s)",
        args.out.display(),
        emb.rows,
        emb.dim,
        emb.encoder,
        emb.field,
        emb.rows as f64 / secs.max(1e-9)
    );
    Ok(())
}

/// Arguments of `bench embed`.
#[derive(Debug, Args)]
pub struct EmbedBenchArgs {
    /// Encoder: `minilm` (default), `builtin`, or a sentence-transformers folder.
    #[arg(long, default_value = "minilm")]
    pub encoder: String,
    /// Sentences per batch (the reference script uses 64).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Timed repetitions after one warm-up (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// auto, cpu, cuda[:N] or metal[:N].
    #[arg(long, default_value = "cpu")]
    pub device: DeviceRequest,
    /// Run BERT through candle-transformers' BertModel on the CPU too (for comparison with
    /// the packed CPU forward pass).
    #[arg(long)]
    pub candle_bert: bool,
}

/// Runs `bench embed`: the reference script's 2,000 sentences, one JSON line.
pub fn bench(args: EmbedBenchArgs) -> anyhow::Result<()> {
    let spec = resolve_encoder(&args.encoder)?;
    let device = open_device(args.device)?;
    let encoder = Encoder::load_with(&spec, &device, !args.candle_bert)?;
    let fig = embed_throughput(&encoder, &anchor_sentences(), args.batch, args.reps, describe_device(&device))?;
    println!("{}", serde_json::to_string(&fig)?);
    Ok(())
}
