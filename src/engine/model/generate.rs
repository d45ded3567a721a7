//! Text generation with the KV cache: greedy or temperature / top-p sampling, stop tokens, stop
//! strings, a token budget, and the answer streamed to a callback as it grows.

use super::error::Result;
use super::llama::CausalLm;
use super::tokenizer::TextTokenizer;
use crate::engine::job::CancelToken;
use candle_core::{DType, Tensor, D};
use rand::{Rng, SeedableRng};

/// How to pick tokens and when to stop.
#[derive(Debug, Clone)]
pub struct SamplingConfig {
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// 0 means greedy; otherwise logits are divided by it before sampling.
    pub temperature: f64,
    /// Nucleus sampling: sample among the most likely tokens whose probabilities sum to this.
    pub top_p: f64,
    /// Seed of the sampler.
    pub seed: u64,
    /// Generation stops before the first occurrence of any of these strings.
    pub stop_strings: Vec<String>,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self { max_new_tokens: 256, temperature: 0.0, top_p: 1.0, seed: 299_792_458, stop_strings: Vec::new() }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced an end-of-turn token.
    EndOfTurn,
    /// A stop string appeared.
    StopString,
    /// `max_new_tokens` were generated.
    MaxTokens,
    /// The context window is full.
    ContextFull,
    /// The text callback asked to stop.
    Cancelled,
}

/// The result of one generation.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The answer, without the stop string or end-of-turn token.
    pub text: String,
    /// Generated token ids (including a final end-of-turn token, if any).
    pub token_ids: Vec<u32>,
    /// Why it ended.
    pub stop: StopReason,
}

/// Picks the next token from last-position logits.
pub struct Sampler {
    temperature: f64,
    top_p: f64,
    rng: rand::rngs::StdRng,
}

impl Sampler {
    /// A sampler for the given settings.
    pub fn new(cfg: &SamplingConfig) -> Self {
        Self { temperature: cfg.temperature, top_p: cfg.top_p, rng: rand::rngs::StdRng::seed_from_u64(cfg.seed) }
    }

    /// Chooses a token id from a `[vocab]` logits vector.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.temperature <= 0.0 {
            return argmax(logits);
        }
        let t = self.temperature as f32;
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut probs: Vec<(u32, f32)> = logits.iter().enumerate().map(|(i, &l)| (i as u32, ((l - max) / t).exp())).collect();
        probs.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        let total: f32 = probs.iter().map(|p| p.1).sum();
        let mut kept = 0.0f32;
        let mut cut = probs.len();
        for (i, p) in probs.iter().enumerate() {
            kept += p.1 / total;
            if kept as f64 >= self.top_p {
                cut = i + 1;
                break;
            }
        }
        probs.truncate(cut);
        let mass: f32 = probs.iter().map(|p| p.1).sum();
        let mut draw = self.rng.random::<f32>() * mass;
        for (id, p) in &probs {
            draw -= p;
            if draw <= 0.0 {
                return *id;
            }
        }
        probs.last().map(|p| p.0).unwrap_or(0)
    }
}

fn argmax(xs: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in xs.iter().enumerate() {
        if *x > xs[best] {
            best = i;
        }
    }
    best as u32
}

/// Length of the longest suffix of `text` that begins one of `stops` (text to hold back while
/// streaming, since it may turn into a stop string).
fn pending_stop_prefix(text: &str, stops: &[String]) -> usize {
    let mut longest = 0;
    for stop in stops {
        for (i, _) in stop.char_indices().skip(1) {
            if text.ends_with(&stop[..i]) {
                longest = longest.max(i);
            }
        }
    }
    longest
}

/// The answer after `generated` grew by one token, and whether generation ends there: at an
/// end-of-turn token (not part of the text) or before the first stop string. A text ending in an
/// incomplete UTF-8 sequence (`U+FFFD`) never ends on a stop string; its next token completes it.
fn text_after_step(tokenizer: &TextTokenizer, generated: &[u32], stop_strings: &[String]) -> Result<(String, Option<StopReason>)> {
    let Some((&last, before)) = generated.split_last() else { return Ok((String::new(), None)) };
    if tokenizer.stop_ids().contains(&last) {
        return Ok((tokenizer.decode(before, true)?, Some(StopReason::EndOfTurn)));
    }
    let mut text = tokenizer.decode(generated, true)?;
    if text.ends_with('\u{FFFD}') {
        return Ok((text, None));
    }
    if let Some(pos) = stop_strings.iter().filter_map(|s| text.find(s.as_str())).min() {
        text.truncate(pos);
        return Ok((text, Some(StopReason::StopString)));
    }
    Ok((text, None))
}

/// Generates a continuation of `prompt_ids`, calling `on_text` with each new piece of text.
/// `on_text` returns `false` to stop early.
pub fn generate(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    prompt_ids: &[u32],
    cfg: &SamplingConfig,
    on_text: &mut dyn FnMut(&str) -> bool,
) -> Result<Generation> {
    let device = model.device().clone();
    let context = model.config().max_position_embeddings;
    let mut sampler = Sampler::new(cfg);
    let mut cache = model.new_cache();
    let mut generated: Vec<u32> = Vec::new();
    let mut emitted = 0usize;
    let mut next_input = prompt_ids.to_vec();
    let mut stop = StopReason::MaxTokens;
    let mut text = String::new();
    while generated.len() < cfg.max_new_tokens {
        if cache.len() + next_input.len() > context {
            stop = StopReason::ContextFull;
            break;
        }
        let input = Tensor::new(next_input.as_slice(), &device)?.unsqueeze(0)?;
        let last = model.last_logits_padded(&input, Some(&mut cache), &[0])?.squeeze(0)?.to_dtype(DType::F32)?;
        let token = sampler.sample(&last.to_vec1::<f32>()?);
        generated.push(token);
        next_input = vec![token];
        let (now, ended) = text_after_step(tokenizer, &generated, &cfg.stop_strings)?;
        text = now;
        if let Some(reason) = ended {
            stop = reason;
            break;
        }
        let mut safe = text.len() - pending_stop_prefix(&text, &cfg.stop_strings);
        if text.is_char_boundary(safe) {
            // A trailing U+FFFD is half a character whose other bytes come with the next token.
            safe = text[..safe].trim_end_matches('\u{FFFD}').len();
        }
        // Decoding again may re-form earlier bytes (an invalid sequence then completed); emit
        // only from a character boundary of the new text.
        if safe > emitted && text.is_char_boundary(safe) && text.is_char_boundary(emitted) {
            if !on_text(&text[emitted..safe]) {
                stop = StopReason::Cancelled;
                emitted = safe;
                break;
            }
            emitted = safe;
        }
    }
    let rest = (emitted..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
    if rest < text.len() && stop != StopReason::Cancelled {
        on_text(&text[rest..]);
    }
    Ok(Generation { text, token_ids: generated, stop })
}

/// Greedy continuations of several prompts decoded together: the prompts are left-padded into
/// one batch that shares a KV cache, and each row stops on its own (end-of-turn token, stop
/// string, token budget); the batch ends when every row has. Each row gives the tokens
/// [`generate`] gives it alone, up to floating-point rounding on near-ties. `cancel` is checked
/// before every decoding step.
pub fn generate_greedy_batch(
    model: &CausalLm,
    tokenizer: &TextTokenizer,
    prompts: &[Vec<u32>],
    max_new_tokens: usize,
    stop_strings: &[String],
    cancel: &CancelToken,
) -> Result<Vec<Generation>> {
    let device = model.device().clone();
    let context = model.config().max_position_embeddings;
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if prompts.is_empty() || longest == 0 {
        return Ok(prompts
            .iter()
            .map(|_| Generation { text: String::new(), token_ids: Vec::new(), stop: StopReason::MaxTokens })
            .collect());
    }
    let pad_id = tokenizer.stop_ids().first().copied().unwrap_or(0);
    let left_pad: Vec<usize> = prompts.iter().map(|p| longest - p.len()).collect();
    let mut input: Vec<u32> =
        prompts.iter().flat_map(|p| std::iter::repeat_n(pad_id, longest - p.len()).chain(p.iter().copied())).collect();
    let mut rows: Vec<Generation> =
        prompts.iter().map(|_| Generation { text: String::new(), token_ids: Vec::new(), stop: StopReason::MaxTokens }).collect();
    let mut running: Vec<bool> = prompts.iter().map(|p| !p.is_empty()).collect();
    let mut cache = model.new_cache();
    for _ in 0..max_new_tokens {
        cancel.check()?;
        let width = input.len() / prompts.len();
        if cache.len() + width > context {
            for (row, _) in rows.iter_mut().zip(&running).filter(|(_, r)| **r) {
                row.stop = StopReason::ContextFull;
            }
            break;
        }
        let ids = Tensor::from_vec(input, (prompts.len(), width), &device)?;
        let logits = model.last_logits_padded(&ids, Some(&mut cache), &left_pad)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        input = Vec::with_capacity(prompts.len());
        for ((row, live), logits) in rows.iter_mut().zip(running.iter_mut()).zip(&logits) {
            if !*live {
                input.push(pad_id);
                continue;
            }
            let token = argmax(logits);
            row.token_ids.push(token);
            input.push(token);
            let (text, ended) = text_after_step(tokenizer, &row.token_ids, stop_strings)?;
            row.text = text;
            if let Some(reason) = ended {
                row.stop = reason;
                *live = false;
            }
        }
        if !running.iter().any(|r| *r) {
            break;
        }
    }
    Ok(rows)
}

/// Log-softmax over the vocabulary of `[batch, seq, vocab]` logits, computed in f32.
pub fn log_softmax(logits: &Tensor) -> candle_core::Result<Tensor> {
    candle_nn::ops::log_softmax(&logits.to_dtype(DType::F32)?, D::Minus1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_argmax() {
        let mut s = Sampler::new(&SamplingConfig::default());
        assert_eq!(s.sample(&[0.1, 3.0, -1.0]), 1);
    }

    #[test]
    fn tiny_top_p_reduces_to_the_most_likely_token() {
        let cfg = SamplingConfig { temperature: 1.0, top_p: 1e-6, ..Default::default() };
        let mut s = Sampler::new(&cfg);
        for _ in 0..20 {
            assert_eq!(s.sample(&[0.0, 2.0, 1.0]), 1);
        }
    }

    #[test]
    fn sampling_is_seeded() {
        let cfg = SamplingConfig { temperature: 1.0, top_p: 1.0, seed: 7, ..Default::default() };
        let logits = [0.5f32, 0.4, 0.3, 0.2, 0.1];
        let a: Vec<u32> = {
            let mut s = Sampler::new(&cfg);
            (0..30).map(|_| s.sample(&logits)).collect()
        };
        let b: Vec<u32> = {
            let mut s = Sampler::new(&cfg);
            (0..30).map(|_| s.sample(&logits)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().any(|&t| t != a[0]), "temperature 1 should not be deterministic across draws");
    }

    #[test]
    fn holds_back_text_that_may_become_a_stop_string() {
        let stops = vec!["Question:".to_string()];
        assert_eq!(pending_stop_prefix("The answer is 4.\nQues", &stops), 4);
        assert_eq!(pending_stop_prefix("The answer is 4.", &stops), 0);
    }
}
