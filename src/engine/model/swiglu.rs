//! `silu(gate) * up`, the gated MLP's activation, fused on the CPU with a backward pass.
//!
//! candle runs it as a SiLU (one libm `exp` per element), a product, and in the backward pass
//! half a dozen more ops over the `[tokens, intermediate]` activations. Here the forward is one
//! vectorised pass and the backward one pass writing both gradients. Other devices and dtypes
//! use candle's ops.

use crate::engine::cpu::math::sigmoid_f32;
use crate::engine::cpu::storage::{cpu, values};
use crate::engine::cpu::vectorised;
use candle_core::{CpuStorage, CustomOp2, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Elements per rayon task.
const CHUNK: usize = 1 << 14;

struct SwiGlu;

vectorised! {
    fn forward_chunk(gate: &[f32], up: &[f32], out: &mut [f32]) {
        for ((o, g), u) in out.iter_mut().zip(gate).zip(up) {
            *o = g * sigmoid_f32(*g) * u;
        }
    }
}

vectorised! {
    fn backward_chunk(gate: &[f32], up: &[f32], grad: &[f32], grad_gate: &mut [f32], grad_up: &mut [f32]) {
        let outs = grad_gate.iter_mut().zip(grad_up.iter_mut());
        for (((dg, du), g), (u, dy)) in outs.zip(gate).zip(up.iter().zip(grad)) {
            let s = sigmoid_f32(*g);
            let silu = g * s;
            *du = dy * silu;
            *dg = dy * u * (s + silu * (1.0 - s));
        }
    }
}

impl CustomOp2 for SwiGlu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(&self, gs: &CpuStorage, gl: &Layout, us: &CpuStorage, ul: &Layout) -> Result<(CpuStorage, Shape)> {
        let (gate, up) = (values(gs, gl)?, values(us, ul)?);
        if gl.shape() != ul.shape() {
            candle_core::bail!("swiglu: gate {:?} and up {:?} differ in shape", gl.shape(), ul.shape());
        }
        let mut out = vec![0f32; gate.len()];
        out.par_chunks_mut(CHUNK).zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK))).for_each(|(o, (g, u))| forward_chunk(g, u, o));
        Ok((CpuStorage::F32(out), gl.shape().clone()))
    }

    fn bwd(&self, gate_t: &Tensor, up_t: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let (gs, gl) = gate_t.storage_and_layout();
        let (us, ul) = up_t.storage_and_layout();
        let (ds, dl) = grad.storage_and_layout();
        let (gate, up, dy) = (values(cpu(&gs)?, gl)?, values(cpu(&us)?, ul)?, values(cpu(&ds)?, dl)?);
        let mut grad_gate = vec![0f32; gate.len()];
        let mut grad_up = vec![0f32; gate.len()];
        grad_gate.par_chunks_mut(CHUNK).zip(grad_up.par_chunks_mut(CHUNK)).enumerate().for_each(|(i, (dg, du))| {
            let r = i * CHUNK..(i * CHUNK + dg.len());
            backward_chunk(&gate[r.clone()], &up[r.clone()], &dy[r], dg, du);
        });
        let shape = gate_t.shape();
        Ok((Some(Tensor::from_vec(grad_gate, shape, &Device::Cpu)?), Some(Tensor::from_vec(grad_up, shape, &Device::Cpu)?)))
    }
}

/// `silu(gate) * up`, differentiable in both.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    if matches!(gate.device(), Device::Cpu) && gate.dtype() == DType::F32 && up.dtype() == DType::F32 {
        return gate.contiguous()?.apply_op2(&up.contiguous()?, SwiGlu);
    }
    gate.silu()? * up
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn matches_silu_times_up_and_its_gradients() -> Result<()> {
        let dev = Device::Cpu;
        let gate = Var::from_tensor(&(Tensor::randn(0f32, 3.0, (3, 7, 50_000), &dev)?))?;
        let up = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 7, 50_000), &dev)?)?;
        let fused = swiglu(gate.as_tensor(), up.as_tensor())?;
        let plain = (gate.as_tensor().silu()? * up.as_tensor())?;
        let diff = |a: &Tensor, b: &Tensor| (a - b).and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>());
        assert!(diff(&fused, &plain)? < 1e-5);
        let probe = Tensor::randn(0f32, 1.0, (3, 7, 50_000), &dev)?;
        let gf = (fused * &probe)?.sum_all()?.backward()?;
        let gp = (plain * &probe)?.sum_all()?.backward()?;
        for v in [&gate, &up] {
            let d = diff(gf.get(v.as_tensor()).unwrap(), gp.get(v.as_tensor()).unwrap())?;
            assert!(d < 1e-4, "gradient differs by {d}");
        }
        Ok(())
    }
}
