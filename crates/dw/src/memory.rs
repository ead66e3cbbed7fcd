//! Keeping the server's memory near what it uses. glibc's allocator gives each thread that
//! allocates its own arena and keeps freed memory in it for reuse: after a burst of concurrent
//! work (a hundred clients at once, a flood of authentications) the process would keep its peak
//! size indefinitely. So the server caps the arenas and hands freed memory back to the system
//! every few seconds (a few microseconds of work when there is nothing to return).

use std::time::Duration;

/// Arenas glibc may create, whatever the number of threads.
const MAX_ARENAS: i32 = 4;

/// How often freed memory is handed back.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Caps glibc's allocator arenas; call before the runtime starts its threads.
pub fn limit_arenas() {
    host::allocator::limit_arenas(MAX_ARENAS);
}

/// Hands memory freed by the allocator back to the system, every [`TRIM_EVERY`], forever.
pub async fn return_freed_memory() {
    let mut every = tokio::time::interval(TRIM_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        tokio::task::spawn_blocking(host::allocator::return_free_memory);
    }
}
