//! Borrowing the `f32` values behind CPU tensors for hand-written kernels.

use super::gemm::MatRef;
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Layout, Result, Storage, Tensor};

/// The values of an f32 CPU storage as a `[rows, cols]` matrix view, where the layout is 2-D
/// with any strides, or contiguous with the leading dimensions folded into rows.
pub fn matrix<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<MatRef<'a>> {
    let CpuStorage::F32(data) = storage else { candle_core::bail!("expected f32 values, found {:?}", storage.dtype()) };
    let dims = layout.shape().dims();
    let data = &data[layout.start_offset()..];
    match (dims, layout.stride()) {
        ([rows, cols], [rs, cs]) => Ok(MatRef::new(data, *rows, *cols, *rs, *cs)),
        ([.., cols], _) if layout.is_contiguous() => Ok(MatRef::row_major(data, layout.shape().elem_count() / cols.max(&1), *cols)),
        _ => candle_core::bail!("expected a matrix or a contiguous tensor, found shape {:?} with strides {:?}", dims, layout.stride()),
    }
}

/// The values of a contiguous f32 CPU storage.
pub fn values<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else { candle_core::bail!("expected f32 values, found {:?}", storage.dtype()) };
    let Some((a, b)) = layout.contiguous_offsets() else {
        candle_core::bail!("expected contiguous values, found strides {:?}", layout.stride())
    };
    Ok(&data[a..b])
}

/// The CPU storage of a tensor.
pub fn cpu(storage: &Storage) -> Result<&CpuStorage> {
    match storage {
        Storage::Cpu(cpu) => Ok(cpu),
        _ => candle_core::bail!("expected a CPU tensor"),
    }
}

/// Calls `f` with the matrix view of a CPU f32 tensor (see [`matrix`]).
pub fn with_matrix<R>(t: &Tensor, f: impl FnOnce(MatRef) -> Result<R>) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    f(matrix(cpu(&storage)?, layout)?)
}
