//! Causal self-attention with frozen projections, fused on the CPU for whole sequences
//! (scoring and training; cached generation and left-padded batches take the composed path).
//!
//! Composed from candle ops, one layer's attention is some twenty graph nodes (projections,
//! reshapes, transposes, copies, RoPE, two batched products, the softmax), and the backward
//! pass allocates, zero-fills and accumulates a gradient for each. Here it is one node: the
//! Q/K/V products, RoPE in place, one task per head (scores, causal softmax, values) with
//! single-threaded GEMMs spread over the rayon pool, and the output product; the backward pass
//! walks the same steps in reverse from the saved rotated Q/K, V and probabilities. The
//! projection weights get no gradient; the input does.

use super::causal_softmax::{softmax_grad_in_place, softmax_in_place};
use super::frozen_matmul::FrozenWeight;
use super::linear::Linear;
use super::rope::{rotate_rows, Rope};
use crate::engine::cpu::gemm::{matmul_into_serial, MatRef};
use crate::engine::cpu::storage::{matrix, with_matrix};
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::OnceLock;

/// One projection: the frozen weight and its bias as plain values.
struct Projection {
    weight: FrozenWeight,
    bias: Option<Vec<f32>>,
}

impl Projection {
    fn new(linear: &Linear) -> Result<Self> {
        let bias = linear.bias().map(|b| b.to_dtype(DType::F32)?.to_vec1::<f32>()).transpose()?;
        Ok(Self { weight: linear.frozen_weight().clone(), bias })
    }

    /// `x W^T + b`.
    fn forward(&self, x: MatRef) -> Result<Vec<f32>> {
        let out_features = self.weight.dims2()?.0;
        let mut y = vec![0f32; x.rows() * out_features];
        self.weight.product_into(&mut y, x, 1.0, false)?;
        if let Some(b) = &self.bias {
            y.par_chunks_mut(out_features).for_each(|row| row.iter_mut().zip(b).for_each(|(y, b)| *y += b));
        }
        Ok(y)
    }

    /// `dst (+)= g W`: the input gradient of this projection.
    fn input_gradient(&self, dst: &mut [f32], g: MatRef, accumulate: bool) -> Result<()> {
        self.weight.input_gradient_into(dst, g, accumulate)
    }
}

/// What the backward pass needs from the forward pass.
struct Saved {
    /// Rotated queries `[tokens, heads * head_dim]`.
    q: Vec<f32>,
    /// Rotated keys `[tokens, kv_heads * head_dim]`.
    k: Vec<f32>,
    /// Values, as the keys.
    v: Vec<f32>,
    /// Probabilities `[batch, heads, seq, seq]`, zero above the diagonal.
    probs: Vec<f32>,
}

struct FusedAttention {
    q: Projection,
    k: Projection,
    v: Projection,
    o: Projection,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    batch: usize,
    seq: usize,
    /// RoPE tables for positions `0..seq`, `[seq, head_dim / 2]`.
    cos: Vec<f32>,
    sin: Vec<f32>,
    /// Save activations for a backward pass.
    keep: bool,
    saved: OnceLock<Saved>,
}

/// `[batch, heads, seq, head_dim]` to token-major `[batch * seq, heads * head_dim]`.
fn heads_to_tokens(src: &[f32], heads: usize, seq: usize, head_dim: usize) -> Vec<f32> {
    let width = heads * head_dim;
    let mut out = vec![0f32; src.len()];
    out.par_chunks_mut(width).enumerate().for_each(|(r, row)| {
        let (b, t) = (r / seq, r % seq);
        for (h, dst) in row.chunks_exact_mut(head_dim).enumerate() {
            dst.copy_from_slice(&src[((b * heads + h) * seq + t) * head_dim..][..head_dim]);
        }
    });
    out
}

impl FusedAttention {
    /// Head `h` of batch row `b` in token-major `[tokens, n_heads * head_dim]` values: `[seq, head_dim]`.
    fn head<'a>(&self, values: &'a [f32], n_heads: usize, b: usize, h: usize) -> MatRef<'a> {
        let width = n_heads * self.head_dim;
        MatRef::new(&values[b * self.seq * width + h * self.head_dim..], self.seq, self.head_dim, width, 1)
    }

    fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

impl CustomOp1 for FusedAttention {
    fn name(&self) -> &'static str {
        "fused-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = matrix(storage, layout)?;
        let (t, d, n_rep) = (self.seq, self.head_dim, self.heads / self.kv_heads);
        if x.rows() != self.batch * t {
            candle_core::bail!("fused attention: {} rows for {} sequences of {t}", x.rows(), self.batch);
        }
        let mut q = self.q.forward(x)?;
        let mut k = self.k.forward(x)?;
        let v = self.v.forward(x)?;
        rotate_rows(&mut q, self.heads * d, d, &self.cos, &self.sin, t, 1.0);
        rotate_rows(&mut k, self.kv_heads * d, d, &self.cos, &self.sin, t, 1.0);
        let mut probs = vec![0f32; self.batch * self.heads * t * t];
        let mut out_heads = vec![0f32; self.batch * self.heads * t * d];
        probs.par_chunks_mut(t * t).zip(out_heads.par_chunks_mut(t * d)).enumerate().for_each(|(bh, (p, o))| {
            let (b, h) = (bh / self.heads, bh % self.heads);
            let (qh, kg, vg) =
                (self.head(&q, self.heads, b, h), self.head(&k, self.kv_heads, b, h / n_rep), self.head(&v, self.kv_heads, b, h / n_rep));
            matmul_into_serial(p, qh, kg.t(), 1.0, false);
            for (i, row) in p.chunks_exact_mut(t).enumerate() {
                softmax_in_place(&mut row[..=i], self.scale());
                row[i + 1..].fill(0.0);
            }
            matmul_into_serial(o, MatRef::row_major(p, t, t), vg, 1.0, false);
        });
        let attended = heads_to_tokens(&out_heads, self.heads, t, d);
        let out = self.o.forward(MatRef::row_major(&attended, x.rows(), self.heads * d))?;
        if self.keep {
            let _ = self.saved.set(Saved { q, k, v, probs });
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let Some(saved) = self.saved.get() else { candle_core::bail!("fused attention: backward pass without saved activations") };
        let (t, d, n_rep) = (self.seq, self.head_dim, self.heads / self.kv_heads);
        let n = self.batch * t;
        let grad = grad.contiguous()?;
        let mut d_attended = vec![0f32; n * self.heads * d];
        with_matrix(&grad, |g| self.o.input_gradient(&mut d_attended, g, false))?;
        let mut dq_heads = vec![0f32; self.batch * self.heads * t * d];
        let mut dk_heads = vec![0f32; self.batch * self.kv_heads * t * d];
        let mut dv_heads = vec![0f32; self.batch * self.kv_heads * t * d];
        let groups = dq_heads.par_chunks_mut(n_rep * t * d).zip(dk_heads.par_chunks_mut(t * d).zip(dv_heads.par_chunks_mut(t * d)));
        groups.enumerate().for_each(|(bg, (dq, (dk, dv)))| {
            let (b, g) = (bg / self.kv_heads, bg % self.kv_heads);
            let (kg, vg) = (self.head(&saved.k, self.kv_heads, b, g), self.head(&saved.v, self.kv_heads, b, g));
            let mut ds = vec![0f32; t * t];
            for r in 0..n_rep {
                let h = g * n_rep + r;
                let p = &saved.probs[(b * self.heads + h) * t * t..][..t * t];
                let (qh, doh) = (self.head(&saved.q, self.heads, b, h), self.head(&d_attended, self.heads, b, h));
                matmul_into_serial(dv, MatRef::row_major(p, t, t).t(), doh, 1.0, r > 0);
                matmul_into_serial(&mut ds, doh, vg.t(), 1.0, false);
                for (i, (g_row, p_row)) in ds.chunks_exact_mut(t).zip(p.chunks_exact(t)).enumerate() {
                    softmax_grad_in_place(&p_row[..=i], &mut g_row[..=i], self.scale());
                    g_row[i + 1..].fill(0.0);
                }
                let ds_mat = MatRef::row_major(&ds, t, t);
                matmul_into_serial(&mut dq[r * t * d..(r + 1) * t * d], ds_mat, kg, 1.0, false);
                matmul_into_serial(dk, ds_mat.t(), qh, 1.0, r > 0);
            }
        });
        let mut dq = heads_to_tokens(&dq_heads, self.heads, t, d);
        let mut dk = heads_to_tokens(&dk_heads, self.kv_heads, t, d);
        let dv = heads_to_tokens(&dv_heads, self.kv_heads, t, d);
        rotate_rows(&mut dq, self.heads * d, d, &self.cos, &self.sin, t, -1.0);
        rotate_rows(&mut dk, self.kv_heads * d, d, &self.cos, &self.sin, t, -1.0);
        let hidden = arg.dim(candle_core::D::Minus1)?;
        let mut dx = vec![0f32; n * hidden];
        self.q.input_gradient(&mut dx, MatRef::row_major(&dq, n, self.heads * d), false)?;
        self.k.input_gradient(&mut dx, MatRef::row_major(&dk, n, self.kv_heads * d), true)?;
        self.v.input_gradient(&mut dx, MatRef::row_major(&dv, n, self.kv_heads * d), true)?;
        Ok(Some(Tensor::from_vec(dx, arg.shape(), &Device::Cpu)?))
    }
}

/// The four projections and head layout of one attention layer.
pub struct AttentionLayer<'a> {
    /// Query, key, value and output projections.
    pub q: &'a Linear,
    /// Keys.
    pub k: &'a Linear,
    /// Values.
    pub v: &'a Linear,
    /// Output.
    pub o: &'a Linear,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention when fewer).
    pub kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
}

/// Causal self-attention of whole sequences `xs [batch, seq, hidden]` from position 0 through
/// the fused CPU kernel, differentiable in `xs` when `differentiable`; `None` where it does not
/// apply (another device or dtype, a projection with an adapter or a trainable weight).
pub fn fused_attention(xs: &Tensor, layer: &AttentionLayer, rope: &Rope, differentiable: bool) -> Result<Option<Tensor>> {
    let linears = [layer.q, layer.k, layer.v, layer.o];
    let frozen_f32 = linears.iter().all(|l| l.lora().is_none() && l.frozen_weight().cpu_kernels_apply());
    if !matches!(xs.device(), Device::Cpu) || xs.dtype() != DType::F32 || !frozen_f32 || layer.head_dim % 2 != 0 {
        return Ok(None);
    }
    let (batch, seq, _) = xs.dims3()?;
    let (cos, sin) = rope.tables_f32(0, seq)?;
    let op = FusedAttention {
        q: Projection::new(layer.q)?,
        k: Projection::new(layer.k)?,
        v: Projection::new(layer.v)?,
        o: Projection::new(layer.o)?,
        heads: layer.heads,
        kv_heads: layer.kv_heads,
        head_dim: layer.head_dim,
        batch,
        seq,
        cos,
        sin,
        keep: differentiable && xs.track_op(),
        saved: OnceLock::new(),
    };
    let xs = xs.contiguous()?;
    if op.keep {
        xs.apply_op1(op).map(Some)
    } else {
        xs.apply_op1_no_bwd(&op).map(Some)
    }
}
