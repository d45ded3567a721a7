//! A named set of tensors being assembled into a model, with shape checks that name the tensor
//! and the file it came from.

use super::error::{ModelError, Result};
use super::frozen_matmul::FrozenWeight;
use super::quantized_weight::QuantizedWeight;
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Tensors by their HF name (`model.layers.0.self_attn.q_proj.weight`, ...): dense tensors, and
/// weights kept in quantized GGUF blocks.
#[derive(Debug, Default)]
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    quantized: HashMap<String, Arc<QuantizedWeight>>,
    origin: PathBuf,
}

impl Weights {
    /// An empty set whose errors will name `origin`.
    pub fn new(origin: &Path) -> Self {
        Self { tensors: HashMap::new(), quantized: HashMap::new(), origin: origin.to_path_buf() }
    }

    /// Wraps tensors already in memory.
    pub fn from_map(tensors: HashMap<String, Tensor>, origin: &Path) -> Self {
        Self { tensors, quantized: HashMap::new(), origin: origin.to_path_buf() }
    }

    /// Adds or replaces a weight kept in quantized blocks.
    pub fn insert_quantized(&mut self, name: String, weight: QuantizedWeight) {
        self.tensors.remove(&name);
        self.quantized.insert(name, Arc::new(weight));
    }

    /// The quantized weight of that name, if it is one.
    pub fn quantized(&self, name: &str) -> Option<&Arc<QuantizedWeight>> {
        self.quantized.get(name)
    }

    /// Takes a 2-D weight as a frozen weight, checking its shape: quantized blocks as they are,
    /// a dense tensor converted to `dtype` on `device`.
    pub fn take_frozen(&mut self, name: &str, shape: [usize; 2], dtype: DType, device: &Device) -> Result<FrozenWeight> {
        let Some(q) = self.quantized.remove(name) else { return Ok(FrozenWeight::new(self.take(name, &shape, dtype, device)?)) };
        let dims = q.dims();
        if [dims.0, dims.1] != shape {
            return Err(ModelError::Tensor {
                path: self.origin.clone(),
                name: name.to_string(),
                detail: format!("has shape {dims:?} but the configuration implies {shape:?}"),
            });
        }
        Ok(FrozenWeight::Quantized(q))
    }

    /// The file or folder the tensors came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Adds or replaces a tensor.
    pub fn insert(&mut self, name: String, tensor: Tensor) {
        self.tensors.insert(name, tensor);
    }

    /// Whether a tensor (dense or quantized) is present.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name) || self.quantized.contains_key(name)
    }

    /// Borrows a tensor.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// Mutable access to the tensors (adapters are merged in place).
    pub fn tensors_mut(&mut self) -> &mut HashMap<String, Tensor> {
        &mut self.tensors
    }

    /// All tensor names (dense and quantized), sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tensors.keys().chain(self.quantized.keys()).cloned().collect();
        names.sort();
        names
    }

    /// Takes a dense tensor, checking its shape, converted to `dtype` on `device`; a weight kept
    /// quantized is de-quantised.
    pub fn take(&mut self, name: &str, shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        if let Some(q) = self.quantized.remove(name) {
            self.tensors.insert(name.to_string(), q.dequantize()?);
        }
        let tensor = self.tensors.remove(name).ok_or_else(|| ModelError::Tensor {
            path: self.origin.clone(),
            name: name.to_string(),
            detail: "missing from the checkpoint (is this the right architecture and a complete download?)".into(),
        })?;
        if tensor.dims() != shape {
            return Err(ModelError::Tensor {
                path: self.origin.clone(),
                name: name.to_string(),
                detail: format!("has shape {:?} but config.json implies {:?}", tensor.dims(), shape),
            });
        }
        Ok(tensor.to_device(device)?.to_dtype(dtype)?)
    }

    /// Takes a tensor if present (optional biases).
    pub fn take_optional(&mut self, name: &str, shape: &[usize], dtype: DType, device: &Device) -> Result<Option<Tensor>> {
        if self.contains(name) {
            self.take(name, shape, dtype, device).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Number of tensors left.
    pub fn len(&self) -> usize {
        self.tensors.len() + self.quantized.len()
    }

    /// Whether no tensors are left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
