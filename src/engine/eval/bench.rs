//! Throughput of benchmark scoring, in the anchor scripts' units: items/s on ARC, and tokens/s
//! of multiple-choice scoring on the anchors' forward shape (4 sequences x 256 tokens), so it
//! can be set beside a PyTorch forward pass of the same batch.

use super::error::Result;
use super::loglik::{score_items, ItemTokens};
use super::run::{apply_limit, evaluate, EvalOptions, ModelIdentity};
use super::task::Benchmark;
use crate::engine::bench::{median_seconds, BenchFigure};
use crate::engine::job::{CancelToken, EventSink};
use crate::engine::model::LoadedModel;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

/// A scoring throughput figure: the common bench keys plus scoring counts.
#[derive(Debug, Clone, Serialize)]
pub struct EvalFigure {
    /// The common keys (`what`, `tokens_per_s`, `batch`, `seq`, `threads`, ...).
    #[serde(flatten)]
    pub figure: BenchFigure,
    /// Items scored per second (ARC run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items_per_s: Option<f64>,
    /// Items scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
    /// Accuracy reached (a sanity check that the run scored something real).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acc: Option<f64>,
}

fn figure(loaded: &LoadedModel, what: &str, tokens: usize, seconds: f64, batch: usize, seq: usize) -> BenchFigure {
    BenchFigure {
        what: what.into(),
        tokens_per_s: tokens as f64 / seconds,
        seconds,
        batch,
        seq,
        threads: candle_core::utils::get_num_threads(),
        dtype: crate::engine::device::dtype_name(loaded.model.dtype()).into(),
        device: crate::engine::device::describe_device(loaded.model.device()),
    }
}

/// Scores the first `limit` items of an ARC benchmark end to end (prompts, tokenisation,
/// scoring, metrics): items/s, and request tokens/s (every context + continuation counted as
/// lm-eval would feed it).
pub fn arc_throughput(loaded: &LoadedModel, bench: &Benchmark, limit: usize, batch: usize) -> Result<EvalFigure> {
    let mut b = bench.clone();
    apply_limit(&mut b, limit);
    let opts = EvalOptions { limit: Some(limit), batch, ..Default::default() };
    let who = ModelIdentity { model: "bench".into(), adapter: None, model_sha256: String::new(), adapter_sha256: None };
    let started = Instant::now();
    let r = evaluate(loaded, &b, &opts, &who, &EventSink::discard(), &CancelToken::new())?;
    let seconds = started.elapsed().as_secs_f64();
    let mut request_tokens = 0usize;
    if let super::task::Items::Mc(items) = &b.items {
        let prefix = super::loglik::prefix_token(&loaded.tokenizer);
        for (i, it) in items.iter().enumerate() {
            let ctx = super::fewshot::context_for(&b, i, 0, 1234);
            let t = super::loglik::encode_item(&loaded.tokenizer, &ctx, &it.continuations(), prefix)?;
            request_tokens += t.continuations.iter().map(|c| t.context.len() + c.len() - 1).sum::<usize>();
        }
    }
    Ok(EvalFigure {
        figure: figure(loaded, "eval_arc", request_tokens, seconds, batch, 0),
        items_per_s: Some(r.n as f64 / seconds),
        items: Some(r.n),
        acc: r.metrics.get("acc").copied(),
    })
}

/// Multiple-choice scoring on random tokens: `batch` requests whose model input is `seq` tokens
/// (context `seq - 6`, continuation 7), scored in one batch; median of `reps`.
pub fn mc_scoring_throughput(loaded: &LoadedModel, batch: usize, seq: usize, reps: usize) -> Result<EvalFigure> {
    let vocab = loaded.model.config().vocab_size as u32;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let cont_len = 7.min(seq);
    let items: Vec<ItemTokens> = (0..batch)
        .map(|_| ItemTokens {
            context: (0..seq + 1 - cont_len).map(|_| rng.random_range(0..vocab)).collect(),
            continuations: vec![(0..cont_len).map(|_| rng.random_range(0..vocab)).collect()],
        })
        .collect();
    let max_length = loaded.model.config().max_position_embeddings;
    let cancel = CancelToken::new();
    let seconds = median_seconds(1, reps, || {
        score_items(&loaded.model, &items, batch, max_length, &cancel, &mut |_, _| {})?;
        Ok::<(), super::error::EvalError>(())
    })?;
    Ok(EvalFigure {
        figure: figure(loaded, "eval_mc_scoring", batch * seq, seconds, batch, seq),
        items_per_s: None,
        items: None,
        acc: None,
    })
}
