//! k-means time in the units of the scikit-learn reference script: seconds to fit 50,000 x 384
//! standard-normal points, k = 4, 1 init, 100 iterations (tolerance 0), median of 3 after 1
//! warm-up. The same fit through linfa-clustering can be timed for comparison.

use super::error::ClusterError;
use super::kmeans::{kmeans, KMeansOptions};
use crate::engine::bench::median_seconds;
use crate::engine::job::{CancelToken, EventSink};
use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::rand_core::SeedableRng as _;
use serde::Serialize;

/// A standard-normal sample (Box-Muller).
pub fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// `n * dim` standard-normal values, seeded.
pub fn normal_points(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n * dim).map(|_| standard_normal(&mut rng)).collect()
}

/// Which implementation to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KMeansImpl {
    /// This project's k-means (linfa k-means++ seeding, fused Lloyd iterations).
    Own,
    /// linfa-clustering's `KMeans` end to end.
    Linfa,
}

/// One k-means timing.
#[derive(Debug, Clone, Serialize)]
pub struct KMeansBenchFigure {
    /// Always "kmeans".
    pub what: &'static str,
    /// Median seconds per fit.
    pub seconds: f64,
    /// Points.
    pub n: usize,
    /// Dimension.
    pub dim: usize,
    /// Clusters.
    pub k: usize,
    /// Most iterations.
    pub iters: usize,
    /// Iterations actually run by the last fit.
    pub iters_run: usize,
    /// "dtm-studio" or "linfa".
    pub implementation: &'static str,
    /// CPU threads available.
    pub threads: usize,
}

/// Times k-means on `n x dim` standard-normal points.
pub fn kmeans_time(
    n: usize,
    dim: usize,
    k: usize,
    iters: usize,
    reps: usize,
    which: KMeansImpl,
) -> Result<KMeansBenchFigure, ClusterError> {
    let x = normal_points(n, dim, 0);
    let mut iters_run = 0;
    let seconds = match which {
        KMeansImpl::Own => {
            let opts = KMeansOptions { k, seed: 0, n_init: 1, max_iter: iters, tol: 0.0 };
            let (sink, cancel) = (EventSink::discard(), CancelToken::new());
            median_seconds(1, reps, || {
                iters_run = kmeans(&x, dim, &opts, &sink, &cancel)?.iterations;
                Ok::<(), ClusterError>(())
            })?
        }
        KMeansImpl::Linfa => {
            let records = Array2::from_shape_vec((n, dim), x).map_err(|e| ClusterError::Invalid(e.to_string()))?;
            let data = DatasetBase::from(records);
            median_seconds(1, reps, || {
                KMeans::params_with_rng(k, rand_xoshiro::Xoshiro256Plus::seed_from_u64(0))
                    .n_runs(1)
                    .max_n_iterations(iters as u64)
                    .tolerance(f32::MIN_POSITIVE)
                    .init_method(KMeansInit::KMeansPlusPlus)
                    .fit(&data)
                    .map_err(|e| ClusterError::Invalid(e.to_string()))?;
                iters_run = iters;
                Ok::<(), ClusterError>(())
            })?
        }
    };
    Ok(KMeansBenchFigure {
        what: "kmeans",
        seconds,
        n,
        dim,
        k,
        iters,
        iters_run,
        implementation: match which {
            KMeansImpl::Own => "dtm-studio",
            KMeansImpl::Linfa => "linfa",
        },
        threads: rayon::current_num_threads(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_points_have_unit_variance() {
        let x = normal_points(20_000, 1, 3);
        let mean = x.iter().map(|v| f64::from(*v)).sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / x.len() as f64;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "{mean} {var}");
    }

    #[test]
    fn small_bench_runs_every_iteration() {
        let f = kmeans_time(500, 8, 4, 5, 1, KMeansImpl::Own).unwrap();
        assert_eq!(f.iters_run, 5);
        assert!(f.seconds > 0.0);
    }
}
