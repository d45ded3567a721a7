//! The full merged model as an HF folder: every base tensor streamed from the (memory-mapped)
//! base, the adapted ones replaced by `W + dW_merged` computed in f32 and stored in the output
//! dtype, written in parallel windows of tensors but in file order, so memory stays near one
//! window of tensors plus the adapters.

use super::base::{bytes_to_f32, f32_to_bytes, BaseModel};
use super::delta::{merged_delta, MergeInputs};
use super::error::Result;
use super::writer::{is_float, plan_shards, shard_names, write_index, OutTensor, SafetensorsWriter, DEFAULT_MAX_SHARD_BYTES};
use crate::engine::job::{CancelToken, EventSink};
use rayon::prelude::*;
use safetensors::Dtype;
use serde::Serialize;
use std::borrow::Cow;
use std::path::Path;
use std::time::Instant;

/// Options of a full-model merge.
#[derive(Debug, Clone)]
pub struct FullOptions {
    /// Output float type; `None` keeps each base tensor's own (f32 for a GGUF base).
    pub dtype: Option<Dtype>,
    /// Shard threshold in bytes.
    pub max_shard_bytes: u64,
}

impl Default for FullOptions {
    fn default() -> Self {
        Self { dtype: None, max_shard_bytes: DEFAULT_MAX_SHARD_BYTES }
    }
}

/// What a full merge wrote.
#[derive(Debug, Clone, Serialize)]
pub struct FullReport {
    /// Tensors written.
    pub tensors: usize,
    /// Tensors changed by the merge.
    pub merged_tensors: usize,
    /// Bytes of tensor data written.
    pub bytes_written: u64,
    /// Weight files written.
    pub shards: usize,
    /// Output dtype (HF name).
    pub dtype: String,
    /// Wall time of the tensor pass.
    pub seconds: f64,
}

/// Writes the merged model's weights (and nothing else) into `dir`.
pub fn write_full_weights(
    base: &BaseModel,
    inputs: MergeInputs<'_>,
    dir: &Path,
    opts: &FullOptions,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<FullReport> {
    let start = Instant::now();
    let MergeInputs { set, spec, fisher } = inputs;
    let out_dtype = |d: Dtype| match opts.dtype {
        Some(o) if is_float(d) => o,
        _ => d,
    };
    let mut plan: Vec<OutTensor> =
        base.entries().iter().map(|e| OutTensor { name: e.name.clone(), dtype: out_dtype(e.dtype), shape: e.shape.clone() }).collect();
    let shards = plan_shards(&mut plan, opts.max_shard_bytes.max(1));
    let names = shard_names(shards.len());
    let by_name: std::collections::HashMap<&str, usize> = base.entries().iter().enumerate().map(|(i, e)| (e.name.as_str(), i)).collect();
    let window = rayon::current_num_threads().max(2);
    let total = plan.len() as u64;
    let (mut done, mut bytes_written, mut merged) = (0u64, 0u64, 0usize);
    for (shard, file_name) in shards.iter().zip(&names) {
        let refs: Vec<&OutTensor> = shard.iter().map(|&i| &plan[i]).collect();
        let mut writer = SafetensorsWriter::create(&dir.join(file_name), &refs)?;
        for chunk in refs.chunks(window) {
            cancel.check()?;
            let produced: Vec<(Cow<'_, [u8]>, bool)> = chunk
                .par_iter()
                .map(|t| {
                    let entry = &base.entries()[by_name[t.name.as_str()]];
                    match set.slot_for_weight(&t.name) {
                        Some(slot) => {
                            let delta = merged_delta(slot, spec, fisher)?;
                            let mut w = base.read_f32(entry)?;
                            if w.len() != delta.len() {
                                return Err(
                                    base.tensor_error(entry, format!("has {} entries but the merged delta has {}", w.len(), delta.len()))
                                );
                            }
                            w.par_iter_mut().zip(delta.par_iter()).for_each(|(x, d)| *x += d);
                            Ok((Cow::Owned(f32_to_bytes(&w, t.dtype)), true))
                        }
                        None if t.dtype == entry.dtype => Ok((base.raw_bytes(entry)?, false)),
                        None => {
                            let raw = base.raw_bytes(entry)?;
                            let values =
                                bytes_to_f32(&raw, entry.dtype).ok_or_else(|| base.tensor_error(entry, "is not a float tensor".into()))?;
                            Ok((Cow::Owned(f32_to_bytes(&values, t.dtype)), false))
                        }
                    }
                })
                .collect::<Result<_>>()?;
            for (t, (bytes, was_merged)) in chunk.iter().zip(produced) {
                writer.write(&t.name, &bytes)?;
                bytes_written += bytes.len() as u64;
                merged += was_merged as usize;
                done += 1;
            }
            sink.progress("merge", done, total, format!("{} MB written", bytes_written / 1_000_000));
        }
        writer.finish()?;
    }
    if shards.len() > 1 {
        write_index(dir, &plan, &shards, &names)?;
    }
    let dtype = opts.dtype.unwrap_or_else(|| base.dtype());
    Ok(FullReport {
        tensors: plan.len(),
        merged_tensors: merged,
        bytes_written,
        shards: shards.len(),
        dtype: super::base::hf_dtype_name(dtype).into(),
        seconds: start.elapsed().as_secs_f64(),
    })
}
