//! The adapters to merge, lined up module by module against the base model's shapes, and the
//! merged delta of one module for any method. An adapter that does not touch a module
//! contributes a zero delta there; ranks may differ between adapters.

use super::error::{MergeError, Result};
use super::fisher::FisherSet;
use super::kernels::{dare_drop, fisher_combine, linear_combine, magnitude_keep, slerp, tensor_seed, ties_combine};
use super::lowrank::concat_factors;
use super::spec::{layer_position, MergeMethod, MergeSpec};
use crate::engine::model::adapter::{LoraAdapter, LoraPair, PEFT_PREFIX};
use candle_core::{DType, Tensor};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;

/// One module some adapter touches: the base weight's shape and each adapter's factors.
#[derive(Debug, Clone)]
pub struct ModuleSlot {
    /// HF module name, `model.layers.0.mlp.gate_proj`.
    pub module: String,
    /// The base tensor it changes, `model.layers.0.mlp.gate_proj.weight`.
    pub weight_name: String,
    /// Output features (rows of the weight).
    pub out: usize,
    /// Input features (columns).
    pub inp: usize,
    /// Position across layers in [0, 1] for weight gradients.
    pub position: f64,
    /// Each adapter's `(A, B, scale)`, `None` where it does not touch the module.
    pub pairs: Vec<Option<LoraPair>>,
}

impl ModuleSlot {
    /// Sum of the ranks of the adapters touching the module.
    pub fn total_rank(&self) -> usize {
        self.pairs.iter().flatten().map(|p| p.a.dims()[0]).sum()
    }
}

/// Adapters checked against a base model, indexed by module.
#[derive(Debug, Clone)]
pub struct AdapterSet {
    /// The adapter folders, in merge order.
    pub dirs: Vec<PathBuf>,
    /// Their configs' `base_model_name_or_path`, if recorded.
    pub base_names: Vec<Option<String>>,
    /// Every module touched by at least one adapter, sorted by name.
    pub slots: Vec<ModuleSlot>,
}

/// Reads adapter folders (PEFT layout) onto the CPU in f32.
pub fn load_adapters(dirs: &[PathBuf]) -> Result<Vec<LoraAdapter>> {
    dirs.par_iter().map(|d| LoraAdapter::load(d).map_err(MergeError::from)).collect()
}

impl AdapterSet {
    /// Lines the adapters up against `base_shapes` (tensor name -> shape), reporting an adapter
    /// made for another base by file and tensor name.
    pub fn new(adapters: Vec<LoraAdapter>, base_shapes: &HashMap<String, Vec<usize>>, num_layers: usize) -> Result<Self> {
        let k = adapters.len();
        let mut slots: std::collections::BTreeMap<String, ModuleSlot> = std::collections::BTreeMap::new();
        for (i, adapter) in adapters.iter().enumerate() {
            let file = adapter.dir.join("adapter_model.safetensors");
            for (module, pair) in &adapter.modules {
                let weight_name = format!("{module}.weight");
                let (r, a_in) = pair.a.dims2()?;
                let (b_out, _) = pair.b.dims2()?;
                let a_name = format!("{PEFT_PREFIX}{module}.lora_A.weight");
                let hint = adapter
                    .config
                    .base_model_name_or_path
                    .as_deref()
                    .map(|b| format!(" (its adapter_config.json names base '{b}')"))
                    .unwrap_or_default();
                let shape = base_shapes.get(&weight_name).ok_or_else(|| MergeError::Adapter {
                    path: file.clone(),
                    detail: format!("tensor '{a_name}' adapts '{module}', which the base model does not have: the adapter was made for a different base{hint}"),
                })?;
                if shape.as_slice() != [b_out, a_in] {
                    return Err(MergeError::Adapter {
                        path: file.clone(),
                        detail: format!(
                            "tensor '{a_name}' is [{r}, {a_in}] and its lora_B is [{b_out}, {r}], a [{b_out}, {a_in}] delta, but the base's '{weight_name}' is {shape:?}: the adapter was made for a different base{hint}"
                        ),
                    });
                }
                let slot = slots.entry(module.clone()).or_insert_with(|| ModuleSlot {
                    module: module.clone(),
                    weight_name: weight_name.clone(),
                    out: b_out,
                    inp: a_in,
                    position: layer_position(module, num_layers),
                    pairs: vec![None; k],
                });
                slot.pairs[i] = Some(pair.clone());
            }
        }
        Ok(Self {
            dirs: adapters.iter().map(|a| a.dir.clone()).collect(),
            base_names: adapters.iter().map(|a| a.config.base_model_name_or_path.clone()).collect(),
            slots: slots.into_values().collect(),
        })
    }

    /// Number of adapters.
    pub fn len(&self) -> usize {
        self.dirs.len()
    }

    /// Whether there are no adapters.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The slot changing base tensor `weight_name`, if any.
    pub fn slot_for_weight(&self, weight_name: &str) -> Option<&ModuleSlot> {
        let module = weight_name.strip_suffix(".weight")?;
        self.slots.binary_search_by(|s| s.module.as_str().cmp(module)).ok().map(|i| &self.slots[i])
    }
}

/// What a writer merges: the adapters, the settings and (for `fisher`) the diagonals.
#[derive(Debug, Clone, Copy)]
pub struct MergeInputs<'a> {
    /// The adapters, module by module.
    pub set: &'a AdapterSet,
    /// Method and settings.
    pub spec: &'a MergeSpec,
    /// Fisher diagonals, needed by the `fisher` method only.
    pub fisher: Option<&'a FisherSet>,
}

/// The per-adapter coefficients of a module (normalised when the spec says so).
pub fn coefficients(slot: &ModuleSlot, spec: &MergeSpec) -> Result<Vec<f64>> {
    let k = slot.pairs.len();
    let mut w = spec.weights_for(&slot.module, slot.position, k);
    if spec.normalize() && spec.method != MergeMethod::Fisher && spec.method != MergeMethod::Slerp {
        let sum: f64 = w.iter().sum();
        if sum.abs() < 1e-12 {
            return Err(MergeError::Spec(format!(
                "the weights for '{}' sum to zero, so they cannot be normalised: change them or turn normalize off",
                slot.module
            )));
        }
        w.iter_mut().for_each(|x| *x /= sum);
    }
    Ok(w)
}

/// The exact low-rank form `(A [R, in], B [out, R])` of the merged delta for the methods that
/// have one (linear, task arithmetic: rank concatenation; LoRA parameter averaging), with
/// scale 1.
pub fn exact_factors(slot: &ModuleSlot, spec: &MergeSpec) -> Result<Option<(Tensor, Tensor)>> {
    let c = coefficients(slot, spec)?;
    let lambda = if spec.method == MergeMethod::TaskArithmetic { spec.lambda } else { 1.0 };
    match spec.method {
        MergeMethod::Linear | MergeMethod::TaskArithmetic => {
            let parts: Vec<(f64, &Tensor, &Tensor)> =
                slot.pairs.iter().zip(&c).filter_map(|(p, c)| p.as_ref().map(|p| (c * p.scale * lambda, &p.a, &p.b))).collect();
            Ok(Some(concat_factors(&parts)?))
        }
        MergeMethod::LoraParamAverage => {
            let touching: Vec<(f64, &LoraPair)> = slot.pairs.iter().zip(&c).filter_map(|(p, c)| p.as_ref().map(|p| (*c, p))).collect();
            let (r0, s0) = (touching[0].1.a.dims()[0], touching[0].1.scale);
            if let Some((_, p)) = touching.iter().find(|(_, p)| p.a.dims()[0] != r0 || (p.scale - s0).abs() > 1e-12 * s0.abs()) {
                return Err(MergeError::Spec(format!(
                    "lora-param-average needs the same rank and alpha in every adapter, but '{}' has rank {} (scale {}) and rank {} (scale {}); use linear instead",
                    slot.module, r0, s0, p.a.dims()[0], p.scale
                )));
            }
            let mut a = (touching[0].1.a.to_dtype(DType::F32)? * touching[0].0)?;
            let mut b = (touching[0].1.b.to_dtype(DType::F32)? * (touching[0].0 * s0))?;
            for (c, p) in &touching[1..] {
                a = (a + (p.a.to_dtype(DType::F32)? * *c)?)?;
                b = (b + (p.b.to_dtype(DType::F32)? * (*c * s0))?)?;
            }
            Ok(Some((a, b)))
        }
        _ => Ok(None),
    }
}

fn dense(pair: &LoraPair) -> Result<Vec<f32>> {
    let d = (pair.b.to_dtype(DType::F32)?.matmul(&pair.a.to_dtype(DType::F32)?)? * pair.scale)?;
    Ok(d.flatten_all()?.to_vec1::<f32>()?)
}

/// `s B A` trimmed to its top `density` magnitudes (TIES), ranked on the f64 product so that
/// the kept set is that of the exact delta.
fn dense_trimmed(pair: &LoraPair, density: f64) -> Result<Vec<f32>> {
    let d = (pair.b.to_dtype(DType::F64)?.matmul(&pair.a.to_dtype(DType::F64)?)? * pair.scale)?;
    let wide = d.flatten_all()?.to_vec1::<f64>()?;
    let keep = magnitude_keep(&wide, density);
    Ok(wide.iter().zip(keep).map(|(x, k)| if k { *x as f32 } else { 0.0 }).collect())
}

/// The merged delta of one module as a dense row-major `[out, in]` `f32` vector.
pub fn merged_delta(slot: &ModuleSlot, spec: &MergeSpec, fisher: Option<&FisherSet>) -> Result<Vec<f32>> {
    if let Some((a, b)) = exact_factors(slot, spec)? {
        return Ok(b.matmul(&a)?.flatten_all()?.to_vec1::<f32>()?);
    }
    let c = coefficients(slot, spec)?;
    let n = slot.out * slot.inp;
    let lambda = spec.lambda as f32;
    let sparsified = |i: usize, p: &LoraPair| -> Result<Vec<f32>> {
        match spec.method {
            MergeMethod::Ties => dense_trimmed(p, spec.density_of(i)),
            MergeMethod::DareLinear | MergeMethod::DareTies => {
                let mut d = dense(p)?;
                dare_drop(&mut d, spec.density_of(i), tensor_seed(spec.seed, i, &slot.weight_name));
                Ok(d)
            }
            _ => dense(p),
        }
    };
    let deltas: Vec<Option<Vec<f32>>> =
        slot.pairs.par_iter().enumerate().map(|(i, p)| p.as_ref().map(|p| sparsified(i, p)).transpose()).collect::<Result<_>>()?;
    let zeros = vec![0f32; n];
    let all: Vec<&[f32]> = deltas.iter().map(|d| d.as_deref().unwrap_or(&zeros)).collect();
    let cf: Vec<f32> = c.iter().map(|x| *x as f32).collect();
    let mut out = match spec.method {
        MergeMethod::Ties | MergeMethod::DareTies => ties_combine(&all, &cf, spec.normalize()),
        MergeMethod::DareLinear => linear_combine(&all, &cf),
        MergeMethod::Fisher => {
            let set = fisher.ok_or_else(|| MergeError::Spec("the fisher method needs Fisher diagonals for each adapter".into()))?;
            let fs = set.for_module(slot)?;
            let refs: Vec<Option<&[f32]>> = fs.iter().map(|f| f.as_deref()).collect();
            fisher_combine(&all, &refs, &cf)
        }
        MergeMethod::Slerp => {
            let sum = c[0] + c[1];
            let t = if sum.abs() < 1e-12 { 0.5 } else { c[1] / sum };
            slerp(all[0], all[1], t)
        }
        MergeMethod::Linear | MergeMethod::TaskArithmetic | MergeMethod::LoraParamAverage => {
            return Err(MergeError::Spec(format!("{} has an exact form and is merged by exact_factors", spec.method)));
        }
    };
    if spec.method.uses_lambda() && lambda != 1.0 {
        out.iter_mut().for_each(|x| *x *= lambda);
    }
    Ok(out)
}
