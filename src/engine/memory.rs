//! Process memory: allocator tuning for tensor work, and how byte counts are written.
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

/// Hands memory that is free in the heap back to the system (glibc's `malloc_trim`, which also
/// releases free pages inside every arena; a no-op elsewhere). [`crate::engine::job::run_stage`]
/// calls it when a stage ends, so that a long-lived process falls back from a stage's peak
/// once the stage's model and buffers are dropped.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resident set size of this process in bytes (Linux; `None` elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// A byte count as people read memory sizes: "456 MiB", or "1.23 GiB" from 1 GiB up. The
/// window, the memory plan and its messages all write sizes this way.
pub fn bytes_text(n: u64) -> String {
    let mib = n as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.2} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}
