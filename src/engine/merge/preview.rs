//! The live preview of a merge: the base model, the K sub-model adapters, a few held-out rows of
//! each portion and a small benchmark subset are read once ([`MergePreview::open`]); then every
//! new merge setting is merged in memory (no files) and scored ([`MergePreview::score`]): first
//! the loss on each portion's held-out rows, one figure per portion as it finishes, then the
//! accuracy on the benchmark subset with its standard error, updated batch by batch. Scoring
//! stops between batches when its [`CancelToken`] is cancelled.
//!
//! The same rows are scored for every sub-model, the vanilla model and the base once
//! ([`MergePreview::references`], cached), so the merged figures stand beside theirs.

use super::base::BaseModel;
use super::delta::load_adapters;
use super::error::{MergeError, Result};
use super::fisher::FisherSet;
use super::preview_data::{bench_subset, heldout_rows};
pub use super::preview_data::{BenchSource, BenchSubset, HeldoutSource, PreviewSizes};
use super::session::MergeSession;
use super::spec::MergeSpec;
use crate::engine::data::tokenize::TokenizedExample;
use crate::engine::device::default_dtype;
use crate::engine::eval::heldout::response_nll;
use crate::engine::eval::loglik::score_items;
use crate::engine::eval::metrics::{mc2_score, mean, stderr};
use crate::engine::job::CancelToken;
use crate::engine::model::adapter::LoraAdapter;
use crate::engine::model::lora::{LoraSet, LoraSpec};
use crate::engine::model::CausalLm;
use candle_core::{DType, Device, Var};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

/// What to open a preview on.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    /// Base model: folder, `.gguf` file or cached HF id.
    pub base: String,
    /// The sub-models' adapter folders, in merge order.
    pub adapters: Vec<PathBuf>,
    /// The vanilla model's adapter folder, scored as a reference when given.
    pub vanilla: Option<PathBuf>,
    /// Where the held-out rows come from.
    pub heldout: HeldoutSource,
    /// Benchmarks in order of preference: the first multiple-choice one has its first items
    /// scored (generative ones are skipped); none, or none multiple-choice, scores no benchmark.
    pub bench: Vec<BenchSource>,
    /// How much each preview scores.
    pub sizes: PreviewSizes,
    /// Where the models run.
    pub device: Device,
    /// Working dtype; `None` picks f32 on the CPU and bf16 on GPUs.
    pub dtype: Option<DType>,
}

/// One figure of a preview, as soon as it is known.
#[derive(Debug, Clone, PartialEq)]
pub enum PreviewUpdate {
    /// The mean response-token loss on portion `portion`'s held-out rows.
    Portion {
        /// Portion index.
        portion: usize,
        /// Mean loss per response token.
        loss: f64,
    },
    /// The benchmark subset's accuracy over the items scored so far.
    Bench(Accuracy),
}

/// Accuracy on benchmark items with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    /// Mean score (acc, or MC2 for TruthfulQA MC2).
    pub acc: f64,
    /// Standard error of the mean.
    pub stderr: f64,
    /// Items scored.
    pub done: usize,
    /// Items in the subset.
    pub total: usize,
}

/// Every figure of one scored model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreviewScores {
    /// Loss per portion (`None` for a portion without held-out rows).
    pub portion_loss: Vec<Option<f64>>,
    /// Benchmark subset accuracy, when the preview has a benchmark.
    pub bench: Option<Accuracy>,
}

/// A reference model's figures: `base`, `vanilla` or `sub-N`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceScores {
    /// The model's label.
    pub label: String,
    /// Its figures on the preview's rows.
    pub scores: PreviewScores,
}

/// Base, adapters and scoring rows held in memory for repeated merge previews.
pub struct MergePreview {
    session: MergeSession,
    references: Vec<(String, Option<LoraAdapter>)>,
    portions: Vec<Vec<TokenizedExample>>,
    bench: Option<BenchSubset>,
    sizes: PreviewSizes,
    dtype: DType,
    device: Device,
    max_length: usize,
    cached: Mutex<Option<Vec<ReferenceScores>>>,
}

impl MergePreview {
    /// Reads the base model, the adapters, the held-out rows and the benchmark subset.
    pub fn open(req: &PreviewRequest, cancel: &CancelToken) -> Result<Self> {
        let base = BaseModel::open(&req.base)?;
        let tok = base.tokenizer()?;
        cancel.check()?;
        let tensors: HashMap<String, candle_core::Tensor> =
            base.entries().par_iter().map(|e| Ok((e.name.clone(), base.tensor_f32(e)?))).collect::<Result<_>>()?;
        cancel.check()?;
        let adapters = load_adapters(&req.adapters)?;
        let mut references: Vec<(String, Option<LoraAdapter>)> = vec![("base".into(), None)];
        references.extend(adapters.iter().enumerate().map(|(i, a)| (format!("sub-{i}"), Some(a.clone()))));
        if let Some(v) = &req.vanilla {
            references.push(("vanilla".into(), Some(LoraAdapter::load(v)?)));
        }
        let mut session = MergeSession::from_parts(base.config.clone(), tensors, adapters, base.path())?;
        if let Ok(fisher) = FisherSet::from_adapter_dirs(&req.adapters) {
            session.set_fisher(fisher);
        }
        let context = base.config.max_position_embeddings;
        let mut heldout = req.heldout.clone();
        match &mut heldout {
            HeldoutSource::Portions { options, .. } | HeldoutSource::Dealt { options, .. } => {
                options.prompt.max_len = options.prompt.max_len.min(context);
            }
        }
        let portions = heldout_rows(&heldout, &tok, &req.sizes)?;
        if portions.len() != req.adapters.len() {
            return Err(MergeError::Spec(format!(
                "the split has {} portions but {} sub-models are given",
                portions.len(),
                req.adapters.len()
            )));
        }
        cancel.check()?;
        let mut bench = None;
        for source in &req.bench {
            match bench_subset(source, &tok, &req.sizes) {
                Ok(subset) => {
                    bench = Some(subset);
                    break;
                }
                Err(MergeError::Spec(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Ok(Self {
            session,
            references,
            portions,
            bench,
            sizes: req.sizes,
            dtype: req.dtype.unwrap_or_else(|| default_dtype(&req.device)),
            device: req.device.clone(),
            max_length: context,
            cached: Mutex::new(None),
        })
    }

    /// Number of sub-models.
    pub fn k(&self) -> usize {
        self.portions.len()
    }

    /// The held-out rows scored per portion.
    pub fn portion_rows(&self) -> Vec<usize> {
        self.portions.iter().map(Vec::len).collect()
    }

    /// Tokens fed to the model per preview for the held-out rows.
    pub fn heldout_tokens(&self) -> usize {
        self.portions.iter().flatten().map(|t| t.input_ids.len()).sum()
    }

    /// The benchmark subset's name and item count, when there is one.
    pub fn bench(&self) -> Option<(&str, usize)> {
        self.bench.as_ref().map(|b| (b.name.as_str(), b.items.len()))
    }

    /// Tokens of the benchmark subset's requests (context and continuation of every choice).
    pub fn bench_tokens(&self) -> usize {
        let items = self.bench.iter().flat_map(|b| &b.items);
        items.map(|it| it.continuations.iter().map(|c| it.context.len() + c.len()).sum::<usize>()).sum()
    }

    /// The sizes this preview was opened with.
    pub fn sizes(&self) -> PreviewSizes {
        self.sizes
    }

    /// Merges `spec` in memory and scores it, calling `on` with each figure as it is known
    /// (portion losses first, then the benchmark accuracy batch by batch).
    pub fn score(&self, spec: &MergeSpec, cancel: &CancelToken, on: &mut dyn FnMut(&PreviewUpdate)) -> Result<PreviewScores> {
        let model = if spec.method.exact_adapter() {
            self.session.lora_model(spec, self.dtype, &self.device)?
        } else {
            self.session.merged_model(spec, self.dtype, &self.device)?
        };
        cancel.check()?;
        self.score_model(&model, cancel, on)
    }

    /// The base model's, every sub-model's and the vanilla model's own figures on the same rows,
    /// computed once and cached; `on(label, figure)` reports progress.
    pub fn references(&self, cancel: &CancelToken, on: &mut dyn FnMut(&str, &PreviewUpdate)) -> Result<Vec<ReferenceScores>> {
        if let Some(done) = self.cached.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(done);
        }
        let mut out = Vec::new();
        for (label, adapter) in &self.references {
            let mut model = self.session.base_model(self.dtype, &self.device)?;
            if let Some(adapter) = adapter {
                model.attach_lora(&self.lora_set(adapter)?)?;
            }
            let scores = self.score_model(&model, cancel, &mut |u| on(label, u))?;
            out.push(ReferenceScores { label: label.clone(), scores });
        }
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(out.clone());
        Ok(out)
    }

    /// The reference figures if they have been computed.
    pub fn cached_references(&self) -> Option<Vec<ReferenceScores>> {
        self.cached.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The base model's loss on one portion's held-out rows (no merge, no LoRA): what the first
    /// figure costs on this machine at this moment, for comparing with a preview's.
    pub fn base_portion_loss(&self, portion: usize, cancel: &CancelToken) -> Result<Option<f64>> {
        let model = self.session.base_model(self.dtype, &self.device)?;
        let Some(rows) = self.portions.get(portion).filter(|r| !r.is_empty()) else { return Ok(None) };
        let nll = response_nll(&model, rows, self.sizes.batch, cancel, &mut |_, _| {})?;
        let (total, tokens) = nll.iter().fold((0.0, 0usize), |a, x| (a.0 + x.0, a.1 + x.1));
        Ok(Some(total / tokens.max(1) as f64))
    }

    /// One adapter as attachable LoRA factors with its scale folded into B.
    fn lora_set(&self, adapter: &LoraAdapter) -> Result<LoraSet> {
        let spec = LoraSpec { rank: 1, alpha: 1.0, dropout: 0.0, targets: Vec::new(), use_rslora: false };
        let mut params = BTreeMap::new();
        for (module, pair) in &adapter.modules {
            let a = Var::from_tensor(&pair.a.to_device(&self.device)?)?;
            let b = Var::from_tensor(&(pair.b.clone() * pair.scale)?.to_device(&self.device)?)?;
            params.insert(module.clone(), (a, b));
        }
        Ok(LoraSet { spec, params })
    }

    fn score_model(&self, model: &CausalLm, cancel: &CancelToken, on: &mut dyn FnMut(&PreviewUpdate)) -> Result<PreviewScores> {
        let mut scores = PreviewScores::default();
        for (portion, rows) in self.portions.iter().enumerate() {
            if rows.is_empty() {
                scores.portion_loss.push(None);
                continue;
            }
            let nll = response_nll(model, rows, self.sizes.batch, cancel, &mut |_, _| {})?;
            let (total, tokens) = nll.iter().fold((0.0, 0usize), |a, x| (a.0 + x.0, a.1 + x.1));
            let loss = total / tokens.max(1) as f64;
            scores.portion_loss.push(Some(loss));
            on(&PreviewUpdate::Portion { portion, loss });
        }
        if let Some(bench) = &self.bench {
            let mut correct = Vec::with_capacity(bench.items.len());
            let total = bench.items.len();
            for (chunk, gold) in bench.items.chunks(self.sizes.batch.max(1)).zip(bench.gold.chunks(self.sizes.batch.max(1))) {
                let (item_scores, _) = score_items(model, chunk, self.sizes.batch, self.max_length, cancel, &mut |_, _| {})?;
                for (choices, &g) in item_scores.iter().zip(gold) {
                    let lls: Vec<f64> = choices.iter().map(|c| c.loglik).collect();
                    correct.push(if bench.mc2 { mc2_score(&lls, g) } else { f64::from(u8::from(best(&lls) == g)) });
                }
                let acc = Accuracy { acc: mean(&correct), stderr: stderr(&correct), done: correct.len(), total };
                scores.bench = Some(acc);
                on(&PreviewUpdate::Bench(acc));
            }
        }
        Ok(scores)
    }
}

/// The argmax of the choices' log-likelihoods (lm-eval's `acc`).
fn best(lls: &[f64]) -> usize {
    crate::engine::eval::metrics::argmax(lls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::eval::heldout::HeldoutOptions;
    use crate::engine::eval::BenchSpec;
    use crate::engine::merge::spec::{MergeMethod, WeightValue};
    use crate::engine::model::{load_model, LoadOptions};
    use std::path::Path;

    const ARC: &str = r#"{"id": "q1", "question": {"stem": "Which is a planet?", "choices": [{"text": "Mars", "label": "A"}, {"text": "the Moon", "label": "B"}]}, "answerKey": "A"}
{"id": "q2", "question": {"stem": "Which is wet?", "choices": [{"text": "water", "label": "A"}, {"text": "sand", "label": "B"}]}, "answerKey": "A"}
{"id": "q3", "question": {"stem": "What melts ice?", "choices": [{"text": "heat", "label": "A"}, {"text": "cold", "label": "B"}]}, "answerKey": "A"}
"#;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    /// A preview of the tiny Llama with two of the merge-tiny adapters, on 40 rows dealt into two
    /// portions, and a three-item ARC file.
    fn preview(dir: &Path) -> MergePreview {
        let rows: String =
            (0..40).map(|i| format!("{{\"instruction\": \"name thing {i}\", \"output\": \"thing {i} is a stone\"}}\n")).collect();
        std::fs::write(dir.join("data.jsonl"), rows).unwrap();
        std::fs::write(dir.join("arc.jsonl"), ARC).unwrap();
        let options = HeldoutOptions { val_fraction: 0.5, ..HeldoutOptions::default() };
        let req = PreviewRequest {
            base: fixture("tiny-llama").display().to_string(),
            adapters: (0..2).map(|i| fixture("merge-tiny").join(format!("sub-{i}"))).collect(),
            vanilla: Some(fixture("merge-tiny").join("sub-2")),
            heldout: HeldoutSource::Dealt { data: dir.join("data.jsonl"), data_options: Default::default(), options, k: 2 },
            bench: vec![BenchSource { spec: BenchSpec { name: "arc".into(), path: dir.join("arc.jsonl"), extra: None }, fewshot: None }],
            sizes: PreviewSizes { rows_per_portion: 5, max_tokens: 256, bench_items: 3, batch: 2 },
            device: Device::Cpu,
            dtype: Some(DType::F32),
        };
        MergePreview::open(&req, &CancelToken::new()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn weights(ws: &[f64]) -> MergeSpec {
        let mut spec = MergeSpec::new(MergeMethod::Linear);
        spec.weights = Some(ws.iter().map(|&w| WeightValue::Constant(w)).collect());
        spec
    }

    /// The mean response loss of `adapter` folded into the base by the model loader, on `rows`.
    fn loss_of_loaded(adapter: PathBuf, rows: &[TokenizedExample]) -> f64 {
        let opts = LoadOptions { device: Device::Cpu, dtype: Some(DType::F32), adapter: Some(adapter), ..Default::default() };
        let loaded = load_model(&fixture("tiny-llama").display().to_string(), &opts).unwrap();
        let nll = response_nll(&loaded.model, rows, 3, &CancelToken::new(), &mut |_, _| {}).unwrap();
        nll.iter().map(|x| x.0).sum::<f64>() / nll.iter().map(|x| x.1).sum::<usize>() as f64
    }

    #[test]
    fn a_merge_of_one_adapter_scores_as_that_adapter() {
        let dir = tempfile::tempdir().unwrap();
        let p = preview(dir.path());
        assert_eq!(p.portion_rows(), vec![5, 5]);
        assert_eq!(p.bench(), Some(("arc", 3)));
        let mut updates = Vec::new();
        let merged = p.score(&weights(&[1.0, 0.0]), &CancelToken::new(), &mut |u| updates.push(u.clone())).unwrap();
        assert!(matches!(updates[0], PreviewUpdate::Portion { portion: 0, .. }), "portion losses come first: {updates:?}");
        assert_eq!(updates.len(), 2 + 2, "two portions, then the three items in two batches");
        let acc = merged.bench.unwrap();
        assert_eq!((acc.done, acc.total), (3, 3));
        for (portion, rows) in p.portions.iter().enumerate() {
            let own = loss_of_loaded(fixture("merge-tiny").join("sub-0"), rows);
            let got = merged.portion_loss[portion].unwrap();
            assert!((got - own).abs() < 1e-5, "portion {portion}: merged {got} vs sub-0 {own}");
        }
        let refs = p.references(&CancelToken::new(), &mut |_, _| {}).unwrap();
        let labels: Vec<&str> = refs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, ["base", "sub-0", "sub-1", "vanilla"]);
        assert_eq!(refs[1].scores.portion_loss.len(), 2);
        for (a, b) in refs[1].scores.portion_loss.iter().zip(&merged.portion_loss) {
            assert!((a.unwrap() - b.unwrap()).abs() < 1e-5, "sub-0's own figure {a:?} vs the merge of sub-0 alone {b:?}");
        }
        let other = p.score(&weights(&[0.0, 1.0]), &CancelToken::new(), &mut |_| {}).unwrap();
        assert!((other.portion_loss[0].unwrap() - merged.portion_loss[0].unwrap()).abs() > 1e-4, "another weight, another loss");
        assert!(p.cached_references().is_some());
    }

    #[test]
    fn a_cancelled_preview_stops_between_batches() {
        let dir = tempfile::tempdir().unwrap();
        let p = preview(dir.path());
        let cancel = CancelToken::new();
        let mut updates = 0;
        let result = p.score(&weights(&[0.5, 0.5]), &cancel, &mut |_| {
            updates += 1;
            cancel.cancel("superseded");
        });
        assert!(matches!(result, Err(MergeError::Eval(_)) | Err(MergeError::Cancelled(_))), "{result:?}");
        assert_eq!(updates, 1, "no figure after the cancel");
        let stopped = CancelToken::new();
        stopped.cancel("before it began");
        assert!(p.references(&stopped, &mut |_, _| panic!("no figure once cancelled")).is_err());
        assert!(p.cached_references().is_none(), "a cancelled reference run caches nothing");
    }
}
