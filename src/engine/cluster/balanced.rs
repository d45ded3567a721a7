//! Splits that are not plain k-means: balanced k-means (equal-size portions, as in c-BTM), a
//! seeded random split, and a split by an existing column (a source or category label).

use super::error::ClusterError;
use super::kmeans::{check_k, kmeans, KMeansOptions};
use super::quality::{centroids, sq_dist};
use crate::engine::job::{run_stage, CancelToken, EventSink};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Portion sizes that differ by at most one: the first `n % k` portions get one more row.
pub fn balanced_capacities(n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|j| n / k + usize::from(j < n % k)).collect()
}

/// Assigns rows to centroids under the capacities `caps` (as ELKI's same-size k-means): rows
/// with the strongest preference (nearest minus farthest distance, most negative first) choose
/// first, each taking its nearest centroid with room; then pairs of rows in two portions swap
/// while the swap lowers the total distance. Ties go to the lower row and centroid index, so even
/// identical rows fill every portion.
fn capacity_assign(x: &[f32], dim: usize, cents: &[f32], caps: &[usize]) -> Vec<u32> {
    let n = x.len() / dim;
    let k = caps.len();
    let d: Vec<f32> = x.par_chunks(dim).flat_map_iter(|r| (0..k).map(move |j| sq_dist(r, &cents[j * dim..(j + 1) * dim]))).collect();
    let preference: Vec<f32> = d
        .chunks_exact(k)
        .map(|r| r.iter().copied().fold(f32::INFINITY, f32::min) - r.iter().copied().fold(f32::NEG_INFINITY, f32::max))
        .collect();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.par_sort_by(|&a, &b| preference[a as usize].total_cmp(&preference[b as usize]).then(a.cmp(&b)));
    let mut labels = vec![0u32; n];
    let mut room = caps.to_vec();
    let mut choices: Vec<usize> = Vec::with_capacity(k);
    for i in order {
        let row = &d[i as usize * k..(i as usize + 1) * k];
        choices.clear();
        choices.extend(0..k);
        choices.sort_by(|&a, &b| row[a].total_cmp(&row[b]).then(a.cmp(&b)));
        if let Some(&j) = choices.iter().find(|&&j| room[j] > 0) {
            labels[i as usize] = j as u32;
            room[j] -= 1;
        }
    }
    for _ in 0..10 {
        if swap_pass(&d, k, &mut labels) == 0 {
            break;
        }
    }
    labels
}

/// One round of pairwise swaps between every two portions: the rows of `a` that gain most by
/// moving to `b` trade places with the rows of `b` that gain most by moving to `a`, while the
/// summed gain is positive. Sizes are unchanged. Returns the number of swaps.
fn swap_pass(d: &[f32], k: usize, labels: &mut [u32]) -> usize {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &l) in labels.iter().enumerate() {
        members[l as usize].push(i);
    }
    let mut swaps = 0;
    for a in 0..k {
        for b in a + 1..k {
            let gains = |from: usize, to: usize| {
                let mut g: Vec<(f32, usize)> = members[from].iter().map(|&i| (d[i * k + from] - d[i * k + to], i)).collect();
                g.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
                g
            };
            let (ab, ba) = (gains(a, b), gains(b, a));
            let mut moved = false;
            for (&(g1, i), &(g2, j)) in ab.iter().zip(&ba) {
                if g1 + g2 <= 1e-9 {
                    break;
                }
                labels[i] = b as u32;
                labels[j] = a as u32;
                swaps += 1;
                moved = true;
            }
            if moved {
                let both: Vec<usize> = members[a].iter().chain(&members[b]).copied().collect();
                members[a] = both.iter().copied().filter(|&i| labels[i] as usize == a).collect();
                members[b] = both.into_iter().filter(|&i| labels[i] as usize == b).collect();
            }
        }
    }
    swaps
}

/// Balanced k-means: k-means for the starting centroids, then alternating capacity-constrained
/// assignment and centroid updates until the assignment is stable (at most `max_iter` rounds).
/// Portion sizes differ by at most one row.
pub fn balanced_kmeans(
    x: &[f32],
    dim: usize,
    opts: &KMeansOptions,
    sink: &EventSink,
    cancel: &CancelToken,
) -> Result<(Vec<u32>, Vec<f32>), ClusterError> {
    let n = x.len().checked_div(dim).unwrap_or(0);
    check_k(opts.k, n)?;
    let caps = balanced_capacities(n, opts.k);
    let mut cents = match kmeans(x, dim, opts, sink, cancel) {
        Ok(fit) => fit.centroids,
        // Too few distinct rows for k-means: start from the first rows; the capacities still
        // give equal portions.
        Err(ClusterError::Invalid(_)) => x[..opts.k * dim].to_vec(),
        Err(e) => return Err(e),
    };
    run_stage("balanced k-means", sink, cancel, |scope| {
        let mut labels = capacity_assign(x, dim, &cents, &caps);
        let rounds = opts.max_iter.clamp(1, 50) as u64;
        for round in 1..=rounds {
            scope.check()?;
            cents = centroids(x, dim, &labels, opts.k);
            let next = capacity_assign(x, dim, &cents, &caps);
            if next == labels {
                scope.progress(rounds, rounds, format!("stable after {round} rounds"));
                break;
            }
            scope.progress(round, rounds, "");
            labels = next;
        }
        Ok((labels, cents))
    })
}

/// A seeded random split into `k` portions whose sizes differ by at most one.
pub fn random_split(n: usize, k: usize, seed: u64) -> Result<Vec<u32>, ClusterError> {
    check_k(k, n)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut labels = vec![0u32; n];
    for (pos, &i) in order.iter().enumerate() {
        labels[i] = (pos % k) as u32;
    }
    Ok(labels)
}

/// One portion per distinct value of a column, in sorted order of the values. Returns the labels
/// and the value of each portion.
pub fn split_by_values(values: &[String]) -> Result<(Vec<u32>, Vec<String>), ClusterError> {
    if values.is_empty() {
        return Err(ClusterError::Invalid("no rows to split".into()));
    }
    let mut ids: BTreeMap<&str, u32> = BTreeMap::new();
    for v in values {
        ids.entry(v.as_str()).or_insert(0);
    }
    let names: Vec<String> = ids.keys().map(|s| s.to_string()).collect();
    for (i, v) in ids.values_mut().enumerate() {
        *v = i as u32;
    }
    let labels = values.iter().map(|v| ids[v.as_str()]).collect();
    Ok((labels, names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cluster::quality::sizes;

    #[test]
    fn random_split_is_balanced_seeded_and_checks_k() {
        let a = random_split(10, 4, 1).unwrap();
        assert_eq!(a, random_split(10, 4, 1).unwrap());
        assert_ne!(a, random_split(10, 4, 2).unwrap());
        let mut s = sizes(&a, 4);
        s.sort_unstable();
        assert_eq!(s, vec![2, 2, 3, 3]);
        assert!(matches!(random_split(3, 4, 0), Err(ClusterError::KTooLarge { k: 4, rows: 3 })));
        assert!(matches!(random_split(3, 0, 0), Err(ClusterError::ZeroK)));
    }

    #[test]
    fn balanced_kmeans_gives_equal_sizes_even_for_identical_rows() {
        let dim = 2;
        // 7 rows near (0,0), 1 row near (10,10): plain k-means would give sizes 7 and 1.
        let mut x = vec![0f32; 7 * dim];
        for (i, v) in x.iter_mut().enumerate() {
            *v = i as f32 * 0.01;
        }
        x.extend_from_slice(&[10.0, 10.0]);
        let opts = KMeansOptions { k: 2, ..Default::default() };
        let (labels, _) = balanced_kmeans(&x, dim, &opts, &EventSink::discard(), &CancelToken::new()).unwrap();
        assert_eq!(sizes(&labels, 2), vec![4, 4]);
        let far = labels[7];
        // The far row's portion takes the three rows nearest to it, i.e. the last ones.
        assert_eq!(labels[4..7], [far, far, far]);
        let same = vec![1.0f32; 9 * dim];
        let (labels, _) =
            balanced_kmeans(&same, dim, &KMeansOptions { k: 3, ..Default::default() }, &EventSink::discard(), &CancelToken::new()).unwrap();
        assert_eq!(sizes(&labels, 3), vec![3, 3, 3]);
    }

    #[test]
    fn split_by_values_orders_portions_by_value() {
        let v: Vec<String> = ["math", "code", "math", "chat"].map(String::from).to_vec();
        let (labels, names) = split_by_values(&v).unwrap();
        assert_eq!(names, ["chat", "code", "math"]);
        assert_eq!(labels, [2, 1, 2, 0]);
    }
}
