//! `x W^T` for a frozen weight, with a backward pass that computes only the input's gradient.
//!
//! candle's matmul backward also computes the gradient of the weight, a full GEMM per layer
//! that LoRA training throws away. This op multiplies with the backend's own GEMM and returns
//! only `grad x = grad W` for the input.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CudaStorage, CustomOp1, Layout, MetalStorage, Result, Shape, Storage, Tensor};
use std::sync::{Arc, OnceLock};

/// A frozen weight `[out, in]` in the layouts its two products want. The forward product
/// `x W^T` reads the stored layout (column-major for projections, see `Linear::new`); the
/// input gradient `g W` reads a row-major copy made on the first backward pass, because from
/// column-major storage the CPU GEMM repacks the whole weight on one thread at every call.
/// Inference never makes the copy.
#[derive(Debug, Clone)]
pub struct FrozenWeight {
    stored: Tensor,
    row_major: Arc<OnceLock<Tensor>>,
}

impl FrozenWeight {
    /// Wraps a weight `[out, in]` of any layout.
    pub fn new(stored: Tensor) -> Self {
        Self { stored, row_major: Arc::new(OnceLock::new()) }
    }

    /// The weight as stored.
    pub fn stored(&self) -> &Tensor {
        &self.stored
    }

    /// The weight for `g W` products: row-major.
    pub fn for_input_gradient(&self) -> Result<Tensor> {
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

/// The custom op; holds the transposed weight view `[in, out]`.
pub struct FrozenMatmul {
    weight: FrozenWeight,
    weight_t: Tensor,
}

impl FrozenMatmul {
    /// For a weight `[out, in]`.
    pub fn new(weight: &FrozenWeight) -> Result<Self> {
        Ok(Self { weight: weight.clone(), weight_t: weight.stored().detach().t()? })
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

/// `x [m, in] @ W^T` where only `x` may receive a gradient.
pub fn frozen_matmul(x: &Tensor, weight: &FrozenWeight) -> Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenMatmul::new(weight)?)
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
        let frozen = frozen_matmul(x.as_tensor(), &FrozenWeight::new(w.t()?.contiguous()?.t()?))?;
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
