//! The built-in teaching demo: a synthetic world small enough to run the whole method on a laptop
//! CPU in minutes, where the alignment tax is real and what merging does to it can be measured.
//!
//! [`prepare_demo`] writes an ordinary project folder from a seed — the instruction data
//! (`data/instructions.json`, four task families each with its own injected bias), the
//! benchmarks (`bench/`), a base model trained from scratch on the world's corpus (`base-model/`,
//! cached across demos) and a `dtm.toml` made by the same code as `dtm-studio init` — and
//! [`run_demo`] runs that project through the pipeline like any other, then summarises it
//! ([`summary`]): the knowledge tax of vanilla SFT and of the merge, how much of each bias
//! survives in every model, and how well Disperse recovered the families.

pub mod base;
pub mod benches;
pub mod corpus;
pub mod error;
pub mod explain;
pub mod families;
pub mod project;
pub mod real;
pub mod summary;
pub mod vocab;
pub mod world;

pub use error::DemoError;
pub use summary::DemoSummary;

use crate::engine::job::{run_stage, CancelToken, EventSink};
use crate::engine::pipeline::{run_project, RunOptions, RunSummary};
use base::BaseSize;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How big the demo's world, data and benchmarks are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoSize {
    /// People in the world.
    pub people: usize,
    /// Instruction rows per family (four families).
    pub rows_per_family: usize,
    /// Knowledge benchmark items.
    pub knowledge_items: usize,
    /// Reasoning benchmark items.
    pub reasoning_items: usize,
    /// Items of each bias probe and of the instruction-following benchmark.
    pub probe_items: usize,
    /// The base model and its pre-training.
    pub base: BaseSize,
    /// Most optimiser steps of each training run (`None`: the epochs decide).
    pub max_steps: Option<u64>,
}

impl DemoSize {
    /// The demo as offered: a few minutes of pre-training the first time (cached), then well under a minute.
    pub fn standard() -> Self {
        Self {
            people: 32,
            rows_per_family: 96,
            knowledge_items: 128,
            reasoning_items: 100,
            probe_items: 48,
            base: BaseSize::standard(),
            max_steps: None,
        }
    }

    /// A few seconds end to end, for tests: the same stages on a tiny world (the numbers mean little).
    pub fn reduced() -> Self {
        Self {
            people: 12,
            rows_per_family: 12,
            knowledge_items: 16,
            reasoning_items: 8,
            probe_items: 4,
            base: BaseSize::tiny(),
            max_steps: Some(3),
        }
    }
}

/// What to make.
#[derive(Debug, Clone)]
pub struct DemoRequest {
    /// The project folder.
    pub dir: PathBuf,
    /// The seed of the world, the data, the base model and every run.
    pub seed: u64,
    /// Sizes.
    pub size: DemoSize,
    /// Where trained base models are cached ([`base::cache_root`] unless a test says otherwise).
    pub base_cache: PathBuf,
}

impl DemoRequest {
    /// The demo of `seed` at `size` in `dir`, with the usual base-model cache.
    pub fn new(dir: PathBuf, seed: u64, size: DemoSize) -> Self {
        Self { dir, seed, size, base_cache: base::cache_root() }
    }
}

/// `demo.json` in a demo project: what it was made from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoMarker {
    /// The seed.
    pub seed: u64,
    /// The size, as written.
    pub size: serde_json::Value,
    /// The city the travel family over-represents.
    pub biased_city: String,
    /// Seconds spent training the base model (0 when it came from the cache).
    pub base_seconds: f64,
    /// Whether the base model came from the cache.
    pub base_cached: bool,
    /// Seconds spent writing the world's files.
    pub files_seconds: f64,
}

/// The name of the marker file.
pub const MARKER: &str = "demo.json";

/// The default folder of the demo project: `~/dtm-studio-demo` (or the temporary folder).
pub fn default_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir).join("dtm-studio-demo")
}

/// Reads a demo project's marker, if `dir` is one.
pub fn read_marker(dir: &Path) -> Option<DemoMarker> {
    serde_json::from_slice(&std::fs::read(dir.join(MARKER)).ok()?).ok()
}

/// Writes the demo project (files, base model, `dtm.toml`). Idempotent: the same seed and size
/// write the same files, so stages already done stay done; an edited `dtm.toml` is kept.
pub fn prepare_demo(req: &DemoRequest, sink: &EventSink, cancel: &CancelToken) -> Result<DemoMarker, DemoError> {
    project::check_folder(req)?;
    let started = Instant::now();
    let world = world::World::generate(req.seed, req.size.people);
    let files = project::write_world_files(req, &world)?;
    let files_seconds = started.elapsed().as_secs_f64();
    let lines = corpus::corpus_lines(&world);
    let vocab = vocab::vocabulary(lines.iter().map(String::as_str).chain(files.texts.iter().map(String::as_str)));
    let key = base::cache_key(&lines, &vocab, &req.size.base, req.seed);
    let cached = req.base_cache.join(&key);
    let base_cached = cached.join("config.json").is_file();
    let started = Instant::now();
    if !base_cached {
        run_stage("demo:base", sink, cancel, |scope| {
            scope.log(format!("training the demo's base model from scratch (cached afterwards in {})", cached.display()));
            base::train_base(&lines, &vocab, &req.size.base, req.seed, &cached, &scope).map(|loss| {
                scope.log(format!("base model trained: final loss {loss:.3}"));
            })
        })?;
    }
    let base_seconds = if base_cached { 0.0 } else { started.elapsed().as_secs_f64() };
    base::copy_folder(&cached, &req.dir.join(project::BASE_DIR))?;
    project::write_project_file(req, &files.benches)?;
    let marker = DemoMarker {
        seed: req.seed,
        size: serde_json::to_value(&req.size).unwrap_or_default(),
        biased_city: world.biased_city.to_string(),
        base_seconds,
        base_cached,
        files_seconds,
    };
    let path = req.dir.join(MARKER);
    let text = serde_json::to_vec_pretty(&marker).unwrap_or_default();
    crate::engine::fsutil::write_atomic(&path, &text).map_err(|e| DemoError::io(&path, e))?;
    Ok(marker)
}

/// The demo from start to end: prepare, run every stage of the project, summarise.
pub fn run_demo(req: &DemoRequest, sink: &EventSink, cancel: &CancelToken) -> Result<(RunSummary, DemoSummary), DemoError> {
    prepare_demo(req, sink, cancel)?;
    let run = run_project(&req.dir, &RunOptions::default(), sink, cancel)?;
    let summary = summary::summarize(&req.dir)?;
    summary::write_summary(&req.dir, &summary)?;
    Ok((run, summary))
}
