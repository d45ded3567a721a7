//! `bench merge`: seconds and GB/s to merge K adapters into a full model and write it, and the
//! seconds of one interactive re-weighting, in the units of the mergekit anchor script.

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
