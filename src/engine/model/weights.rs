//! A named set of tensors being assembled into a model, with shape checks that name the tensor
//! and the file it came from.

use super::error::{ModelError, Result};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Tensors by their HF name (`model.layers.0.self_attn.q_proj.weight`, ...).
#[derive(Debug, Default)]
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    origin: PathBuf,
}

impl Weights {
    /// An empty set whose errors will name `origin`.
    pub fn new(origin: &Path) -> Self {
        Self { tensors: HashMap::new(), origin: origin.to_path_buf() }
    }

    /// Wraps tensors already in memory.
    pub fn from_map(tensors: HashMap<String, Tensor>, origin: &Path) -> Self {
        Self { tensors, origin: origin.to_path_buf() }
    }

    /// The file or folder the tensors came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Adds or replaces a tensor.
    pub fn insert(&mut self, name: String, tensor: Tensor) {
        self.tensors.insert(name, tensor);
    }

    /// Whether a tensor is present.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Borrows a tensor.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// Mutable access to the tensors (adapters are merged in place).
    pub fn tensors_mut(&mut self) -> &mut HashMap<String, Tensor> {
        &mut self.tensors
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tensors.keys().cloned().collect();
        names.sort();
        names
    }

    /// Takes a tensor, checking its shape, converted to `dtype` on `device`.
    pub fn take(&mut self, name: &str, shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
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
        self.tensors.len()
    }

    /// Whether no tensors are left.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }
}
