//! Credentials verified before: a client's secret or a user's password that matched, remembered
//! for [`REMEMBER_FOR`] so the next use costs a hash and a lookup instead of Argon2.
//!
//! Why: Argon2 is made slow (tens of milliseconds and 19 MiB each). A BI tool that sends
//! HTTP Basic with every request ran it on every request, and 70 such loops made another
//! tenant's client wait 6.6 s for a token. Remembering verified credentials as verified bearer
//! tokens are remembered makes each one cost Argon2 once.
//!
//! Nothing usable is kept: an entry is found by a SHA-256 of the name and secret salted with a
//! key drawn when the process starts, and holds the stored hash it was verified against, so a
//! secret or password changed in the registry (or a client or user removed) is not taken.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified credential is remembered.
pub const REMEMBER_FOR: Duration = Duration::from_secs(15 * 60);

/// Most credentials remembered; past it, expired ones are dropped and a new one is not
/// remembered until there is room (nothing is forgotten early on demand).
pub const MAX_REMEMBERED: usize = 10_000;

struct Entry {
    /// The stored Argon2 hash the credential matched.
    hash: String,
    until: Instant,
}

/// The credentials verified recently (see the module documentation).
pub struct VerifiedCredentials {
    salt: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl Default for VerifiedCredentials {
    fn default() -> Self {
        Self {
            salt: rand::random(),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl VerifiedCredentials {
    fn digest(&self, kind: &str, name: &str, secret: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [
            &self.salt[..],
            kind.as_bytes(),
            name.as_bytes(),
            secret.as_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.finalize().into()
    }

    /// Whether `secret` of `name` (of `kind`: client, user) matched `stored_hash` recently.
    pub fn knows(&self, kind: &str, name: &str, secret: &str, stored_hash: &str) -> bool {
        let digest = self.digest(kind, name, secret);
        let now = Instant::now();
        self.entries
            .lock()
            .expect("lock")
            .get(&digest)
            .is_some_and(|e| now < e.until && e.hash == stored_hash)
    }

    /// Remembers that `secret` of `name` matched `stored_hash`.
    pub fn remember(&self, kind: &str, name: &str, secret: &str, stored_hash: &str) {
        let digest = self.digest(kind, name, secret);
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("lock");
        if entries.len() >= MAX_REMEMBERED {
            entries.retain(|_, e| now < e.until);
            if entries.len() >= MAX_REMEMBERED {
                return;
            }
        }
        entries.insert(
            digest,
            Entry {
                hash: stored_hash.to_string(),
                until: now + REMEMBER_FOR,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_is_known_for_the_hash_it_matched() {
        let v = VerifiedCredentials::default();
        assert!(!v.knows("client", "a", "s3cret", "$argon2id$one"));
        v.remember("client", "a", "s3cret", "$argon2id$one");
        assert!(v.knows("client", "a", "s3cret", "$argon2id$one"));
        // another secret, another name, another kind, or a secret changed since
        assert!(!v.knows("client", "a", "other", "$argon2id$one"));
        assert!(!v.knows("client", "b", "s3cret", "$argon2id$one"));
        assert!(!v.knows("user", "a", "s3cret", "$argon2id$one"));
        assert!(!v.knows("client", "a", "s3cret", "$argon2id$two"));
        // names and secrets are told apart however they are split
        v.remember("user", "ab", "c", "h");
        assert!(!v.knows("user", "a", "bc", "h"));
    }
}
