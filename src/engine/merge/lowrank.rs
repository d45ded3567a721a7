//! Low-rank forms of a merged delta: the exact ones (rank concatenation, LoRA parameter
//! averaging) and a truncated SVD with its relative Frobenius error for the methods whose
//! result is not a LoRA (TIES, DARE, Fisher, SLERP).
//!
//! The truncated SVD is randomized (Halko, Martinsson & Tropp 2011: Gaussian range finder,
//! 10 oversampling columns, 4 power iterations, f64) and exact when the rank plus oversampling
//! covers the smaller dimension. Factors are balanced: `B = Q U diag(sqrt s)`,
//! `A = diag(1 / sqrt s) V^T`, so `B A` is the truncation.

use crate::engine::hash::splitmix64;
use candle_core::{DType, Device, Tensor};

/// A delta `B A` with `A: [rank, in]`, `B: [out, rank]` (row-major `f32`), and how far it is
/// from the dense delta it stands for.
#[derive(Debug, Clone)]
pub struct LowRank {
    /// `[rank, in]`.
    pub a: Vec<f32>,
    /// `[out, rank]`.
    pub b: Vec<f32>,
    /// The rank.
    pub rank: usize,
    /// `||dW - B A||_F / ||dW||_F` (0 for an exact form or a zero delta).
    pub rel_error: f64,
}

const OVERSAMPLE: usize = 10;
const POWER_ITERS: usize = 4;

fn gaussian(seed: u64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let u1 = ((splitmix64(seed ^ (2 * i as u64)) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            let u2 = (splitmix64(seed ^ (2 * i as u64 + 1)) >> 11) as f64 / (1u64 << 53) as f64;
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// Orthonormalises the `count` vectors stored one after another in `v` (each `len` long) by
/// Gram-Schmidt applied twice; a vector that vanishes becomes zero.
fn orthonormalize_rows(v: &mut [f64], count: usize, len: usize) {
    for j in 0..count {
        let (done, rest) = v.split_at_mut(j * len);
        let col = &mut rest[..len];
        let before = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        for _ in 0..2 {
            for p in done.chunks_exact(len) {
                let dot: f64 = p.iter().zip(col.iter()).map(|(a, b)| a * b).sum();
                col.iter_mut().zip(p).for_each(|(c, q)| *c -= dot * q);
            }
        }
        let norm = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        let scale = if norm > 1e-12 * before.max(1e-300) { 1.0 / norm } else { 0.0 };
        col.iter_mut().for_each(|c| *c *= scale);
    }
}

/// An orthonormal basis of the columns of `y` (`rows x cols`), same shape.
fn orthonormal_columns(y: &Tensor) -> candle_core::Result<Tensor> {
    let (rows, cols) = y.dims2()?;
    let mut v = flat(&y.t()?.contiguous()?)?;
    orthonormalize_rows(&mut v, cols, rows);
    Tensor::from_vec(v, (cols, rows), &Device::Cpu)?.t()
}

/// Eigen-decomposition of a symmetric `n x n` matrix by cyclic Jacobi: eigenvalues descending
/// and the matching eigenvectors as the columns of a row-major `n x n` matrix.
fn symmetric_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..60 {
        let off: f64 = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i * n + j].powi(2)).sum();
        let total: f64 = a.iter().map(|x| x * x).sum();
        if off <= 1e-30 * total.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vectors = vec![0f64; n * n];
    for (new, &old) in order.iter().enumerate() {
        for k in 0..n {
            vectors[k * n + new] = v[k * n + old];
        }
    }
    (values, vectors)
}

fn mat(data: &[f64], rows: usize, cols: usize) -> candle_core::Result<Tensor> {
    Tensor::from_slice(data, (rows, cols), &Device::Cpu)
}

fn flat(t: &Tensor) -> candle_core::Result<Vec<f64>> {
    t.flatten_all()?.to_vec1::<f64>()
}

/// The best rank-`rank` approximation of the `out x inp` delta (row-major), as LoRA factors.
pub fn truncated_svd(delta: &[f32], out: usize, inp: usize, rank: usize, seed: u64) -> candle_core::Result<LowRank> {
    let total: f64 = delta.iter().map(|x| (*x as f64).powi(2)).sum();
    let r = rank.min(out).min(inp).max(1);
    if total == 0.0 {
        return Ok(LowRank { a: vec![0.0; r * inp], b: vec![0.0; out * r], rank: r, rel_error: 0.0 });
    }
    let m64: Vec<f64> = delta.iter().map(|x| *x as f64).collect();
    let m = mat(&m64, out, inp)?;
    let l = (r + OVERSAMPLE).min(out).min(inp);
    // Q: an orthonormal basis (out x l) of the dominant column space.
    let q = if l == out {
        let mut eye = vec![0f64; out * out];
        (0..out).for_each(|i| eye[i * out + i] = 1.0);
        mat(&eye, out, out)?
    } else {
        let omega = mat(&gaussian(seed, inp * l), inp, l)?;
        let mut q = orthonormal_columns(&m.matmul(&omega)?)?;
        for _ in 0..POWER_ITERS {
            let z = orthonormal_columns(&m.t()?.matmul(&q)?)?;
            q = orthonormal_columns(&m.matmul(&z)?)?;
        }
        q
    };
    let small = q.t()?.matmul(&m)?; // l x inp
    let gram = flat(&small.matmul(&small.t()?)?)?;
    let (values, vectors) = symmetric_eigen(gram, l);
    let u_r: Vec<f64> = (0..l).flat_map(|i| (0..r).map(move |j| (i, j))).map(|(i, j)| vectors[i * l + j]).collect();
    let u_r = mat(&u_r, l, r)?;
    let kept: f64 = values.iter().take(r).map(|v| v.max(0.0)).sum();
    let sigma: Vec<f64> = values.iter().take(r).map(|v| v.max(0.0).sqrt()).collect();
    let mut b = flat(&q.matmul(&u_r)?)?; // out x r
    let mut a = flat(&u_r.t()?.matmul(&small)?)?; // r x inp
    for (j, s) in sigma.iter().enumerate() {
        let (sb, sa) = if *s > 1e-30 { (s.sqrt(), 1.0 / s.sqrt()) } else { (0.0, 0.0) };
        (0..out).for_each(|i| b[i * r + j] *= sb);
        a[j * inp..(j + 1) * inp].iter_mut().for_each(|x| *x *= sa);
    }
    let rel_error = ((total - kept).max(0.0) / total).sqrt();
    Ok(LowRank { a: a.iter().map(|x| *x as f32).collect(), b: b.iter().map(|x| *x as f32).collect(), rank: r, rel_error })
}

/// Exact rank concatenation: `sum_k c_k s_k B_k A_k = [c_1 s_1 B_1 | ...] [A_1; ...]`.
/// Each entry is `(coefficient * scale, A [r_k, in], B [out, r_k])`; returns `(A, B)` in f32.
pub fn concat_factors(parts: &[(f64, &Tensor, &Tensor)]) -> candle_core::Result<(Tensor, Tensor)> {
    let a: Vec<Tensor> = parts.iter().map(|(_, a, _)| a.to_dtype(DType::F32)).collect::<candle_core::Result<_>>()?;
    let b: Vec<Tensor> = parts.iter().map(|(c, _, b)| b.to_dtype(DType::F32)? * *c).collect::<candle_core::Result<_>>()?;
    Ok((Tensor::cat(&a, 0)?, Tensor::cat(&b, 1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(lr: &LowRank, out: usize, inp: usize) -> Vec<f32> {
        let b = Tensor::from_slice(&lr.b, (out, lr.rank), &Device::Cpu).unwrap();
        let a = Tensor::from_slice(&lr.a, (lr.rank, inp), &Device::Cpu).unwrap();
        b.matmul(&a).unwrap().flatten_all().unwrap().to_vec1().unwrap()
    }

    /// A matrix with singular values 8, 4, 2, 1, 0.5, ... from random orthonormal factors.
    fn known_spectrum(out: usize, inp: usize, n: usize) -> (Vec<f32>, Vec<f64>) {
        // Rows of `u` / `v` here are the singular vectors (n of them).
        let mut u = gaussian(1, out * n);
        orthonormalize_rows(&mut u, n, out);
        let mut v = gaussian(2, inp * n);
        orthonormalize_rows(&mut v, n, inp);
        let s: Vec<f64> = (0..n).map(|i| 8.0 / 2f64.powi(i as i32)).collect();
        let mut m = vec![0f32; out * inp];
        for i in 0..out {
            for j in 0..inp {
                m[i * inp + j] = (0..n).map(|k| u[k * out + i] * s[k] * v[k * inp + j]).sum::<f64>() as f32;
            }
        }
        (m, s)
    }

    #[test]
    fn svd_error_falls_with_rank_and_matches_the_spectrum() {
        let (out, inp, n) = (60, 40, 12);
        let (m, s) = known_spectrum(out, inp, n);
        let total: f64 = s.iter().map(|x| x * x).sum();
        let mut last = f64::INFINITY;
        for r in [1, 2, 4, 8, 12] {
            let lr = truncated_svd(&m, out, inp, r, 7).unwrap();
            let expected = (s[r..].iter().map(|x| x * x).sum::<f64>() / total).sqrt();
            assert!((lr.rel_error - expected).abs() < 1e-5, "rank {r}: {} vs {expected}", lr.rel_error);
            let p = product(&lr, out, inp);
            let measured = (m.iter().zip(&p).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / total).sqrt();
            assert!((measured - expected).abs() < 1e-5, "rank {r}: measured {measured} vs {expected}");
            assert!(lr.rel_error < last);
            last = lr.rel_error;
        }
        assert!(last < 1e-5);
    }

    #[test]
    fn randomized_path_on_a_wide_matrix() {
        // min(out, inp) = 200 > rank + oversampling: the randomized range finder is used.
        let (out, inp, n) = (200, 300, 6);
        let (m, s) = known_spectrum(out, inp, n);
        let total: f64 = s.iter().map(|x| x * x).sum();
        let lr = truncated_svd(&m, out, inp, 3, 9).unwrap();
        let expected = (s[3..].iter().map(|x| x * x).sum::<f64>() / total).sqrt();
        assert!((lr.rel_error - expected).abs() < 1e-5, "{} vs {expected}", lr.rel_error);
        let zero = truncated_svd(&[0.0; 12], 3, 4, 2, 0).unwrap();
        assert_eq!(zero.rel_error, 0.0);
    }

    #[test]
    fn rank_concatenation_equals_the_dense_weighted_sum() {
        let dev = Device::Cpu;
        let a1 = Tensor::new(&[[1f32, 2., 0.], [0., 1., -1.]], &dev).unwrap(); // r=2, in=3
        let b1 = Tensor::new(&[[1f32, 0.], [2., 1.]], &dev).unwrap(); // out=2
        let a2 = Tensor::new(&[[3f32, -1., 2.]], &dev).unwrap(); // r=1
        let b2 = Tensor::new(&[[0.5f32], [-1.]], &dev).unwrap();
        let (a, b) = concat_factors(&[(0.25 * 2.0, &a1, &b1), (0.75, &a2, &b2)]).unwrap();
        assert_eq!(a.dims(), &[3, 3]);
        let got = b.matmul(&a).unwrap().to_vec2::<f32>().unwrap();
        // 0.5 * B1 A1 = 0.5 * [[1,2,0],[2,5,-1]]; 0.75 * B2 A2 = 0.75 * [[1.5,-0.5,1],[-3,1,-2]]
        let want = [[0.5 + 1.125, 1.0 - 0.375, 0.75], [1.0 - 2.25, 2.5 + 0.75, -0.5 - 1.5]];
        for (g, w) in got.iter().zip(want.iter()) {
            for (x, y) in g.iter().zip(w.iter()) {
                assert!((x - y).abs() < 1e-6, "{got:?}");
            }
        }
    }
}
