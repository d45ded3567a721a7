//! `bench merge`: seconds and GB/s to merge K adapters into a full model and write it, and the
//! seconds of one interactive re-weighting, in the units of the mergekit anchor script; `bench
//! preview`: milliseconds from a new weight vector to the live preview's first and last figure.

use super::full::FullOptions;
use super::spec::{MergeMethod, MergeSpec};
use super::synthetic::{write_random_adapter, SyntheticAdapter};
use super::{error::Result, run_merge, MergeOutput, MergeRequest, MergeSession};
use crate::engine::bench::median_seconds;
use crate::engine::job::{CancelToken, EventSink};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One merge figure, printed as a JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct MergeFigure {
    /// `merge_full_<method>`, `merge_reweight_dense_<method>` or `merge_reweight_lora_<method>`.
    pub what: String,
    /// Wall seconds (the full merge once, cold as far as this process goes; re-weighting: median).
    pub seconds: f64,
    /// Output bytes per second / 1e9 (full merge only).
    pub gb_per_s: Option<f64>,
    /// Peak resident memory of this process so far, MB (Linux `VmHWM`).
    pub peak_rss_mb: Option<f64>,
    /// Re-weighting only: seconds of one scoring forward pass (1 x 256 tokens) of the model it
    /// produced (the LoRA-attached model pays its LoRA products here).
    pub score_seconds: Option<f64>,
    /// Adapters merged.
    pub k: usize,
    /// CPU threads.
    pub threads: usize,
}

/// Peak resident set size of this process in MB, where the OS reports it.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Makes `k` random r16 / alpha16 adapters on gate/up/down (like the anchor's `make_adapters`)
/// for `base` under `dir`.
pub fn make_bench_adapters(base: &str, dir: &Path, k: usize) -> Result<Vec<PathBuf>> {
    let model = super::base::BaseModel::open(base)?;
    let shapes = model.shapes();
    (0..k)
        .map(|i| {
            let spec = SyntheticAdapter {
                rank: 16,
                alpha: 16.0,
                targets: vec!["gate_proj".into(), "up_proj".into(), "down_proj".into()],
                b_std: 0.01,
                seed: i as u64,
            };
            write_random_adapter(&dir.join(format!("sub-{i}")), &shapes, &spec, base)
        })
        .collect()
}

/// Merges `adapters` into `base` as a full model under `out` once (timed, with peak memory),
/// then times re-weighting in memory (new weights -> a model ready to score) `reps` times, both
/// folded into dense weights and attached as LoRA, with one scoring pass of each.
pub fn bench_merge(base: &str, adapters: &[PathBuf], method: MergeMethod, out: &Path, reps: usize) -> Result<Vec<MergeFigure>> {
    let threads = rayon::current_num_threads();
    let k = adapters.len();
    let req = MergeRequest {
        base: base.to_string(),
        adapters: adapters.to_vec(),
        spec: MergeSpec::new(method),
        output: MergeOutput::Full,
        out: out.to_path_buf(),
        full: FullOptions::default(),
        overwrite: true,
    };
    let outcome = run_merge(&req, &EventSink::discard(), &CancelToken::new())?;
    let bytes = outcome.full.as_ref().map(|f| f.bytes_written).unwrap_or(0) as f64;
    let full = MergeFigure {
        what: format!("merge_full_{}", method.name().replace('-', "_")),
        seconds: outcome.seconds,
        gb_per_s: Some(bytes / 1e9 / outcome.seconds),
        peak_rss_mb: peak_rss_mb(),
        score_seconds: None,
        k,
        threads,
    };
    let session = MergeSession::open(base, adapters)?;
    let (dtype, device) = (candle_core::DType::F32, candle_core::Device::Cpu);
    let ids = crate::engine::bench::random_ids(1, 256, session.config().vocab_size, 0, &device)?;
    let mut figures = vec![full];
    for lora in [false, true] {
        let mut i = 0usize;
        let mut model = None;
        let seconds = median_seconds(1, reps, || {
            let mut spec = MergeSpec::new(method);
            i += 1;
            let w: Vec<super::WeightValue> = (0..k).map(|j| super::WeightValue::Constant(1.0 + ((i + j) % k) as f64)).collect();
            spec.weights = Some(w);
            model = Some(if lora { session.lora_model(&spec, dtype, &device)? } else { session.merged_model(&spec, dtype, &device)? });
            Ok::<(), super::MergeError>(())
        })?;
        let score_seconds = match &model {
            Some(m) => Some(median_seconds(1, reps, || m.forward_inference(&ids, None).map(drop))?),
            None => None,
        };
        let kind = if lora { "lora" } else { "dense" };
        figures.push(MergeFigure {
            what: format!("merge_reweight_{kind}_{}", method.name().replace('-', "_")),
            seconds,
            gb_per_s: None,
            peak_rss_mb: None,
            score_seconds,
            k,
            threads,
        });
    }
    Ok(figures)
}

/// The `bench preview` figure: how long a merge preview takes to show its first and its last
/// figure after a new weight vector (a slider released), and how much it scores.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewFigure {
    /// Always `merge_preview_<method>`.
    pub what: String,
    /// Median milliseconds from the new weights to the first portion's loss.
    pub first_ms: f64,
    /// Median milliseconds from the new weights to the benchmark subset's final accuracy (the
    /// last figure).
    pub final_ms: f64,
    /// Median milliseconds for the base model alone to score the first portion's rows, timed
    /// beside each release: the first figure's floor on this machine under its current load.
    pub base_first_ms: f64,
    /// Seconds to open the preview (base, adapters, rows) and score equal weights once.
    pub open_s: f64,
    /// Held-out rows scored per portion.
    pub heldout_rows: Vec<usize>,
    /// Tokens of those rows (all portions).
    pub heldout_tokens: usize,
    /// Benchmark subset items.
    pub bench_items: usize,
    /// Tokens of the benchmark subset's requests (context and continuation of every choice).
    pub bench_tokens: usize,
    /// Adapters merged.
    pub k: usize,
    /// Slider releases timed.
    pub reps: usize,
    /// CPU threads.
    pub threads: usize,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

/// Opens a merge preview on `req`, scores it once with equal weights (what the page shows
/// first), then times `reps` slider releases: each a new weight vector, from the
/// change to the first figure and to the last.
pub fn bench_preview(req: &super::preview::PreviewRequest, method: MergeMethod, reps: usize) -> Result<PreviewFigure> {
    use super::preview::{MergePreview, PreviewUpdate};
    use std::time::Instant;
    let cancel = CancelToken::new();
    let opened = Instant::now();
    let preview = MergePreview::open(req, &cancel)?;
    let k = preview.k();
    preview.score(&MergeSpec::new(method), &cancel, &mut |_| {})?;
    let open_s = opened.elapsed().as_secs_f64();
    let (mut first, mut last, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps.max(1) {
        let mut spec = MergeSpec::new(method);
        spec.weights = Some((0..k).map(|j| super::WeightValue::Constant(if j == rep % k { 0.4 } else { 0.2 })).collect());
        let start = Instant::now();
        let mut first_at = None;
        preview.score(&spec, &cancel, &mut |u| {
            if matches!(u, PreviewUpdate::Portion { .. }) && first_at.is_none() {
                first_at = Some(start.elapsed().as_secs_f64() * 1e3);
            }
        })?;
        let end = start.elapsed().as_secs_f64() * 1e3;
        first.push(first_at.unwrap_or(end));
        last.push(end);
        let start = Instant::now();
        preview.base_portion_loss(0, &cancel)?;
        floor.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(PreviewFigure {
        what: format!("merge_preview_{}", method.name().replace('-', "_")),
        first_ms: median(first),
        final_ms: median(last),
        base_first_ms: median(floor),
        open_s,
        heldout_rows: preview.portion_rows(),
        heldout_tokens: preview.heldout_tokens(),
        bench_items: preview.bench().map_or(0, |b| b.1),
        bench_tokens: preview.bench_tokens(),
        k,
        reps: reps.max(1),
        threads: rayon::current_num_threads(),
    })
}
