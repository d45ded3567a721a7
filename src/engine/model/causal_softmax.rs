//! `softmax(scale * scores + causal mask)` over the last axis with a backward pass, fused on the
//! CPU for training.
//!
//! The composed form (scale, mask add, max, subtract, exp, sum, divide; and as many passes back)
//! walks every layer's `[batch, heads, queries, keys]` scores a dozen times per step. Here the
//! forward is one pass per row and the backward one more: `grad = scale * p * (g - sum(g * p))`.
//! Other devices and dtypes use the composed ops.

use crate::engine::cpu::math::{exp_f32, lane_dot, lane_max, lane_sum};
use crate::engine::cpu::vectorised;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

/// Query `i` (0-based within the block) sees keys `0..=start + i`.
struct CausalSoftmax {
    scale: f32,
    start: usize,
}

/// Rows of `[.., t, s]` contiguous f32 data with each row's query index.
fn rows<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<(&'a [f32], usize, usize)> {
    let dims = layout.shape().dims();
    let (t, s) = (dims[dims.len() - 2], dims[dims.len() - 1]);
    let Some((a, b)) = layout.contiguous_offsets() else { candle_core::bail!("causal softmax: scores must be contiguous") };
    let CpuStorage::F32(all) = storage else { candle_core::bail!("causal softmax: scores must be f32") };
    Ok((&all[a..b], t, s))
}

vectorised! {
    /// `row = softmax(scale * row)` (scale > 0).
    pub fn softmax_in_place(row: &mut [f32], scale: f32) {
        let max = lane_max(row) * scale;
        for x in row.iter_mut() {
            *x = exp_f32(*x * scale - max);
        }
        let inv = 1.0 / lane_sum(row);
        row.iter_mut().for_each(|x| *x *= inv);
    }
}

vectorised! {
    /// The gradient of the raw scores from that of the probabilities `p = softmax(scale *
    /// scores)`, in place: `g = scale * p * (g - <g, p>)`.
    pub fn softmax_grad_in_place(p: &[f32], g: &mut [f32], scale: f32) {
        let dot = lane_dot(p, g);
        for (g, p) in g.iter_mut().zip(p) {
            *g = scale * p * (*g - dot);
        }
    }
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, t, s) = rows(storage, layout)?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(s).zip(x.par_chunks(s)).enumerate().for_each(|(r, (o, x))| {
            let seen = (self.start + r % t + 1).min(s);
            o[..seen].copy_from_slice(&x[..seen]);
            softmax_in_place(&mut o[..seen], self.scale);
        });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let p = res.flatten_all()?.to_vec1::<f32>()?;
        let mut grad = grad_res.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let s = res.dim(D::Minus1)?;
        grad.par_chunks_mut(s).zip(p.par_chunks(s)).for_each(|(g, p)| softmax_grad_in_place(p, g, self.scale));
        Ok(Some(Tensor::from_vec(grad, res.shape(), res.device())?))
    }
}

/// Attention probabilities from raw scores `[.., t, s]`: `softmax(scale * scores)` where query
/// `i` sees keys up to `start + i`; differentiable.
pub fn causal_softmax(scores: &Tensor, scale: f64, start: usize) -> Result<Tensor> {
    if matches!(scores.device(), Device::Cpu) && scores.dtype() == DType::F32 {
        return scores.contiguous()?.apply_op1(CausalSoftmax { scale: scale as f32, start });
    }
    let dims = scores.dims();
    let (t, s) = (dims[dims.len() - 2], dims[dims.len() - 1]);
    let mask: Vec<f32> = (0..t).flat_map(|i| (0..s).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    let mask = Tensor::from_vec(mask, (t, s), scores.device())?.to_dtype(scores.dtype())?;
    candle_nn::ops::softmax(&(scores * scale)?.broadcast_add(&mask)?, D::Minus1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn matches_the_composed_form_and_its_gradient() -> Result<()> {
        let dev = Device::Cpu;
        for (t, s, start) in [(5usize, 5usize, 0usize), (3, 7, 4)] {
            let x = Var::from_tensor(&Tensor::randn(0f32, 2.0, (2, 3, t, s), &dev)?)?;
            let fused = causal_softmax(x.as_tensor(), 0.5, start)?;
            let mask: Vec<f32> = (0..t).flat_map(|i| (0..s).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 })).collect();
            let mask = Tensor::from_vec(mask, (t, s), &dev)?;
            let plain = candle_nn::ops::softmax(&(x.as_tensor() * 0.5)?.broadcast_add(&mask)?, D::Minus1)?;
            let d = (&fused - &plain)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-6, "forward differs by {d}");
            let w = Tensor::randn(0f32, 1.0, (2, 3, t, s), &dev)?;
            let ga = (fused * &w)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().clone();
            let gb = (plain * &w)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().clone();
            let d = (ga - gb)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(d < 1e-5, "gradient differs by {d}");
        }
        Ok(())
    }
}
