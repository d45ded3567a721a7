//! Diagonal empirical Fisher information for `fisher` merging.
//!
//! For sub-model `k` and an adapted base weight `W` (e.g. `model.layers.0.mlp.gate_proj.weight`),
//! `F_k = mean over N examples of (d loss_n / d W')^2` at the adapted weight `W' = W + dW_k`,
//! where `loss_n` is the mean next-token cross-entropy over the example's target tokens. The
//! examples should come from sub-model `k`'s own data portion.
//!
//! Contract with training: after training sub-model `k`, call [`compute_fisher`] on (a sample of)
//! its portion and save the result as `fisher.safetensors` beside the adapter
//! ([`FisherDiagonal::save`]); the `fisher` merge method reads it from each adapter folder. The file
//! holds one f32 tensor per adapted weight, named like the base tensor, shape `[out, in]`, and
//! metadata `examples` (N).

use super::delta::ModuleSlot;
use super::error::{MergeError, Result};
use crate::engine::job::{CancelToken, EventSink};
use crate::engine::model::adapter::LoraAdapter;
use crate::engine::model::weights::Weights;
use crate::engine::model::{CausalLm, ModelConfig};
use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One sub-model's Fisher diagonals, by base weight name.
#[derive(Debug, Clone, Default)]
pub struct FisherDiagonal {
    /// `[out, in]` f32 tensors named like the base weights they belong to.
    pub tensors: HashMap<String, Tensor>,
    /// How many examples were averaged.
    pub examples: usize,
    /// The file it was read from, for messages.
    pub path: Option<PathBuf>,
}

/// The file name the `fisher` merge method looks for in each adapter folder.
pub const FISHER_FILE: &str = "fisher.safetensors";

impl FisherDiagonal {
    /// Reads a Fisher file written by [`FisherDiagonal::save`].
    pub fn load(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(MergeError::Fisher {
                path: path.to_path_buf(),
                detail: format!(
                    "missing: compute it with the fisher stage on the sub-model's own portion (base model, this adapter {}, the data and its portion)",
                    path.parent().unwrap_or(Path::new(".")).display()
                ),
            });
        }
        let bad = |detail: String| MergeError::Fisher { path: path.to_path_buf(), detail };
        let bytes = std::fs::read(path).map_err(|e| MergeError::io(path, e))?;
        crate::engine::model::safetensors_file::check_safetensors(path, &bytes)?;
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("not a readable safetensors file: {e}")))?;
        let examples = meta.metadata().as_ref().and_then(|m| m.get("examples")).and_then(|v| v.parse().ok()).unwrap_or(0);
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| bad(format!("not a readable safetensors file: {e}")))?;
        let tensors = tensors.into_iter().map(|(n, t)| Ok((n, t.to_dtype(DType::F32)?))).collect::<Result<HashMap<_, _>>>()?;
        Ok(Self { tensors, examples, path: Some(path.to_path_buf()) })
    }

    /// Writes the diagonals as safetensors (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("safetensors.tmp");
        let meta: HashMap<String, String> = [("examples".to_string(), self.examples.to_string())].into();
        let tensors: Vec<(&String, &Tensor)> = self.tensors.iter().collect();
        safetensors::serialize_to_file(tensors, Some(meta), &tmp)
            .map_err(|e| MergeError::Fisher { path: tmp.clone(), detail: format!("cannot write: {e}") })?;
        std::fs::rename(&tmp, path).map_err(|e| MergeError::io(path, e))
    }
}

/// Fisher diagonals for each adapter of a merge, in adapter order.
#[derive(Debug, Clone, Default)]
pub struct FisherSet {
    /// One per adapter.
    pub per_adapter: Vec<FisherDiagonal>,
}

impl FisherSet {
    /// Reads `fisher.safetensors` from each adapter folder; names the first folder lacking it.
    pub fn from_adapter_dirs(dirs: &[PathBuf]) -> Result<Self> {
        Ok(Self { per_adapter: dirs.iter().map(|d| FisherDiagonal::load(&d.join(FISHER_FILE))).collect::<Result<_>>()? })
    }

    /// Each adapter's Fisher tensor for `slot`, flattened (`None` where it has none), with a
    /// shape check; errors when no adapter has one for a module some adapter changes.
    pub fn for_module(&self, slot: &ModuleSlot) -> Result<Vec<Option<Vec<f32>>>> {
        let mut out = Vec::with_capacity(self.per_adapter.len());
        for f in &self.per_adapter {
            let path = f.path.clone().unwrap_or_else(|| PathBuf::from(FISHER_FILE));
            match f.tensors.get(&slot.weight_name) {
                None => out.push(None),
                Some(t) if t.dims() != [slot.out, slot.inp] => {
                    return Err(MergeError::Fisher {
                        path,
                        detail: format!("tensor '{}' is {:?} but the weight is [{}, {}]", slot.weight_name, t.dims(), slot.out, slot.inp),
                    })
                }
                Some(t) => out.push(Some(t.flatten_all()?.to_vec1::<f32>()?)),
            }
        }
        if out.iter().all(Option::is_none) {
            let path = self.per_adapter.first().and_then(|f| f.path.clone()).unwrap_or_else(|| PathBuf::from(FISHER_FILE));
            return Err(MergeError::Fisher { path, detail: format!("no adapter has a Fisher tensor '{}'", slot.weight_name) });
        }
        Ok(out)
    }
}

/// One training example as token ids; `targets[t]` says whether token `t` (t >= 1) is predicted
/// (assistant tokens in SFT). Token 0 is never a target.
#[derive(Debug, Clone)]
pub struct FisherExample {
    /// Token ids of the whole example.
    pub ids: Vec<u32>,
    /// Same length as `ids`.
    pub targets: Vec<bool>,
}

impl FisherExample {
    /// From token ids and HF-style labels (`-100` where no loss is taken; `labels[t]` is the
    /// token predicted at position `t`), as SFT batches carry them.
    pub fn from_labels(ids: &[u32], labels: &[i64]) -> Self {
        let targets = (0..ids.len()).map(|t| t > 0 && labels.get(t).is_some_and(|l| *l >= 0)).collect();
        Self { ids: ids.to_vec(), targets }
    }
}

/// Computes sub-model `adapter`'s diagonal empirical Fisher on `examples` (one backward pass per
/// example, batch 1) for every weight the adapter changes. `base` holds the base model's
/// tensors by HF name; `dtype` is the working precision (f32, or f64 for checks). Reports
/// progress as stage `fisher`.
#[allow(clippy::too_many_arguments)]
pub fn compute_fisher(
    config: &ModelConfig,
    base: &HashMap<String, Tensor>,
    adapter: &LoraAdapter,
    examples: &[FisherExample],
    dtype: DType,
    device: &Device,
    events: &EventSink,
    cancel: &CancelToken,
) -> Result<FisherDiagonal> {
    let mut tensors = base.clone();
    let mut vars: Vec<(String, Var)> = Vec::new();
    for (module, pair) in &adapter.modules {
        let name = format!("{module}.weight");
        let w = tensors.get(&name).ok_or_else(|| MergeError::Adapter {
            path: adapter.dir.clone(),
            detail: format!("adapts '{module}', which the base model does not have"),
        })?;
        let delta = (pair.b.to_dtype(DType::F64)?.matmul(&pair.a.to_dtype(DType::F64)?)? * pair.scale)?;
        let adapted = (w.to_dtype(DType::F64)? + delta.to_dtype(DType::F64)?)?.to_dtype(dtype)?.to_device(device)?;
        let var = Var::from_tensor(&adapted)?;
        tensors.insert(name.clone(), var.as_tensor().clone());
        vars.push((name, var));
    }
    let mut weights = Weights::from_map(tensors, &adapter.dir);
    let model = CausalLm::from_weights(config, &mut weights, dtype, device)?;
    let mut sums: Vec<Tensor> = vars.iter().map(|(_, v)| v.as_tensor().zeros_like()).collect::<candle_core::Result<_>>()?;
    let mut used = 0usize;
    for (n, ex) in examples.iter().enumerate() {
        cancel.check()?;
        if ex.ids.len() != ex.targets.len() {
            return Err(MergeError::Spec(format!("Fisher example {n}: {} ids but {} target flags", ex.ids.len(), ex.targets.len())));
        }
        let positions: Vec<u32> = (1..ex.ids.len()).filter(|&t| ex.targets[t]).map(|t| (t - 1) as u32).collect();
        if positions.is_empty() {
            events.progress("fisher", n as u64 + 1, examples.len() as u64, format!("{used} examples"));
            continue;
        }
        let input = Tensor::new(&ex.ids[..ex.ids.len() - 1], device)?.unsqueeze(0)?;
        let logits = model.forward(&input)?.squeeze(0)?;
        let pos = Tensor::new(positions.as_slice(), device)?;
        let picked = logits.index_select(&pos, 0)?;
        let labels: Vec<u32> = positions.iter().map(|&p| ex.ids[p as usize + 1]).collect();
        let loss = candle_nn::loss::cross_entropy(&picked, &Tensor::new(labels.as_slice(), device)?)?;
        let grads = loss.backward()?;
        for ((name, var), sum) in vars.iter().zip(sums.iter_mut()) {
            let g = grads.get(var.as_tensor()).ok_or_else(|| MergeError::Spec(format!("no gradient reached '{name}'")))?;
            *sum = (&*sum + g.sqr()?)?;
        }
        used += 1;
        events.progress("fisher", n as u64 + 1, examples.len() as u64, format!("{used} examples"));
    }
    if used == 0 {
        return Err(MergeError::Spec("no Fisher example has a target token".into()));
    }
    let tensors = vars
        .iter()
        .zip(sums)
        .map(|((name, _), s)| Ok((name.clone(), (s / used as f64)?.to_dtype(DType::F32)?.to_device(&Device::Cpu)?)))
        .collect::<Result<HashMap<_, _>>>()?;
    Ok(FisherDiagonal { tensors, examples: used, path: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_mark_the_predicted_tokens() {
        let ex = FisherExample::from_labels(&[1, 2, 3, 4], &[-100, -100, 3, 4]);
        assert_eq!(ex.targets, vec![false, false, true, true]);
        // Position 0 is never a target (nothing predicts it).
        assert_eq!(FisherExample::from_labels(&[1, 2], &[1, 2]).targets, vec![false, true]);
    }
}
