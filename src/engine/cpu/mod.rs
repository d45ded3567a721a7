//! CPU building blocks for the fused kernels: a GEMM that accumulates into its output, a
//! vectorisable `exp`, and access to the `f32` data behind a candle tensor.

pub mod gemm;
pub mod math;
pub mod storage;

/// Defines a function whose body is compiled twice, for the baseline CPU and for AVX2 + FMA,
/// and runs the second when the CPU has them (checked at run time). For element loops written
/// to vectorise; the arguments are passed through unchanged.
macro_rules! vectorised {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                portable($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU was just checked to support AVX2 and FMA.
                return unsafe { avx2($($arg),*) };
            }
            portable($($arg),*)
        }
    };
}
pub(crate) use vectorised;
