//! k-means: k-means++ seeding by linfa-clustering on a sample of the rows, then Lloyd's iterations
//! over all rows with a fused, cache-blocked assignment ([`super::lloyd`]). Semantics follow
//! scikit-learn's `KMeans(algorithm="lloyd")`: `n_init` seeded restarts keep the lowest inertia;
//! iterations stop at `max_iter`, when no label changes, or when the centroids move less than
//! `tol` times the mean feature variance; a final pass makes labels match the final centroids;
//! an emptied cluster is moved to the row farthest from its centroid.

use super::error::ClusterError;
use super::lloyd::{lloyd_pass, row_norms};
use crate::engine::job::{run_stage, CancelToken, EventSink, StageScope};
use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_xoshiro::rand_core::SeedableRng as _;
use rand_xoshiro::Xoshiro256Plus;

/// Rows given to the k-means++ seeding at most (a seeded sample of larger data).
const INIT_SAMPLE_ROWS: usize = 20_000;

/// k-means settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansOptions {
    /// Number of clusters.
    pub k: usize,
    /// Seed of the seeding (restart `r` uses `seed + r`).
    pub seed: u64,
    /// Restarts; the lowest inertia wins.
    pub n_init: usize,
    /// Most Lloyd iterations per restart.
    pub max_iter: usize,
    /// Relative tolerance on the centroid shift (scikit-learn's `tol`); 0 stops only on
    /// unchanged labels or `max_iter`.
    pub tol: f64,
}

impl Default for KMeansOptions {
    fn default() -> Self {
        Self { k: 4, seed: 0, n_init: 3, max_iter: 300, tol: 1e-4 }
    }
}

/// A fitted k-means.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// Centroids, row-major `[k * dim]`.
    pub centroids: Vec<f32>,
    /// Cluster of each row.
    pub labels: Vec<u32>,
    /// Sum of squared distances of rows to their centroid.
    pub inertia: f64,
    /// Lloyd iterations run by the winning restart.
    pub iterations: usize,
}

/// Checks K against the rows: not zero, not more than the rows.
pub fn check_k(k: usize, rows: usize) -> Result<(), ClusterError> {
    if k == 0 {
        return Err(ClusterError::ZeroK);
    }
    if k > rows {
        return Err(ClusterError::KTooLarge { k, rows });
    }
    Ok(())
}

/// Number of distinct rows, counting no further than `limit`.
pub fn distinct_rows(x: &[f32], dim: usize, limit: usize) -> usize {
    let mut seen = std::collections::HashSet::new();
    for r in x.chunks_exact(dim) {
        seen.insert(r.iter().map(|v| v.to_bits()).collect::<Vec<u32>>());
        if seen.len() >= limit {
            break;
        }
    }
    seen.len()
}

/// k-means++ seeds from linfa-clustering over a seeded sample of at most 20,000 rows (linfa's
/// fit also runs one refinement step on the sample).
pub fn init_centroids(x: &[f32], dim: usize, k: usize, seed: u64) -> Result<Vec<f32>, ClusterError> {
    let n = x.len() / dim;
    let rows: Vec<usize> = if n > INIT_SAMPLE_ROWS {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut idx = sample(&mut rng, n, INIT_SAMPLE_ROWS).into_vec();
        idx.sort_unstable();
        idx
    } else {
        (0..n).collect()
    };
    let mut flat = Vec::with_capacity(rows.len() * dim);
    for &r in &rows {
        flat.extend_from_slice(&x[r * dim..(r + 1) * dim]);
    }
    let records = Array2::from_shape_vec((rows.len(), dim), flat).map_err(|e| ClusterError::Invalid(e.to_string()))?;
    let dataset = DatasetBase::from(records);
    let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
        .n_runs(1)
        .max_n_iterations(1)
        .tolerance(f32::EPSILON)
        .init_method(KMeansInit::KMeansPlusPlus)
        .fit(&dataset)
        .map_err(|e| ClusterError::Invalid(format!("k-means++ seeding failed: {e}")))?;
    Ok(model.centroids().iter().copied().collect())
}

/// Mean of the per-feature variances (scikit-learn scales `tol` by it).
fn mean_variance(x: &[f32], dim: usize) -> f64 {
    let n = (x.len() / dim) as f64;
    let mut s = vec![0f64; dim];
    let mut s2 = vec![0f64; dim];
    for r in x.chunks_exact(dim) {
        for (j, v) in r.iter().enumerate() {
            s[j] += f64::from(*v);
            s2[j] += f64::from(*v) * f64::from(*v);
        }
    }
    s.iter().zip(&s2).map(|(a, b)| b / n - (a / n) * (a / n)).sum::<f64>() / dim as f64
}

/// Runs Lloyd's iterations from `centroids`; returns the fit of this restart. Calls
/// `on_iteration(iterations_done, labels_changed)` after every iteration and checks `cancel`
/// before each.
pub fn lloyd(
    x: &[f32],
    norms: &[f32],
    dim: usize,
    mut centroids: Vec<f32>,
    (max_iter, tol_abs): (usize, f64),
    on_iteration: &dyn Fn(usize, usize),
    cancel: &CancelToken,
) -> Result<KMeansFit, ClusterError> {
    let n = x.len() / dim;
    let k = centroids.len() / dim;
    let mut labels = vec![u32::MAX; n];
    let mut iterations = 0;
    let mut strict = false;
    for it in 0..max_iter {
        cancel.check()?;
        let pass = lloyd_pass(x, norms, dim, &centroids, &mut labels, true);
        iterations = it + 1;
        let mut shift = 0f64;
        let mut relocated = Vec::new();
        for j in 0..k {
            let c = &mut centroids[j * dim..(j + 1) * dim];
            let new: Vec<f32> = if pass.counts[j] > 0 {
                let cnt = pass.counts[j] as f64;
                pass.sums[j * dim..(j + 1) * dim].iter().map(|s| (s / cnt) as f32).collect()
            } else {
                // An emptied cluster takes the farthest row (further ones: rows spread evenly).
                let r = if relocated.is_empty() { pass.farthest.0 } else { (relocated.len() * 7919 + j) % n };
                relocated.push(r);
                x[r * dim..(r + 1) * dim].to_vec()
            };
            shift += c.iter().zip(&new).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>();
            c.copy_from_slice(&new);
        }
        on_iteration(iterations, pass.changed);
        if it > 0 && pass.changed == 0 {
            strict = true;
            break;
        }
        if shift <= tol_abs {
            break;
        }
    }
    let last = lloyd_pass(x, norms, dim, &centroids, &mut labels, false);
    debug_assert!(!strict || last.changed == 0);
    Ok(KMeansFit { centroids, labels, inertia: last.inertia, iterations })
}

/// k-means over the rows of `x` (`[n * dim]`) as stage `k-means`: progress counts
/// `n_init x max_iter` iterations, a restart that converges early counts as all of its own.
/// Fails on K = 0, K > n, or fewer distinct rows than K (identical texts cannot make K different
/// portions).
pub fn kmeans(x: &[f32], dim: usize, opts: &KMeansOptions, sink: &EventSink, cancel: &CancelToken) -> Result<KMeansFit, ClusterError> {
    run_stage("k-means", sink, cancel, |scope| fit_kmeans(x, dim, opts, &scope))
}

fn fit_kmeans(x: &[f32], dim: usize, opts: &KMeansOptions, scope: &StageScope<'_>) -> Result<KMeansFit, ClusterError> {
    let n = x.len().checked_div(dim).unwrap_or(0);
    check_k(opts.k, n)?;
    let distinct = distinct_rows(x, dim, opts.k);
    if distinct < opts.k {
        return Err(ClusterError::Invalid(format!(
            "the rows have only {distinct} distinct embedding(s), fewer than K = {}: k-means cannot make {} different portions; use the method `random` or the method `balanced`, or a smaller K",
            opts.k, opts.k
        )));
    }
    let norms = row_norms(x, dim);
    let tol_abs = if opts.tol > 0.0 { opts.tol * mean_variance(x, dim) } else { 0.0 };
    let mut best: Option<KMeansFit> = None;
    let (restarts, max_iter) = (opts.n_init.max(1), opts.max_iter.max(1));
    let total = (restarts * max_iter) as u64;
    for r in 0..restarts {
        let init = init_centroids(x, dim, opts.k, opts.seed.wrapping_add(r as u64))?;
        let before = (r * max_iter) as u64;
        let on_iteration = |it: usize, changed: usize| {
            scope.progress(before + it as u64, total, format!("restart {} of {restarts}: {changed} labels changed", r + 1))
        };
        let fit = lloyd(x, &norms, dim, init, (max_iter, tol_abs), &on_iteration, scope.cancel)?;
        scope.progress(before + max_iter as u64, total, format!("restart {} of {restarts}: {} iterations", r + 1, fit.iterations));
        if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
            best = Some(fit);
        }
    }
    best.ok_or_else(|| ClusterError::Invalid("k-means ran no restart".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three well separated blobs in 8-D.
    fn blobs() -> (Vec<f32>, usize) {
        let dim = 8;
        let mut x = Vec::new();
        let mut s = 1u64;
        for c in 0..3 {
            for _ in 0..50 {
                for j in 0..dim {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let noise = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2;
                    x.push(if j == c { 5.0 } else { 0.0 } + noise);
                }
            }
        }
        (x, dim)
    }

    #[test]
    fn finds_separated_blobs_and_is_seeded() {
        let (x, dim) = blobs();
        let opts = KMeansOptions { k: 3, ..Default::default() };
        let fit = kmeans(&x, dim, &opts, &EventSink::discard(), &CancelToken::new()).unwrap();
        for c in 0..3 {
            let l = fit.labels[c * 50];
            assert!(fit.labels[c * 50..(c + 1) * 50].iter().all(|&v| v == l), "blob {c} split");
        }
        let mut distinct = fit.labels.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 3);
        assert!(fit.inertia < 150.0 * 8.0 * 0.01, "{}", fit.inertia);
        let again = kmeans(&x, dim, &opts, &EventSink::discard(), &CancelToken::new()).unwrap();
        assert_eq!(again, fit);
    }

    #[test]
    fn bad_k_and_identical_rows_are_refused() {
        let (x, dim) = blobs();
        let run = |k, x: &[f32]| kmeans(x, dim, &KMeansOptions { k, ..Default::default() }, &EventSink::discard(), &CancelToken::new());
        assert!(matches!(run(0, &x), Err(ClusterError::ZeroK)));
        assert!(matches!(run(151, &x), Err(ClusterError::KTooLarge { k: 151, rows: 150 })));
        let same = vec![0.5f32; 10 * dim];
        let msg = run(2, &same).unwrap_err().to_string();
        assert!(msg.contains("only 1 distinct") && msg.contains("`random`"), "{msg}");
    }
}
