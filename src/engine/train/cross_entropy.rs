//! Cross-entropy of logits against target ids, fused on the CPU.
//!
//! candle's `cross_entropy` composes a log-softmax (max, subtract, exp, sum, log, subtract) and
//! a gather; forward and backward make about a dozen passes over the `[positions, vocab]` logits
//! (200 MB for 1,024 positions of a 49,152-token vocabulary), one allocation each. Here the
//! forward is one parallel pass per row (max, then the sum of exponentials) and the backward one
//! more, writing `(softmax - onehot) * grad` straight into the gradient. Other devices and dtypes
//! use candle's composition.

use crate::engine::cpu::math::{exp_f32, lane_max, lane_sum_map};
use crate::engine::cpu::vectorised;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Per-row loss `logsumexp(x) - x[target]` of contiguous f32 logits `[n, vocab]`.
struct RowCrossEntropy {
    targets: Vec<u32>,
}

impl RowCrossEntropy {
    fn rows<'a>(&self, storage: &'a CpuStorage, layout: &Layout) -> Result<(&'a [f32], usize)> {
        let (n, vocab) = layout.shape().dims2()?;
        let Some((start, end)) = layout.contiguous_offsets() else { candle_core::bail!("cross-entropy: logits must be contiguous") };
        let CpuStorage::F32(all) = storage else { candle_core::bail!("cross-entropy: logits must be f32") };
        if n != self.targets.len() {
            candle_core::bail!("cross-entropy: {n} rows of logits but {} targets", self.targets.len());
        }
        if let Some(t) = self.targets.iter().find(|&&t| t as usize >= vocab) {
            candle_core::bail!("cross-entropy: target id {t} is outside the vocabulary of {vocab}");
        }
        Ok((&all[start..end], vocab))
    }
}

vectorised! {
    fn log_sum_exp(row: &[f32]) -> f32 {
        let max = lane_max(row);
        max + lane_sum_map(row, |x| exp_f32(x - max)).ln()
    }
}

vectorised! {
    /// `grad = scale * (e^(x - lse) - onehot(target))` for one row.
    fn softmax_grad_row(row: &[f32], lse: f32, scale: f32, target: usize, grad: &mut [f32]) {
        for (g, x) in grad.iter_mut().zip(row) {
            *g = exp_f32(x - lse) * scale;
        }
        grad[target] -= scale;
    }
}

impl CustomOp1 for RowCrossEntropy {
    fn name(&self) -> &'static str {
        "row-cross-entropy"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (logits, vocab) = self.rows(storage, layout)?;
        let losses: Vec<f32> =
            logits.par_chunks(vocab).zip(self.targets.par_iter()).map(|(row, &t)| log_sum_exp(row) - row[t as usize]).collect();
        Ok((CpuStorage::F32(losses), Shape::from(self.targets.len())))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (storage, layout) = arg.storage_and_layout();
        let candle_core::Storage::Cpu(storage) = &*storage else { candle_core::bail!("cross-entropy: logits left the CPU") };
        let (logits, vocab) = self.rows(storage, layout)?;
        let losses = res.to_vec1::<f32>()?;
        let scale = grad_res.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let mut grad = vec![0f32; logits.len()];
        grad.par_chunks_mut(vocab).zip(logits.par_chunks(vocab)).enumerate().for_each(|(i, (g, row))| {
            let t = self.targets[i] as usize;
            // logsumexp = loss + x[target], saved by the forward pass.
            softmax_grad_row(row, losses[i] + row[t], scale[i], t, g);
        });
        Ok(Some(Tensor::from_vec(grad, arg.shape(), arg.device())?))
    }
}

/// Mean cross-entropy of `logits [n, vocab]` against `targets` (one id per row); differentiable.
pub fn cross_entropy(logits: &Tensor, targets: &[u32]) -> Result<Tensor> {
    if matches!(logits.device(), Device::Cpu) && logits.dtype() == DType::F32 {
        return logits.contiguous()?.apply_op1(RowCrossEntropy { targets: targets.to_vec() })?.mean_all();
    }
    let ids = Tensor::from_slice(targets, targets.len(), logits.device())?;
    candle_nn::loss::cross_entropy(logits, &ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn matches_candles_loss_and_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&(Tensor::randn(0f32, 3.0, (6, 37), &dev)?))?;
        let targets = [0u32, 5, 36, 7, 7, 20];
        let fused = cross_entropy(x.as_tensor(), &targets)?;
        let plain = candle_nn::loss::cross_entropy(x.as_tensor(), &Tensor::new(&targets, &dev)?)?;
        let (a, b) = (fused.to_scalar::<f32>()?, plain.to_scalar::<f32>()?);
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        // Scale the loss so the incoming gradient is not 1.
        let ga = (fused * 3.0)?.backward()?.get(x.as_tensor()).unwrap().clone();
        let gb = (plain * 3.0)?.backward()?.get(x.as_tensor()).unwrap().clone();
        let d = (ga - gb)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d < 1e-6, "gradient differs by {d}");
        Ok(())
    }

    #[test]
    fn bad_targets_are_refused() {
        let x = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).unwrap();
        assert!(cross_entropy(&x, &[0, 4]).unwrap_err().to_string().contains("outside the vocabulary"));
        assert!(cross_entropy(&x, &[0]).unwrap_err().to_string().contains("2 rows of logits but 1 targets"));
    }
}
