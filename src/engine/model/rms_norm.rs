//! RMSNorm with a backward pass, fused on the CPU for training with a frozen norm weight.
//!
//! `y = x * r * w` with `r = 1 / sqrt(mean(x^2) + eps)` per row; the input gradient is
//! `r * u - x * r^3 * mean(u * x)` with `u = g * w`. One pass per row each way, instead of the
//! composed form's dozen passes over every layer's activations. A trainable weight, other
//! devices and other dtypes use candle's composed `rms_norm_slow`.

use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

struct FrozenRmsNorm {
    weight: Vec<f32>,
    eps: f32,
}

impl FrozenRmsNorm {
    fn rows<'a>(&self, storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
        let Some((a, b)) = layout.contiguous_offsets() else { candle_core::bail!("rms norm: input must be contiguous") };
        let CpuStorage::F32(all) = storage else { candle_core::bail!("rms norm: input must be f32") };
        if layout.shape().dims().last() != Some(&self.weight.len()) {
            candle_core::bail!("rms norm: input {:?} does not end in the weight's {}", layout.shape(), self.weight.len());
        }
        Ok(&all[a..b])
    }

    fn inv_rms(&self, x: &[f32]) -> f32 {
        1.0 / (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32 + self.eps).sqrt()
    }
}

impl CustomOp1 for FrozenRmsNorm {
    fn name(&self) -> &'static str {
        "frozen-rms-norm"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = self.rows(storage, layout)?;
        let h = self.weight.len();
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(h).zip(x.par_chunks(h)).for_each(|(o, x)| {
            let r = self.inv_rms(x);
            for ((o, x), w) in o.iter_mut().zip(x).zip(&self.weight) {
                *o = x * r * w;
            }
        });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (storage, layout) = arg.storage_and_layout();
        let candle_core::Storage::Cpu(storage) = &*storage else { candle_core::bail!("rms norm: input left the CPU") };
        let x = self.rows(storage, layout)?;
        let g = grad_res.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let h = self.weight.len();
        let mut grad = vec![0f32; x.len()];
        grad.par_chunks_mut(h).zip(x.par_chunks(h).zip(g.par_chunks(h))).for_each(|(out, (x, g))| {
            let r = self.inv_rms(x);
            let dot: f32 = x.iter().zip(g).zip(&self.weight).map(|((x, g), w)| x * g * w).sum::<f32>() / h as f32;
            let k = r * r * r * dot;
            for (((o, x), g), w) in out.iter_mut().zip(x).zip(g).zip(&self.weight) {
                *o = r * g * w - x * k;
            }
        });
        Ok(Some(Tensor::from_vec(grad, arg.shape(), arg.device())?))
    }
}

/// RMSNorm of `xs [..., hidden]` with `weight [hidden]`, differentiable in `xs` (and in `weight`
/// when it is a variable).
pub fn rms_norm_train(xs: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    if matches!(xs.device(), Device::Cpu) && xs.dtype() == DType::F32 && !weight.is_variable() {
        let weight = weight.to_vec1::<f32>()?;
        return xs.contiguous()?.apply_op1(FrozenRmsNorm { weight, eps: eps as f32 });
    }
    candle_nn::ops::rms_norm_slow(xs, weight, eps as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn matches_the_composed_form_and_its_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 2.0, (3, 4, 24), &dev)?)?;
        let w = Tensor::randn(1f32, 0.3, 24, &dev)?;
        let fused = rms_norm_train(x.as_tensor(), &w, 1e-5)?;
        let plain = candle_nn::ops::rms_norm_slow(x.as_tensor(), &w, 1e-5)?;
        let d = (&fused - &plain)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d < 1e-5, "forward differs by {d}");
        let probe = Tensor::randn(0f32, 1.0, (3, 4, 24), &dev)?;
        let ga = (fused * &probe)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().clone();
        let gb = (plain * &probe)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().clone();
        let d = (ga - gb)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d < 1e-4, "gradient differs by {d}");
        Ok(())
    }
}
