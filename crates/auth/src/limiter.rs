//! Rate limiting of failed authentication attempts, per key: the identity attacked (a client
//! id, a user name, a user at an address they signed in from before) or, for names that are no
//! one's, the address they came from ([`address_key`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys a limiter holds. Past it, the tenth whose last failure is oldest is forgotten:
/// never the whole map (forgetting every count on demand let an attacker reset the counts of
/// the identity it attacked by failing with made-up names).
pub const MAX_KEYS: usize = 100_000;

/// Allows `max_failures` failures per key within `window`; past that, refuses until the window
/// of the oldest failure has passed.
pub struct FailureLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

/// The key of a client address: the address itself, or for IPv6 its /64 network (one host
/// commonly holds a whole /64, so counting single addresses would count nothing).
pub fn address_key(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => format!("address:{}", v6.to_canonical()),
        _ => format!("address:{address}"),
    }
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

    /// Records a failure for `key` (only the last `max_failures` are kept per key).
    pub fn failed(&self, key: &str) {
        let mut map = self.failures.lock().expect("lock");
        let now = Instant::now();
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            self.make_room(&mut map, now);
        }
        let list = map.entry(key.to_string()).or_default();
        list.push(now);
        if list.len() > self.max_failures {
            list.remove(0);
        }
    }

    /// Forgets the keys whose failures are all past the window, then, when that is not a tenth
    /// of the map, the tenth of the keys whose last failure is oldest.
    fn make_room(&self, map: &mut HashMap<String, Vec<Instant>>, now: Instant) {
        map.retain(|_, list| {
            list.last()
                .is_some_and(|t| now.duration_since(*t) < self.window)
        });
        let tenth = MAX_KEYS / 10;
        if map.len() + tenth <= MAX_KEYS {
            return;
        }
        let mut last: Vec<Instant> = map.values().filter_map(|l| l.last().copied()).collect();
        let (_, cutoff, _) = last.select_nth_unstable(tenth);
        let cutoff = *cutoff;
        map.retain(|_, list| list.last().is_some_and(|t| *t > cutoff));
    }

    /// Clears `key` after a success.
    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("lock").remove(key);
    }

    /// How many keys the limiter holds.
    pub fn len(&self) -> usize {
        self.failures.lock().expect("lock").len()
    }

    /// Whether the limiter holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[test]
    fn a_flood_of_new_keys_does_not_reset_a_recent_count() {
        let l = FailureLimiter::new(5, Duration::from_secs(60));
        for i in 0..MAX_KEYS {
            l.failed(&format!("made-up-{i}"));
        }
        for _ in 0..5 {
            l.failed("client:attacked");
        }
        // a flood a tenth of the bound long: the newest count stays, the map stays bounded
        for i in 0..MAX_KEYS / 10 {
            l.failed(&format!("more-{i}"));
        }
        assert!(l.check("client:attacked").is_err());
        assert!(l.len() <= MAX_KEYS, "{}", l.len());
    }

    #[test]
    fn ipv6_addresses_count_by_their_network() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1"),
            address_key("2001:db8:1:2:bbbb::2")
        );
        assert_ne!(
            address_key("2001:db8:1:2::1"),
            address_key("2001:db8:1:3::1")
        );
        assert_eq!(address_key("::ffff:192.0.2.7"), "address:192.0.2.7");
        assert_eq!(address_key("192.0.2.7"), "address:192.0.2.7");
    }
}
