//! `dtm-studio train`: one LoRA fine-tuning run with a progress bar; Ctrl-C saves a checkpoint
//! and stops, and running the same command again resumes.

use super::portion::PortionArgs;
use super::progress::with_progress;
use super::RuntimeArgs;
use crate::engine::train::config::TrainOverrides;
use crate::engine::train::error::TrainError;
use crate::engine::train::memory_fit::Checkpointing;
use crate::engine::train::schedule::Schedule;
use crate::engine::train::state::TrainerState;
use crate::engine::train::{run_sft, SftRequest, TrainConfig};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Base model: a folder with config.json, a .gguf file, or a cached HF id.
    #[arg(long)]
    pub model: String,
    #[command(flatten)]
    pub portion: PortionArgs,
    /// Run folder (adapter, trainer_state.json, checkpoint/).
    #[arg(long)]
    pub out: PathBuf,
    /// Settings to start from: paper or quick.
    #[arg(long, default_value = "paper")]
    pub preset: String,
    /// LoRA rank.
    #[arg(long)]
    pub lora_r: Option<usize>,
    /// LoRA alpha.
    #[arg(long)]
    pub lora_alpha: Option<f64>,
    /// LoRA dropout.
    #[arg(long)]
    pub lora_dropout: Option<f32>,
    /// Target modules, comma-separated (e.g. gate_proj,up_proj,down_proj or all-linear).
    #[arg(long, value_delimiter = ',')]
    pub targets: Option<Vec<String>>,
    /// rsLoRA scaling (alpha / sqrt(r)).
    #[arg(long)]
    pub rslora: bool,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate schedule.
    #[arg(long, value_enum)]
    pub schedule: Option<Schedule>,
    /// Warm-up steps.
    #[arg(long)]
    pub warmup: Option<u64>,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<f64>,
    /// Stop after this many optimiser steps.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Sequences per micro-batch.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Micro-batches per optimiser step.
    #[arg(long)]
    pub grad_accum: Option<usize>,
    /// Maximum tokens per example.
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Seed of data order, initialisation and dropout.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Evaluate every N steps.
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Checkpoint every N steps.
    #[arg(long)]
    pub save_every: Option<u64>,
    /// Gradient checkpointing: auto (only when the memory plan says the run needs it to fit),
    /// on or off. Recomputes each layer in the backward pass: far less memory, more compute.
    #[arg(long, default_value = "auto", value_parser = parse_checkpointing)]
    pub checkpointing: Checkpointing,
    /// Train even when the memory plan says the run does not fit (a warning instead of a refusal).
    #[arg(long)]
    pub no_memory_check: bool,
    /// Fraction of rows held out for validation.
    #[arg(long, default_value_t = 0.05)]
    pub val_fraction: f64,
    /// At most this many validation rows.
    #[arg(long, default_value_t = 200)]
    pub val_max: usize,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

impl TrainArgs {
    fn config(&self) -> anyhow::Result<TrainConfig> {
        let overrides = TrainOverrides {
            lora_r: self.lora_r,
            lora_alpha: self.lora_alpha,
            lora_dropout: self.lora_dropout,
            targets: self.targets.clone(),
            rslora: self.rslora.then_some(true),
            lr: self.lr,
            schedule: self.schedule,
            warmup: self.warmup,
            epochs: self.epochs,
            max_steps: self.max_steps,
            batch: self.batch,
            grad_accum: self.grad_accum,
            max_len: self.max_len,
            seed: self.seed,
            eval_every: self.eval_every,
            save_every: self.save_every,
        };
        TrainConfig::from_preset(&self.preset, &overrides).map_err(anyhow::Error::msg)
    }
}

/// Runs training, drawing its progress; Ctrl-C checkpoints and stops.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let run_name = args.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    let request = SftRequest {
        run: run_name,
        model: args.model.clone(),
        load: args.runtime.options(None)?,
        data: args.portion.data.clone(),
        data_options: args.portion.data_options(),
        rows: args.portion.rows.clone(),
        prompt: args.portion.prompt(config.max_len),
        val_fraction: args.val_fraction,
        val_max: args.val_max,
        out_dir: args.out.clone(),
        config,
        checkpointing: args.checkpointing,
        memory_check: !args.no_memory_check,
    };
    let state = match with_progress(|events, cancel| run_sft(&request, events, cancel)) {
        Ok(state) => state,
        Err(TrainError::Cancelled(c)) => {
            let at = TrainerState::read(&args.out).ok().flatten().map(|s| format!(" at step {} of {}", s.global_step, s.total_steps));
            anyhow::bail!("{}{}; run the same command again to resume", c.reason, at.unwrap_or_default())
        }
        Err(e) => return Err(e.into()),
    };
    let (first, last) = (state.evals.first(), state.evals.last());
    if let (Some(f), Some(l)) = (first.and_then(|e| e.val_loss), last.and_then(|e| e.val_loss)) {
        println!("validation loss {f:.4} -> {l:.4} over {} steps", state.global_step);
    }
    println!("adapter written to {}", args.out.display());
    Ok(())
}

/// `--checkpointing auto|on|off`.
pub fn parse_checkpointing(s: &str) -> Result<Checkpointing, String> {
    s.parse()
}
