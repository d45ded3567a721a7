//! `dtm-studio chat MODEL [--adapter DIR] [--system S] PROMPT`.

use super::progress::interrupt_token;
use super::RuntimeArgs;
use crate::engine::job::EventSink;
use crate::engine::model::chat::{run_generate, GenerateRequest, PromptFormat};
use crate::engine::model::generate::SamplingConfig;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// A folder with config.json, a .gguf file, or an HF model id in the local cache.
    pub model: String,
    /// The user's message.
    pub prompt: String,
    /// A PEFT LoRA adapter folder to apply.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// A system message.
    #[arg(long)]
    pub system: Option<String>,
    /// Prompt format: chat (the model's template), alpaca or raw.
    #[arg(long, default_value = "chat")]
    pub format: PromptFormat,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Nucleus sampling mass.
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f64,
    /// Sampler seed.
    #[arg(long, default_value_t = 299_792_458)]
    pub seed: u64,
    /// Stop before this string (repeatable).
    #[arg(long = "stop")]
    pub stop: Vec<String>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Loads the model, renders the prompt and streams the answer to stdout.
pub fn run(args: ChatArgs) -> anyhow::Result<()> {
    let loaded = args.runtime.load(&args.model, args.adapter.clone())?;
    let req = GenerateRequest {
        prompt: args.prompt.clone(),
        system: args.system.clone(),
        format: args.format,
        sampling: SamplingConfig {
            max_new_tokens: args.max_tokens,
            temperature: args.temperature,
            top_p: args.top_p,
            seed: args.seed,
            stop_strings: args.stop.clone(),
        },
    };
    let mut stdout = std::io::stdout();
    let out = run_generate(&loaded, &req, &EventSink::discard(), interrupt_token(), &mut |piece| {
        let _ = stdout.write_all(piece.as_bytes());
        let _ = stdout.flush();
    })?;
    println!();
    let n = out.generation.token_ids.len();
    eprintln!(
        "[{} prompt tokens, {n} generated in {:.2}s ({:.1} tokens/s), stop: {:?}]",
        out.prompt_tokens,
        out.seconds,
        n as f64 / out.seconds.max(1e-9),
        out.generation.stop
    );
    Ok(())
}
