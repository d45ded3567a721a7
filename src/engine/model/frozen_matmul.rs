//! `x W^T` for a frozen weight, with a backward pass that computes only the input's gradient.
//!
//! candle's matmul backward also computes the gradient of the weight, a full GEMM per layer
//! that LoRA training throws away. This op multiplies with the backend's own GEMM and returns
//! only `grad W` for the input.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CudaStorage, CustomOp1, Layout, MetalStorage, Result, Shape, Storage, Tensor};

/// The custom op; holds the transposed weight view `[in, out]`.
pub struct FrozenMatmul {
    weight_t: Tensor,
}

impl FrozenMatmul {
    /// For a weight `[out, in]`.
    pub fn new(weight: &Tensor) -> Result<Self> {
        Ok(Self { weight_t: weight.detach().t()? })
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
        Ok(Some(grad_res.matmul(&self.weight_t.t()?)?))
    }
}

/// `x [m, in] @ W^T` where only `x` may receive a gradient.
pub fn frozen_matmul(x: &Tensor, weight: &Tensor) -> Result<Tensor> {
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
        let frozen = frozen_matmul(x.as_tensor(), &w)?;
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
