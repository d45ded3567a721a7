//! The evaluation stage from files: load the benchmarks and the model, record which files were
//! evaluated (their hashes), score every benchmark and write `OUT/<benchmark>.json`. The CLI and
//! the GUI both evaluate through [`run_eval`].

use super::error::{EvalError, Result};
use super::loaders::{load_benchmark, BenchSpec};
use super::results::BenchmarkResult;
use super::run::{apply_limit, evaluate, EvalOptions, ModelIdentity};
use super::task::Benchmark;
use crate::engine::hash::sha256_path;
use crate::engine::job::{run_stage, CancelToken, EventSink, StageScope};
use crate::engine::model::{load_model_stage, LoadOptions, LoadRequest};
use std::path::PathBuf;

/// Everything an evaluation needs.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    /// The model as the user named it (folder, `.gguf` or cached id).
    pub model: String,
    /// Device, dtype, and the adapter folded in (if any).
    pub load: LoadOptions,
    /// Benchmarks to score, in order.
    pub benchmarks: Vec<BenchSpec>,
    /// Few-shot, limit, batch and budgets.
    pub options: EvalOptions,
    /// Folder for the result files.
    pub out_dir: PathBuf,
    /// SHA-256 of the model's files when the caller already knows it (the pipeline caches it);
    /// `None` hashes them.
    pub model_sha256: Option<String>,
}

/// One benchmark's result and the file it was written to.
#[derive(Debug, Clone)]
pub struct EvalOutput {
    /// The result.
    pub result: BenchmarkResult,
    /// `out_dir/<benchmark>.json`.
    pub path: PathBuf,
}

/// Loads `spec` and keeps the first `limit` items, warning about the rows it skipped.
pub fn load_limited(spec: &BenchSpec, limit: Option<usize>, scope: &StageScope<'_>) -> Result<Benchmark> {
    let mut bench = load_benchmark(spec)?;
    if let Some(n) = limit {
        apply_limit(&mut bench, n);
    }
    for s in bench.skipped.iter().take(5) {
        scope.warn(format!("{}: skipped {s}", spec.name));
    }
    if bench.skipped.len() > 5 {
        scope.warn(format!("{}: ... {} more rows skipped", spec.name, bench.skipped.len() - 5));
    }
    Ok(bench)
}

/// The evaluation stage (`eval MODEL`): every benchmark is loaded and checked before the model is,
/// then each is scored as its own stage (`eval BENCHMARK`) and written as soon as it is done, so
/// a cancelled or failed run keeps the results it finished.
pub fn run_eval(req: &EvalRequest, sink: &EventSink, cancel: &CancelToken) -> Result<Vec<EvalOutput>> {
    let stage = format!("eval {}", req.model);
    run_stage(&stage, sink, cancel, |scope| {
        let benches = req.benchmarks.iter().map(|spec| load_limited(spec, req.options.limit, &scope)).collect::<Result<Vec<_>>>()?;
        scope.check()?;
        let loaded = load_model_stage(&LoadRequest { model: req.model.clone(), options: req.load.clone() }, sink, cancel)?;
        let who = ModelIdentity {
            model: req.model.clone(),
            adapter: req.load.adapter.as_ref().map(|a| a.display().to_string()),
            model_sha256: match &req.model_sha256 {
                Some(h) => h.clone(),
                None => sha256_path(loaded.info.source.path(), cancel)?,
            },
            adapter_sha256: req.load.adapter.as_deref().map(|a| sha256_path(a, cancel)).transpose()?,
        };
        let mut outputs = Vec::with_capacity(benches.len());
        for bench in &benches {
            let result = evaluate(&loaded, bench, &req.options, &who, sink, cancel)?;
            let path = result.write(&req.out_dir)?;
            outputs.push(EvalOutput { result, path });
        }
        Ok::<_, EvalError>(outputs)
    })
}
