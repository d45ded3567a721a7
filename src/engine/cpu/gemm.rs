//! `f32` matrix products on the CPU through the `gemm` crate (the one candle's CPU backend
//! uses), with views of any strides and accumulation into the destination, so that fused
//! kernels can add several products into one buffer without temporaries.

/// A read-only matrix view: `rows x cols`, element `(i, j)` at `data[i * rs + j * cs]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatRef<'a> {
    /// A view with explicit strides. Panics when an element would lie outside `data`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * rs + (cols - 1) * cs;
            assert!(last < data.len(), "matrix view {rows}x{cols} (strides {rs}, {cs}) overruns {} values", data.len());
        }
        Self { data, rows, cols, rs, cs }
    }

    /// A contiguous row-major `rows x cols` matrix.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }

    /// Columns `start..end` of this view (no copy).
    pub fn columns(self, start: usize, end: usize) -> Self {
        assert!(start <= end && end <= self.cols, "columns {start}..{end} of a {}-column view", self.cols);
        let offset = (start * self.cs).min(self.data.len());
        Self { data: &self.data[offset..], rows: self.rows, cols: end - start, rs: self.rs, cs: self.cs }
    }

    /// Element `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// `dst = scale * a b` (or `dst += scale * a b` with `accumulate`), `dst` row-major
/// `[a.rows, b.cols]`. Runs on the rayon pool with candle's thread count.
pub fn matmul_into(dst: &mut [f32], a: MatRef, b: MatRef, scale: f32, accumulate: bool) {
    assert_eq!(dst.len(), a.rows * b.cols, "destination holds {} values, the product {}x{}", dst.len(), a.rows, b.cols);
    product(dst, b.cols, a, b, scale, accumulate, parallel())
}

/// [`matmul_into`] into a block of columns of a wider row-major matrix: row `i` of the product
/// goes to `dst[i * row_stride..][..b.cols]`.
pub fn matmul_into_columns(dst: &mut [f32], row_stride: usize, a: MatRef, b: MatRef, scale: f32, accumulate: bool) {
    assert!(b.cols <= row_stride, "{} columns do not fit rows of {row_stride}", b.cols);
    if a.rows > 0 {
        assert!((a.rows - 1) * row_stride + b.cols <= dst.len(), "destination of {} values is too small", dst.len());
    }
    product(dst, row_stride, a, b, scale, accumulate, parallel())
}

/// [`matmul_into`] on the calling thread only, for products that are themselves run in
/// parallel (one per attention head).
pub fn matmul_into_serial(dst: &mut [f32], a: MatRef, b: MatRef, scale: f32, accumulate: bool) {
    assert_eq!(dst.len(), a.rows * b.cols, "destination holds {} values, the product {}x{}", dst.len(), a.rows, b.cols);
    product(dst, b.cols, a, b, scale, accumulate, gemm::Parallelism::None)
}

fn parallel() -> gemm::Parallelism {
    let threads = candle_core::utils::get_num_threads();
    if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// The product into `dst` with row stride `dst_rs`; callers check that `dst` holds it.
fn product(dst: &mut [f32], dst_rs: usize, a: MatRef, b: MatRef, scale: f32, accumulate: bool, parallelism: gemm::Parallelism) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "inner dimensions differ: {}x{} times {}x{}", a.rows, a.cols, b.rows, b.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(dst_rs).for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    // SAFETY: the views were bounds-checked on construction and the callers checked that `dst`
    // holds m rows of n values at stride `dst_rs`; gemm reads `dst` only when asked to accumulate.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        (0..m).flat_map(|i| (0..n).map(move |j| (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum())).collect()
    }

    #[test]
    fn products_of_transposed_views_accumulate() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        // b stored transposed ([n, k] row-major), read through a transposed view.
        let bt: Vec<f32> = (0..n).flat_map(|j| (0..k).map(|l| b[l * n + j]).collect::<Vec<_>>()).collect();
        let mut out = vec![1.0f32; m * n];
        matmul_into(&mut out, MatRef::row_major(&a, m, k), MatRef::row_major(&bt, n, k).t(), 2.0, true);
        for (o, w) in out.iter().zip(&want) {
            assert!((o - (1.0 + 2.0 * w)).abs() < 1e-5, "{o} vs {}", 1.0 + 2.0 * w);
        }
        matmul_into(&mut out, MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n), 1.0, false);
        for (o, w) in out.iter().zip(&want) {
            assert!((o - w).abs() < 1e-5);
        }
    }

    #[test]
    fn column_blocks_fill_a_wider_product() {
        let (m, k, n) = (4, 6, 7);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.23).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.57).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let mut out = vec![0f32; m * n];
        let (a, b) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
        matmul_into_columns(&mut out, n, a, b.columns(0, 3), 1.0, false);
        matmul_into_columns(&mut out[3..], n, a, b.columns(3, n), 1.0, false);
        for (o, w) in out.iter().zip(&want) {
            assert!((o - w).abs() < 1e-5, "{o} vs {w}");
        }
    }

    #[test]
    #[should_panic(expected = "overruns")]
    fn a_view_past_its_data_is_refused() {
        MatRef::new(&[0.0; 5], 2, 3, 3, 1);
    }
}
