//! `dtm-studio embed`: sentence embeddings of a dataset's instructions, responses or both, written
//! as safetensors (`embeddings` [rows, dim] + `encoder`, `field`, `data_sha256`); and
//! `bench embed`.

use super::progress::with_progress;
use crate::engine::data::LoadDataOptions;
use crate::engine::device::{describe_device, open_device, DeviceRequest};
use crate::engine::embed::bench::{anchor_sentences, embed_throughput};
use crate::engine::embed::{run_embed, EmbedOptions, EmbedRequest, Encoder, EncoderRequest, EncoderSpec, TextField};
use clap::Args;
use std::path::PathBuf;

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
    /// The encoder request these arguments describe.
    pub fn request(&self) -> anyhow::Result<EncoderRequest> {
        Ok(EncoderRequest {
            name: self.encoder.clone(),
            device: open_device(self.device)?,
            options: EmbedOptions { batch_size: self.batch },
        })
    }
}

/// Runs `embed`.
pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let req = EmbedRequest {
        data: args.data.clone(),
        data_options: LoadDataOptions::default(),
        encoder: args.encoder.request()?,
        field: args.encoder.field,
        out: args.out.clone(),
    };
    let done = with_progress(|sink, cancel| run_embed(&req, sink, cancel))?;
    let emb = &done.embeddings;
    println!(
        "wrote {}: {} rows x {} ({}, field {}) in {:.1} s ({:.0} texts/s)",
        args.out.display(),
        emb.rows,
        emb.dim,
        emb.encoder,
        emb.field,
        done.seconds,
        emb.rows as f64 / done.seconds.max(1e-9)
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
    let spec: EncoderSpec = args.encoder.parse().map_err(anyhow::Error::msg)?;
    let device = open_device(args.device)?;
    let encoder = Encoder::load_with(&spec, &device, !args.candle_bert)?;
    let fig = embed_throughput(&encoder, &anchor_sentences(), args.batch, args.reps, describe_device(&device))?;
    println!("{}", serde_json::to_string(&fig)?);
    Ok(())
}
