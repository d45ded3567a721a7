//! Evaluating one loaded model on one benchmark: prompts with few-shot examples, scoring or
//! generation, metrics, and the result record. The CLI and the GUI both call [`evaluate`].

use super::error::Result;
use super::fewshot::context_for;
use super::generative::{exact_match, extract_flexible, extract_strict, generate_all, GenRequest};
use super::heldout::{response_nll, validation_slice, HeldoutOptions};
use super::ifeval::check_item;
use super::loglik::{encode_item, prefix_token, score_items, ScoringStats};
use super::metrics::{mc2_score, mc_predictions, mean, stderr};
use super::results::{BenchmarkResult, ChoiceResult, GenItemResult, ItemResult, LossItemResult, McItemResult, RunConfig};
use super::task::{Benchmark, Gsm8kItem, IfEvalItem, Items, McItem, TaskKind};
use crate::engine::data::chat_template::ChatMessage;
use crate::engine::data::tokenize::TokenizedExample;
use crate::engine::data::Example;
use crate::engine::device::{describe_device, dtype_name};
use crate::engine::hash::sha256_path;
use crate::engine::job::{run_stage, CancelToken, EventSink, StageScope};
use crate::engine::model::LoadedModel;
use std::collections::BTreeMap;
use std::time::Instant;

/// Settings of an evaluation run.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Few-shot examples per prompt; `None` takes the benchmark's default (lm-eval's).
    pub fewshot: Option<usize>,
    /// Keep the first N items in file order (per subject for MMLU).
    pub limit: Option<usize>,
    /// Few-shot sampling seed.
    pub seed: u64,
    /// Sequences per forward pass when scoring.
    pub batch: usize,
    /// Context window in tokens; `None` takes the model's.
    pub max_length: Option<usize>,
    /// Token budget of generated answers; `None`: 256 for GSM8K, 1280 for IFEval (lm-eval's).
    pub max_new_tokens: Option<usize>,
    /// How the held-out slice is chosen (`heldout` benchmark).
    pub heldout: HeldoutOptions,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            fewshot: None,
            limit: None,
            seed: 1234,
            batch: 8,
            max_length: None,
            max_new_tokens: None,
            heldout: HeldoutOptions::default(),
        }
    }
}

/// Which model is evaluated, for the result record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    /// The model as the user named it.
    pub model: String,
    /// The adapter folder, if any.
    pub adapter: Option<String>,
    /// SHA-256 of the model's files.
    pub model_sha256: String,
    /// SHA-256 of the adapter's files.
    pub adapter_sha256: Option<String>,
}

/// Keeps the first `n` items in file order, per group when items have groups (MMLU subjects).
pub fn apply_limit(bench: &mut Benchmark, n: usize) {
    match &mut bench.items {
        Items::Mc(items) if items.iter().any(|i| i.group.is_some()) => {
            let mut seen: BTreeMap<Option<String>, usize> = BTreeMap::new();
            items.retain(|it| {
                let c = seen.entry(it.group.clone()).or_default();
                *c += 1;
                *c <= n
            });
        }
        // The held-out slice is chosen from every example; the limit applies to the slice.
        Items::Heldout(_) => {}
        other => other.truncate(n),
    }
}

fn add_metric(metrics: &mut BTreeMap<String, f64>, name: &str, xs: &[f64]) {
    metrics.insert(name.to_string(), mean(xs));
    metrics.insert(format!("{name}_stderr"), stderr(xs));
}

fn as_f64(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// What scoring one kind of benchmark produced, before the result record is assembled.
#[derive(Default)]
struct Scored {
    metrics: BTreeMap<String, f64>,
    items: Vec<ItemResult>,
    truncated_items: usize,
    continuations_cut: usize,
    max_new_tokens: Option<usize>,
    stop: Vec<String>,
}

/// Evaluates `loaded` on `bench` (already limited with [`apply_limit`]) as stage
/// `eval BENCHMARK`, reporting progress on `sink` and stopping at `cancel`.
pub fn evaluate(
    loaded: &LoadedModel,
    bench: &Benchmark,
    opts: &EvalOptions,
    who: &ModelIdentity,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<BenchmarkResult> {
    let stage = format!("eval {}", bench.name);
    run_stage(&stage, sink, cancel, |scope| {
        let started = Instant::now();
        let model = &loaded.model;
        let tok = &loaded.tokenizer;
        let fewshot = opts.fewshot.unwrap_or(bench.default_fewshot);
        let max_length = opts.max_length.unwrap_or(model.config().max_position_embeddings).max(2);
        let n = bench.items.len();
        let prompts: Vec<String> = match &bench.items {
            Items::IfEval(items) => items
                .iter()
                .map(|it| tok.render_chat(&[ChatMessage::new("user", &it.prompt)], true))
                .collect::<std::result::Result<_, _>>()?,
            _ => (0..n).map(|i| context_for(bench, i, fewshot, opts.seed)).collect(),
        };
        let scored = match &bench.items {
            Items::Mc(items) => score_mc(loaded, bench, items, &prompts, opts, max_length, &scope)?,
            Items::Gsm8k(items) => {
                let stop = vec!["Question:".to_string(), "\n\n".to_string()];
                let budget = opts.max_new_tokens.unwrap_or(256);
                let (outputs, truncated) = generate_answers(loaded, &prompts, budget, &stop, opts.batch, max_length, &scope)?;
                let mut scored = judge_gsm8k(items, outputs);
                (scored.truncated_items, scored.max_new_tokens, scored.stop) = (truncated, Some(budget), stop);
                scored
            }
            Items::IfEval(items) => {
                let budget = opts.max_new_tokens.unwrap_or(1280);
                let (outputs, _) = generate_answers(loaded, &prompts, budget, &[], opts.batch, max_length, &scope)?;
                Scored { max_new_tokens: Some(budget), ..judge_ifeval(items, outputs) }
            }
            Items::Heldout(examples) => score_heldout(loaded, examples, opts, max_length, &scope)?,
        };
        if scored.truncated_items > 0 {
            scope.warn(format!(
                "{}: {} of {n} items did not fit the {max_length}-token window and were cut from the left ({} answers cut too)",
                bench.name, scored.truncated_items, scored.continuations_cut
            ));
        }
        let config = RunConfig {
            fewshot,
            limit: opts.limit,
            seed: opts.seed,
            prompt_example: prompts.first().cloned().unwrap_or_default(),
            prompt_format: bench.prompt_format.clone(),
            kind: serde_json::to_value(bench.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            model_sha256: who.model_sha256.clone(),
            adapter_sha256: who.adapter_sha256.clone(),
            data_path: bench.path.display().to_string(),
            data_sha256: sha256_path(&bench.path, scope.cancel)?,
            batch: opts.batch,
            max_length,
            truncated_items: scored.truncated_items,
            continuations_cut: scored.continuations_cut,
            skipped_rows: bench.skipped.len(),
            skipped_examples: bench.skipped.iter().take(20).map(ToString::to_string).collect(),
            max_new_tokens: scored.max_new_tokens,
            stop: scored.stop,
            dtype: dtype_name(model.dtype()).to_string(),
            device: describe_device(model.device()),
            seconds: started.elapsed().as_secs_f64(),
            dtm_studio_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        Ok(BenchmarkResult {
            benchmark: bench.name.clone(),
            model: who.model.clone(),
            adapter: who.adapter.clone(),
            n: scored.items.len(),
            metrics: scored.metrics,
            config,
            items: scored.items,
        })
    })
}

/// Multiple choice: the log-likelihood of every choice after its context (acc, acc_norm, MC2).
fn score_mc(
    loaded: &LoadedModel,
    bench: &Benchmark,
    items: &[McItem],
    prompts: &[String],
    opts: &EvalOptions,
    max_length: usize,
    scope: &StageScope<'_>,
) -> Result<Scored> {
    let tok = &loaded.tokenizer;
    let prefix = prefix_token(tok);
    let tokens =
        items.iter().zip(prompts).map(|(it, ctx)| encode_item(tok, ctx, &it.continuations(), prefix)).collect::<Result<Vec<_>>>()?;
    let (scores, _stats): (_, ScoringStats) = score_items(&loaded.model, &tokens, opts.batch, max_length, scope.cancel, &mut |d, t| {
        scope.progress(d as u64, t as u64, "scoring")
    })?;
    let mut out = Scored::default();
    let (mut acc, mut acc_norm, mut mc2) = (Vec::new(), Vec::new(), Vec::new());
    let mut groups: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (it, sc) in items.iter().zip(&scores) {
        let lls: Vec<f64> = sc.iter().map(|s| s.loglik).collect();
        let chars: Vec<usize> = it.choices.iter().map(|c| c.chars().count()).collect();
        let (pred, pred_norm) = mc_predictions(&lls, &chars);
        let truncated = sc.iter().any(|s| s.truncated);
        out.truncated_items += usize::from(truncated);
        out.continuations_cut += sc.iter().filter(|s| s.continuation_cut).count();
        let score = (bench.kind == TaskKind::MultipleChoiceMc2).then(|| mc2_score(&lls, it.gold));
        match score {
            Some(s) => mc2.push(s),
            None => {
                acc.push(as_f64(pred == it.gold));
                acc_norm.push(as_f64(pred_norm == it.gold));
                if let Some(g) = &it.group {
                    let e = groups.entry(g.clone()).or_default();
                    e.0.push(as_f64(pred == it.gold));
                    e.1.push(as_f64(pred_norm == it.gold));
                }
            }
        }
        let choices =
            it.choices.iter().zip(&lls).zip(&chars).map(|((t, &l), &c)| ChoiceResult { text: t.clone(), loglik: l, chars: c }).collect();
        out.items.push(ItemResult::Mc(McItemResult {
            id: it.id.clone(),
            gold: it.gold,
            pred,
            pred_norm,
            choices,
            group: it.group.clone(),
            score,
            truncated,
        }));
    }
    if bench.kind == TaskKind::MultipleChoiceMc2 {
        add_metric(&mut out.metrics, "acc", &mc2);
    } else {
        add_metric(&mut out.metrics, "acc", &acc);
        add_metric(&mut out.metrics, "acc_norm", &acc_norm);
        for (g, (a, an)) in &groups {
            out.metrics.insert(format!("acc/{g}"), mean(a));
            out.metrics.insert(format!("acc_norm/{g}"), mean(an));
        }
    }
    Ok(out)
}

/// Greedy answers to every prompt (batched), and how many prompts filled the window.
fn generate_answers(
    loaded: &LoadedModel,
    prompts: &[String],
    budget: usize,
    stop: &[String],
    batch: usize,
    max_length: usize,
    scope: &StageScope<'_>,
) -> Result<(Vec<(String, usize)>, usize)> {
    let tok = &loaded.tokenizer;
    let requests = prompts.iter().map(|p| Ok(GenRequest { prompt_ids: tok.encode(p, false)? })).collect::<Result<Vec<_>>>()?;
    let truncated = requests.iter().filter(|r| r.prompt_ids.len() >= max_length).count();
    let outputs = generate_all(&loaded.model, tok, &requests, budget, stop, batch, scope)?;
    Ok((outputs, truncated))
}

/// GSM8K: exact match of the strict and the flexible answer extraction.
fn judge_gsm8k(items: &[Gsm8kItem], outputs: Vec<(String, usize)>) -> Scored {
    let mut out = Scored::default();
    let (mut strict, mut flexible) = (Vec::new(), Vec::new());
    for (it, (text, ntok)) in items.iter().zip(outputs) {
        let (ps, pf) = (extract_strict(&text), extract_flexible(&text));
        let (cs, cf) = (exact_match(&ps, &it.target), exact_match(&pf, &it.target));
        strict.push(as_f64(cs));
        flexible.push(as_f64(cf));
        out.items.push(ItemResult::Gen(GenItemResult {
            id: it.id.clone(),
            gold: Some(it.gold.clone()),
            generated: text,
            correct: cs,
            pred_strict: Some(ps),
            pred_flexible: Some(pf),
            correct_flexible: Some(cf),
            correct_loose: None,
            instructions: None,
            generated_tokens: ntok,
        }));
    }
    add_metric(&mut out.metrics, "exact_match_strict", &strict);
    add_metric(&mut out.metrics, "exact_match_flexible", &flexible);
    out
}

/// IFEval: every instruction of a prompt checked strictly and loosely.
fn judge_ifeval(items: &[IfEvalItem], outputs: Vec<(String, usize)>) -> Scored {
    let mut out = Scored::default();
    let (mut ps, mut pl, mut is, mut il) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (it, (text, ntok)) in items.iter().zip(outputs) {
        let outcomes = check_item(it, &text);
        let strict_all = outcomes.iter().all(|o| o.strict);
        let loose_all = outcomes.iter().all(|o| o.loose);
        ps.push(as_f64(strict_all));
        pl.push(as_f64(loose_all));
        is.extend(outcomes.iter().map(|o| as_f64(o.strict)));
        il.extend(outcomes.iter().map(|o| as_f64(o.loose)));
        out.items.push(ItemResult::Gen(GenItemResult {
            id: it.id.clone(),
            gold: None,
            generated: text,
            correct: strict_all,
            pred_strict: None,
            pred_flexible: None,
            correct_flexible: None,
            correct_loose: Some(loose_all),
            instructions: Some(outcomes),
            generated_tokens: ntok,
        }));
    }
    add_metric(&mut out.metrics, "prompt_level_strict_acc", &ps);
    add_metric(&mut out.metrics, "inst_level_strict_acc", &is);
    add_metric(&mut out.metrics, "prompt_level_loose_acc", &pl);
    add_metric(&mut out.metrics, "inst_level_loose_acc", &il);
    out
}

/// Held-out instruction data: response loss and perplexity on the validation slice.
fn score_heldout(
    loaded: &LoadedModel,
    examples: &[Example],
    opts: &EvalOptions,
    max_length: usize,
    scope: &StageScope<'_>,
) -> Result<Scored> {
    // Examples longer than the model's window are cut to it (training cannot use more).
    let mut hopts = opts.heldout.clone();
    hopts.prompt.max_len = hopts.prompt.max_len.min(max_length);
    let mut slice = validation_slice(examples, &loaded.tokenizer, &hopts)?;
    slice.truncate(opts.limit.unwrap_or(usize::MAX));
    let rows: Vec<TokenizedExample> = slice.iter().map(|(_, t)| t.clone()).collect();
    let nll =
        response_nll(&loaded.model, &rows, opts.batch, scope.cancel, &mut |d, t| scope.progress(d as u64, t as u64, "response loss"))?;
    let (total, tokens) = nll.iter().fold((0.0, 0usize), |a, x| (a.0 + x.0, a.1 + x.1));
    let per_example: Vec<f64> = nll.iter().map(|(s, n)| s / (*n).max(1) as f64).collect();
    let loss = total / tokens.max(1) as f64;
    let mut out = Scored::default();
    out.metrics.insert("loss".into(), loss);
    out.metrics.insert("perplexity".into(), loss.exp());
    add_metric(&mut out.metrics, "example_loss", &per_example);
    out.metrics.insert("response_tokens".into(), tokens as f64);
    for ((row, _), (l, (_, n))) in slice.iter().zip(per_example.iter().zip(&nll)) {
        out.items.push(ItemResult::Loss(LossItemResult { id: format!("row-{row}"), loss: *l, tokens: *n }));
    }
    Ok(out)
}
