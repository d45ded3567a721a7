//! A LoRA layer `y = x W^T + s (dropout(x) A^T) B^T` fused on the CPU, for a frozen `W`.
//!
//! Composed from candle ops the adapter costs a dozen passes over the layer's activations each
//! way (the mask, its product, two thin products, the scaling, the sum, and as many again in
//! the backward pass, each into a fresh buffer). Here the forward is three GEMMs writing into
//! one output and the backward five, with the dropout mask drawn once and kept as flags. `W`
//! gets no gradient; `x`, `A` and `B` do.

use super::frozen_matmul::FrozenWeight;
use super::lora::{dropout_kept, LoraWeights};
use crate::engine::cpu::gemm::{matmul_into, MatRef};
use crate::engine::cpu::storage::{cpu, matrix, values};
use candle_core::{CpuStorage, CustomOp3, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::OnceLock;

/// Dropout of the adapter's input in one pass.
struct Dropout {
    p: f32,
    seed: u64,
    /// The flags drawn by the forward pass, reused by the backward pass.
    kept: OnceLock<Vec<bool>>,
}

struct FusedLoraLinear {
    /// Frozen `[out, in]`.
    weight: FrozenWeight,
    scale: f32,
    dropout: Option<Dropout>,
}

impl Dropout {
    /// Zeroes the dropped values and rescales the kept ones, in place; the mask is drawn on
    /// the first call and reused after, so the forward and backward passes agree.
    fn apply(&self, values: &mut [f32]) {
        const CHUNK: usize = 1 << 14;
        let kept = self.kept.get_or_init(|| dropout_kept(values.len(), self.p, self.seed));
        let keep = 1.0 / (1.0 - self.p);
        values.par_chunks_mut(CHUNK).zip(kept.par_chunks(CHUNK)).for_each(|(v, k)| {
            for (v, k) in v.iter_mut().zip(k) {
                *v = if *k { *v * keep } else { 0.0 };
            }
        });
    }
}

impl FusedLoraLinear {
    /// `x` with dropout applied (`None` without dropout).
    fn dropped(&self, x: &[f32]) -> Option<Vec<f32>> {
        let d = self.dropout.as_ref()?;
        let mut out = x.to_vec();
        d.apply(&mut out);
        Some(out)
    }

    fn check(&self, x: MatRef, a: MatRef, b: MatRef) -> Result<(usize, usize, usize, usize)> {
        let (n, inp, r, out) = (x.rows(), x.cols(), a.rows(), b.rows());
        let (w_out, w_in) = self.weight.dims2()?;
        if a.cols() != inp || b.cols() != r || (w_out, w_in) != (out, inp) {
            candle_core::bail!(
                "LoRA layer: input [{n}, {inp}], A [{r}, {}], B [{out}, {}] and weight [{w_out}, {w_in}] do not fit together",
                a.cols(),
                b.cols()
            );
        }
        Ok((n, inp, r, out))
    }
}

impl CustomOp3 for FusedLoraLinear {
    fn name(&self) -> &'static str {
        "fused-lora-linear"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        as_: &CpuStorage,
        al: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, a, b) = (matrix(xs, xl)?, matrix(as_, al)?, matrix(bs, bl)?);
        let (n, inp, r, out) = self.check(x, a, b)?;
        let dropped = self.dropped(values(xs, xl)?);
        let xd = dropped.as_deref().map_or(x, |d| MatRef::row_major(d, n, inp));
        let mut h = vec![0f32; n * r];
        matmul_into(&mut h, xd, a.t(), 1.0, false);
        let mut y = vec![0f32; n * out];
        self.weight.product_into(&mut y, x, 1.0, false)?;
        matmul_into(&mut y, MatRef::row_major(&h, n, r), b.t(), self.scale, true);
        Ok((CpuStorage::F32(y), Shape::from((n, out))))
    }

    fn bwd(
        &self,
        x_t: &Tensor,
        a_t: &Tensor,
        b_t: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let (xs, xl) = x_t.storage_and_layout();
        let (as_, al) = a_t.storage_and_layout();
        let (bs, bl) = b_t.storage_and_layout();
        let (gs, gl) = grad.storage_and_layout();
        let (x, a, b) = (matrix(cpu(&xs)?, xl)?, matrix(cpu(&as_)?, al)?, matrix(cpu(&bs)?, bl)?);
        let (n, inp, r, out) = self.check(x, a, b)?;
        let g = matrix(cpu(&gs)?, gl)?;
        let dropped = self.dropped(values(cpu(&xs)?, xl)?);
        let xd = dropped.as_deref().map_or(x, |d| MatRef::row_major(d, n, inp));
        let mut h = vec![0f32; n * r];
        matmul_into(&mut h, xd, a.t(), 1.0, false);
        let mut gh = vec![0f32; n * r];
        matmul_into(&mut gh, g, b, self.scale, false);
        let mut grad_b = vec![0f32; out * r];
        matmul_into(&mut grad_b, g.t(), MatRef::row_major(&h, n, r), self.scale, false);
        let mut grad_a = vec![0f32; r * inp];
        matmul_into(&mut grad_a, MatRef::row_major(&gh, n, r).t(), xd, 1.0, false);
        let grad_x = if x_t.track_op() {
            let mut gx = vec![0f32; n * inp];
            matmul_into(&mut gx, MatRef::row_major(&gh, n, r), a, 1.0, false);
            if let Some(d) = &self.dropout {
                d.apply(&mut gx);
            }
            self.weight.input_gradient_into(&mut gx, g, true)?;
            Some(Tensor::from_vec(gx, (n, inp), &Device::Cpu)?)
        } else {
            None
        };
        Ok((grad_x, Some(Tensor::from_vec(grad_a, (r, inp), &Device::Cpu)?), Some(Tensor::from_vec(grad_b, (out, r), &Device::Cpu)?)))
    }
}

/// `x W^T + s B A dropout(x)` for `x [n, in]` through the fused CPU kernel, or `None` where it
/// does not apply (another device or dtype, or a trainable `W`) and the composed ops must run.
pub fn fused_lora_linear(x: &Tensor, weight: &FrozenWeight, lora: &LoraWeights, dropout_seed: Option<u64>) -> Result<Option<Tensor>> {
    let all_f32 = [x, &lora.a, &lora.b].iter().all(|t| t.dtype() == DType::F32);
    if !matches!(x.device(), Device::Cpu) || !all_f32 || !weight.cpu_kernels_apply() {
        return Ok(None);
    }
    let dropout = match dropout_seed {
        Some(seed) if lora.dropout > 0.0 => Some(Dropout { p: lora.dropout, seed: lora.mask_seed(seed), kept: OnceLock::new() }),
        _ => None,
    };
    let op = FusedLoraLinear { weight: weight.clone(), scale: lora.scale as f32, dropout };
    x.contiguous()?.apply_op3(&lora.a.contiguous()?, &lora.b.contiguous()?, op).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap()
    }

    /// The fused layer equals the composed one (`x W^T + delta`), forward and backward, with
    /// and without dropout, for a row-major and a column-major weight.
    #[test]
    fn matches_the_composed_layer_and_its_gradients() -> Result<()> {
        let dev = Device::Cpu;
        let (n, inp, out, r) = (37, 24, 40, 4);
        for (dropout_seed, column_major) in [(None, false), (Some(11), false), (Some(12), true)] {
            let mut w = Tensor::randn(0f32, 0.5, (out, inp), &dev)?;
            if column_major {
                w = w.t()?.contiguous()?.t()?;
            }
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, inp), &dev)?)?;
            let a = Var::from_tensor(&Tensor::randn(0f32, 0.3, (r, inp), &dev)?)?;
            let b = Var::from_tensor(&Tensor::randn(0f32, 0.3, (out, r), &dev)?)?;
            let lora = LoraWeights { a: a.as_tensor().clone(), b: b.as_tensor().clone(), scale: 1.75, dropout: 0.3, mask_stream: 3 };
            let fused =
                fused_lora_linear(x.as_tensor(), &FrozenWeight::new(w.clone()), &lora, dropout_seed)?.expect("the CPU kernel applies");
            let plain = (x.as_tensor().matmul(&w.t()?)? + lora.delta(x.as_tensor(), dropout_seed)?)?;
            assert!(max_diff(&fused, &plain) < 1e-5, "forward differs by {}", max_diff(&fused, &plain));
            let probe = Tensor::randn(0f32, 1.0, (n, out), &dev)?;
            let gf = (fused * &probe)?.sum_all()?.backward()?;
            let gp = (plain * &probe)?.sum_all()?.backward()?;
            for v in [&x, &a, &b] {
                let (f, p) = (gf.get(v.as_tensor()).expect("fused gradient"), gp.get(v.as_tensor()).expect("composed gradient"));
                assert!(max_diff(f, p) < 1e-4, "gradient differs by {}", max_diff(f, p));
                assert!(f.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
            }
        }
        Ok(())
    }
}
