//! `dtm-studio chat MODEL [--adapter DIR] [--system S] PROMPT`.

use super::RuntimeArgs;
use crate::engine::data::chat_template::{alpaca_prompt, ChatMessage};
use crate::engine::model::generate::{generate, SamplingConfig};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// How the prompt is wrapped before generation.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PromptFormat {
    /// The model's own chat template (ChatML if it has none).
    Chat,
    /// The Alpaca instruction template (what DTM Studio's paper preset trains with).
    Alpaca,
    /// The prompt as given.
    Raw,
}

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
    /// Prompt format.
    #[arg(long, value_enum, default_value = "chat")]
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
    let tok = &loaded.tokenizer;
    let prompt = match args.format {
        PromptFormat::Chat => {
            let mut messages = Vec::new();
            if let Some(s) = &args.system {
                messages.push(ChatMessage::new("system", s));
            }
            messages.push(ChatMessage::new("user", &args.prompt));
            tok.render_chat(&messages, true)?
        }
        PromptFormat::Alpaca => alpaca_prompt(&args.prompt, ""),
        PromptFormat::Raw => args.prompt.clone(),
    };
    let ids = tok.encode(&prompt, false)?;
    let cfg = SamplingConfig {
        max_new_tokens: args.max_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        seed: args.seed,
        stop_strings: args.stop.clone(),
    };
    let mut stdout = std::io::stdout();
    let start = std::time::Instant::now();
    let out = generate(&loaded.model, tok, &ids, &cfg, &mut |piece| {
        let _ = stdout.write_all(piece.as_bytes());
        let _ = stdout.flush();
        true
    })?;
    println!();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "[{} prompt tokens, {} generated in {:.2}s ({:.1} tokens/s), stop: {:?}]",
        ids.len(),
        out.token_ids.len(),
        secs,
        out.token_ids.len() as f64 / secs,
        out.stop
    );
    Ok(())
}
