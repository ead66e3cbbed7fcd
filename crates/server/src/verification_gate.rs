//! Where secret verification runs. Checking a client secret or a password runs Argon2: about
//! 19 MiB and tens of milliseconds of a core each. Without a bound, anyone could make the server
//! hash as many wrong secrets at once as they can send requests (the per-name limits do not
//! help when every attempt names a different client), and take the cores from serving data.
//!
//! So verifications run on [`concurrency`] dedicated threads at a lower CPU priority (nice
//! [`NICE`]): a flood of authentications uses what serving leaves. At most [`QUEUE`] more wait;
//! the rest are answered 503 with `Retry-After` at once, without hashing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;

/// Requests that may wait for a verification thread; beyond them, 503.
pub const QUEUE: usize = 64;

/// Niceness of the verification threads (0 is normal, 19 the lowest priority).
pub const NICE: i32 = 10;

/// Verifications that run at once: half the cores (at least one, at most 8), so that a flood
/// of authentications leaves the other half to serving data.
pub fn concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 8))
}

type Job = Box<dyn FnOnce() + Send>;

/// The verification threads and their bounded queue (see the module documentation).
pub struct VerificationGate {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    waiting: Arc<AtomicUsize>,
    threads: usize,
    name: &'static str,
}

impl Default for VerificationGate {
    /// [`concurrency`] threads named `dw-verify-N`.
    fn default() -> Self {
        Self::with_threads(concurrency(), "dw-verify")
    }
}

impl VerificationGate {
    /// A gate of `threads` verification threads named `name-N`, started on first use.
    pub fn with_threads(threads: usize, name: &'static str) -> Self {
        Self {
            jobs: Mutex::new(None),
            waiting: Arc::new(AtomicUsize::new(0)),
            threads,
            name,
        }
    }

    /// Runs `work` (which verifies a secret) on a verification thread, or `None` at once when
    /// too many requests already wait.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= QUEUE {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let waiting = self.waiting.clone();
        let job: Job = Box::new(move || {
            waiting.fetch_sub(1, Ordering::SeqCst);
            let _ = tx.send(work());
        });
        self.sender().send(job).ok()?;
        rx.await.ok()
    }

    /// The queue of the verification threads, started on first use.
    fn sender(&self) -> mpsc::Sender<Job> {
        let mut jobs = self.jobs.lock().expect("lock");
        jobs.get_or_insert_with(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.threads {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("{}-{i}", self.name))
                    .spawn(move || {
                        host::priority::set_thread_niceness(NICE);
                        loop {
                            let job = rx.lock().expect("lock").recv();
                            match job {
                                Ok(job) => job(),
                                Err(_) => return,
                            }
                        }
                    })
                    .expect("a verification thread starts");
            }
            tx
        })
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_verifications_are_refused_at_once() {
        let gate = Arc::new(VerificationGate::default());
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let hold = |gate: Arc<VerificationGate>| {
            let (rx, started) = (release_rx.clone(), started_tx.clone());
            tokio::spawn(async move {
                gate.run(move || {
                    let _ = started.send(());
                    rx.lock().expect("lock").recv().is_ok()
                })
                .await
            })
        };
        // every verification thread busy...
        let mut held: Vec<_> = (0..concurrency()).map(|_| hold(gate.clone())).collect();
        for _ in 0..concurrency() {
            started_rx.recv().unwrap();
        }
        // ...and a full queue behind them
        held.extend((0..QUEUE).map(|_| hold(gate.clone())));
        while gate.waiting.load(Ordering::SeqCst) != QUEUE {
            tokio::task::yield_now().await;
        }
        // refused without waiting (a wait would last until the releases below)
        assert!(gate.run(|| true).await.is_none());
        for _ in 0..held.len() {
            release_tx.send(()).unwrap();
        }
        for h in held {
            assert_eq!(h.await.unwrap(), Some(true));
        }
        // and once they are done, verifications run again
        assert_eq!(gate.run(|| 7).await, Some(7));
    }
}
