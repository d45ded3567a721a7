//! CPU kernels of the BERT encoder that candle runs one element at a time: GELU (erf form) with
//! the bias add, residual + bias + LayerNorm, and attention over packed (unpadded) sequences.
//! Rows are spread over the rayon pool; the element loops are written so that the compiler
//! vectorises them (AVX2+FMA when the CPU has them, checked at run time).

use rayon::prelude::*;

/// Rows handed to one rayon task.
const ROWS_PER_TASK: usize = 16;

/// erf for f32: a rational approximation on [-4, 4] (the one Eigen and XLA use; beyond 4, erf is
/// ±1 in f32). Absolute error below 1e-6, written without branches so that it vectorises.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_2e-10_f32 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_599_8e-3;
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

/// `out = LayerNorm(src + bias + residual) * gamma + beta` row by row (biased variance, as
/// PyTorch).
pub fn bias_residual_layernorm(src: &[f32], bias: &[f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [f32]) {
    let h = bias.len();
    out.par_chunks_mut(h)
        .zip(src.par_chunks(h))
        .zip(residual.par_chunks(h))
        .for_each(|((o, s), r)| {
            for (((o, s), r), b) in o.iter_mut().zip(s).zip(r).zip(bias) {
                *o = s + r + b;
            }
            let mean = o.iter().sum::<f32>() / h as f32;
            let var = o.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((o, g), b) in o.iter_mut().zip(gamma).zip(beta) {
                *o = (*o - mean) * inv * g + b;
            }
        });
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Self-attention over packed sequences. `qkv` holds one row `[q | k | v]` (each `heads *
/// head_dim` wide, biases not yet added) per token, sequences one after the other with lengths
/// `lens`; every token attends to the tokens of its own sequence. Writes the context `[tokens,
/// heads * head_dim]` into `out`.
pub fn packed_attention(qkv: &[f32], bias: &[f32], lens: &[usize], heads: usize, head_dim: usize, out: &mut [f32]) {
    let h = heads * head_dim;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let mut pieces: Vec<(usize, &mut [f32])> = Vec::with_capacity(lens.len());
    let mut rest = out;
    let mut start = 0;
    for &len in lens {
        let (mine, tail) = rest.split_at_mut(len * h);
        pieces.push((start, mine));
        rest = tail;
        start += len;
    }
    pieces.into_par_iter().for_each(|(first, ctx)| {
        let len = ctx.len() / h;
        let mut k = vec![0f32; len * head_dim];
        let mut v = vec![0f32; len * head_dim];
        let mut q = vec![0f32; head_dim];
        let mut scores = vec![0f32; len];
        for hd in 0..heads {
            let (qo, ko, vo) = (hd * head_dim, h + hd * head_dim, 2 * h + hd * head_dim);
            for j in 0..len {
                let row = &qkv[(first + j) * 3 * h..(first + j + 1) * 3 * h];
                for d in 0..head_dim {
                    k[j * head_dim + d] = row[ko + d] + bias[ko + d];
                    v[j * head_dim + d] = row[vo + d] + bias[vo + d];
                }
            }
            for i in 0..len {
                let row = &qkv[(first + i) * 3 * h..(first + i + 1) * 3 * h];
                for d in 0..head_dim {
                    q[d] = row[qo + d] + bias[qo + d];
                }
                let mut max = f32::NEG_INFINITY;
                for (j, s) in scores.iter_mut().enumerate() {
                    *s = dot(&q, &k[j * head_dim..(j + 1) * head_dim]) * scale;
                    max = max.max(*s);
                }
                let mut sum = 0f32;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                let o = &mut ctx[i * h + hd * head_dim..i * h + (hd + 1) * head_dim];
                o.fill(0.0);
                for (j, s) in scores.iter().enumerate() {
                    let p = s / sum;
                    for (od, vd) in o.iter_mut().zip(&v[j * head_dim..(j + 1) * head_dim]) {
                        *od += p * vd;
                    }
                }
            }
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
