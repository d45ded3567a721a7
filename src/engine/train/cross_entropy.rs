//! Cross-entropy of logits against target ids, fused on the CPU.
//!
//! candle's `cross_entropy` composes a log-softmax (max, subtract, exp, sum, log, subtract) and
//! a gather; forward and backward make about a dozen passes over the `[positions, vocab]` logits
//! (200 MB for 1,024 positions of a 49,152-token vocabulary), one allocation each. Here the
//! forward is one parallel pass per row (max, then the sum of exponentials) and the backward one
//! more, writing `(softmax - onehot) * grad` straight into the gradient. Other devices and dtypes
//! use candle's composition.

use crate::engine::cpu::gemm::MatRef;
use crate::engine::cpu::math::{exp_f32, lane_max, lane_sum_map};
use crate::engine::cpu::storage::{cpu, matrix, values};
use crate::engine::cpu::vectorised;
use crate::engine::model::frozen_matmul::FrozenWeight;
use crate::engine::model::linear::Linear;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

/// Refuses targets that do not fit `n` rows of a `vocab`-wide distribution.
fn check_targets(n: usize, vocab: usize, targets: &[u32]) -> Result<()> {
    if n != targets.len() {
        candle_core::bail!("cross-entropy: {n} rows of logits but {} targets", targets.len());
    }
    if let Some(t) = targets.iter().find(|&&t| t as usize >= vocab) {
        candle_core::bail!("cross-entropy: target id {t} is outside the vocabulary of {vocab}");
    }
    Ok(())
}

vectorised! {
    fn log_sum_exp(row: &[f32]) -> f32 {
        let max = lane_max(row);
        max + lane_sum_map(row, |x| exp_f32(x - max)).ln()
    }
}

vectorised! {
    /// Turns one row of logits into the loss gradient `scale * (e^(x - lse) - onehot(target))`.
    fn logits_to_gradient(row: &mut [f32], lse: f32, scale: f32, target: usize) {
        for x in row.iter_mut() {
            *x = exp_f32(*x - lse) * scale;
        }
        row[target] -= scale;
    }
}

/// Per-row losses `logsumexp(x) - x[target]` of logits `[n, vocab]`.
fn row_losses(logits: &[f32], vocab: usize, targets: &[u32]) -> Vec<f32> {
    logits.par_chunks(vocab).zip(targets.par_iter()).map(|(row, &t)| log_sum_exp(row) - row[t as usize]).collect()
}

/// Overwrites logits `[n, vocab]` with the gradient of `sum_i scale[i] * loss_i`, given the
/// losses of the forward pass (`logsumexp = loss + x[target]`).
fn into_gradient(logits: &mut [f32], vocab: usize, targets: &[u32], losses: &[f32], scale: &[f32]) {
    logits.par_chunks_mut(vocab).enumerate().for_each(|(i, row)| {
        let t = targets[i] as usize;
        let lse = losses[i] + row[t];
        logits_to_gradient(row, lse, scale[i], t);
    });
}

/// Per-row loss `logsumexp(x) - x[target]` of contiguous f32 logits `[n, vocab]`.
struct RowCrossEntropy {
    targets: Vec<u32>,
}

impl RowCrossEntropy {
    fn rows<'a>(&self, storage: &'a CpuStorage, layout: &Layout) -> Result<(&'a [f32], usize)> {
        let (n, vocab) = layout.shape().dims2()?;
        check_targets(n, vocab, &self.targets)?;
        Ok((values(storage, layout)?, vocab))
    }
}

impl CustomOp1 for RowCrossEntropy {
    fn name(&self) -> &'static str {
        "row-cross-entropy"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (logits, vocab) = self.rows(storage, layout)?;
        Ok((CpuStorage::F32(row_losses(logits, vocab, &self.targets)), Shape::from(self.targets.len())))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (storage, layout) = arg.storage_and_layout();
        let (logits, vocab) = self.rows(cpu(&storage)?, layout)?;
        let mut grad = logits.to_vec();
        into_gradient(&mut grad, vocab, &self.targets, &res.to_vec1::<f32>()?, &grad_res.to_dtype(DType::F32)?.to_vec1::<f32>()?);
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

/// Per-row losses of `x W^T` for hidden states `x [n, hidden]` and a frozen output projection
/// `W [vocab, hidden]`. The logits never become a tensor: the forward pass keeps them and the
/// backward pass turns them into their gradient in place, so the `[n, vocab]` block is written
/// once each way instead of being allocated, zero-filled and accumulated as graph gradients.
struct HeadCrossEntropy {
    weight: FrozenWeight,
    targets: Vec<u32>,
    logits: Mutex<Option<Vec<f32>>>,
    keep: bool,
}

impl CustomOp1 for HeadCrossEntropy {
    fn name(&self) -> &'static str {
        "head-cross-entropy"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = matrix(storage, layout)?;
        let vocab = self.weight.dims2()?.0;
        check_targets(x.rows(), vocab, &self.targets)?;
        let mut logits = vec![0f32; x.rows() * vocab];
        self.weight.product_into(&mut logits, x, 1.0, false)?;
        let losses = row_losses(&logits, vocab, &self.targets);
        if self.keep {
            *self.logits.lock().unwrap_or_else(|e| e.into_inner()) = Some(logits);
        }
        Ok((CpuStorage::F32(losses), Shape::from(self.targets.len())))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let taken = self.logits.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut logits) = taken else { candle_core::bail!("head cross-entropy: backward pass without saved logits") };
        let vocab = self.weight.dims2()?.0;
        into_gradient(&mut logits, vocab, &self.targets, &res.to_vec1::<f32>()?, &grad_res.to_dtype(DType::F32)?.to_vec1::<f32>()?);
        let (n, hidden) = arg.dims2()?;
        let mut grad = vec![0f32; n * hidden];
        self.weight.input_gradient_into(&mut grad, MatRef::row_major(&logits, n, vocab), false)?;
        Ok(Some(Tensor::from_vec(grad, (n, hidden), &Device::Cpu)?))
    }
}

/// Mean cross-entropy of the output projection `head` of hidden states `[n, hidden]` against
/// `targets`, fused on the CPU (see [`HeadCrossEntropy`]); `None` where it does not apply
/// (another device or dtype, or a head with an adapter, a bias or a trainable weight).
pub fn head_cross_entropy(hidden: &Tensor, head: &Linear, targets: &[u32]) -> Result<Option<Tensor>> {
    let plain_head = head.lora().is_none() && head.bias().is_none() && head.frozen_weight().cpu_kernels_apply();
    if !matches!(hidden.device(), Device::Cpu) || hidden.dtype() != DType::F32 || !plain_head {
        return Ok(None);
    }
    let op = HeadCrossEntropy {
        weight: head.frozen_weight().clone(),
        targets: targets.to_vec(),
        logits: Mutex::new(None),
        keep: hidden.track_op(),
    };
    hidden.contiguous()?.apply_op1(op)?.mean_all().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    /// Equal losses (within 1e-5) and gradients of `x` (within `grad_tol`); the losses are
    /// scaled so the incoming gradient is not 1.
    fn assert_same_loss_and_gradient(x: &Var, fused: &Tensor, plain: &Tensor, grad_tol: f32) -> Result<()> {
        let (a, b) = (fused.to_scalar::<f32>()?, plain.to_scalar::<f32>()?);
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        let ga = (fused * 3.0)?.backward()?.get(x.as_tensor()).unwrap().clone();
        let gb = (plain * 3.0)?.backward()?.get(x.as_tensor()).unwrap().clone();
        let d = (ga - gb)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d < grad_tol, "gradient differs by {d}");
        Ok(())
    }

    #[test]
    fn matches_candles_loss_and_gradient() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&(Tensor::randn(0f32, 3.0, (6, 37), &dev)?))?;
        let targets = [0u32, 5, 36, 7, 7, 20];
        let fused = cross_entropy(x.as_tensor(), &targets)?;
        let plain = candle_nn::loss::cross_entropy(x.as_tensor(), &Tensor::new(&targets, &dev)?)?;
        assert_same_loss_and_gradient(&x, &fused, &plain, 1e-6)
    }

    #[test]
    fn the_fused_head_matches_projection_then_loss() -> Result<()> {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (6, 16), &dev)?)?;
        let head = Linear::new(Tensor::randn(0f32, 0.5, (300, 16), &dev)?, None);
        let targets = [0u32, 299, 17, 17, 150, 3];
        let fused = head_cross_entropy(x.as_tensor(), &head, &targets)?.expect("the CPU kernel applies");
        let plain = cross_entropy(&x.as_tensor().matmul(&head.frozen_weight().dense().unwrap().t()?)?, &targets)?;
        assert_same_loss_and_gradient(&x, &fused, &plain, 1e-5)
    }

    #[test]
    fn bad_targets_are_refused() {
        let x = Tensor::zeros((2, 4), DType::F32, &Device::Cpu).unwrap();
        assert!(cross_entropy(&x, &[0, 4]).unwrap_err().to_string().contains("outside the vocabulary"));
        assert!(cross_entropy(&x, &[0]).unwrap_err().to_string().contains("2 rows of logits but 1 targets"));
    }
}
