//! Log-likelihood of continuations, as lm-evaluation-harness computes it, in padded batches.
//!
//! The context/continuation split follows lm-eval's `_encode_pair`: trailing whitespace of the
//! context moves to the continuation; `whole = encode(context + continuation)`,
//! `context = encode(context)`, `continuation = whole[len(context)..]`; no special tokens. The
//! model sees `(context + continuation)[-(max_length + 1)..][..-1]`, and a continuation's score is
//! the sum of the log-probabilities of its tokens.
//!
//! Shared-prefix reuse: when every continuation of an item is a single token (MMLU's letters,
//! BoolQ's yes/no), the item costs one sequence: the context alone, whose last position scores all
//! choices at once. Otherwise each choice is one sequence; sequences are sorted by length and
//! padded on the right, where the causal mask keeps padding from touching real positions.

use super::error::Result;
use crate::engine::job::CancelToken;
use crate::engine::model::generate::log_softmax;
use crate::engine::model::linear::ForwardCtx;
use crate::engine::model::{CausalLm, TextTokenizer};
use candle_core::{IndexOp, Tensor};

/// Largest logits tensor a scoring batch may produce (f32 bytes), counting every position as if
/// scored (an upper bound: only scored positions are projected); wide rows get smaller batches.
pub const LOGITS_BUDGET_BYTES: usize = 1 << 30;

/// The token ids of one item: a shared context and one continuation per choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemTokens {
    /// Context ids.
    pub context: Vec<u32>,
    /// Continuation ids per choice.
    pub continuations: Vec<Vec<u32>>,
}

/// lm-eval's split of `context` + `continuation` into token ids. An empty context becomes the
/// `prefix` token (BOS, else EOS), as lm-eval does.
pub fn encode_pair(tok: &TextTokenizer, context: &str, continuation: &str, prefix: u32) -> Result<(Vec<u32>, Vec<u32>)> {
    let trimmed = context.trim_end();
    let (context, continuation) = if trimmed.len() < context.len() {
        (trimmed.to_string(), format!("{}{continuation}", &context[trimmed.len()..]))
    } else {
        (context.to_string(), continuation.to_string())
    };
    if context.is_empty() {
        return Ok((vec![prefix], tok.encode(&continuation, false)?));
    }
    let whole = tok.encode(&format!("{context}{continuation}"), false)?;
    let context_ids = tok.encode(&context, false)?;
    let split = context_ids.len().min(whole.len());
    Ok((context_ids, whole[split..].to_vec()))
}

/// The token lm-eval puts in front of an empty context: BOS if the model has one, else EOS.
pub fn prefix_token(tok: &TextTokenizer) -> u32 {
    let id = |t: Option<&str>| t.and_then(|t| tok.inner().token_to_id(t));
    id(tok.bos_token()).or_else(|| id(tok.eos_token())).or_else(|| tok.stop_ids().first().copied()).unwrap_or(0)
}

/// Encodes one item's context and choices.
pub fn encode_item(tok: &TextTokenizer, context: &str, choices: &[String], prefix: u32) -> Result<ItemTokens> {
    let mut continuations = Vec::with_capacity(choices.len());
    let mut ctx = Vec::new();
    for (i, choice) in choices.iter().enumerate() {
        let (c, cont) = encode_pair(tok, context, choice, prefix)?;
        if i == 0 {
            ctx = c;
        }
        continuations.push(cont);
    }
    Ok(ItemTokens { context: ctx, continuations })
}

/// The score of one choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChoiceScore {
    /// Sum of the continuation tokens' log-probabilities.
    pub loglik: f64,
    /// Whether every continuation token was the model's argmax.
    pub is_greedy: bool,
    /// Whether tokens were cut from the left to fit the context window.
    pub truncated: bool,
    /// Whether the continuation itself did not fit, so only its last tokens were scored.
    pub continuation_cut: bool,
}

/// Token counts of a scoring run, for throughput figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScoringStats {
    /// Tokens of every (context + continuation) request, as lm-eval would feed them one by one.
    pub request_tokens: usize,
    /// Tokens actually fed to the model (after prefix sharing), without padding.
    pub forward_tokens: usize,
    /// Padded positions computed (`batches x rows x longest row`).
    pub padded_tokens: usize,
    /// Forward passes.
    pub forwards: usize,
}

/// Cuts `order` (sorted longest first) into batches of at most `batch_rows` rows whose padded
/// positions, projected to the vocabulary (`rows x longest x vocab` f32), would stay within
/// [`LOGITS_BUDGET_BYTES`].
pub fn budget_batches(order: &[usize], len_of: impl Fn(usize) -> usize, batch_rows: usize, vocab: usize) -> Vec<&[usize]> {
    let max_tokens = (LOGITS_BUDGET_BYTES / (4 * vocab.max(1))).max(1);
    let mut batches = Vec::new();
    let mut rest = order;
    while let Some(&first) = rest.first() {
        let take = batch_rows.max(1).min((max_tokens / len_of(first).max(1)).max(1)).min(rest.len());
        batches.push(&rest[..take]);
        rest = &rest[take..];
    }
    batches
}

/// Runs `input` `[rows, width]` through the model and returns, for each row `b`, the
/// log-softmax rows of positions `spans[b].0..spans[b].1`. The output projection runs only at
/// those positions (for MMLU one position of hundreds).
pub fn span_log_softmax(model: &CausalLm, input: &Tensor, spans: &[(usize, usize)]) -> Result<Vec<Vec<Vec<f32>>>> {
    let hidden = model.hidden_states(input, None, ForwardCtx::INFERENCE)?;
    let pieces: Vec<Tensor> = spans
        .iter()
        .enumerate()
        .filter(|(_, (a, b))| b > a)
        .map(|(row, (a, b))| hidden.i((row, *a..*b)))
        .collect::<candle_core::Result<_>>()?;
    if pieces.is_empty() {
        return Ok(vec![Vec::new(); spans.len()]);
    }
    let picked = Tensor::cat(&pieces, 0)?;
    let mut rows = log_softmax(&model.logits(&picked, ForwardCtx::INFERENCE)?)?.to_vec2::<f32>()?.into_iter();
    Ok(spans.iter().map(|(a, b)| rows.by_ref().take(b.saturating_sub(*a)).collect()).collect())
}

/// One sequence to run and the choices it scores.
struct Row {
    input: Vec<u32>,
    /// (item, choice, first scored position, targets)
    scores: Vec<(usize, usize, usize, Vec<u32>)>,
}

fn plan(items: &[ItemTokens], max_length: usize, out: &mut [Vec<ChoiceScore>], stats: &mut ScoringStats) -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let single = item.continuations.iter().all(|c| c.len() == 1);
        for (j, cont) in item.continuations.iter().enumerate() {
            stats.request_tokens += (item.context.len() + cont.len()).min(max_length + 1) - 1;
            if cont.is_empty() {
                out[i][j] = ChoiceScore { loglik: 0.0, is_greedy: true, truncated: false, continuation_cut: false };
            }
        }
        if single && !item.context.is_empty() {
            let keep = item.context.len().min(max_length);
            let input = item.context[item.context.len() - keep..].to_vec();
            let truncated = keep < item.context.len();
            let scores = item.continuations.iter().enumerate().map(|(j, c)| (i, j, keep - 1, c.clone())).collect();
            for s in out[i].iter_mut() {
                s.truncated = truncated;
            }
            rows.push(Row { input, scores });
            continue;
        }
        for (j, cont) in item.continuations.iter().enumerate() {
            if cont.is_empty() {
                continue;
            }
            let full: Vec<u32> = item.context.iter().chain(cont).copied().collect();
            let start = full.len().saturating_sub(max_length + 1);
            let window = &full[start..];
            let input = window[..window.len() - 1].to_vec();
            let scored = cont.len().min(input.len());
            out[i][j].truncated = start > 0;
            out[i][j].continuation_cut = scored < cont.len();
            let targets = cont[cont.len() - scored..].to_vec();
            rows.push(Row { scores: vec![(i, j, input.len() - scored, targets)], input });
        }
    }
    rows
}

/// Scores every choice of every item with batches of at most `batch_rows` sequences, calling
/// `progress(rows_done, rows_total)` after each batch. `max_length` is the context window.
pub fn score_items(
    model: &CausalLm,
    items: &[ItemTokens],
    batch_rows: usize,
    max_length: usize,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<Vec<ChoiceScore>>, ScoringStats)> {
    let blank = ChoiceScore { loglik: 0.0, is_greedy: false, truncated: false, continuation_cut: false };
    let mut out: Vec<Vec<ChoiceScore>> = items.iter().map(|it| vec![blank; it.continuations.len()]).collect();
    let mut stats = ScoringStats::default();
    let mut rows = plan(items, max_length.max(1), &mut out, &mut stats);
    // Longest first, as lm-eval does: padding stays small and memory peaks at the start.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&r| std::cmp::Reverse(rows[r].input.len()));
    let total = rows.len();
    let device = model.device();
    let mut done = 0usize;
    for chunk in budget_batches(&order, |r| rows[r].input.len(), batch_rows, model.config().vocab_size) {
        cancel.check()?;
        let width = chunk.iter().map(|&r| rows[r].input.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(chunk.len() * width);
        for &r in chunk {
            ids.extend_from_slice(&rows[r].input);
            ids.extend(std::iter::repeat_n(0u32, width - rows[r].input.len()));
            stats.forward_tokens += rows[r].input.len();
        }
        stats.padded_tokens += chunk.len() * width;
        stats.forwards += 1;
        let input = Tensor::from_vec(ids, (chunk.len(), width), device)?;
        let spans: Vec<(usize, usize)> = chunk
            .iter()
            .map(|&r| {
                let first = rows[r].scores.iter().map(|s| s.2).min().unwrap_or(0);
                (first, rows[r].scores.iter().map(|s| s.2 + s.3.len()).max().unwrap_or(first))
            })
            .collect();
        for ((&r, lsm), (first, _)) in chunk.iter().zip(span_log_softmax(model, &input, &spans)?).zip(spans) {
            let row = &mut rows[r];
            for (i, j, pos, targets) in row.scores.drain(..) {
                let mut ll = 0f64;
                let mut greedy = true;
                for (k, &t) in targets.iter().enumerate() {
                    let dist = &lsm[pos - first + k];
                    ll += dist[t as usize] as f64;
                    let best = dist.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    greedy &= dist[t as usize] >= best;
                }
                out[i][j].loglik = ll;
                out[i][j].is_greedy = greedy;
            }
        }
        done += chunk.len();
        progress(done, total);
    }
    Ok((out, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(ctx: &[u32], conts: &[&[u32]]) -> ItemTokens {
        ItemTokens { context: ctx.to_vec(), continuations: conts.iter().map(|c| c.to_vec()).collect() }
    }

    #[test]
    fn single_token_choices_share_one_row() {
        let items = vec![item(&[1, 2, 3], &[&[7], &[8], &[9]]), item(&[1, 2], &[&[5, 6], &[4]])];
        let blank = ChoiceScore { loglik: 0.0, is_greedy: false, truncated: false, continuation_cut: false };
        let mut out: Vec<Vec<ChoiceScore>> = items.iter().map(|it| vec![blank; it.continuations.len()]).collect();
        let mut stats = ScoringStats::default();
        let rows = plan(&items, 100, &mut out, &mut stats);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].input, vec![1, 2, 3]);
        assert_eq!(rows[0].scores.iter().map(|s| s.2).collect::<Vec<_>>(), vec![2, 2, 2]);
        // Multi-token choice: input drops the last token; scoring starts at the context's last position.
        assert_eq!(rows[1].input, vec![1, 2, 5]);
        assert_eq!(rows[1].scores[0].2, 1);
        assert_eq!(stats.request_tokens, 3 * 3 + 3 + 2);
    }

    #[test]
    fn wide_rows_get_smaller_batches() {
        let lens = [6000usize, 3000, 100, 100, 100];
        let order: Vec<usize> = (0..5).collect();
        // 1 GiB of f32 logits over a 49152 vocabulary is 5461 positions.
        let b = budget_batches(&order, |i| lens[i], 4, 49152);
        assert_eq!(b, vec![&[0usize][..], &[1][..], &[2, 3, 4][..]]);
    }

    #[test]
    fn long_requests_are_cut_from_the_left_and_flagged() {
        let items = vec![item(&[1, 2, 3, 4, 5, 6], &[&[7, 8], &[9, 10, 11, 12, 13]])];
        let blank = ChoiceScore { loglik: 0.0, is_greedy: false, truncated: false, continuation_cut: false };
        let mut out = vec![vec![blank; 2]];
        let mut stats = ScoringStats::default();
        let rows = plan(&items, 4, &mut out, &mut stats);
        assert_eq!(rows[0].input, vec![4, 5, 6, 7]);
        assert_eq!(rows[0].scores[0].2, 2);
        assert!(out[0][0].truncated && !out[0][0].continuation_cut);
        assert_eq!(rows[1].input, vec![9, 10, 11, 12]);
        assert!(out[0][1].truncated && out[0][1].continuation_cut);
        assert_eq!(rows[1].scores[0].3, vec![10, 11, 12, 13]);
    }
}
