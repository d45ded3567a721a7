//! Generative benchmarks: greedy decoding with the KV cache, and GSM8K answer extraction as
//! lm-eval's `gsm8k` task does it (strict `#### N` match and flexible last-number match, then
//! exact match after removing `,`, `$`, everything up to `#### ` and a final `.`, ignoring case).
//!
//! Prompts are decoded in batches of similar length (left-padded, one shared KV cache).

use super::error::Result;
use crate::engine::job::StageScope;
use crate::engine::model::generate::generate_greedy_batch;
use crate::engine::model::{CausalLm, TextTokenizer};
use regex::Regex;
use std::sync::LazyLock;

/// What lm-eval's regex filter returns when nothing matches.
pub const INVALID: &str = "[invalid]";

static STRICT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"#### (\-?[0-9\.\,]+)").ok());
static FLEXIBLE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(-?[$0-9.,]{2,})|(-?[0-9]+)").ok());
static IGNORE: LazyLock<Vec<Regex>> =
    LazyLock::new(|| [r",", r"\$", r"(?s).*#### ", r"\.$"].iter().filter_map(|p| Regex::new(p).ok()).collect());

/// Strict extraction: the number after the first `#### `.
pub fn extract_strict(text: &str) -> String {
    STRICT
        .as_ref()
        .and_then(|re| re.captures(text))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim().to_string())
        .unwrap_or_else(|| INVALID.into())
}

/// Flexible extraction: the last number-like run in the text.
pub fn extract_flexible(text: &str) -> String {
    let Some(re) = FLEXIBLE.as_ref() else { return INVALID.into() };
    match re.captures_iter(text).last() {
        Some(c) => c
            .iter()
            .skip(1)
            .flatten()
            .map(|m| m.as_str())
            .find(|s| !s.is_empty())
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| INVALID.into()),
        None => INVALID.into(),
    }
}

/// lm-eval's exact-match normalisation for GSM8K (`regexes_to_ignore`, `ignore_case`).
pub fn normalise(s: &str) -> String {
    let mut out = s.to_string();
    for re in IGNORE.iter() {
        out = re.replace_all(&out, "").into_owned();
    }
    out.to_lowercase()
}

/// Whether an extracted answer matches the reference (the full worked answer or the number).
pub fn exact_match(prediction: &str, reference: &str) -> bool {
    normalise(prediction) == normalise(reference)
}

/// One generation request.
#[derive(Debug, Clone)]
pub struct GenRequest {
    /// Prompt token ids.
    pub prompt_ids: Vec<u32>,
}

/// Greedy continuations of each prompt (text, generated tokens), in request order, stopping at
/// `stop` strings, an end-of-turn token or `max_new_tokens`. Prompts are sorted by length and
/// decoded `batch` at a time; progress is reported through `scope` after each batch, and its
/// cancellation is checked before every decoding step.
pub fn generate_all(
    model: &CausalLm,
    tok: &TextTokenizer,
    requests: &[GenRequest],
    max_new_tokens: usize,
    stop: &[String],
    batch: usize,
    scope: &StageScope<'_>,
) -> Result<Vec<(String, usize)>> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(requests[i].prompt_ids.len()));
    let mut out: Vec<Option<(String, usize)>> = vec![None; requests.len()];
    let mut done = 0;
    for chunk in order.chunks(batch.max(1)) {
        let prompts: Vec<Vec<u32>> = chunk.iter().map(|&i| requests[i].prompt_ids.clone()).collect();
        for (&i, g) in chunk.iter().zip(generate_greedy_batch(model, tok, &prompts, max_new_tokens, stop, scope.cancel)?) {
            out[i] = Some((g.text, g.token_ids.len()));
        }
        done += chunk.len();
        scope.progress(done as u64, requests.len() as u64, "generating");
    }
    Ok(out.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_takes_the_marked_number_flexible_the_last_one() {
        let text = "She buys 3 packs at $2 each, so 3 * 2 = 6.\n#### 6\n\nShe had 1,000 left.";
        assert_eq!(extract_strict(text), "6");
        assert_eq!(extract_flexible(text), "1,000");
        assert_eq!(extract_strict("The answer is 6."), INVALID);
        assert_eq!(extract_flexible("The answer is 6."), "6.");
        assert_eq!(extract_flexible("no digits"), INVALID);
    }

    #[test]
    fn exact_match_ignores_commas_dollars_and_a_final_period() {
        assert!(exact_match("6.", "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs.\n#### 6"));
        assert!(exact_match("$1,000", "1000"));
        assert!(!exact_match("[invalid]", "6"));
        assert!(!exact_match("60", "6"));
    }
}
