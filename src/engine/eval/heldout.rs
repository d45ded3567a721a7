//! Instruction following without a judge model, part two: the loss and perplexity of the
//! responses of held-out instruction data (the validation slice a training run set aside).
//!
//! The slice is rebuilt the way training builds it: every example rendered with the prompt
//! template and tokenised with response-only labels, examples cut to `max_len` and dropped when
//! no response token is left, then `split_train_val(n, val_fraction, val_max, seed)` over the
//! survivors. With the training run's settings this is exactly its validation slice.

use super::error::{EvalError, Result};
use super::loglik::span_log_softmax;
use crate::engine::data::prompt::PromptOptions;
use crate::engine::data::split::split_train_val;
use crate::engine::data::tokenize::{eos_id, special_prefix, tokenize_example, TokenizedExample, IGNORE_INDEX};
use crate::engine::data::Example;
use crate::engine::job::CancelToken;
use crate::engine::model::{CausalLm, TextTokenizer};
use candle_core::Tensor;

/// How the validation slice is chosen (the training run's settings).
#[derive(Debug, Clone, PartialEq)]
pub struct HeldoutOptions {
    /// Prompt template, maximum length, first turn only.
    pub prompt: PromptOptions,
    /// Fraction held out.
    pub val_fraction: f64,
    /// At most this many held-out examples.
    pub val_max: usize,
    /// Split seed (the training seed).
    pub seed: u64,
}

impl Default for HeldoutOptions {
    /// The defaults of `dtm-studio train`: Alpaca template, 1024 tokens, first turn, 5 % capped at
    /// 200 examples, seed 42.
    fn default() -> Self {
        Self { prompt: PromptOptions::default(), val_fraction: 0.05, val_max: 200, seed: 42 }
    }
}

/// The validation examples, tokenised, with their row in the file.
pub fn validation_slice(examples: &[Example], tok: &TextTokenizer, opts: &HeldoutOptions) -> Result<Vec<(usize, TokenizedExample)>> {
    let data_err = |e: crate::engine::data::DataError| EvalError::BadResults { path: "held-out data".into(), detail: e.to_string() };
    let prefix = special_prefix(tok).map_err(data_err)?;
    let eos = eos_id(tok).map_err(data_err)?;
    let max_len = opts.prompt.max_len.max(1);
    let mut kept = Vec::new();
    for ex in examples {
        let mut t = tokenize_example(ex, tok, &opts.prompt, &prefix, eos).map_err(data_err)?;
        if t.input_ids.len() > max_len {
            t.input_ids.truncate(max_len);
            t.labels.truncate(max_len);
            if t.trained_tokens() == 0 {
                continue;
            }
        }
        kept.push((ex.row, t));
    }
    let (_, val) = split_train_val(kept.len(), opts.val_fraction, opts.val_max, opts.seed);
    Ok(val.into_iter().map(|i| kept[i].clone()).collect())
}

/// Sum of the response tokens' negative log-likelihoods and their count, per example.
pub fn response_nll(
    model: &CausalLm,
    examples: &[TokenizedExample],
    batch: usize,
    cancel: &CancelToken,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<(f64, usize)>> {
    let mut out = vec![(0.0, 0usize); examples.len()];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(examples[i].input_ids.len()));
    let mut done = 0;
    for chunk in super::loglik::budget_batches(&order, |i| examples[i].input_ids.len(), batch, model.config().vocab_size) {
        cancel.check()?;
        let width = chunk.iter().map(|&i| examples[i].input_ids.len()).max().unwrap_or(1).max(1);
        let mut ids = Vec::with_capacity(chunk.len() * width);
        for &i in chunk {
            ids.extend_from_slice(&examples[i].input_ids);
            ids.extend(std::iter::repeat_n(0u32, width - examples[i].input_ids.len()));
        }
        // Position p predicts token p + 1: the scored positions are those whose next label counts.
        let scored: Vec<Vec<usize>> = chunk
            .iter()
            .map(|&i| {
                let ex = &examples[i];
                (0..ex.input_ids.len().saturating_sub(1)).filter(|&p| ex.labels[p + 1] != IGNORE_INDEX).collect()
            })
            .collect();
        let spans: Vec<(usize, usize)> = scored.iter().map(|s| (s.first().copied().unwrap_or(0), s.last().map_or(0, |l| l + 1))).collect();
        let input = Tensor::from_vec(ids, (chunk.len(), width), model.device())?;
        for (((&i, lsm), scored), (first, _)) in chunk.iter().zip(span_log_softmax(model, &input, &spans)?).zip(&scored).zip(spans) {
            if scored.is_empty() {
                continue;
            }
            let labels = &examples[i].labels;
            let nll: f64 = scored.iter().map(|&p| -(lsm[p - first][labels[p + 1] as usize] as f64)).sum();
            out[i] = (nll, scored.len());
        }
        done += chunk.len();
        progress(done, examples.len());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_training_command() {
        let d = HeldoutOptions::default();
        assert_eq!((d.val_fraction, d.val_max, d.seed, d.prompt.max_len), (0.05, 200, 42, 1024));
    }
}
