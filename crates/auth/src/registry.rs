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

/// Why `uri` cannot be a redirect URI, if it cannot: it must be absolute, without a fragment
/// (RFC 6749 3.1.2), with a port of at most 65535.
pub fn redirect_uri_problem(uri: &str) -> Option<&'static str> {
    if uri.contains('#') {
        return Some("a redirect URI must not have a fragment (#...)");
    }
    let Ok(parsed) = uri.parse::<ureq::http::Uri>() else {
        return Some("a redirect URI must be an absolute URI");
    };
    if parsed.scheme().is_none() || parsed.authority().is_none() {
        return Some("a redirect URI must be an absolute URI");
    }
    let authority = parsed.authority().map_or("", |a| a.as_str());
    let port = authority
        .rsplit_once(':')
        .filter(|(host, _)| !host.ends_with(']') || authority.starts_with('['))
        .map(|(_, port)| port)
        .filter(|port| !port.contains(']'));
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Some("a redirect URI's port must be a number up to 65535");
    }
    None
}

/// A loopback redirect URI's parts that must match (RFC 8252 7.3): host, path and query; `None`
/// for a URI that is not `http` to a loopback host.
fn loopback_parts(uri: &str) -> Option<(String, String)> {
    let uri: ureq::http::Uri = uri.parse().ok()?;
    let host = uri.host()?.to_ascii_lowercase();
    let loopback = ["localhost", "127.0.0.1", "[::1]"].contains(&host.as_str());
    if uri.scheme_str() != Some("http") || !loopback {
        return None;
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Some((host, if path.is_empty() { "/" } else { path }.to_string()))
}

impl Client {
    /// Whether the authorization code flow may send a code to `redirect_uri`: one of the
    /// registered URIs exactly, or, for a registered `http` loopback URI (`http://localhost`,
    /// `http://127.0.0.1`, `http://[::1]`), the same host and path on any port, since native
    /// applications (MSAL's interactive sign-in, Power BI Desktop) listen on a port chosen at run
    /// time (RFC 8252 7.3).
    pub fn allows_redirect(&self, redirect_uri: &str) -> bool {
        redirect_uri_problem(redirect_uri).is_none()
            && self.redirect_uris.iter().any(|r| {
                r == redirect_uri
                    || loopback_parts(r)
                        .is_some_and(|registered| loopback_parts(redirect_uri) == Some(registered))
            })
    }
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

/// How a new client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// With a secret at the token endpoint.
    Confidential,
    /// With a secret at the token endpoint, and with `Authorization: Basic` on the API.
    ConfidentialWithBasic,
    /// Without a secret: PKCE only (desktop and command-line applications, which cannot keep
    /// one).
    Public,
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
        match safe_files::read_regular_to_string(path, crate::MAX_REGISTRY_BYTES) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| AuthError::Config(format!("{}: {e}", path.display()))),
            Err(e) if e.is_not_found() => Ok(Self::default()),
            Err(e) => Err(AuthError::Config(format!("{}: {e}", path.display()))),
        }
    }

    /// Saves the registry (mode 0600).
    pub fn save(&self, path: &Path) -> Result<(), AuthError> {
        safe_files::write_private(
            path,
            serde_json::to_string_pretty(self)
                .expect("serializable")
                .as_bytes(),
        )
        .map_err(|e| AuthError::Config(format!("{}: {e}", path.display())))
    }

    /// Adds a client; a confidential one's secret is returned (shown once, stored hashed).
    pub fn add_client(
        &mut self,
        id: &str,
        tenant: &str,
        redirect_uris: Vec<String>,
        kind: ClientKind,
    ) -> Result<Option<String>, AuthError> {
        if self.clients.iter().any(|c| c.id == id) {
            return Err(AuthError::Config(format!("client '{id}' already exists")));
        }
        if let Some((uri, problem)) = redirect_uris
            .iter()
            .find_map(|u| redirect_uri_problem(u).map(|p| (u, p)))
        {
            return Err(AuthError::Config(format!("{uri}: {problem}")));
        }
        if kind == ClientKind::Public && redirect_uris.is_empty() {
            return Err(AuthError::Config(
                "a public client signs users in: give it at least one redirect URI".into(),
            ));
        }
        let secret = (kind != ClientKind::Public).then(secrets::generate_secret);
        self.clients.push(Client {
            id: id.into(),
            secret_hash: secret.as_deref().map(secrets::hash_secret),
            tenant: tenant.into(),
            roles: Vec::new(),
            redirect_uris,
            allow_basic: kind == ClientKind::ConfidentialWithBasic,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn client(redirect_uris: &[&str]) -> Client {
        Client {
            id: "app".into(),
            secret_hash: None,
            tenant: "acme".into(),
            roles: Vec::new(),
            redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
            allow_basic: false,
        }
    }

    #[test]
    fn redirect_uris_without_fragments_or_impossible_ports() {
        for bad in [
            "http://localhost/cb#x",
            "https://app.example/cb#",
            "http://localhost:65536/cb",
            "http://127.0.0.1:99999/",
            "/relative/cb",
        ] {
            assert!(redirect_uri_problem(bad).is_some(), "{bad}");
            assert!(
                !client(&["http://localhost/cb"]).allows_redirect(bad),
                "{bad}"
            );
        }
        for good in [
            "http://localhost:65535/cb",
            "https://app.example/cb?x=1",
            "http://[::1]:8400/",
        ] {
            assert_eq!(redirect_uri_problem(good), None, "{good}");
        }
        let mut r = Registry::default();
        let e = r
            .add_client(
                "web",
                "t",
                vec!["http://localhost/cb#f".into()],
                ClientKind::Public,
            )
            .unwrap_err();
        assert!(e.to_string().contains("fragment"), "{e}");
    }

    #[test]
    fn loopback_redirects_admit_any_port_and_nothing_else_varies() {
        let c = client(&["http://localhost", "http://127.0.0.1/callback"]);
        for ok in [
            "http://localhost",
            "http://localhost:53123",
            "http://localhost:53123/",
            "http://127.0.0.1:8400/callback",
            "http://127.0.0.1/callback",
        ] {
            assert!(c.allows_redirect(ok), "{ok}");
        }
        for refused in [
            "https://localhost:53123/",
            "http://localhost.evil.example:53123/",
            "http://localhost:53123/other",
            "http://127.0.0.1:8400/callback?x=1",
            "http://127.0.0.1:8400/",
            "http://localhost@evil.example/",
        ] {
            assert!(!c.allows_redirect(refused), "{refused}");
        }
        let web = client(&["https://app.example.com/signin"]);
        assert!(web.allows_redirect("https://app.example.com/signin"));
        assert!(!web.allows_redirect("https://app.example.com:8443/signin"));
    }

    #[test]
    fn public_clients_have_no_secret_and_need_a_redirect_uri() {
        let mut r = Registry::default();
        assert!(r
            .add_client("cli", "acme", Vec::new(), ClientKind::Public)
            .is_err());
        let secret = r
            .add_client(
                "cli",
                "acme",
                vec!["http://localhost".into()],
                ClientKind::Public,
            )
            .unwrap();
        assert_eq!(secret, None);
        assert!(r.clients[0].secret_hash.is_none() && !r.clients[0].allow_basic);
        let secret = r
            .add_client("svc", "acme", Vec::new(), ClientKind::ConfidentialWithBasic)
            .unwrap();
        assert!(secret.is_some() && r.clients[1].allow_basic);
    }
}
