//! The interactive path: base model and adapters held in memory, so that a new weight vector
//! (or method) is applied without reading any file. The GUI's "what if sub-model 3 gets more
//! weight?" loop calls [`MergeSession::merged_model`] and re-scores.
//!
//! Two ways to get the merged model:
//! - [`MergeSession::merged_model`] folds the merge into dense weights (`W + dW` per module, one
//!   `[out, R] x [R, in]` product each for the exact methods, in parallel); any method.
//! - [`MergeSession::lora_model`] attaches the exact merge (linear, task arithmetic, LoRA
//!   parameter averaging) as one LoRA per module to a base model built once: a new weight vector
//!   costs only small concatenations; each forward pass pays the rank-R LoRA products.

use super::base::BaseModel;
use super::delta::{exact_factors, load_adapters, merged_delta, AdapterSet, ModuleSlot};
use super::error::Result;
use super::fisher::FisherSet;
use super::spec::MergeSpec;
use crate::engine::model::adapter::LoraAdapter;
use crate::engine::model::lora::{LoraSet, LoraSpec};
use crate::engine::model::weights::Weights;
use crate::engine::model::{CausalLm, ModelConfig};
use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Base tensors (f32, CPU) and adapters kept in memory for repeated merges.
pub struct MergeSession {
    config: ModelConfig,
    base: HashMap<String, Tensor>,
    set: AdapterSet,
    fisher: Option<FisherSet>,
    origin: PathBuf,
    base_model: Mutex<Option<CausalLm>>,
}

impl MergeSession {
    /// Reads the base model (folder, GGUF or cached id) and the adapter folders once.
    pub fn open(base: &str, adapters: &[PathBuf]) -> Result<Self> {
        let model = BaseModel::open(base)?;
        let tensors: HashMap<String, Tensor> =
            model.entries().par_iter().map(|e| Ok((e.name.clone(), model.tensor_f32(e)?))).collect::<Result<_>>()?;
        Self::from_parts(model.config.clone(), tensors, load_adapters(adapters)?, model.path())
    }

    /// Builds a session from tensors and adapters already in memory (`base` by HF name).
    pub fn from_parts(config: ModelConfig, base: HashMap<String, Tensor>, adapters: Vec<LoraAdapter>, origin: &Path) -> Result<Self> {
        let shapes: HashMap<String, Vec<usize>> = base.iter().map(|(n, t)| (n.clone(), t.dims().to_vec())).collect();
        let set = AdapterSet::new(adapters, &shapes, config.num_hidden_layers)?;
        Ok(Self { config, base, set, fisher: None, origin: origin.to_path_buf(), base_model: Mutex::new(None) })
    }

    /// Supplies Fisher diagonals for the `fisher` method.
    pub fn set_fisher(&mut self, fisher: FisherSet) {
        self.fisher = Some(fisher);
    }

    /// The adapters, module by module.
    pub fn adapters(&self) -> &AdapterSet {
        &self.set
    }

    /// The base model's architecture.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The merged delta of one module as an `[out, in]` f32 tensor.
    pub fn module_delta(&self, slot: &ModuleSlot, spec: &MergeSpec) -> Result<Tensor> {
        if let Some((a, b)) = exact_factors(slot, spec)? {
            return Ok(b.matmul(&a)?);
        }
        let d = merged_delta(slot, spec, self.fisher.as_ref())?;
        Ok(Tensor::from_vec(d, (slot.out, slot.inp), &Device::Cpu)?)
    }

    /// Every adapted base tensor with the merged delta added (`W + dW`), by tensor name.
    pub fn merged_tensors(&self, spec: &MergeSpec) -> Result<Vec<(String, Tensor)>> {
        spec.validate(self.set.len())?;
        self.set
            .slots
            .par_iter()
            .map(|slot| {
                let w = &self.base[&slot.weight_name];
                let merged = (w.to_dtype(DType::F32)? + self.module_delta(slot, spec)?)?;
                Ok((slot.weight_name.clone(), merged))
            })
            .collect()
    }

    /// All base tensors with the merged ones swapped in (unchanged tensors are shared, not
    /// copied).
    pub fn merged_weights(&self, spec: &MergeSpec) -> Result<Weights> {
        let mut map = self.base.clone();
        for (name, t) in self.merged_tensors(spec)? {
            map.insert(name, t);
        }
        Ok(Weights::from_map(map, &self.origin))
    }

    /// The merged model, ready to score.
    pub fn merged_model(&self, spec: &MergeSpec, dtype: DType, device: &Device) -> Result<CausalLm> {
        let mut weights = self.merged_weights(spec)?;
        Ok(CausalLm::from_weights(&self.config, &mut weights, dtype, device)?)
    }

    /// The base model in `dtype` on `device`, built once and reused (tensors are shared).
    pub fn base_model(&self, dtype: DType, device: &Device) -> Result<CausalLm> {
        let mut cached = self.base_model.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = cached.as_ref().filter(|m| m.dtype() == dtype && m.device().same_device(device)) {
            return Ok(m.clone());
        }
        let mut weights = Weights::from_map(self.base.clone(), &self.origin);
        let model = CausalLm::from_weights(&self.config, &mut weights, dtype, device)?;
        *cached = Some(model.clone());
        Ok(model)
    }

    /// The merged model as the base with the merge attached as LoRA (scale 1, the weights
    /// folded into B), for the exact methods; other methods get [`Self::merged_model`].
    pub fn lora_model(&self, spec: &MergeSpec, dtype: DType, device: &Device) -> Result<CausalLm> {
        if !spec.method.exact_adapter() {
            return self.merged_model(spec, dtype, device);
        }
        spec.validate(self.set.len())?;
        let mut model = self.base_model(dtype, device)?;
        let lora_spec = LoraSpec { rank: 1, alpha: 1.0, dropout: 0.0, targets: Vec::new(), use_rslora: false };
        let params = self
            .set
            .slots
            .par_iter()
            .map(|slot| {
                let (a, b) =
                    exact_factors(slot, spec)?.ok_or_else(|| super::error::MergeError::Spec(format!("{} is not exact", spec.method)))?;
                let a = candle_core::Var::from_tensor(&a.to_device(device)?)?;
                let b = candle_core::Var::from_tensor(&b.to_device(device)?)?;
                Ok((slot.module.clone(), (a, b)))
            })
            .collect::<Result<_>>()?;
        model.attach_lora(&LoraSet { spec: lora_spec, params })?;
        Ok(model)
    }
}
