//! A gate in front of secret verification. Checking a client secret or a password runs Argon2:
//! about 19 MiB and tens of milliseconds of a core each. Without a bound, anyone could make the
//! server hash as many wrong secrets at once as they can send requests (the per-name limits do
//! not help when every attempt names a different client). So at most
//! [`concurrency`] verifications run at once, at most [`QUEUE`] more wait, and the rest are
//! answered 503 with `Retry-After` at once, without hashing.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Requests that may wait for a verification slot; beyond them, 503.
pub const QUEUE: usize = 64;

/// Verifications that run at once: one per core, at most 8.
pub fn concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(8))
}

/// Bounds concurrent secret verifications (see the module documentation).
pub struct HashingGate {
    slots: Semaphore,
    waiting: AtomicUsize,
}

impl Default for HashingGate {
    fn default() -> Self {
        Self {
            slots: Semaphore::new(concurrency()),
            waiting: AtomicUsize::new(0),
        }
    }
}

impl HashingGate {
    /// A slot to verify in, or `None` when too many requests already wait for one.
    pub async fn enter(&self) -> Option<SemaphorePermit<'_>> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= QUEUE {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let permit = self.slots.acquire().await.ok();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit
    }
}
