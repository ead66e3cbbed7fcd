//! Clients and users of the built-in issuer: from configuration and from an owner-only registry
//! file that `dw clients` and `dw users` manage. Secrets are stored only as Argon2id hashes.

use crate::{secrets, AuthError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An OAuth client (application).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Argon2id hash of the secret; absent for public (PKCE-only) clients.
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// Warehouse tenant its tokens read.
    pub tenant: String,
    /// App roles its client-credentials tokens carry; default the data warehouse permission.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Redirect URIs allowed in the authorization code flow.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Accept `Authorization: Basic id:secret` on the API (TLS or loopback only).
    #[serde(default)]
    pub allow_basic: bool,
}

/// A user of the sign-in page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub username: String,
    /// Argon2id hash of the password.
    pub password_hash: String,
    /// Warehouse tenant the user reads.
    pub tenant: String,
}

/// Clients and users.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Registry {
    /// Clients.
    #[serde(default)]
    pub clients: Vec<Client>,
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
}

impl Registry {
    /// Loads a registry file; a missing file is an empty registry.
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| AuthError::Config(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(AuthError::Config(format!("{}: {e}", path.display()))),
        }
    }

    /// Saves the registry (mode 0600).
    pub fn save(&self, path: &Path) -> Result<(), AuthError> {
        crate::write_private(
            path,
            &serde_json::to_string_pretty(self).expect("serializable"),
        )
        .map_err(|e| AuthError::Config(format!("{}: {e}", path.display())))
    }

    /// Adds a confidential client and returns its secret (shown once, stored hashed).
    pub fn add_client(
        &mut self,
        id: &str,
        tenant: &str,
        redirect_uris: Vec<String>,
        allow_basic: bool,
    ) -> Result<String, AuthError> {
        if self.clients.iter().any(|c| c.id == id) {
            return Err(AuthError::Config(format!("client '{id}' already exists")));
        }
        let secret = secrets::generate_secret();
        self.clients.push(Client {
            id: id.into(),
            secret_hash: Some(secrets::hash_secret(&secret)),
            tenant: tenant.into(),
            roles: Vec::new(),
            redirect_uris,
            allow_basic,
        });
        Ok(secret)
    }

    /// Adds or replaces a user.
    pub fn set_user(&mut self, username: &str, password: &str, tenant: &str) {
        self.users.retain(|u| u.username != username);
        self.users.push(User {
            username: username.into(),
            password_hash: secrets::hash_secret(password),
            tenant: tenant.into(),
        });
    }

    /// Merges another registry (configuration wins on equal ids).
    pub fn merged_with(mut self, other: &Registry) -> Self {
        for c in &other.clients {
            self.clients.retain(|x| x.id != c.id);
            self.clients.push(c.clone());
        }
        for u in &other.users {
            self.users.retain(|x| x.username != u.username);
            self.users.push(u.clone());
        }
        self
    }
}
