//! The 2-D map: PCA of the embeddings onto their first two principal components. Exact (the
//! covariance matrix and its symmetric eigendecomposition) for up to 20,000 rows and 1,024
//! dimensions; above that randomised (subspace iteration on the covariance, applied a block of
//! rows at a time, then Rayleigh-Ritz), so memory stays at the input plus `dim x 10` numbers.
//! Component signs are fixed (largest entry positive) so maps are reproducible.

use super::error::ClusterError;
use linfa_linalg::eigh::EighInto;
use linfa_linalg::qr::QRInto;
use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// Largest row count projected exactly.
pub const EXACT_MAX_ROWS: usize = 20_000;
/// Largest dimension projected exactly.
const EXACT_MAX_DIM: usize = 1024;
/// Extra directions of the randomised subspace.
const OVERSAMPLE: usize = 8;
/// Subspace iterations of the randomised method.
const POWER_ITERS: usize = 4;
/// Rows per block when streaming over the data.
const BLOCK_ROWS: usize = 4096;

/// A 2-D projection of every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// `[x, y]` per row.
    pub coords: Vec<[f32; 2]>,
    /// "pca-exact" or "pca-randomized".
    pub method: &'static str,
    /// Share of the total variance along each axis.
    pub explained_variance_ratio: [f64; 2],
}

fn proj_err(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Projection(e.to_string())
}

/// Per-feature mean and the total variance (sum of per-feature variances).
fn mean_and_total_variance(x: &ArrayView2<f32>) -> (Vec<f32>, f64) {
    let n = x.nrows() as f64;
    let dim = x.ncols();
    let (s, s2) = x
        .axis_chunks_iter(Axis(0), BLOCK_ROWS)
        .into_par_iter()
        .map(|b| {
            let mut s = vec![0f64; dim];
            let mut s2 = vec![0f64; dim];
            for r in b.rows() {
                for (j, v) in r.iter().enumerate() {
                    s[j] += f64::from(*v);
                    s2[j] += f64::from(*v) * f64::from(*v);
                }
            }
            (s, s2)
        })
        .reduce(
            || (vec![0.0; dim], vec![0.0; dim]),
            |(mut a, mut a2), (b, b2)| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a2.iter_mut().zip(&b2).for_each(|(x, y)| *x += y);
                (a, a2)
            },
        );
    let mean: Vec<f64> = s.iter().map(|v| v / n).collect();
    let total = s2.iter().zip(&mean).map(|(q, m)| (q / n - m * m).max(0.0)).sum::<f64>() * n / (n - 1.0).max(1.0);
    (mean.iter().map(|v| *v as f32).collect(), total)
}

/// A centred copy of a block of rows.
fn centred(b: ArrayView2<f32>, mean: &[f32]) -> Array2<f32> {
    let mut c = b.to_owned();
    for mut r in c.rows_mut() {
        r.iter_mut().zip(mean).for_each(|(v, m)| *v -= m);
    }
    c
}

/// `Xcᵀ (Xc V)` summed over blocks (the covariance times `V`, unscaled), in f64.
fn cov_times(x: &ArrayView2<f32>, mean: &[f32], v: &Array2<f32>) -> Array2<f64> {
    let (dim, l) = v.dim();
    x.axis_chunks_iter(Axis(0), BLOCK_ROWS)
        .into_par_iter()
        .map(|b| {
            let c = centred(b, mean);
            let y = c.dot(v);
            c.t().dot(&y).mapv(f64::from)
        })
        .reduce(|| Array2::zeros((dim, l)), |a, b| a + b)
}

/// `Xcᵀ Xc` summed over blocks (the unscaled covariance), in f64.
fn gram(x: &ArrayView2<f32>, mean: &[f32]) -> Array2<f64> {
    let dim = x.ncols();
    x.axis_chunks_iter(Axis(0), BLOCK_ROWS)
        .into_par_iter()
        .map(|b| {
            let c = centred(b, mean);
            c.t().dot(&c).mapv(f64::from)
        })
        .reduce(|| Array2::zeros((dim, dim)), |a, b| a + b)
}

/// Keeps the eigenvectors of the two largest eigenvalues of the symmetric `m`, as columns.
fn top2(m: Array2<f64>) -> Result<(Array2<f64>, [f64; 2]), ClusterError> {
    let (vals, vecs) = m.eigh_into().map_err(proj_err)?;
    let mut order: Vec<usize> = (0..vals.len()).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let take = order.len().min(2);
    let mut out = Array2::zeros((vecs.nrows(), 2));
    let mut lambdas = [0.0; 2];
    for (c, &i) in order.iter().take(take).enumerate() {
        out.column_mut(c).assign(&vecs.column(i));
        lambdas[c] = vals[i].max(0.0);
    }
    Ok((out, lambdas))
}

/// Flips each column so that its largest-magnitude entry is positive.
fn fix_signs(comp: &mut Array2<f64>) {
    for mut col in comp.columns_mut() {
        let big = col.iter().copied().fold(0.0f64, |a, v| if v.abs() > a.abs() { v } else { a });
        if big < 0.0 {
            col.mapv_inplace(|v| -v);
        }
    }
}

/// Projects the rows of `x` (`[n * dim]`) onto their first two principal components.
/// `seed` drives the randomised method only.
pub fn project_2d(x: &[f32], dim: usize, seed: u64) -> Result<Projection, ClusterError> {
    let n = x.len().checked_div(dim).unwrap_or(0);
    let view = ArrayView2::from_shape((n, dim), x).map_err(proj_err)?;
    if n < 2 || dim == 0 {
        return Ok(Projection { coords: vec![[0.0, 0.0]; n], method: "pca-exact", explained_variance_ratio: [0.0, 0.0] });
    }
    let (mean, total) = mean_and_total_variance(&view);
    let scale = 1.0 / (n as f64 - 1.0);
    let exact = (n <= EXACT_MAX_ROWS || dim <= OVERSAMPLE + 2) && dim <= EXACT_MAX_DIM;
    let (mut comp, lambdas, method) = if exact {
        let (c, l) = top2(gram(&view, &mean) * scale)?;
        (c, l, "pca-exact")
    } else {
        let l = (2 + OVERSAMPLE).min(dim);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut v = Array2::from_shape_fn((dim, l), |_| rng.random_range(-1.0f32..1.0));
        for _ in 0..POWER_ITERS {
            let w = cov_times(&view, &mean, &v);
            let (q, _) = w.qr_into().map_err(proj_err)?.into_decomp();
            v = q.mapv(|a| a as f32);
        }
        // Rayleigh-Ritz: the small matrix Vᵀ C V, whose eigenvectors rotate V onto the components.
        let cv = cov_times(&view, &mean, &v) * scale;
        let small = v.mapv(f64::from).t().dot(&cv);
        let small = (&small + &small.t()) * 0.5;
        let (u, lam) = top2(small)?;
        (v.mapv(f64::from).dot(&u), lam, "pca-randomized")
    };
    fix_signs(&mut comp);
    let comp32 = comp.mapv(|a| a as f32);
    let mut coords = vec![[0f32; 2]; n];
    coords.par_chunks_mut(BLOCK_ROWS).zip(view.axis_chunks_iter(Axis(0), BLOCK_ROWS).into_par_iter()).for_each(|(out, b)| {
        let p = centred(b, &mean).dot(&comp32);
        for (o, r) in out.iter_mut().zip(p.rows()) {
            *o = [r[0], if p.ncols() > 1 { r[1] } else { 0.0 }];
        }
    });
    let ratio = |v: f64| if total > 0.0 { (v / total).min(1.0) } else { 0.0 };
    Ok(Projection { coords, method, explained_variance_ratio: [ratio(lambdas[0]), ratio(lambdas[1])] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cluster::bench::standard_normal;

    /// Points stretched along a known direction in 12-D, with a smaller second direction.
    fn stretched(n: usize) -> Vec<f32> {
        let dim = 12;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut x = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let a = standard_normal(&mut rng);
            let b = standard_normal(&mut rng);
            for j in 0..dim {
                let noise = standard_normal(&mut rng);
                let main = if j < 3 { 10.0 * a / 3f32.sqrt() } else { 0.0 };
                let second = if j == 5 { 3.0 * b } else { 0.0 };
                x.push(main + second + 0.1 * noise + 1.0);
            }
        }
        x
    }

    #[test]
    fn exact_and_randomised_find_the_same_axes() {
        let x = stretched(3000);
        let exact = project_2d(&x, 12, 0).unwrap();
        assert_eq!(exact.method, "pca-exact");
        assert!(exact.explained_variance_ratio[0] > 0.85, "{:?}", exact.explained_variance_ratio);
        assert!(exact.explained_variance_ratio[1] > 0.05);
        // Force the randomised path by using more rows than the exact limit.
        let big = stretched(EXACT_MAX_ROWS + 10);
        let rand_p = project_2d(&big, 12, 0).unwrap();
        assert_eq!(rand_p.method, "pca-randomized");
        let exact_big = {
            // The exact answer on the same rows, computed through the covariance directly.
            let view = ArrayView2::from_shape((big.len() / 12, 12), &big[..]).unwrap();
            let (mean, _) = mean_and_total_variance(&view);
            let (mut c, _) = top2(gram(&view, &mean)).unwrap();
            fix_signs(&mut c);
            c
        };
        let row0 = rand_p.coords[0];
        let v0 = ArrayView2::from_shape((1, 12), &big[..12]).unwrap();
        let (mean, _) = mean_and_total_variance(&ArrayView2::from_shape((big.len() / 12, 12), &big[..]).unwrap());
        let expect = centred(v0, &mean).mapv(f64::from).dot(&exact_big);
        assert!((f64::from(row0[0]) - expect[[0, 0]]).abs() < 1e-2, "{row0:?} vs {expect:?}");
        assert!((f64::from(row0[1]) - expect[[0, 1]]).abs() < 1e-2, "{row0:?} vs {expect:?}");
    }

    #[test]
    fn tiny_and_degenerate_inputs_do_not_fail() {
        assert_eq!(project_2d(&[1.0, 2.0], 2, 0).unwrap().coords, vec![[0.0, 0.0]]);
        let same = vec![0.3f32; 10 * 4];
        let p = project_2d(&same, 4, 0).unwrap();
        assert!(p.coords.iter().all(|c| c[0].abs() < 1e-6 && c[1].abs() < 1e-6));
        assert_eq!(p.explained_variance_ratio, [0.0, 0.0]);
        let one_dim = project_2d(&[1.0, 2.0, 3.0], 1, 0).unwrap();
        assert_eq!(one_dim.coords.len(), 3);
        assert_eq!(one_dim.coords[1][1], 0.0);
    }
}
