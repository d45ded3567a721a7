//! Frozen weights (dense, or quantized blocks) and `x W^T` with a backward pass that computes
//! only the input's gradient.
//!
//! candle's matmul backward also computes the gradient of the weight, a full GEMM per layer
//! that LoRA training throws away. The dense op multiplies with the backend's own GEMM and
//! returns only `grad x = grad W` for the input; quantized weights have their own products
//! (`quantized_weight`). The CPU kernels (fused attention, LoRA layers, the output head) read
//! either kind through `product_into` / `input_gradient_into`.

use super::quantized_weight::QuantizedWeight;
use crate::engine::cpu::gemm::{matmul_into, MatRef};
use crate::engine::cpu::storage::with_matrix;
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CudaStorage, CustomOp1, DType, Layout, MetalStorage, Result, Shape, Storage, Tensor};
use std::sync::{Arc, OnceLock};

/// A frozen weight `[out, in]`: dense, or kept in quantized GGUF blocks.
#[derive(Debug, Clone)]
pub enum FrozenWeight {
    /// A dense tensor of any dtype and device (or a trainable `Var`).
    Dense(DenseWeight),
    /// Quantized blocks, de-quantised tile by tile in each product.
    Quantized(Arc<QuantizedWeight>),
}

/// A dense frozen weight in the layouts its two products want. The forward product `x W^T`
/// reads the stored layout (column-major for projections, see `Linear::new`); the input
/// gradient `g W` reads a row-major copy made on the first backward pass, because from
/// column-major storage the CPU GEMM repacks the whole weight on one thread at every call.
/// Inference never makes the copy.
#[derive(Debug, Clone)]
pub struct DenseWeight {
    stored: Tensor,
    row_major: Arc<OnceLock<Tensor>>,
}

impl DenseWeight {
    /// The weight for `g W` products: row-major.
    fn for_input_gradient(&self) -> Result<Tensor> {
        if self.stored.is_contiguous() {
            return Ok(self.stored.detach());
        }
        if let Some(w) = self.row_major.get() {
            return Ok(w.clone());
        }
        let w = self.stored.detach().contiguous()?;
        Ok(self.row_major.get_or_init(|| w).clone())
    }
}

impl FrozenWeight {
    /// Wraps a dense weight `[out, in]` of any layout.
    pub fn new(stored: Tensor) -> Self {
        Self::Dense(DenseWeight { stored, row_major: Arc::new(OnceLock::new()) })
    }

    /// The dense tensor; `None` for quantized blocks.
    pub fn dense(&self) -> Option<&Tensor> {
        match self {
            Self::Dense(d) => Some(&d.stored),
            Self::Quantized(_) => None,
        }
    }

    /// `(out, in)`.
    pub fn dims2(&self) -> Result<(usize, usize)> {
        match self {
            Self::Dense(d) => d.stored.dims2(),
            Self::Quantized(q) => Ok(q.dims()),
        }
    }

    /// Whether the weight itself is trained (a dense `Var`).
    pub fn is_trainable(&self) -> bool {
        self.dense().is_some_and(|t| t.is_variable())
    }

    /// Whether the hand-written CPU kernels can read it: f32 values or quantized blocks, on the
    /// CPU, not trained.
    pub fn cpu_kernels_apply(&self) -> bool {
        match self {
            Self::Dense(d) => d.stored.device().is_cpu() && d.stored.dtype() == DType::F32 && !d.stored.is_variable(),
            Self::Quantized(q) => q.device().is_cpu(),
        }
    }

    /// Bytes the weight holds (quantized blocks at their stored size).
    pub fn storage_bytes(&self) -> usize {
        match self {
            Self::Dense(d) => d.stored.elem_count() * d.stored.dtype().size_in_bytes(),
            Self::Quantized(q) => q.storage_bytes(),
        }
    }

    /// `dst [n, out] (+)= scale * x W^T` on the CPU, for a weight the CPU kernels apply to.
    pub fn product_into(&self, dst: &mut [f32], x: MatRef, scale: f32, accumulate: bool) -> Result<()> {
        match self {
            Self::Dense(d) => with_matrix(&d.stored, |w| {
                matmul_into(dst, x, w.t(), scale, accumulate);
                Ok(())
            }),
            Self::Quantized(q) => q.product_into(dst, x, scale, accumulate),
        }
    }

    /// `dst [n, in] (+)= g W` on the CPU: the input gradient of `x W^T`.
    pub fn input_gradient_into(&self, dst: &mut [f32], g: MatRef, accumulate: bool) -> Result<()> {
        match self {
            Self::Dense(d) => with_matrix(&d.for_input_gradient()?, |w| {
                matmul_into(dst, g, w, 1.0, accumulate);
                Ok(())
            }),
            Self::Quantized(q) => q.input_gradient_into(dst, g, accumulate),
        }
    }

    /// `x [m, in] @ W^T` on any device; with `differentiable`, the input gets a gradient and a
    /// frozen weight none (a trainable dense weight gets its own).
    pub fn matmul_t(&self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        match self {
            Self::Dense(d) if differentiable && !d.stored.is_variable() => x.contiguous()?.apply_op1(FrozenMatmul::new(d)?),
            Self::Dense(d) => x.matmul(&d.stored.t()?),
            Self::Quantized(q) => q.matmul_t(x, differentiable),
        }
    }
}

/// `x W^T` for a dense frozen weight; holds the transposed weight view `[in, out]`.
struct FrozenMatmul {
    weight: DenseWeight,
    weight_t: Tensor,
}

impl FrozenMatmul {
    fn new(weight: &DenseWeight) -> Result<Self> {
        Ok(Self { weight: weight.clone(), weight_t: weight.stored.detach().t()? })
    }

    fn dims(&self, layout: &Layout) -> Result<(usize, usize, usize)> {
        let (m, k) = layout.shape().dims2()?;
        let (k_w, n) = self.weight_t.dims2()?;
        if k != k_w {
            candle_core::bail!("frozen matmul: input has {k} features but the weight expects {k_w}");
        }
        Ok((m, n, k))
    }
}

impl CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (m, n, k) = self.dims(layout)?;
        let (w, w_layout) = self.weight_t.storage_and_layout();
        let Storage::Cpu(w) = &*w else { candle_core::bail!("frozen matmul: weight and input are on different devices") };
        Ok((storage.matmul(w, (1, m, n, k), layout, w_layout)?, Shape::from((m, n))))
    }

    fn cuda_fwd(&self, storage: &CudaStorage, layout: &Layout) -> Result<(CudaStorage, Shape)> {
        let (m, n, k) = self.dims(layout)?;
        let (w, w_layout) = self.weight_t.storage_and_layout();
        let Storage::Cuda(w) = &*w else { candle_core::bail!("frozen matmul: weight and input are on different devices") };
        Ok((storage.matmul(w, (1, m, n, k), layout, w_layout)?, Shape::from((m, n))))
    }

    fn metal_fwd(&self, storage: &MetalStorage, layout: &Layout) -> Result<(MetalStorage, Shape)> {
        let (m, n, k) = self.dims(layout)?;
        let (w, w_layout) = self.weight_t.storage_and_layout();
        let Storage::Metal(w) = &*w else { candle_core::bail!("frozen matmul: weight and input are on different devices") };
        Ok((storage.matmul(w, (1, m, n, k), layout, w_layout)?, Shape::from((m, n))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad_res.matmul(&self.weight.for_input_gradient()?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_matmul_forward_and_input_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (5, 3), &dev)?;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (4, 3), &dev)?)?;
        let plain = x.as_tensor().matmul(&w.t()?)?;
        let frozen = FrozenWeight::new(w.t()?.contiguous()?.t()?).matmul_t(x.as_tensor(), true)?;
        let diff = (&plain - &frozen)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-6);
        let g_plain = plain.sqr()?.sum_all()?.backward()?;
        let g_frozen = frozen.sqr()?.sum_all()?.backward()?;
        let (a, b) = (g_plain.get(x.as_tensor()).unwrap(), g_frozen.get(x.as_tensor()).unwrap());
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");
        Ok(())
    }
}
