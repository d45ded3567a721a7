//! One Lloyd pass over the rows, fused and parallel: for each block of rows, the squared distances
//! to every centroid (`||x||² - 2 x·c + ||c||²`), the nearest centroid, and the block's
//! contribution to the next centroids' sums, while the block is still in cache. The rows are read
//! once per pass. The dot products use AVX2+FMA when the CPU has them (checked at run time).

use rayon::prelude::*;

/// Rows per block: small enough to stay in L2 while its sums are added up.
const BLOCK_ROWS: usize = 256;

/// What one pass found.
#[derive(Debug, Clone)]
pub struct PassResult {
    /// Per-centroid sums of the rows assigned to it, `[k * dim]` (empty when not accumulated).
    pub sums: Vec<f64>,
    /// Rows assigned to each centroid.
    pub counts: Vec<u64>,
    /// Sum of squared distances of rows to their nearest centroid.
    pub inertia: f64,
    /// Rows whose label changed in this pass.
    pub changed: usize,
    /// The row farthest from its nearest centroid, and that squared distance.
    pub farthest: (usize, f32),
}

#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ac, bc) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..16 {
            acc[l] = if FMA { x[l].mul_add(y[l], acc[l]) } else { acc[l] + x[l] * y[l] };
        }
    }
    let mut tail = 0f32;
    for (x, y) in ar.iter().zip(br) {
        tail += x * y;
    }
    let mut s = [0f32; 4];
    for l in 0..4 {
        s[l] = (acc[l] + acc[l + 4]) + (acc[l + 8] + acc[l + 12]);
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

/// The nearest centroid of `row` and its squared distance.
#[inline(always)]
fn nearest<const FMA: bool>(row: &[f32], row_norm: f32, centroids: &[f32], c_norms: &[f32], dim: usize) -> (u32, f32) {
    let mut best = (0u32, f32::INFINITY);
    for (j, (c, cn)) in centroids.chunks_exact(dim).zip(c_norms).enumerate() {
        let d = (row_norm - 2.0 * dot::<FMA>(row, c) + cn).max(0.0);
        if d < best.1 {
            best = (j as u32, d);
        }
    }
    best
}

struct BlockOut {
    inertia: f64,
    changed: usize,
    farthest: (usize, f32),
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<const FMA: bool>(
    rows: &[f32],
    norms: &[f32],
    first_row: usize,
    centroids: &[f32],
    c_norms: &[f32],
    dim: usize,
    labels: &mut [u32],
    sums: Option<(&mut [f32], &mut [u64])>,
) -> BlockOut {
    let mut out = BlockOut { inertia: 0.0, changed: 0, farthest: (first_row, -1.0) };
    let mut sums = sums;
    for (i, (row, label)) in rows.chunks_exact(dim).zip(labels.iter_mut()).enumerate() {
        let (j, d) = nearest::<FMA>(row, norms[i], centroids, c_norms, dim);
        if *label != j {
            out.changed += 1;
            *label = j;
        }
        out.inertia += f64::from(d);
        if d > out.farthest.1 {
            out.farthest = (first_row + i, d);
        }
        if let Some((s, c)) = sums.as_mut() {
            let dst = &mut s[j as usize * dim..(j as usize + 1) * dim];
            for (a, b) in dst.iter_mut().zip(row) {
                *a += b;
            }
            c[j as usize] += 1;
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn block_avx2(
    rows: &[f32],
    norms: &[f32],
    first_row: usize,
    centroids: &[f32],
    c_norms: &[f32],
    dim: usize,
    labels: &mut [u32],
    sums: Option<(&mut [f32], &mut [u64])>,
) -> BlockOut {
    block::<true>(rows, norms, first_row, centroids, c_norms, dim, labels, sums)
}

#[allow(clippy::too_many_arguments)]
fn block_dispatch(
    rows: &[f32],
    norms: &[f32],
    first_row: usize,
    centroids: &[f32],
    c_norms: &[f32],
    dim: usize,
    labels: &mut [u32],
    sums: Option<(&mut [f32], &mut [u64])>,
) -> BlockOut {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU was just checked to support AVX2 and FMA.
        return unsafe { block_avx2(rows, norms, first_row, centroids, c_norms, dim, labels, sums) };
    }
    block::<false>(rows, norms, first_row, centroids, c_norms, dim, labels, sums)
}

/// Squared L2 norm of every row of `x` (`[n * dim]`).
pub fn row_norms(x: &[f32], dim: usize) -> Vec<f32> {
    x.par_chunks(dim).map(|r| r.iter().map(|v| v * v).sum()).collect()
}

struct Acc {
    sums: Vec<f64>,
    counts: Vec<u64>,
    inertia: f64,
    changed: usize,
    farthest: (usize, f32),
}

impl Acc {
    fn new(k: usize, dim: usize, accumulate: bool) -> Self {
        Self {
            sums: if accumulate { vec![0.0; k * dim] } else { Vec::new() },
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
            farthest: (0, -1.0),
        }
    }

    fn merge(mut self, other: Self) -> Self {
        self.sums.iter_mut().zip(&other.sums).for_each(|(a, b)| *a += b);
        self.counts.iter_mut().zip(&other.counts).for_each(|(a, b)| *a += b);
        self.inertia += other.inertia;
        self.changed += other.changed;
        if other.farthest.1 > self.farthest.1 {
            self.farthest = other.farthest;
        }
        self
    }
}

/// Assigns every row of `x` (`[n * dim]`, squared norms `norms`) to its nearest centroid
/// (`[k * dim]`), updating `labels` in place; with `accumulate`, also sums the rows per centroid.
pub fn lloyd_pass(x: &[f32], norms: &[f32], dim: usize, centroids: &[f32], labels: &mut [u32], accumulate: bool) -> PassResult {
    let k = centroids.len() / dim;
    let c_norms: Vec<f32> = centroids.chunks_exact(dim).map(|c| c.iter().map(|v| v * v).sum()).collect();
    let acc = labels
        .par_chunks_mut(BLOCK_ROWS)
        .enumerate()
        .fold(
            || (Acc::new(k, dim, accumulate), vec![0f32; if accumulate { k * dim } else { 0 }], vec![0u64; k]),
            |(mut acc, mut s32, mut cnt), (b, labels)| {
                let first = b * BLOCK_ROWS;
                let rows = &x[first * dim..(first + labels.len()) * dim];
                let sums = if accumulate {
                    s32.fill(0.0);
                    cnt.fill(0);
                    Some((&mut s32[..], &mut cnt[..]))
                } else {
                    None
                };
                let o = block_dispatch(rows, &norms[first..first + labels.len()], first, centroids, &c_norms, dim, labels, sums);
                if accumulate {
                    acc.sums.iter_mut().zip(&s32).for_each(|(a, v)| *a += f64::from(*v));
                    acc.counts.iter_mut().zip(&cnt).for_each(|(a, v)| *a += v);
                } else {
                    // Counts are still wanted without sums.
                    for &l in labels.iter() {
                        acc.counts[l as usize] += 1;
                    }
                }
                acc.inertia += o.inertia;
                acc.changed += o.changed;
                if o.farthest.1 > acc.farthest.1 {
                    acc.farthest = o.farthest;
                }
                (acc, s32, cnt)
            },
        )
        .map(|(acc, _, _)| acc)
        .reduce(|| Acc::new(k, dim, accumulate), Acc::merge);
    PassResult { sums: acc.sums, counts: acc.counts, inertia: acc.inertia, changed: acc.changed, farthest: acc.farthest }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_assigns_nearest_and_sums_rows() {
        // dim 20 exercises both the 16-wide body and the tail of the dot product.
        let dim = 20;
        let mut x = vec![0f32; 3 * dim];
        x[0] = 1.0; // row 0 near centroid 0
        x[dim + 1] = 1.0; // row 1 near centroid 1
        x[2 * dim + 19] = 3.0; // row 2 far from both, nearer the origin-ish centroid 0? both equal
        let mut c = vec![0f32; 2 * dim];
        c[0] = 1.0;
        c[dim + 1] = 1.0;
        let norms = row_norms(&x, dim);
        let mut labels = vec![9u32; 3];
        let r = lloyd_pass(&x, &norms, dim, &c, &mut labels, true);
        assert_eq!(&labels[..2], &[0, 1]);
        assert_eq!(r.changed, 3);
        assert_eq!(r.counts.iter().sum::<u64>(), 3);
        assert_eq!(r.farthest.0, 2);
        assert!((r.inertia - 10.0).abs() < 1e-5, "{}", r.inertia); // 0 + 0 + (9 + 1)
        let j = labels[2] as usize;
        assert_eq!(r.sums[j * dim + 19], 3.0);
        let again = lloyd_pass(&x, &norms, dim, &c, &mut labels, false);
        assert_eq!(again.changed, 0);
        assert!(again.sums.is_empty());
    }
}
