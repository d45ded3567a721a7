//! What a merge preview scores, read and tokenised once: a few held-out rows of each portion
//! (the rows its sub-model's training set aside for validation, rebuilt with the training run's
//! settings) and the first items of one multiple-choice benchmark.

use super::error::{MergeError, Result};
use crate::engine::cluster::ClustersFile;
use crate::engine::data::tokenize::{TokenizedExample, IGNORE_INDEX};
use crate::engine::data::{load_dataset, Example, LoadDataOptions};
use crate::engine::eval::fewshot::context_for;
use crate::engine::eval::heldout::{validation_slice, HeldoutOptions};
use crate::engine::eval::loglik::{encode_item, prefix_token, ItemTokens};
use crate::engine::eval::task::{Items, TaskKind};
use crate::engine::eval::{apply_limit, load_benchmark, BenchSpec};
use crate::engine::model::TextTokenizer;
use std::path::PathBuf;

/// How much one preview scores. Every figure of the preview is over exactly these rows, the
/// reference figures (sub-models, vanilla, base) too, so they compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewSizes {
    /// Held-out rows of each portion (the first of its validation slice).
    pub rows_per_portion: usize,
    /// Each held-out row is cut to this many tokens (rows left without a response token drop).
    pub max_tokens: usize,
    /// Benchmark items (the first in file order).
    pub bench_items: usize,
    /// Sequences per forward pass.
    pub batch: usize,
}

impl Default for PreviewSizes {
    /// Sized so that the first portion's loss of SmolLM2-135M with four adapters arrives within a
    /// second on a two-core CPU (`dtm-studio bench preview`).
    fn default() -> Self {
        Self { rows_per_portion: 4, max_tokens: 96, bench_items: 40, batch: 4 }
    }
}

/// Where the held-out rows come from.
#[derive(Debug, Clone)]
pub enum HeldoutSource {
    /// A project's portions: portion `k`'s validation slice, as sub-model `k` trained.
    Portions {
        /// The instruction data.
        data: PathBuf,
        /// How to read it.
        data_options: LoadDataOptions,
        /// The split (`disperse/clusters.json`).
        clusters: PathBuf,
        /// The training run's prompt, length, validation fraction, cap and seed.
        options: HeldoutOptions,
    },
    /// One data file's validation slice, dealt round-robin into `k` portions (benchmarks with
    /// adapters that did not come from a project).
    Dealt {
        /// The instruction data.
        data: PathBuf,
        /// How to read it.
        data_options: LoadDataOptions,
        /// Prompt, length, validation fraction, cap and seed.
        options: HeldoutOptions,
        /// Number of portions.
        k: usize,
    },
}

/// The benchmark a preview scores a subset of.
#[derive(Debug, Clone)]
pub struct BenchSource {
    /// The benchmark file.
    pub spec: BenchSpec,
    /// Few-shot examples per prompt (`None`: the benchmark's default).
    pub fewshot: Option<usize>,
}

/// The first items of a multiple-choice benchmark, tokenised.
#[derive(Debug, Clone)]
pub struct BenchSubset {
    /// Benchmark name.
    pub name: String,
    /// Each item's context and choices.
    pub items: Vec<ItemTokens>,
    /// Each item's gold choice (the number of true choices for MC2).
    pub gold: Vec<usize>,
    /// TruthfulQA MC2: the score is the probability mass of the true choices.
    pub mc2: bool,
}

fn cut(mut ex: TokenizedExample, max_tokens: usize) -> Option<TokenizedExample> {
    ex.input_ids.truncate(max_tokens.max(2));
    ex.labels.truncate(max_tokens.max(2));
    // Position 0 is never predicted, so a label there carries no loss.
    (ex.labels.iter().skip(1).any(|&l| l != IGNORE_INDEX)).then_some(ex)
}

fn first_rows(slice: Vec<(usize, TokenizedExample)>, sizes: &PreviewSizes) -> Vec<TokenizedExample> {
    slice.into_iter().filter_map(|(_, t)| cut(t, sizes.max_tokens)).take(sizes.rows_per_portion).collect()
}

/// The held-out rows of each portion, at most `sizes.rows_per_portion` each.
pub fn heldout_rows(source: &HeldoutSource, tok: &TextTokenizer, sizes: &PreviewSizes) -> Result<Vec<Vec<TokenizedExample>>> {
    let eval_err = |e: crate::engine::eval::EvalError| MergeError::from(e);
    match source {
        HeldoutSource::Portions { data, data_options, clusters, options } => {
            let ds = load_dataset(data, data_options)?;
            let file = ClustersFile::load(clusters).map_err(|e| MergeError::Spec(e.to_string()))?;
            if file.rows != ds.examples.len() || file.data_sha256 != ds.sha256 {
                return Err(MergeError::Spec(format!(
                    "{} was made from other data than {}: run Disperse again",
                    clusters.display(),
                    data.display()
                )));
            }
            (0..file.k as u32)
                .map(|p| {
                    let portion: Vec<Example> =
                        ds.examples.iter().zip(&file.assignment).filter(|(_, &a)| a == p).map(|(e, _)| e.clone()).collect();
                    Ok(first_rows(validation_slice(&portion, tok, options).map_err(eval_err)?, sizes))
                })
                .collect()
        }
        HeldoutSource::Dealt { data, data_options, options, k } => {
            let ds = load_dataset(data, data_options)?;
            let k = (*k).max(1);
            let mut portions = vec![Vec::new(); k];
            let rows = validation_slice(&ds.examples, tok, options).map_err(eval_err)?;
            for (i, (_, t)) in rows.into_iter().enumerate() {
                if portions[i % k].len() < sizes.rows_per_portion {
                    portions[i % k].extend(cut(t, sizes.max_tokens));
                }
            }
            Ok(portions)
        }
    }
}

/// The first `sizes.bench_items` items of a multiple-choice benchmark, tokenised as lm-eval does.
pub fn bench_subset(source: &BenchSource, tok: &TextTokenizer, sizes: &PreviewSizes) -> Result<BenchSubset> {
    let mut bench = load_benchmark(&source.spec)?;
    apply_limit(&mut bench, sizes.bench_items);
    let Items::Mc(items) = &bench.items else {
        return Err(MergeError::Spec(format!(
            "{} is a generative benchmark; the merge preview scores multiple-choice benchmarks only",
            bench.name
        )));
    };
    let fewshot = source.fewshot.unwrap_or(bench.default_fewshot);
    let prefix = prefix_token(tok);
    let tokens = items
        .iter()
        .enumerate()
        .map(|(i, it)| encode_item(tok, &context_for(&bench, i, fewshot, 1234), &it.continuations(), prefix))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(BenchSubset {
        name: bench.name.clone(),
        items: tokens,
        gold: items.iter().map(|it| it.gold).collect(),
        mc2: bench.kind == TaskKind::MultipleChoiceMc2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_rows_keep_a_response_token_or_drop() {
        let ex = TokenizedExample { input_ids: vec![1, 2, 3, 4, 5], labels: vec![IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 4, 5] };
        assert_eq!(cut(ex.clone(), 4).map(|e| e.input_ids), Some(vec![1, 2, 3, 4]));
        assert!(cut(ex, 3).is_none(), "no response token left after the cut");
    }
}
