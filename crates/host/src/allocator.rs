//! glibc's allocator tuning; nothing on other C libraries, whose allocators behave otherwise.

/// Turns off glibc's fast bins: small blocks are still cached per thread (tcache), but freed
/// blocks no longer pile up unmerged until a large allocation sweeps them all
/// (`malloc_consolidate`). Call once at start, before other threads exist.
pub fn without_fast_bins() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before other threads exist; M_MXFAST 0 is a documented value.
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
    }
}

/// Caps the arenas glibc may create at `arenas`, whatever the number of threads. Call before
/// other threads exist.
pub fn limit_arenas(arenas: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = arenas;
}

/// Hands memory the allocator holds free back to the system.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is thread-safe and only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
