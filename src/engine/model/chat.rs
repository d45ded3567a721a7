//! The generation stage: one prompt rendered as chat (the model's template), Alpaca or raw
//! text, answered with streaming. The CLI's `chat` and the GUI's playground both generate
//! through [`run_generate`].

use super::error::ModelError;
use super::generate::{generate, Generation, SamplingConfig, StopReason};
use super::LoadedModel;
use crate::engine::data::chat_template::{alpaca_prompt, ChatMessage};
use crate::engine::job::{run_stage, CancelToken, EventSink};
use std::str::FromStr;

/// How the user's text becomes the model's prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptFormat {
    /// The model's chat template with a user turn (and an optional system prompt).
    #[default]
    Chat,
    /// The Alpaca instruction template (the paper's training format).
    Alpaca,
    /// The text as it is.
    Raw,
}

impl FromStr for PromptFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "chat" => Ok(Self::Chat),
            "alpaca" => Ok(Self::Alpaca),
            "raw" => Ok(Self::Raw),
            _ => Err(format!("unknown prompt format '{s}': use chat, alpaca or raw")),
        }
    }
}

/// The request of the generation stage.
#[derive(Debug, Clone, Default)]
pub struct GenerateRequest {
    /// The user's text.
    pub prompt: String,
    /// A system prompt (chat format only).
    pub system: Option<String>,
    /// How the prompt is rendered.
    pub format: PromptFormat,
    /// Sampling, budget and stop strings.
    pub sampling: SamplingConfig,
}

/// What the generation stage produced.
#[derive(Debug, Clone)]
pub struct GenerateOutcome {
    /// The answer and why it ended.
    pub generation: Generation,
    /// Tokens of the rendered prompt.
    pub prompt_tokens: usize,
    /// Wall-clock seconds of decoding.
    pub seconds: f64,
}

/// The rendered prompt of `req` for `loaded`'s tokenizer.
pub fn render_prompt(loaded: &LoadedModel, req: &GenerateRequest) -> Result<String, ModelError> {
    Ok(match req.format {
        PromptFormat::Chat => {
            let mut messages = Vec::new();
            if let Some(s) = &req.system {
                messages.push(ChatMessage::new("system", s));
            }
            messages.push(ChatMessage::new("user", &req.prompt));
            loaded.tokenizer.render_chat(&messages, true)?
        }
        PromptFormat::Alpaca => alpaca_prompt(&req.prompt, ""),
        PromptFormat::Raw => req.prompt.clone(),
    })
}

/// The generation stage (`generate`): answers `req` with an already loaded model, passing each
/// new piece of text to `on_text`. Progress counts pieces against the token budget and ends at
/// the budget when the answer is complete; cancellation is checked after every token.
pub fn run_generate(
    loaded: &LoadedModel,
    req: &GenerateRequest,
    sink: &EventSink,
    cancel: &CancelToken,
    on_text: &mut dyn FnMut(&str),
) -> Result<GenerateOutcome, ModelError> {
    run_stage("generate", sink, cancel, |scope| {
        let ids = loaded.tokenizer.encode(&render_prompt(loaded, req)?, false)?;
        let budget = req.sampling.max_new_tokens as u64;
        let started = std::time::Instant::now();
        let mut pieces = 0u64;
        scope.progress(0, budget, "");
        let generation = generate(&loaded.model, &loaded.tokenizer, &ids, &req.sampling, &mut |piece| {
            on_text(piece);
            pieces += 1;
            scope.progress(pieces.min(budget), budget, "");
            !scope.cancel.is_cancelled()
        })?;
        if generation.stop == StopReason::Cancelled {
            scope.check()?;
        }
        let seconds = started.elapsed().as_secs_f64();
        scope.progress(budget, budget, format!("{} tokens, {:?}", generation.token_ids.len(), generation.stop));
        Ok(GenerateOutcome { generation, prompt_tokens: ids.len(), seconds })
    })
}
