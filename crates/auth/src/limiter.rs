//! Rate limiting of failed authentication attempts per (client or user, address).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `max_failures` failures per key within `window`; past that, refuses until the window
/// of the oldest failure has passed.
pub struct FailureLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl FailureLimiter {
    /// A limiter.
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when `key` has failed too often recently.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let mut map = self.failures.lock().expect("lock");
        let now = Instant::now();
        if let Some(list) = map.get_mut(key) {
            list.retain(|t| now.duration_since(*t) < self.window);
            if list.len() >= self.max_failures {
                let oldest = list[0];
                return Err(self
                    .window
                    .saturating_sub(now.duration_since(oldest))
                    .max(Duration::from_secs(1)));
            }
        }
        Ok(())
    }

    /// Records a failure for `key`.
    pub fn failed(&self, key: &str) {
        let mut map = self.failures.lock().expect("lock");
        if map.len() > 100_000 {
            // bound memory under a flood of distinct keys: forget the oldest state
            map.clear();
        }
        map.entry(key.to_string()).or_default().push(Instant::now());
    }

    /// Clears `key` after a success.
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_after_max_failures() {
        let l = FailureLimiter::new(2, Duration::from_secs(60));
        assert!(l.check("a").is_ok());
        l.failed("a");
        l.failed("a");
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
        l.succeeded("a");
        assert!(l.check("a").is_ok());
    }
}
