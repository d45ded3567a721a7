//! Process-wide allocator tuning for tensor work.
//!
//! candle allocates a fresh buffer for every intermediate tensor. With glibc's defaults each
//! buffer over 32 MB is a new `mmap` and goes back to the kernel when freed, so every training
//! step page-faults (and zero-fills) gigabytes again: measured at 40% of a SmolLM2 LoRA step.
//! Keeping large blocks in the heap and never trimming it lets freed buffers be reused, the way
//! PyTorch's caching allocator does.

/// Serves large allocations from the heap and keeps freed memory for reuse (glibc on Linux; a
/// no-op elsewhere). Call once at start-up, before worker threads allocate.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before other threads run.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        // -1 converts to the largest size: never give the heap's top back.
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
    }
}
