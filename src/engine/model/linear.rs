//! A dense layer `y = x W^T + b`, optionally with a LoRA adapter, multiplied as one 2-D GEMM
//! whatever the batch shape.

use super::frozen_matmul::FrozenWeight;
use super::lora::LoraWeights;
use super::lora_linear::fused_lora_linear;
use candle_core::{Result, Tensor};

/// How a forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// Composed ops with a backward pass (training, gradient checks).
    Differentiable,
    /// candle's fused kernels: faster, no gradients (scoring, generation).
    Fused,
}

/// Per-pass settings every layer sees.
#[derive(Debug, Clone, Copy)]
pub struct ForwardCtx {
    /// Which kernels.
    pub kernels: Kernels,
    /// Seed of this pass's LoRA dropout masks; `None` disables dropout.
    pub dropout_seed: Option<u64>,
}

impl ForwardCtx {
    /// Fused kernels, no dropout.
    pub const INFERENCE: Self = Self { kernels: Kernels::Fused, dropout_seed: None };
    /// Differentiable kernels, no dropout.
    pub const DIFFERENTIABLE: Self = Self { kernels: Kernels::Differentiable, dropout_seed: None };
}

/// A linear projection with the PyTorch weight layout `[out, in]`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: FrozenWeight,
    bias: Option<Tensor>,
    lora: Option<LoraWeights>,
}

impl Linear {
    /// Wraps a weight `[out, in]` and an optional bias `[out]`. A frozen projection weight is
    /// stored column-major, so that `x W^T` reads a row-major `[in, out]` matrix: the CPU GEMM
    /// runs these shapes faster that way (up to twice for `down_proj`). Output heads (`out`
    /// far above `in`, often sharing the embedding's storage) keep their layout.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Self {
        let weight = match weight.dims2() {
            Ok((out, inp)) if out <= 4 * inp && !weight.is_variable() && weight.is_contiguous() => {
                weight.t().and_then(|t| t.contiguous()).and_then(|t| t.t()).unwrap_or(weight)
            }
            _ => weight,
        };
        Self { weight: FrozenWeight::new(weight), bias, lora: None }
    }

    /// Wraps a frozen weight: quantized blocks as they are, a dense tensor as [`Self::new`].
    pub fn from_frozen(weight: FrozenWeight, bias: Option<Tensor>) -> Self {
        match weight.dense() {
            Some(dense) => Self::new(dense.clone(), bias),
            None => Self { weight, bias, lora: None },
        }
    }

    /// The weight, `[out, in]`: dense or quantized.
    pub fn frozen_weight(&self) -> &FrozenWeight {
        &self.weight
    }

    /// The bias, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// `(out, in)`.
    pub fn shape(&self) -> Result<(usize, usize)> {
        self.weight.dims2()
    }

    /// Attaches (or with `None` removes) a LoRA adapter.
    pub fn set_lora(&mut self, lora: Option<LoraWeights>) {
        self.lora = lora;
    }

    /// The attached adapter, if any.
    pub fn lora(&self) -> Option<&LoraWeights> {
        self.lora.as_ref()
    }

    /// `x W^T` for `x [n, in]`; when training, a frozen weight gets no gradient computed.
    fn base_product(&self, x: &Tensor, ctx: ForwardCtx) -> Result<Tensor> {
        self.weight.matmul_t(x, ctx.kernels == Kernels::Differentiable)
    }

    /// Applies the layer to `xs [..., in]`. When training, a frozen (non-`Var`) weight gets no
    /// gradient computed for it.
    pub fn forward(&self, xs: &Tensor, ctx: ForwardCtx) -> Result<Tensor> {
        let dims = xs.dims().to_vec();
        let in_features = dims[dims.len() - 1];
        let rows = xs.elem_count() / in_features.max(1);
        let flat = xs.reshape((rows, in_features))?;
        let mut ys = match &self.lora {
            Some(lora) => match fused_lora_linear(&flat, &self.weight, lora, ctx.dropout_seed)? {
                Some(ys) => ys,
                None => (self.base_product(&flat, ctx)? + lora.delta(&flat, ctx.dropout_seed)?)?,
            },
            None => self.base_product(&flat, ctx)?,
        };
        if let Some(b) = &self.bias {
            ys = ys.broadcast_add(b)?;
        }
        let mut out_dims = dims;
        let last = out_dims.len() - 1;
        out_dims[last] = self.weight.dims2()?.0;
        ys.reshape(out_dims)
    }
}
