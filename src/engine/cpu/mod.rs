//! CPU building blocks for the fused kernels: a GEMM that accumulates into its output, a
//! vectorisable `exp`, and access to the `f32` data behind a candle tensor.

pub mod gemm;
pub mod math;
pub mod storage;
