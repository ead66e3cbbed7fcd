//! The built-in issuer's signing keys: ES256 (P-256) key pairs, generated on first start, kept in
//! one owner-only file, rotated on demand. A retired key stays in the JWKS until every token it
//! signed has expired, so rotation never invalidates a live token.

use crate::AuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    created: i64,
    retired: Option<i64>,
    pkcs8_pem: String,
}

#[derive(Clone)]
struct LoadedKey {
    stored: StoredKey,
    encoding: EncodingKey,
    x: String,
    y: String,
}

/// The signing keys of the built-in issuer.
pub struct KeyRing {
    file: Option<PathBuf>,
    keys: RwLock<Vec<LoadedKey>>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn load(stored: StoredKey) -> Result<LoadedKey, AuthError> {
    let key = SigningKey::from_pkcs8_pem(&stored.pkcs8_pem)
        .map_err(|e| AuthError::Config(format!("signing key {}: {e}", stored.kid)))?;
    let point = key.verifying_key().to_encoded_point(false);
    let x = URL_SAFE_NO_PAD.encode(point.x().expect("uncompressed point"));
    let y = URL_SAFE_NO_PAD.encode(point.y().expect("uncompressed point"));
    let encoding = EncodingKey::from_ec_pem(stored.pkcs8_pem.as_bytes())
        .map_err(|e| AuthError::Config(format!("signing key {}: {e}", stored.kid)))?;
    Ok(LoadedKey {
        stored,
        encoding,
        x,
        y,
    })
}

fn generate() -> Result<LoadedKey, AuthError> {
    let key = SigningKey::random(&mut rand::rngs::OsRng);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| AuthError::Config(e.to_string()))?
        .to_string();
    let point = key.verifying_key().to_encoded_point(false);
    // RFC 7638 thumbprint of the public JWK as the key id
    let thumb_input = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(point.x().expect("x")),
        URL_SAFE_NO_PAD.encode(point.y().expect("y"))
    );
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(thumb_input.as_bytes())[..16]);
    load(StoredKey {
        kid,
        created: now(),
        retired: None,
        pkcs8_pem: pem,
    })
}

impl KeyRing {
    /// Keys kept in memory only (tests, or a throwaway issuer).
    pub fn ephemeral() -> Result<Self, AuthError> {
        Ok(Self {
            file: None,
            keys: RwLock::new(vec![generate()?]),
        })
    }

    /// Loads the keys from `file`, creating the file with a new key (mode 0600) when missing.
    pub fn open(file: &Path) -> Result<Self, AuthError> {
        // two processes starting at once must not each write a key of their own
        let _lock = lock(file)?;
        let keys = match safe_files::read_regular_to_string(file, crate::MAX_KEY_FILE_BYTES) {
            Ok(text) => {
                let stored: Vec<StoredKey> = serde_json::from_str(&text)
                    .map_err(|e| AuthError::Config(format!("{}: {e}", file.display())))?;
                stored
                    .into_iter()
                    .map(load)
                    .collect::<Result<Vec<_>, _>>()?
            }
            Err(e) if e.is_not_found() => vec![generate()?],
            Err(e) => return Err(AuthError::Config(format!("{}: {e}", file.display()))),
        };
        let ring = Self {
            file: Some(file.to_path_buf()),
            keys: RwLock::new(keys),
        };
        if !file.exists() {
            ring.save()?;
        }
        Ok(ring)
    }

    /// Re-reads the key file (after `dw keys rotate` in another process).
    pub fn reload(&self) -> Result<(), AuthError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let _lock = lock(file)?;
        self.read(file)
    }

    /// Replaces the keys with those of `file`.
    fn read(&self, file: &Path) -> Result<(), AuthError> {
        let text = safe_files::read_regular_to_string(file, crate::MAX_KEY_FILE_BYTES)
            .map_err(|e| AuthError::Config(format!("{}: {e}", file.display())))?;
        let stored: Vec<StoredKey> = serde_json::from_str(&text)
            .map_err(|e| AuthError::Config(format!("{}: {e}", file.display())))?;
        let keys = stored
            .into_iter()
            .map(load)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(AuthError::Config(format!(
                "{} holds no key",
                file.display()
            )));
        }
        *self.keys.write().expect("lock") = keys;
        Ok(())
    }

    /// Writes the keys to the file; callers hold its [`lock`].
    fn save(&self) -> Result<(), AuthError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let stored: Vec<StoredKey> = self
            .keys
            .read()
            .expect("lock")
            .iter()
            .map(|k| k.stored.clone())
            .collect();
        let text = serde_json::to_string_pretty(&stored).expect("serializable");
        safe_files::write_private(file, text.as_bytes())
            .map_err(|e| AuthError::Config(format!("{}: {e}", file.display())))
    }

    /// Adds a new current key and retires the previous one; returns the new key id. The key file
    /// is read again under its lock first, so a rotation in another process is kept.
    pub fn rotate(&self) -> Result<String, AuthError> {
        let _lock = self.file.as_deref().map(lock).transpose()?;
        if let Some(file) = &self.file {
            self.read(file)?;
        }
        let fresh = generate()?;
        let kid = fresh.stored.kid.clone();
        {
            let mut keys = self.keys.write().expect("lock");
            let t = now();
            for k in keys.iter_mut().filter(|k| k.stored.retired.is_none()) {
                k.stored.retired = Some(t);
            }
            keys.push(fresh);
        }
        self.save()?;
        Ok(kid)
    }

    /// Drops retired keys whose tokens have all expired.
    pub fn prune(&self, max_token_lifetime: i64) -> Result<usize, AuthError> {
        let _lock = self.file.as_deref().map(lock).transpose()?;
        if let Some(file) = &self.file {
            self.read(file)?;
        }
        let cutoff = now() - max_token_lifetime;
        let removed = {
            let mut keys = self.keys.write().expect("lock");
            let before = keys.len();
            keys.retain(|k| k.stored.retired.is_none_or(|r| r > cutoff));
            before - keys.len()
        };
        if removed > 0 {
            self.save()?;
        }
        Ok(removed)
    }

    /// The key id and key to sign new tokens with.
    pub fn current(&self) -> (String, EncodingKey) {
        let keys = self.keys.read().expect("lock");
        let k = keys
            .iter()
            .rev()
            .find(|k| k.stored.retired.is_none())
            .unwrap_or(&keys[keys.len() - 1]);
        (k.stored.kid.clone(), k.encoding.clone())
    }

    /// The public keys that verify tokens still in circulation, as a JWKS document.
    pub fn jwks(&self, max_token_lifetime: i64) -> serde_json::Value {
        let cutoff = now() - max_token_lifetime;
        let keys = self.keys.read().expect("lock");
        let list: Vec<serde_json::Value> = keys
            .iter()
            .filter(|k| k.stored.retired.is_none_or(|r| r > cutoff))
            .map(|k| {
                serde_json::json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
                    "kid": k.stored.kid, "x": k.x, "y": k.y
                })
            })
            .collect();
        serde_json::json!({ "keys": list })
    }

    /// The verification key for `kid`, if it is still published.
    pub fn decoding_key(&self, kid: &str, max_token_lifetime: i64) -> Option<DecodingKey> {
        let cutoff = now() - max_token_lifetime;
        let keys = self.keys.read().expect("lock");
        keys.iter()
            .find(|k| k.stored.kid == kid && k.stored.retired.is_none_or(|r| r > cutoff))
            .and_then(|k| DecodingKey::from_ec_components(&k.x, &k.y).ok())
    }

    /// Key ids with their state, for `dw keys list`.
    pub fn list(&self) -> Vec<(String, i64, Option<i64>)> {
        self.keys
            .read()
            .expect("lock")
            .iter()
            .map(|k| (k.stored.kid.clone(), k.stored.created, k.stored.retired))
            .collect()
    }
}
/// The lock of the key file, held from reading it to writing it back.
fn lock(file: &Path) -> Result<safe_files::FileLock, AuthError> {
    safe_files::lock(file)
        .map_err(|e| AuthError::Config(format!("cannot lock {}: {e}", file.display())))
}
