//! A frozen weight kept in its GGUF blocks (Q8_0, Q4_0, Q4_1, Q4_K and the other ggml block
//! types): QLoRA's idea without bitsandbytes. A 7B Q4 base stays at about 4 GB instead of the
//! 28 GB of its f32 weights, for training adapters, scoring and generation alike.
//!
//! The weight is held as row tiles, each a candle `QTensor` of about a million values. On the
//! CPU a product de-quantises one tile at a time into a reused buffer and multiplies it with the
//! f32 GEMM, so `x W^T` and the input gradient `g W` equal the f32 products over the
//! de-quantised base up to summation order, and at most one tile is ever held in f32. On CUDA
//! and Metal the forward product is candle's quantized matmul, tile by tile, and the input
//! gradient de-quantises one tile at a time.

use crate::engine::cpu::gemm::{matmul_into, matmul_into_columns, MatRef};
use crate::engine::cpu::math::lane_dot;
use crate::engine::cpu::storage::{cpu, matrix};
use candle_core::quantized::k_quants::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8K, BlockQ8_0, BlockQ8_1,
};
use candle_core::quantized::{GgmlDType, GgmlType, QStorage, QTensor};
use candle_core::{CpuStorage, CudaStorage, CustomOp1, DType, Device, Layout, MetalStorage, Result, Shape, Tensor};
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::Arc;

/// Values in one tile (4 MiB once de-quantised to f32).
const TILE_VALUES: usize = 1 << 20;

/// A frozen `[rows, cols]` weight in quantized blocks, split into row tiles.
pub struct QuantizedWeight {
    tiles: Vec<Arc<QTensor>>,
    tile_rows: usize,
    rows: usize,
    cols: usize,
    dtype: GgmlDType,
}

impl std::fmt::Debug for QuantizedWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QuantizedWeight[{}, {}; {:?} in {} tiles]", self.rows, self.cols, self.dtype, self.tiles.len())
    }
}

/// Whether tensors of this GGUF type are kept in their blocks (the float types are not).
pub fn keeps_blocks(dtype: GgmlDType) -> bool {
    !matches!(dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16)
}

impl QuantizedWeight {
    /// Takes a 2-D quantized tensor read on the CPU, with its rows reordered when `row_order`
    /// is given (row `i` of the result is row `row_order[i]` of `q`), onto `device`.
    pub fn new(q: &QTensor, row_order: Option<&[usize]>, device: &Device) -> Result<Self> {
        let dtype = q.dtype();
        if !keeps_blocks(dtype) {
            candle_core::bail!("{dtype:?} is not a block-quantized type");
        }
        let (rows, cols) = q.shape().dims2()?;
        let row_bytes = cols / dtype.block_size() * dtype.type_size();
        let data = q.data()?;
        if data.len() != rows * row_bytes {
            candle_core::bail!("a {dtype:?} tensor [{rows}, {cols}] should hold {} bytes, not {}", rows * row_bytes, data.len());
        }
        if let Some(order) = row_order {
            if order.len() != rows || order.iter().any(|&r| r >= rows) {
                candle_core::bail!("a row order of {} entries for {rows} rows", order.len());
            }
        }
        let tile_rows = (TILE_VALUES / cols.max(1)).clamp(1, rows.max(1));
        let mut tiles = Vec::with_capacity(rows.div_ceil(tile_rows));
        for start in (0..rows).step_by(tile_rows) {
            let end = (start + tile_rows).min(rows);
            let bytes = match row_order {
                None => AlignedBytes::rows(&data, start..end, row_bytes),
                Some(order) => AlignedBytes::rows(&data, order[start..end].iter().copied(), row_bytes),
            };
            let storage = QStorage::from_data(Cow::Borrowed(bytes.bytes()), device, dtype)?;
            tiles.push(Arc::new(QTensor::new(storage, (end - start, cols))?));
        }
        Ok(Self { tiles, tile_rows, rows, cols, dtype })
    }

    /// `(rows, cols)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The block type.
    pub fn dtype(&self) -> GgmlDType {
        self.dtype
    }

    /// The device its blocks are on.
    pub fn device(&self) -> Device {
        self.tiles.first().map(|t| t.device()).unwrap_or(Device::Cpu)
    }

    /// Bytes of quantized blocks held.
    pub fn storage_bytes(&self) -> usize {
        self.tiles.iter().map(|t| t.storage_size_in_bytes()).sum()
    }

    /// The whole weight in f32 (tests and tools; the products never make it).
    pub fn dequantize(&self) -> Result<Tensor> {
        let device = self.device();
        let parts = self.tiles.iter().map(|t| t.dequantize(&device)).collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, 0)
    }

    fn check_cpu(&self) -> Result<()> {
        if !self.device().is_cpu() {
            candle_core::bail!("quantized weight: the CPU kernels need the blocks on the CPU");
        }
        Ok(())
    }

    /// `dst [n, rows] (+)= scale * x W^T` for `x [n, cols]`, one de-quantised tile at a time (CPU).
    pub fn product_into(&self, dst: &mut [f32], x: MatRef, scale: f32, accumulate: bool) -> Result<()> {
        self.check_cpu()?;
        if x.cols() != self.cols || dst.len() != x.rows() * self.rows {
            candle_core::bail!("quantized product: input [{}, {}] for a [{}, {}] weight", x.rows(), x.cols(), self.rows, self.cols);
        }
        if x.rows() <= ROW_BY_ROW_UP_TO {
            return self.product_row_by_row(dst, x, scale, accumulate);
        }
        let mut buf = vec![0f32; self.tile_rows.min(self.rows) * self.cols];
        // For many rows the GEMM runs faster on a row-major `W^T` tile (as dense projections are
        // stored, see `Linear::new`) than on the transposed view: worth one transposition.
        let mut transposed = if x.rows() >= TRANSPOSE_FROM_ROWS { vec![0f32; buf.len()] } else { Vec::new() };
        for (i, tile) in self.tiles.iter().enumerate() {
            let (start, w) = (i * self.tile_rows, dequantize_tile(tile, &mut buf)?);
            let w_t = if transposed.is_empty() { w.t() } else { transpose_into(w, &mut transposed) };
            matmul_into_columns(&mut dst[start..], self.rows, x, w_t, scale, accumulate);
        }
        Ok(())
    }

    /// [`Self::product_into`] for a few input rows (generation): each weight row is de-quantised
    /// into a small buffer and dotted with every input row at once, so only the blocks travel
    /// from memory, and each result is the same whatever other rows are multiplied beside it.
    fn product_row_by_row(&self, dst: &mut [f32], x: MatRef, scale: f32, accumulate: bool) -> Result<()> {
        const WEIGHT_ROWS_PER_TASK: usize = 64;
        let (n, cols) = (x.rows(), self.cols);
        let inputs: Vec<Vec<f32>> = (0..n).map(|i| (0..cols).map(|k| x.get(i, k)).collect()).collect();
        let mut out = vec![0f32; self.rows * n];
        out.par_chunks_mut(WEIGHT_ROWS_PER_TASK * n).enumerate().try_for_each(|(task, out)| {
            let mut w = vec![0f32; cols];
            for (j, sums) in out.chunks_exact_mut(n).enumerate() {
                let row = task * WEIGHT_ROWS_PER_TASK + j;
                let tile = &self.tiles[row / self.tile_rows];
                dequantize_row(self.dtype, &tile.data()?, row % self.tile_rows, &mut w)?;
                for (sum, input) in sums.iter_mut().zip(&inputs) {
                    *sum = scale * lane_dot(input, &w);
                }
            }
            Ok::<(), candle_core::Error>(())
        })?;
        for (i, dst_row) in dst.chunks_exact_mut(self.rows).enumerate() {
            for (d, sums) in dst_row.iter_mut().zip(out.chunks_exact(n)) {
                *d = if accumulate { *d + sums[i] } else { sums[i] };
            }
        }
        Ok(())
    }

    /// `dst [n, cols] (+)= g W` for `g [n, rows]`: the input gradient, one tile at a time (CPU).
    pub fn input_gradient_into(&self, dst: &mut [f32], g: MatRef, accumulate: bool) -> Result<()> {
        self.check_cpu()?;
        if g.cols() != self.rows || dst.len() != g.rows() * self.cols {
            candle_core::bail!(
                "quantized input gradient: gradient [{}, {}] for a [{}, {}] weight",
                g.rows(),
                g.cols(),
                self.rows,
                self.cols
            );
        }
        let mut buf = vec![0f32; self.tile_rows.min(self.rows) * self.cols];
        for (i, tile) in self.tiles.iter().enumerate() {
            let start = i * self.tile_rows;
            let w = dequantize_tile(tile, &mut buf)?;
            matmul_into(dst, g.columns(start, start + w.rows()), w, 1.0, accumulate || i > 0);
        }
        if self.tiles.is_empty() && !accumulate {
            dst.fill(0.0);
        }
        Ok(())
    }

    /// Rows `ids` of the weight in f32, `[ids.len(), cols]` (embedding lookups).
    pub fn gather_rows(&self, ids: &Tensor) -> Result<Tensor> {
        let device = self.device();
        let ids = ids.flatten_all()?.to_dtype(DType::U32)?.to_vec1::<u32>()?;
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.rows) {
            candle_core::bail!("token id {bad} is outside the embedding's {} rows", self.rows);
        }
        if device.is_cpu() {
            let mut out = vec![0f32; ids.len() * self.cols];
            out.par_chunks_mut(self.cols).zip(&ids).try_for_each(|(row, &id)| {
                let (tile, r) = (id as usize / self.tile_rows, id as usize % self.tile_rows);
                dequantize_row(self.dtype, &self.tiles[tile].data()?, r, row)
            })?;
            return Tensor::from_vec(out, (ids.len(), self.cols), &device);
        }
        // Other devices: candle's row lookup per tile, then the rows put back in order.
        let mut parts = Vec::new();
        let mut order = Vec::with_capacity(ids.len());
        for (t, tile) in self.tiles.iter().enumerate() {
            let (local, at): (Vec<u32>, Vec<u32>) = ids
                .iter()
                .enumerate()
                .filter(|(_, &id)| id as usize / self.tile_rows == t)
                .map(|(i, &id)| ((id as usize % self.tile_rows) as u32, i as u32))
                .unzip();
            if !local.is_empty() {
                parts.push(tile.embedding(&Tensor::new(local.as_slice(), &device)?)?);
                order.extend(at);
            }
        }
        if parts.is_empty() {
            return Tensor::zeros((0, self.cols), DType::F32, &device);
        }
        let mut inverse = vec![0u32; order.len()];
        for (pos, &i) in order.iter().enumerate() {
            inverse[i as usize] = pos as u32;
        }
        Tensor::cat(&parts, 0)?.index_select(&Tensor::new(inverse.as_slice(), &device)?, 0)
    }

    /// `x W^T` for `x [n, cols]` of any dtype on any device, differentiable in `x` when
    /// `differentiable`: the tiled CPU kernel for f32 on the CPU, else candle's quantized matmul
    /// tile by tile (f32 in, the input's dtype out).
    pub fn matmul_t(self: &Arc<Self>, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            let op = QuantizedProduct { weight: self.clone() };
            let x = x.contiguous()?;
            return if differentiable { x.apply_op1(op) } else { x.apply_op1_no_bwd(&op) };
        }
        self.matmul_t_by_tiles(x, differentiable)
    }

    /// [`Self::matmul_t`] one tile at a time: candle's quantized matmul on CUDA and Metal, the
    /// exact de-quantised product on the CPU (for tensors in other dtypes).
    pub fn matmul_t_by_tiles(&self, x: &Tensor, differentiable: bool) -> Result<Tensor> {
        let xf = x.to_dtype(DType::F32)?.contiguous()?;
        let parts = self
            .tiles
            .iter()
            .map(|tile| {
                let op = TileProduct { tile: tile.clone() };
                if differentiable {
                    xf.apply_op1(op)
                } else {
                    xf.apply_op1_no_bwd(&op)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, 1)?.to_dtype(x.dtype())
    }
}

/// Input rows up to which [`QuantizedWeight::product_into`] goes weight row by weight row.
const ROW_BY_ROW_UP_TO: usize = 8;

/// Input rows from which [`QuantizedWeight::product_into`] transposes each tile first.
const TRANSPOSE_FROM_ROWS: usize = 64;

/// Writes the `[rows, cols]` row-major `w` into `out` as `[cols, rows]` row-major, in parallel
/// over blocks of 16 columns; returns that view.
fn transpose_into<'a>(w: MatRef, out: &'a mut [f32]) -> MatRef<'a> {
    const COLUMNS: usize = 16;
    let (rows, cols) = (w.rows(), w.cols());
    let out = &mut out[..rows * cols];
    out.par_chunks_mut(rows * COLUMNS).enumerate().for_each(|(block, dst)| {
        let first = block * COLUMNS;
        for r in 0..rows {
            for (j, c) in (first..first + dst.len() / rows).enumerate() {
                dst[j * rows + r] = w.get(r, c);
            }
        }
    });
    MatRef::row_major(out, cols, rows)
}

/// De-quantises `tile` into the front of `buf`, rows in parallel: a `[tile rows, cols]` view.
fn dequantize_tile<'a>(tile: &QTensor, buf: &'a mut [f32]) -> Result<MatRef<'a>> {
    let (rows, cols) = tile.shape().dims2()?;
    let data = tile.data()?;
    buf[..rows * cols].par_chunks_mut(cols).enumerate().try_for_each(|(r, row)| dequantize_row(tile.dtype(), &data, r, row))?;
    Ok(MatRef::row_major(&buf[..rows * cols], rows, cols))
}

/// De-quantises row `r` of a tile's raw blocks into `out` (`cols` values).
fn dequantize_row(dtype: GgmlDType, data: &[u8], r: usize, out: &mut [f32]) -> Result<()> {
    fn row<T: GgmlType>(data: &[u8], r: usize, out: &mut [f32]) -> Result<()> {
        let per_row = out.len() / T::BLCK_SIZE;
        let size = std::mem::size_of::<T>();
        let bytes = data
            .get(r * per_row * size..(r + 1) * per_row * size)
            .ok_or_else(|| candle_core::Error::Msg(format!("quantized row {r} lies past the tile's {} bytes", data.len())))?;
        if (bytes.as_ptr() as usize) % std::mem::align_of::<T>() != 0 {
            candle_core::bail!("quantized blocks are not aligned for {:?}", T::DTYPE);
        }
        // SAFETY: the block types are plain old data (floats, halves and byte arrays), any bit
        // pattern is a valid value, and the slice was checked for length and alignment.
        let blocks = unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, per_row) };
        T::to_float(blocks, out);
        Ok(())
    }
    match dtype {
        GgmlDType::Q4_0 => row::<BlockQ4_0>(data, r, out),
        GgmlDType::Q4_1 => row::<BlockQ4_1>(data, r, out),
        GgmlDType::Q5_0 => row::<BlockQ5_0>(data, r, out),
        GgmlDType::Q5_1 => row::<BlockQ5_1>(data, r, out),
        GgmlDType::Q8_0 => row::<BlockQ8_0>(data, r, out),
        GgmlDType::Q8_1 => row::<BlockQ8_1>(data, r, out),
        GgmlDType::Q2K => row::<BlockQ2K>(data, r, out),
        GgmlDType::Q3K => row::<BlockQ3K>(data, r, out),
        GgmlDType::Q4K => row::<BlockQ4K>(data, r, out),
        GgmlDType::Q5K => row::<BlockQ5K>(data, r, out),
        GgmlDType::Q6K => row::<BlockQ6K>(data, r, out),
        GgmlDType::Q8K => row::<BlockQ8K>(data, r, out),
        GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => candle_core::bail!("{dtype:?} is not a block-quantized type"),
    }
}

/// Bytes in 8-byte aligned storage: candle reads them as blocks, aligned to at most 4.
struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    /// The rows `order` of `data` (rows of `row_bytes`), in that order.
    fn rows(data: &[u8], order: impl ExactSizeIterator<Item = usize>, row_bytes: usize) -> Self {
        let len = order.len() * row_bytes;
        let mut out = Self { words: vec![0u64; len.div_ceil(8)], len };
        let bytes = out.bytes_mut();
        for (i, r) in order.enumerate() {
            bytes[i * row_bytes..(i + 1) * row_bytes].copy_from_slice(&data[r * row_bytes..(r + 1) * row_bytes]);
        }
        out
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `words` owns at least `len` bytes, and u8 has no alignment or validity needs.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr() as *const u8, self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr() as *mut u8, self.len) }
    }
}

/// `x W^T` for the whole weight on the CPU in f32, differentiable in `x`.
struct QuantizedProduct {
    weight: Arc<QuantizedWeight>,
}

impl CustomOp1 for QuantizedProduct {
    fn name(&self) -> &'static str {
        "quantized-product"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = matrix(storage, layout)?;
        let mut y = vec![0f32; x.rows() * self.weight.rows];
        self.weight.product_into(&mut y, x, 1.0, false)?;
        Ok((CpuStorage::F32(y), Shape::from((x.rows(), self.weight.rows))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let (gs, gl) = grad.storage_and_layout();
        let g = matrix(cpu(&gs)?, gl)?;
        let mut dx = vec![0f32; g.rows() * self.weight.cols];
        self.weight.input_gradient_into(&mut dx, g, false)?;
        Tensor::from_vec(dx, arg.shape(), &Device::Cpu).map(Some)
    }
}

/// `x W_tile^T` for f32 `x`: candle's quantized matmul on CUDA and Metal; the backward pass
/// de-quantises the tile.
struct TileProduct {
    tile: Arc<QTensor>,
}

impl CustomOp1 for TileProduct {
    fn name(&self) -> &'static str {
        "quantized-tile-product"
    }

    /// The CPU runs the exact product (the f32 GEMM over the de-quantised tile), not candle's
    /// CPU kernel, which rounds the activations to 8 bits.
    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = matrix(storage, layout)?;
        let mut buf = vec![0f32; self.tile.shape().elem_count()];
        let w = dequantize_tile(&self.tile, &mut buf)?;
        let rows = w.rows();
        let mut y = vec![0f32; x.rows() * rows];
        matmul_into(&mut y, x, w.t(), 1.0, false);
        Ok((CpuStorage::F32(y), Shape::from((x.rows(), rows))))
    }

    fn cuda_fwd(&self, storage: &CudaStorage, layout: &Layout) -> Result<(CudaStorage, Shape)> {
        self.tile.cuda_fwd(storage, layout)
    }

    fn metal_fwd(&self, storage: &MetalStorage, layout: &Layout) -> Result<(MetalStorage, Shape)> {
        self.tile.metal_fwd(storage, layout)
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let w = self.tile.dequantize(grad.device())?.to_dtype(grad.dtype())?;
        grad.matmul(&w).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
        let scale = b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap().max(1e-12);
        (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap() / scale
    }

    /// Every kept block type: the tiled products equal the f32 products over the de-quantised
    /// weight, forward and in the input gradient, with several tiles and a reordering of rows,
    /// whole and tile by tile (the structure CUDA and Metal run with candle's kernels).
    #[test]
    fn tiled_products_equal_the_dequantized_weight() -> Result<()> {
        let dev = Device::Cpu;
        let (rows, cols, n) = (2 * (TILE_VALUES / 256) + 5, 256, TRANSPOSE_FROM_ROWS + 3);
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4_1, GgmlDType::Q4K, GgmlDType::Q6K] {
            let w = Tensor::randn(0f32, 0.5, (rows, cols), &dev)?;
            let q = QTensor::quantize(&w, dtype)?;
            let order: Vec<usize> = (0..rows).rev().collect();
            let qw = Arc::new(QuantizedWeight::new(&q, Some(&order), &dev)?);
            assert_eq!(qw.tiles.len(), 3, "{dtype:?}");
            let dense = q.dequantize(&dev)?.index_select(&Tensor::new(order.iter().map(|&r| r as u32).collect::<Vec<_>>(), &dev)?, 0)?;
            assert_eq!(qw.dequantize()?.to_vec2::<f32>()?, dense.to_vec2::<f32>()?);
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, cols), &dev)?)?;
            let probe = Tensor::randn(0f32, 1.0, (n, rows), &dev)?;
            let want = x.as_tensor().matmul(&dense.t()?)?;
            let want_grad = (&want * &probe)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().clone();
            for (tiles, tol) in [(false, 1e-5), (true, 1e-5)] {
                let got = if tiles { qw.matmul_t_by_tiles(x.as_tensor(), true)? } else { qw.matmul_t(x.as_tensor(), true)? };
                assert!(max_rel(&got, &want) < tol, "{dtype:?} tiles={tiles}: forward off by {}", max_rel(&got, &want));
                let grad = (&got * &probe)?.sum_all()?.backward()?.get(x.as_tensor()).unwrap().clone();
                assert!(max_rel(&grad, &want_grad) < 1e-5, "{dtype:?} tiles={tiles}: gradient off by {}", max_rel(&grad, &want_grad));
            }
            // A few rows (generation) go weight row by weight row; each as it does alone.
            let few = x.as_tensor().narrow(0, 0, 3)?;
            let (three, one) = (qw.matmul_t(&few, false)?, qw.matmul_t(&few.narrow(0, 1, 1)?, false)?);
            assert!(max_rel(&three, &few.matmul(&dense.t()?)?) < 1e-5, "{dtype:?}: row by row");
            assert_eq!(three.to_vec2::<f32>()?[1], one.to_vec2::<f32>()?[0], "{dtype:?}: a row multiplies as it does alone");
            let ids = Tensor::new(&[0u32, rows as u32 - 1, 4100, 3], &dev)?;
            let rows_got = qw.gather_rows(&ids)?;
            assert_eq!(rows_got.to_vec2::<f32>()?, dense.index_select(&ids, 0)?.to_vec2::<f32>()?);
        }
        Ok(())
    }
}
