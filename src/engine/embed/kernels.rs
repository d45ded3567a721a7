//! CPU kernels of the BERT encoder that candle runs one element at a time: GELU (erf form) with
//! the bias add, residual + bias + LayerNorm, and attention over packed (unpadded) sequences.
//! Rows are spread over the rayon pool; the element loops are written so that the compiler
//! vectorises them (AVX2+FMA when the CPU has them, checked at run time).

use crate::engine::cpu::math::lane_sum;
use rayon::prelude::*;

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 16;

/// erf for f32: a rational approximation on [-4, 4] (the one Eigen and XLA use; beyond 4, erf is
/// ±1 in f32). Absolute error below 1e-6, written without branches so that it vectorises.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142e-10_f32 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_6e-3;
    p = x2 * p + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5_f32 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_2e-3;
    q = x2 * q + -1.426_473_9e-2;
    p / q
}

#[inline(always)]
fn bias_gelu_rows(src: &[f32], bias: &[f32], out: &mut [f32]) {
    for (o_row, s_row) in out.chunks_exact_mut(bias.len()).zip(src.chunks_exact(bias.len())) {
        for ((o, s), b) in o_row.iter_mut().zip(s_row).zip(bias) {
            let v = s + b;
            *o = 0.5 * v * (1.0 + erf_f32(v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn bias_gelu_rows_avx2(src: &[f32], bias: &[f32], out: &mut [f32]) {
    bias_gelu_rows(src, bias, out)
}

/// `out = gelu(src + bias)` row by row (`bias` is one row), with GELU's erf form.
pub fn bias_gelu(src: &[f32], bias: &[f32], out: &mut [f32]) {
    let width = bias.len() * ROWS_PER_TASK;
    out.par_chunks_mut(width).zip(src.par_chunks(width)).for_each(|(o, s)| {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU was just checked to support AVX2 and FMA.
            unsafe { bias_gelu_rows_avx2(s, bias, o) };
            return;
        }
        bias_gelu_rows(s, bias, o)
    });
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn layernorm_rows(
    src: &[f32],
    bias: &[f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
    centred: &mut [f32],
) {
    let h = bias.len();
    for ((o, s), r) in out.chunks_exact_mut(h).zip(src.chunks_exact(h)).zip(residual.chunks_exact(h)) {
        for (((o, s), r), b) in o.iter_mut().zip(s).zip(r).zip(bias) {
            *o = s + r + b;
        }
        let mean = lane_sum(o) / h as f32;
        for (c, v) in centred.iter_mut().zip(o.iter()) {
            *c = (v - mean) * (v - mean);
        }
        let inv = 1.0 / (lane_sum(centred) / h as f32 + eps).sqrt();
        for ((o, g), b) in o.iter_mut().zip(gamma).zip(beta) {
            *o = (*o - mean) * inv * g + b;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn layernorm_rows_avx2(
    src: &[f32],
    bias: &[f32],
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    out: &mut [f32],
    centred: &mut [f32],
) {
    layernorm_rows(src, bias, residual, gamma, beta, eps, out, centred)
}

/// `out = LayerNorm(src + bias + residual) * gamma + beta` row by row (biased variance, as
/// PyTorch).
pub fn bias_residual_layernorm(src: &[f32], bias: &[f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [f32]) {
    let width = bias.len() * ROWS_PER_TASK;
    out.par_chunks_mut(width).zip(src.par_chunks(width)).zip(residual.par_chunks(width)).for_each(|((o, s), r)| {
        let mut centred = vec![0f32; bias.len()];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU was just checked to support AVX2 and FMA.
            unsafe { layernorm_rows_avx2(s, bias, r, gamma, beta, eps, o, &mut centred) };
            return;
        }
        layernorm_rows(s, bias, r, gamma, beta, eps, o, &mut centred)
    });
}

#[inline(always)]
fn fma<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// [`attend_one`] for a head width known at compile time: query, scores of eight keys and the
/// context row stay in registers; keys are stored in blocks of eight, transposed.
#[inline(always)]
fn attend_fixed<const D: usize, const FMA: bool>(qkv: &[f32], bias: &[f32], first: usize, heads: usize, ctx: &mut [f32]) {
    let h = heads * D;
    let len = ctx.len() / h;
    let blocks = len.div_ceil(8);
    let scale = 1.0 / (D as f32).sqrt();
    // One pass over the sequence's rows, in memory order, spreads every head's queries (bias
    // added, scaled), keys (blocks of eight, transposed) and values into small buffers.
    let mut qs = vec![[0f32; D]; heads * len];
    let mut kb = vec![[[0f32; 8]; D]; heads * blocks];
    let mut v = vec![[0f32; D]; heads * len];
    let mut scores = vec![0f32; blocks * 8];
    for j in 0..len {
        let row = &qkv[(first + j) * 3 * h..(first + j + 1) * 3 * h];
        for hd in 0..heads {
            let (qo, ko, vo) = (hd * D, h + hd * D, 2 * h + hd * D);
            let (q, k, vv) = (&mut qs[hd * len + j], &mut kb[hd * blocks + j / 8], &mut v[hd * len + j]);
            for d in 0..D {
                q[d] = (row[qo + d] + bias[qo + d]) * scale;
                k[d][j % 8] = row[ko + d] + bias[ko + d];
                vv[d] = row[vo + d] + bias[vo + d];
            }
        }
    }
    for hd in 0..heads {
        let qo = hd * D;
        let kb = &kb[hd * blocks..(hd + 1) * blocks];
        let v = &v[hd * len..(hd + 1) * len];
        for i in 0..len {
            let q = &qs[hd * len + i];
            for (blk, out) in kb.iter().zip(scores.chunks_exact_mut(8)) {
                let mut s = [0f32; 8];
                for d in 0..D {
                    for l in 0..8 {
                        s[l] = fma::<FMA>(q[d], blk[d][l], s[l]);
                    }
                }
                out.copy_from_slice(&s);
            }
            let sc = &mut scores[..len];
            let max = sc.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for s in sc.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let inv = 1.0 / sum;
            let mut o = [0f32; D];
            for (p, vr) in sc.iter().zip(v) {
                let p = p * inv;
                for d in 0..D {
                    o[d] = fma::<FMA>(p, vr[d], o[d]);
                }
            }
            ctx[i * h + qo..i * h + qo + D].copy_from_slice(&o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn attend_fixed_avx2<const D: usize>(qkv: &[f32], bias: &[f32], first: usize, heads: usize, ctx: &mut [f32]) {
    attend_fixed::<D, true>(qkv, bias, first, heads, ctx)
}

/// Attention of one sequence (`len` tokens starting at token `first`) for every head, into its
/// rows of the context `ctx`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn attend_one(qkv: &[f32], bias: &[f32], first: usize, heads: usize, head_dim: usize, ctx: &mut [f32]) {
    let h = heads * head_dim;
    let len = ctx.len() / h;
    let scale = 1.0 / (head_dim as f32).sqrt();
    // Keys transposed ([head_dim, len]) so that the scores of one query are axpy updates over a
    // contiguous row; values as rows ([len, head_dim]).
    let mut kt = vec![0f32; head_dim * len];
    let mut v = vec![0f32; len * head_dim];
    let mut q = vec![0f32; head_dim];
    let mut scores = vec![0f32; len];
    for hd in 0..heads {
        let (qo, ko, vo) = (hd * head_dim, h + hd * head_dim, 2 * h + hd * head_dim);
        for j in 0..len {
            let row = &qkv[(first + j) * 3 * h..(first + j + 1) * 3 * h];
            for d in 0..head_dim {
                kt[d * len + j] = row[ko + d] + bias[ko + d];
            }
            for ((dst, src), b) in v[j * head_dim..(j + 1) * head_dim].iter_mut().zip(&row[vo..vo + head_dim]).zip(&bias[vo..vo + head_dim])
            {
                *dst = src + b;
            }
        }
        for i in 0..len {
            let row = &qkv[(first + i) * 3 * h..(first + i + 1) * 3 * h];
            for ((dst, src), b) in q.iter_mut().zip(&row[qo..qo + head_dim]).zip(&bias[qo..qo + head_dim]) {
                *dst = (src + b) * scale;
            }
            scores.fill(0.0);
            for (qd, krow) in q.iter().zip(kt.chunks_exact(len)) {
                for (s, k) in scores.iter_mut().zip(krow) {
                    *s += qd * k;
                }
            }
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let inv = 1.0 / sum;
            let o = &mut ctx[i * h + qo..i * h + qo + head_dim];
            o.fill(0.0);
            for (s, vrow) in scores.iter().zip(v.chunks_exact(head_dim)) {
                let p = s * inv;
                for (od, vd) in o.iter_mut().zip(vrow) {
                    *od += p * vd;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn attend_one_avx2(qkv: &[f32], bias: &[f32], first: usize, heads: usize, head_dim: usize, ctx: &mut [f32]) {
    attend_one(qkv, bias, first, heads, head_dim, ctx)
}

/// Self-attention over packed sequences. `qkv` holds one row `[q | k | v]` (each `heads *
/// head_dim` wide, biases not yet added) per token, sequences one after the other with lengths
/// `lens`; every token attends to the tokens of its own sequence. Writes the context `[tokens,
/// heads * head_dim]` into `out`.
pub fn packed_attention(qkv: &[f32], bias: &[f32], lens: &[usize], heads: usize, head_dim: usize, out: &mut [f32]) {
    let h = heads * head_dim;
    let mut pieces: Vec<(usize, &mut [f32])> = Vec::with_capacity(lens.len());
    let mut rest = out;
    let mut start = 0;
    for &len in lens {
        let (mine, tail) = rest.split_at_mut(len * h);
        pieces.push((start, mine));
        rest = tail;
        start += len;
    }
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    pieces.into_par_iter().for_each(|(first, ctx)| {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU was checked above to support AVX2 and FMA.
            unsafe {
                match head_dim {
                    32 => attend_fixed_avx2::<32>(qkv, bias, first, heads, ctx),
                    64 => attend_fixed_avx2::<64>(qkv, bias, first, heads, ctx),
                    _ => attend_one_avx2(qkv, bias, first, heads, head_dim, ctx),
                }
            }
            return;
        }
        let _ = avx2;
        match head_dim {
            32 => attend_fixed::<32, false>(qkv, bias, first, heads, ctx),
            64 => attend_fixed::<64, false>(qkv, bias, first, heads, ctx),
            _ => attend_one(qkv, bias, first, heads, head_dim, ctx),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_the_reference() {
        let mut worst = 0f64;
        for i in -6000..=6000 {
            let x = i as f64 / 1000.0;
            let err = (f64::from(erf_f32(x as f32)) - candle_core::cpu::erf::erf_f64(x)).abs();
            worst = worst.max(err);
        }
        assert!(worst < 1e-6, "worst absolute error {worst}");
    }

    #[test]
    fn gelu_and_layernorm_match_plain_formulas() {
        let src: Vec<f32> = (0..64).map(|i| (i as f32 - 30.0) * 0.17).collect();
        let bias: Vec<f32> = (0..32).map(|i| i as f32 * 0.01).collect();
        let mut out = vec![0f32; 64];
        bias_gelu(&src, &bias, &mut out);
        for (i, o) in out.iter().enumerate() {
            let v = f64::from(src[i] + bias[i % 32]);
            let want = 0.5 * v * (1.0 + candle_core::cpu::erf::erf_f64(v / 2f64.sqrt()));
            assert!((f64::from(*o) - want).abs() < 1e-5, "{i}: {o} vs {want}");
        }
        let ones = vec![1f32; 32];
        let zeros = vec![0f32; 32];
        let mut ln = vec![0f32; 64];
        bias_residual_layernorm(&src, &zeros, &zeros, &ones, &zeros, 1e-12, &mut ln);
        let row = &ln[..32];
        let mean: f32 = row.iter().sum::<f32>() / 32.0;
        let var: f32 = row.iter().map(|v| v * v).sum::<f32>() / 32.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "{mean} {var}");
    }

    #[test]
    fn fixed_width_attention_matches_the_generic_kernel() {
        for (heads, d) in [(2usize, 32usize), (1, 64)] {
            let lens = [1usize, 9, 17];
            let tokens: usize = lens.iter().sum();
            let h = heads * d;
            let qkv: Vec<f32> = (0..tokens * 3 * h).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.8).collect();
            let bias: Vec<f32> = (0..3 * h).map(|i| (i % 13) as f32 * 0.01).collect();
            let mut fast = vec![0f32; tokens * h];
            packed_attention(&qkv, &bias, &lens, heads, d, &mut fast);
            let mut slow = vec![0f32; tokens * h];
            let mut start = 0;
            for &len in &lens {
                attend_one(&qkv, &bias, start, heads, d, &mut slow[start * h..(start + len) * h]);
                start += len;
            }
            let worst = fast.iter().zip(&slow).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-5, "heads {heads} x {d}: {worst}");
        }
    }

    #[test]
    fn packed_attention_keeps_sequences_apart() {
        // Two sequences (lengths 1 and 2), one head of width 2. A single token attends only to
        // itself, so its context is its own value.
        let (heads, d) = (1, 2);
        let qkv = vec![
            1.0, 0.0, 1.0, 0.0, 5.0, 6.0, // seq 0, token 0: q, k, v
            0.0, 1.0, 0.0, 1.0, 1.0, 1.0, // seq 1, token 0
            0.0, 1.0, 0.0, -1.0, 3.0, 3.0, // seq 1, token 1
        ];
        let mut out = vec![0f32; 3 * 2];
        packed_attention(&qkv, &[0.0; 6], &[1, 2], heads, d, &mut out);
        assert_eq!(&out[..2], &[5.0, 6.0]);
        // Token 0 of seq 1: scores (1, -1) / sqrt(2) -> weights favour value (1, 1).
        let w = 1.0 / (1.0 + (-2.0f32 / 2f32.sqrt()).exp());
        let want = w * 1.0 + (1.0 - w) * 3.0;
        assert!((out[2] - want).abs() < 1e-6 && (out[3] - want).abs() < 1e-6, "{out:?}");
    }
}
