//! Quality figures of a split: portion sizes, centroids, inertia, and the silhouette on a seeded
//! sample (pairwise distances through one matrix product, so 2,000 rows take a fraction of a
//! second).

use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rayon::prelude::*;

/// Rows used for the silhouette by default.
pub const SILHOUETTE_SAMPLE_ROWS: usize = 2_000;

/// Rows per portion.
pub fn sizes(labels: &[u32], k: usize) -> Vec<usize> {
    let mut s = vec![0usize; k];
    for &l in labels {
        s[l as usize] += 1;
    }
    s
}

/// Mean of each portion's rows, `[k * dim]` (zeros for an empty portion).
pub fn centroids(x: &[f32], dim: usize, labels: &[u32], k: usize) -> Vec<f32> {
    let mut sums = vec![0f64; k * dim];
    let counts = sizes(labels, k);
    for (r, &l) in x.chunks_exact(dim).zip(labels) {
        let dst = &mut sums[l as usize * dim..(l as usize + 1) * dim];
        dst.iter_mut().zip(r).for_each(|(a, v)| *a += f64::from(*v));
    }
    sums.chunks(dim.max(1))
        .zip(&counts)
        .flat_map(|(s, &c)| s.iter().map(move |v| if c > 0 { (v / c as f64) as f32 } else { 0.0 }))
        .collect()
}

/// Squared distance between two vectors.
pub fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Sum of squared distances of rows to their portion's centroid.
pub fn inertia(x: &[f32], dim: usize, labels: &[u32], centroids: &[f32]) -> f64 {
    x.par_chunks(dim)
        .zip(labels.par_iter())
        .map(|(r, &l)| f64::from(sq_dist(r, &centroids[l as usize * dim..(l as usize + 1) * dim])))
        .sum()
}

/// Mean silhouette (Euclidean) over at most `max_rows` rows drawn with `seed` (all rows when
/// there are fewer). A row alone in its portion scores 0, as in scikit-learn. `None` when the
/// sample holds fewer than two portions.
pub fn silhouette(x: &[f32], dim: usize, labels: &[u32], k: usize, max_rows: usize, seed: u64) -> Option<f64> {
    let n = labels.len();
    let rows: Vec<usize> = if n > max_rows {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut v = sample(&mut rng, n, max_rows).into_vec();
        v.sort_unstable();
        v
    } else {
        (0..n).collect()
    };
    let m = rows.len();
    let mut flat = Vec::with_capacity(m * dim);
    for &r in &rows {
        flat.extend_from_slice(&x[r * dim..(r + 1) * dim]);
    }
    let sub = ArrayView2::from_shape((m, dim), &flat).ok()?;
    let gram = sub.dot(&sub.t());
    let norms: Vec<f32> = (0..m).map(|i| gram[[i, i]]).collect();
    let lab: Vec<usize> = rows.iter().map(|&r| labels[r] as usize).collect();
    let counts = lab.iter().fold(vec![0usize; k], |mut c, &l| {
        c[l] += 1;
        c
    });
    if counts.iter().filter(|&&c| c > 0).count() < 2 {
        return None;
    }
    let total: f64 = (0..m)
        .into_par_iter()
        .map(|i| {
            let mut per = vec![0f64; k];
            for j in 0..m {
                if i != j {
                    let d2 = (norms[i] + norms[j] - 2.0 * gram[[i, j]]).max(0.0);
                    per[lab[j]] += f64::from(d2.sqrt());
                }
            }
            let own = lab[i];
            if counts[own] <= 1 {
                return 0.0;
            }
            let a = per[own] / (counts[own] - 1) as f64;
            let b = (0..k).filter(|&c| c != own && counts[c] > 0).map(|c| per[c] / counts[c] as f64).fold(f64::INFINITY, f64::min);
            let denom = a.max(b);
            if denom > 0.0 {
                (b - a) / denom
            } else {
                0.0
            }
        })
        .sum();
    Some(total / m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::metrics::SilhouetteScore;
    use linfa::DatasetBase;
    use ndarray::{Array1, Array2};

    #[test]
    fn silhouette_matches_linfa_and_sizes_add_up() {
        let dim = 3;
        let x: Vec<f32> = vec![0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.2, 0.1, 5.0, 5.0, 5.0, 5.1, 5.0, 4.9, 2.0, 2.5, 2.0, 2.1, 2.4, 2.2];
        let labels = vec![0u32, 0, 0, 1, 1, 2, 2];
        let ours = silhouette(&x, dim, &labels, 3, 1000, 0).unwrap();
        let records = Array2::from_shape_vec((7, dim), x.iter().map(|v| f64::from(*v)).collect()).unwrap();
        let targets = Array1::from_vec(labels.iter().map(|&l| l as usize).collect());
        let theirs: f64 = DatasetBase::new(records, targets).silhouette_score().unwrap();
        assert!((ours - theirs).abs() < 1e-5, "ours {ours} linfa {theirs}");
        assert_eq!(sizes(&labels, 3), vec![3, 2, 2]);
        let c = centroids(&x, dim, &labels, 3);
        assert!((c[3] - 5.05).abs() < 1e-6);
        assert!(inertia(&x, dim, &labels, &c) > 0.0);
        assert_eq!(silhouette(&x, dim, &[0; 7], 1, 1000, 0), None);
    }
}
