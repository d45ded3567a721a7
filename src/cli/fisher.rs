//! `dtm-studio fisher`: a sub-model's diagonal empirical Fisher on its own portion, saved as
//! `fisher.safetensors` in its adapter folder for `merge --method fisher`.

use super::portion::PortionArgs;
use super::progress::with_progress;
use super::RuntimeArgs;
use crate::engine::data::prompt::PromptOptions;
use crate::engine::device::open_device;
use crate::engine::merge::fisher_run::{run_fisher, FisherRequest};
use crate::engine::train::state::TrainerState;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `fisher`.
#[derive(Debug, Args)]
pub struct FisherArgs {
    /// Base model the adapter was trained on: a folder, a .gguf file or a cached HF id.
    #[arg(long)]
    pub model: String,
    /// The sub-model's adapter (or run) folder; fisher.safetensors is written into it.
    #[arg(long)]
    pub adapter: PathBuf,
    /// The data and portion the sub-model was trained on, rendered as in training.
    #[command(flatten)]
    pub portion: PortionArgs,
    /// Maximum tokens per example (default: the run's training setting from trainer_state.json, else 1024).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// At most this many examples of the portion (a seeded sample); one backward pass each.
    #[arg(long, default_value_t = 64)]
    pub samples: usize,
    /// Seed of the sample.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Computes and saves the Fisher diagonals with a progress bar; Ctrl-C stops without writing.
pub fn run(args: FisherArgs) -> anyhow::Result<()> {
    let trained_max_len = TrainerState::read(&args.adapter).ok().flatten().map(|s| s.config.max_len);
    let max_len = args.max_len.or(trained_max_len).unwrap_or(PromptOptions::default().max_len);
    let request = FisherRequest {
        base: args.model.clone(),
        adapter: args.adapter.clone(),
        data: args.portion.data.clone(),
        data_options: args.portion.data_options(),
        rows: args.portion.rows.clone(),
        prompt: args.portion.prompt(max_len),
        samples: args.samples,
        seed: args.seed,
        device: open_device(args.runtime.device)?,
    };
    let (fisher, path) = with_progress(|events, cancel| run_fisher(&request, events, cancel))?;
    println!("Fisher diagonals of {} weights over {} examples written to {}", fisher.tensors.len(), fisher.examples, path.display());
    Ok(())
}
