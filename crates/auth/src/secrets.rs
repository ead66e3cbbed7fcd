//! Client secrets and user passwords: generated with the OS RNG, stored only as Argon2id hashes.

use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;

/// A new random secret (256 bits, URL-safe text).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The Argon2id PHC string of a secret.
pub fn hash_secret(secret: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters succeeds")
        .to_string()
}

/// Most memory a stored hash may ask Argon2 for (KiB); a hash asking for more is refused
/// rather than computed. The default parameters use 19 MiB.
pub const MAX_HASH_MEMORY_KIB: u32 = 64 * 1024;

/// Argon2 working memory kept for reuse: one set per concurrent verification, up to this many.
/// Verifying reuses it instead of allocating 19 MiB each time, so a flood of attempts cannot
/// grow the heap (the callers bound how many verifications run at once).
const POOLED_MEMORY_SETS: usize = 8;

static MEMORY: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());

/// Checks a secret against a stored hash (the comparison is constant-time). Argon2's working
/// memory comes from a small pool of reused buffers.
pub fn verify_secret(secret: &str, hash: &str) -> bool {
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(h.algorithm), Params::try_from(&h))
    else {
        return false;
    };
    let version = match h.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(expected), Some(salt)) = (h.hash, h.salt) else {
        return false;
    };
    if params.m_cost() > MAX_HASH_MEMORY_KIB {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let mut blocks = MEMORY
        .lock()
        .map(|mut m| m.pop())
        .unwrap_or_default()
        .unwrap_or_default();
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::default());
    }
    let computed = argon2.hash_password_into_with_memory(
        secret.as_bytes(),
        salt,
        &mut out,
        &mut blocks[..params.block_count()],
    );
    if let Ok(mut pool) = MEMORY.lock() {
        if pool.len() < POOLED_MEMORY_SETS {
            pool.push(blocks);
        }
    }
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

/// A hash to verify against when the client or user does not exist, so that unknown names take
/// as long to reject as wrong secrets.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_secret("not a real secret"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let s = generate_secret();
        let h = hash_secret(&s);
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_secret(&s, &h));
        assert!(!verify_secret("wrong", &h));
        assert!(!verify_secret(&s, "not a hash"));
        // hashes made elsewhere with other parameters verify too
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(8 * 1024, 3, 1, Some(24)).unwrap(),
        );
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let h = other.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_secret("pw", &h));
        assert!(!verify_secret("pW", &h));
        // a hash asking for more memory than allowed is refused, not computed
        let greedy = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(MAX_HASH_MEMORY_KIB + 1024, 1, 1, None).unwrap(),
        );
        let h = greedy.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(!verify_secret("pw", &h));
    }
}
