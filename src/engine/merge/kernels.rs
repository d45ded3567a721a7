//! The per-tensor arithmetic of every method on dense deltas (flat `f32` slices of equal
//! length), parallel over entries with rayon. These follow mergekit's definitions so that full
//! merges give the same numbers: magnitude trimming keeps `max(1, floor(density * n))` entries,
//! the TIES sign is elected on the weighted trimmed deltas (a zero sum counts as +), and the
//! disjoint mean divides by the sum of the weights of the agreeing entries.

use crate::engine::hash::{fnv1a, splitmix64};
use rayon::prelude::*;

/// Entries per rayon task in the element-wise kernels.
const CHUNK: usize = 1 << 14;

/// `out[i] = sum_k coeffs[k] * deltas[k][i]`.
pub fn linear_combine(deltas: &[&[f32]], coeffs: &[f32]) -> Vec<f32> {
    let n = deltas.first().map_or(0, |d| d.len());
    let mut out = vec![0f32; n];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        let (start, len) = (c * CHUNK, chunk.len());
        for (d, &w) in deltas.iter().zip(coeffs) {
            for (o, x) in chunk.iter_mut().zip(&d[start..start + len]) {
                *o += w * x;
            }
        }
    });
    out
}

/// Keeps the `max(1, floor(density * n))` entries of largest magnitude and zeroes the rest
/// (TIES' trim; ties at the threshold keep the earliest entries). `density >= 1` keeps all.
pub fn magnitude_trim(delta: &mut [f32], density: f64) {
    let wide: Vec<f64> = delta.iter().map(|x| *x as f64).collect();
    for (x, keep) in delta.iter_mut().zip(magnitude_keep(&wide, density)) {
        if !keep {
            *x = 0.0;
        }
    }
}

/// Which entries TIES' trim keeps: the `max(1, floor(density * n))` largest magnitudes (the
/// earliest ones among equal magnitudes at the threshold). Taking f64 values lets the caller
/// rank exact deltas, so an entry at the threshold is not moved across it by f32 rounding.
pub fn magnitude_keep(values: &[f64], density: f64) -> Vec<bool> {
    let n = values.len();
    if density >= 1.0 || n == 0 {
        return vec![true; n];
    }
    if density <= 0.0 {
        return vec![false; n];
    }
    let k = ((density * n as f64) as usize).max(1);
    let mut mags: Vec<f64> = values.iter().map(|x| x.abs()).collect();
    let (_, kth, _) = mags.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let threshold = *kth;
    drop(mags);
    let above = values.iter().filter(|x| x.abs() > threshold).count();
    let mut ties_left = k - above;
    values
        .iter()
        .map(|x| {
            let m = x.abs();
            if m > threshold {
                true
            } else if m == threshold && ties_left > 0 {
                ties_left -= 1;
                true
            } else {
                false
            }
        })
        .collect()
}

/// The seed of sub-model `k`'s drop mask on tensor `name`: independent of thread order.
pub fn tensor_seed(seed: u64, k: usize, name: &str) -> u64 {
    splitmix64(splitmix64(seed ^ fnv1a(name.as_bytes())).wrapping_add(k as u64))
}

/// Whether DARE keeps entry `i`: a counter-based uniform draw `u_i = splitmix64(seed + i * golden)
/// / 2^64` is below `density`.
pub fn dare_keeps(seed: u64, i: usize, density: f64) -> bool {
    let u = splitmix64(seed.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))) >> 11;
    (u as f64) * (1.0 / (1u64 << 53) as f64) < density
}

/// DARE: drops each entry with probability `1 - density` and divides the kept ones by
/// `density`, with the mask drawn from `seed` (see [`dare_keeps`]).
pub fn dare_drop(delta: &mut [f32], density: f64, seed: u64) {
    if density >= 1.0 {
        return;
    }
    let scale = (1.0 / density) as f32;
    delta.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        for (j, x) in chunk.iter_mut().enumerate() {
            *x = if dare_keeps(seed, c * CHUNK + j, density) { *x * scale } else { 0.0 };
        }
    });
}

/// TIES' sign election and disjoint merge over (already sparsified) deltas: per entry, the sign
/// of `sum_k w_k d_k` (zero counts as +) is elected; the weighted entries of that sign are
/// summed and, when `normalize`, divided by the sum of their weights (1 when none agree).
pub fn ties_combine(deltas: &[&[f32]], weights: &[f32], normalize: bool) -> Vec<f32> {
    let n = deltas.first().map_or(0, |d| d.len());
    let mut out = vec![0f32; n];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        let start = c * CHUNK;
        for (j, o) in chunk.iter_mut().enumerate() {
            let i = start + j;
            // The elected sign is summed in f64 so that it does not hinge on summation order.
            let total: f64 = deltas.iter().zip(weights).map(|(d, w)| *w as f64 * d[i] as f64).sum();
            let elected = if total >= 0.0 { 1.0f32 } else { -1.0 };
            let (mut mixed, mut divisor) = (0f32, 0f32);
            for (d, &w) in deltas.iter().zip(weights) {
                let v = w * d[i];
                if v != 0.0 && v.signum() == elected {
                    mixed += v;
                    divisor += w;
                }
            }
            if divisor == 0.0 {
                divisor = 1.0;
            }
            *o = if normalize { mixed / divisor } else { mixed };
        }
    });
    out
}

/// Fisher-weighted mean: `sum_k w_k F_k d_k / sum_k w_k F_k` per entry; where no sub-model
/// has Fisher mass the plain weighted mean `sum_k w_k d_k / sum_k w_k` is used. A sub-model
/// without a Fisher tensor (`None`) has no mass on this tensor.
pub fn fisher_combine(deltas: &[&[f32]], fishers: &[Option<&[f32]>], weights: &[f32]) -> Vec<f32> {
    let n = deltas.first().map_or(0, |d| d.len());
    let wsum: f32 = weights.iter().sum();
    let mut out = vec![0f32; n];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        let start = c * CHUNK;
        for (j, o) in chunk.iter_mut().enumerate() {
            let i = start + j;
            let (mut num, mut den, mut plain) = (0f64, 0f64, 0f64);
            for ((d, f), &w) in deltas.iter().zip(fishers).zip(weights) {
                plain += (w * d[i]) as f64;
                if let Some(f) = f {
                    let m = (w * f[i].max(0.0)) as f64;
                    num += m * d[i] as f64;
                    den += m;
                }
            }
            *o = if den > 0.0 {
                (num / den) as f32
            } else if wsum != 0.0 {
                (plain / wsum as f64) as f32
            } else {
                0.0
            };
        }
    });
    out
}

/// Spherical interpolation of two whole tensors (mergekit's formula: norms below 1e-8 count as
/// 1, nearly collinear pairs (|cos| > 0.9995) fall back to linear interpolation).
pub fn slerp(v0: &[f32], v1: &[f32], t: f64) -> Vec<f32> {
    let norm = |v: &[f32]| {
        let n = v.par_iter().map(|x| (*x as f64) * (*x as f64)).sum::<f64>().sqrt();
        if n > 1e-8 {
            n
        } else {
            1.0
        }
    };
    let (na, nb) = (norm(v0), norm(v1));
    let dot = v0.par_iter().zip(v1.par_iter()).map(|(a, b)| (*a as f64 / na) * (*b as f64 / nb)).sum::<f64>().clamp(-1.0, 1.0);
    let (ca, cb) = if dot.abs() > 0.9995 {
        (1.0 - t, t)
    } else {
        let theta = dot.acos();
        let s = theta.sin();
        (((1.0 - t) * theta).sin() / s, (t * theta).sin() / s)
    };
    let (ca, cb) = (ca as f32, cb as f32);
    v0.par_iter().zip(v1.par_iter()).map(|(a, b)| ca * a + cb * b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_keeps_the_largest_magnitudes() {
        let mut d = vec![0.1, -0.5, 0.3, -0.2, 0.05, 0.4];
        magnitude_trim(&mut d, 0.5); // k = 3: -0.5, 0.4, 0.3
        assert_eq!(d, vec![0.0, -0.5, 0.3, 0.0, 0.0, 0.4]);
        let mut one = vec![0.1, -0.2, 0.05];
        magnitude_trim(&mut one, 0.1); // floor(0.3) = 0 -> at least one
        assert_eq!(one, vec![0.0, -0.2, 0.0]);
        let mut tie = vec![0.2, -0.2, 0.2, 0.1];
        magnitude_trim(&mut tie, 0.5);
        assert_eq!(tie, vec![0.2, -0.2, 0.0, 0.0]);
    }

    #[test]
    fn ties_elects_signs_and_takes_the_disjoint_mean() {
        // Three trimmed deltas over four entries, weights 1, 2, 1.
        let d0 = [1.0, -2.0, 0.0, 3.0];
        let d1 = [-1.0, -1.0, 0.0, 0.0];
        let d2 = [2.0, 4.0, 0.0, -3.0];
        let w = [1.0, 2.0, 1.0];
        // entry 0: weighted 1, -2, 2 -> sum 1 (+): agree {1, 2} -> (1 + 2) / (1 + 1) = 1.5
        // entry 1: weighted -2, -2, 4 -> sum 0 (+): agree {4} -> 4 / 1 = 4
        // entry 2: nothing -> 0
        // entry 3: weighted 3, 0, -3 -> sum 0 (+): agree {3} -> 3 / 1 = 3
        let out = ties_combine(&[&d0, &d1, &d2], &w, true);
        assert_eq!(out, vec![1.5, 4.0, 0.0, 3.0]);
        let raw = ties_combine(&[&d0, &d1, &d2], &w, false);
        assert_eq!(raw, vec![3.0, 4.0, 0.0, 3.0]);
    }

    #[test]
    fn dare_rescales_kept_entries_with_a_fixed_seed() {
        let n = 40_000;
        let orig: Vec<f32> = (0..n).map(|i| 1.0 + (i % 7) as f32).collect();
        let mut d = orig.clone();
        dare_drop(&mut d, 0.25, 42);
        let mut kept = 0;
        for (i, (x, o)) in d.iter().zip(&orig).enumerate() {
            if dare_keeps(42, i, 0.25) {
                assert_eq!(*x, o * 4.0);
                kept += 1;
            } else {
                assert_eq!(*x, 0.0);
            }
        }
        let frac = kept as f64 / n as f64;
        assert!((frac - 0.25).abs() < 0.01, "kept {frac}");
        // The mask is a pure function of the seed: pinned for the first entries.
        let first: Vec<bool> = (0..12).map(|i| dare_keeps(42, i, 0.5)).collect();
        let again: Vec<bool> = (0..12).map(|i| dare_keeps(42, i, 0.5)).collect();
        assert_eq!(first, again);
        let other: Vec<bool> = (0..64).map(|i| dare_keeps(43, i, 0.5)).collect();
        assert_ne!((0..64).map(|i| dare_keeps(42, i, 0.5)).collect::<Vec<_>>(), other);
        // The expectation is preserved: mean of the rescaled tensor ~ mean of the original.
        let mean = |v: &[f32]| v.iter().map(|x| *x as f64).sum::<f64>() / v.len() as f64;
        assert!((mean(&d) / mean(&orig) - 1.0).abs() < 0.03);
    }

    #[test]
    fn fisher_weights_each_entry_by_its_information() {
        let d0 = [1.0, 1.0, 2.0];
        let d1 = [3.0, 5.0, 4.0];
        let f0 = [1.0, 0.0, 0.0];
        let f1 = [3.0, 2.0, 0.0];
        // entry 0: (1*1 + 3*3) / (1 + 3) = 2.5; entry 1: only f1 -> 5; entry 2: no mass -> mean 3
        let out = fisher_combine(&[&d0, &d1], &[Some(&f0), Some(&f1)], &[0.5, 0.5]);
        assert_eq!(out, vec![2.5, 5.0, 3.0]);
        // Unequal weights scale the Fisher mass: w = (3, 1) on entry 0 -> (3 + 9) / (3 + 3) = 2.
        let out = fisher_combine(&[&d0, &d1], &[Some(&f0), Some(&f1)], &[3.0, 1.0]);
        assert_eq!(out[0], 2.0);
        // A sub-model without Fisher tensors carries no mass.
        let out = fisher_combine(&[&d0, &d1], &[Some(&f0), None], &[0.5, 0.5]);
        assert_eq!(out[0], 1.0);
    }

    #[test]
    fn linear_and_slerp_on_hand_values() {
        let out = linear_combine(&[&[1.0, 2.0], &[3.0, -4.0]], &[0.5, 0.25]);
        assert_eq!(out, vec![1.25, 0.0]);
        // Orthogonal unit vectors at t = 0.5: both coefficients sin(pi/4) / sin(pi/2).
        let s = slerp(&[1.0, 0.0], &[0.0, 1.0], 0.5);
        let c = std::f32::consts::FRAC_1_SQRT_2;
        assert!((s[0] - c).abs() < 1e-6 && (s[1] - c).abs() < 1e-6, "{s:?}");
        // Collinear vectors interpolate linearly.
        assert_eq!(slerp(&[1.0, 1.0], &[2.0, 2.0], 0.25), vec![1.25, 1.25]);
    }
}
