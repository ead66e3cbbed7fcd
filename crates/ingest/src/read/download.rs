//! Reading a snapshot live from Microsoft Graph: an app-only token (client credentials), every
//! page of each source (following `@odata.nextLink`, honouring `Retry-After` on 429 and 503), the
//! raw responses written to the snapshot folder layout — so a live run can be replayed with
//! `dw ingest --from DIR` — and only a complete folder is ingested.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sources::all_sources;
use crate::Progress;

/// Connection to a tenant's Graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphSettings {
    /// Directory (tenant) id.
    pub tenant_id: Option<String>,
    /// App registration with DeviceManagementManagedDevices.Read.All and User.Read.All.
    pub client_id: Option<String>,
    /// Its secret (prefer `DW_GRAPH__CLIENT_SECRET`).
    pub client_secret: Option<String>,
    /// Instead of a secret: a PEM file with the app's certificate and its RSA private key, for a
    /// signed client assertion (the certificate uploaded to the app registration).
    pub client_certificate: Option<String>,
    /// Sign-in authority.
    pub authority: String,
    /// Graph base URL.
    pub base_url: String,
    /// Where the raw responses of each run are kept (`DIR/YYYY-MM-DD/`).
    pub record_dir: String,
}

impl Default for GraphSettings {
    fn default() -> Self {
        Self {
            tenant_id: None,
            client_id: None,
            client_secret: None,
            client_certificate: None,
            authority: "https://login.microsoftonline.com".into(),
            base_url: "https://graph.microsoft.com/v1.0".into(),
            record_dir: "dw-data/graph".into(),
        }
    }
}

/// Attempts per request when Graph throttles or is unavailable.
const MAX_ATTEMPTS: u32 = 6;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

/// The PEM block of `label` in `pem` (`CERTIFICATE`, `PRIVATE KEY`, ...), as text.
fn pem_block<'a>(pem: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)?;
    let stop = pem[start..].find(&end)? + start + end.len();
    Some(&pem[start..stop])
}

/// Largest client certificate file read (a certificate and its key are a few KB).
const MAX_CERTIFICATE_BYTES: u64 = 1 << 20;

/// A client assertion signed with the app's certificate (RFC 7523, as Entra ID wants it: PS256,
/// the certificate's SHA-256 thumbprint in `x5t#S256`, audience the token endpoint).
fn client_assertion(pem_path: &str, client: &str, token_url: &str) -> Result<String, String> {
    use base64::Engine;
    use sha2::Digest;
    let pem = safe_files::read_regular_to_string(Path::new(pem_path), MAX_CERTIFICATE_BYTES)
        .map_err(|e| format!("[graph] client_certificate {pem_path}: {e}"))?;
    let cert = pem_block(&pem, "CERTIFICATE")
        .ok_or_else(|| format!("[graph] client_certificate {pem_path} holds no certificate"))?;
    let body: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| format!("[graph] client_certificate {pem_path}: {e}"))?;
    let key = pem_block(&pem, "PRIVATE KEY")
        .or_else(|| pem_block(&pem, "RSA PRIVATE KEY"))
        .ok_or_else(|| format!("[graph] client_certificate {pem_path} holds no RSA private key"))?;
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes())
        .map_err(|e| format!("[graph] client_certificate {pem_path}: {e}"))?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 =
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&der)));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "aud": token_url, "iss": client, "sub": client, "jti": hex::encode(rand::random::<[u8; 16]>()),
        "nbf": now, "iat": now, "exp": now + 600,
    });
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| format!("client assertion: {e}"))
}

/// Signs in (client credentials); returns the token and how long it lasts.
fn sign_in(s: &GraphSettings) -> Result<(String, Duration), String> {
    let missing = |what: &str| format!("[graph] {what} is not configured");
    let tenant = s.tenant_id.as_deref().ok_or_else(|| missing("tenant_id"))?;
    let client = s.client_id.as_deref().ok_or_else(|| missing("client_id"))?;
    let url = format!(
        "{}/{tenant}/oauth2/v2.0/token",
        s.authority.trim_end_matches('/')
    );
    let scope = format!("{}/.default", graph_resource(&s.base_url));
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("scope", scope.as_str()),
    ];
    let assertion = match (&s.client_secret, &s.client_certificate) {
        (Some(secret), _) => {
            form.push(("client_secret", secret.as_str()));
            None
        }
        (None, Some(pem)) => Some(client_assertion(pem, client, &url)?),
        (None, None) => return Err(missing("client_secret or client_certificate")),
    };
    if let Some(assertion) = &assertion {
        form.push((
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
        form.push(("client_assertion", assertion.as_str()));
    }
    let mut r = agent()
        .post(&url)
        .send_form(form)
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = r.status().as_u16();
    let text = r
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{url}: {e}"))?;
    let body: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{url}: {e}"))?;
    let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3599));
    match body["access_token"].as_str() {
        Some(t) if status == 200 => Ok((t.to_string(), lifetime)),
        _ => Err(format!(
            "sign-in to Graph failed ({status}): {}",
            body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no details")
        )),
    }
}

/// An app-only sign-in to Graph for one download, renewed before its token expires and when Graph
/// refuses it (a run over a large tenant can outlast a token).
struct Session<'a> {
    settings: &'a GraphSettings,
    token: String,
    renew_at: std::time::Instant,
}

impl<'a> Session<'a> {
    fn start(settings: &'a GraphSettings) -> Result<Self, String> {
        let mut session = Self {
            settings,
            token: String::new(),
            renew_at: std::time::Instant::now(),
        };
        session.renew()?;
        Ok(session)
    }

    fn renew(&mut self) -> Result<(), String> {
        let (token, lifetime) = sign_in(self.settings)?;
        self.token = token;
        // renew five minutes early (or halfway through a short lifetime)
        let margin = Duration::from_secs(300).min(lifetime / 2);
        self.renew_at = std::time::Instant::now() + lifetime - margin;
        Ok(())
    }

    /// The current token, renewed first when it is about to expire.
    fn bearer(&mut self) -> Result<String, String> {
        if std::time::Instant::now() >= self.renew_at {
            self.renew()?;
        }
        Ok(format!("Bearer {}", self.token))
    }
}

/// `https://graph.microsoft.com` of `https://graph.microsoft.com/v1.0`.
fn graph_resource(base: &str) -> String {
    let base = base.trim_end_matches('/');
    match base.rfind('/') {
        Some(i) if base[..i].contains("://") && base[i + 1..].starts_with(['v', 'b']) => {
            base[..i].to_string()
        }
        _ => base.to_string(),
    }
}

/// GETs one page, retrying throttled and unavailable answers after `Retry-After` and a refused
/// token once after signing in again; a refusal names the `permission` the app registration lacks.
fn page(
    url: &str,
    session: &mut Session<'_>,
    permission: &str,
) -> Result<serde_json::Value, String> {
    let mut wait = Duration::from_secs(1);
    let mut renewed = false;
    for attempt in 1..=MAX_ATTEMPTS {
        let mut r = agent()
            .get(url)
            .header("Authorization", &session.bearer()?)
            .call()
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = r.status().as_u16();
        if status == 401 && !renewed {
            tracing::info!(url, "Graph refused the token; signing in again");
            session.renew()?;
            renewed = true;
            continue;
        }
        if status == 200 {
            let bytes = r
                .body_mut()
                .with_config()
                .limit(256 << 20)
                .read_to_vec()
                .map_err(|e| format!("{url}: {e}"))?;
            return serde_json::from_slice(&bytes)
                .map_err(|e| format!("{url}: malformed response: {e}"));
        }
        if (status == 429 || status == 503) && attempt < MAX_ATTEMPTS {
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let pause = retry_after.unwrap_or(wait).min(Duration::from_secs(300));
            tracing::warn!(
                url,
                status,
                seconds = pause.as_secs(),
                "Graph throttled the request; waiting"
            );
            std::thread::sleep(pause);
            wait = (wait * 2).min(Duration::from_secs(60));
            continue;
        }
        let body = r.body_mut().read_to_string().unwrap_or_default();
        if status == 403 {
            return Err(format!(
                "{url} answered 403: the app registration needs the {permission} application permission (with admin consent)"
            ));
        }
        return Err(format!(
            "{url} answered {status}: {}",
            body.chars().take(300).collect::<String>()
        ));
    }
    Err(format!(
        "{url}: still throttled after {MAX_ATTEMPTS} attempts"
    ))
}

/// Downloads every page of `url` into `file` (one response per line); returns the entities.
fn download_pages(
    url: String,
    session: &mut Session<'_>,
    permission: &str,
    file: &Path,
    progress: (&dyn Progress, &str),
) -> Result<Vec<serde_json::Value>, String> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut out = std::fs::File::create(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut next = Some(url);
    let mut entities = Vec::new();
    while let Some(url) = next.take() {
        let body = page(&url, session, permission)?;
        writeln!(out, "{body}").map_err(|e| format!("{}: {e}", file.display()))?;
        next = body["@odata.nextLink"].as_str().map(str::to_string);
        match body["value"].as_array() {
            Some(items) => entities.extend(items.iter().cloned()),
            None => entities.push(body.clone()),
        }
        progress.0.download_page(progress.1);
    }
    Ok(entities)
}

/// Downloads the snapshot of `date` into `record_dir/date` and returns that folder. The folder
/// appears only when every page of every source was read.
pub fn download(
    s: &GraphSettings,
    date: time::Date,
    progress: &dyn Progress,
) -> Result<PathBuf, String> {
    let mut session = Session::start(s)?;
    let base = s.base_url.trim_end_matches('/');
    let beta = base.ends_with("/beta");
    let root = Path::new(&s.record_dir);
    let done = root.join(date.to_string());
    // two downloads of a day at once (a scheduled run and a manual one) take turns: each
    // removed the other's folder half-way
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let _turn = safe_files::lock(&root.join(format!(".{date}")))
        .map_err(|e| format!("{}: {e}", root.display()))?;
    let partial = root.join(format!(".{date}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    for source in all_sources().filter(|s| beta || !s.beta) {
        progress.download_started(source.name);
        let entities = download_pages(
            format!("{base}/{}", source.path),
            &mut session,
            source.permission,
            &partial.join(format!("{}.json", source.name)),
            (progress, source.name),
        )?;
        let children: Vec<&str> = source
            .children
            .iter()
            .chain(source.beta_children.iter().filter(|_| beta))
            .copied()
            .collect();
        let collection = source.path.split('?').next().unwrap_or(source.path);
        for entity in entities.iter().filter(|_| !children.is_empty()) {
            let Some(id) = entity["id"].as_str() else {
                return Err(format!("{collection}: an entity has no id"));
            };
            // an id goes into a URL and a folder name: refuse anything but an id's characters
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Err(format!("{collection}: unexpected entity id {id:?}"));
            }
            for child in &children {
                download_pages(
                    format!("{base}/{collection}/{id}/{child}"),
                    &mut session,
                    source.permission,
                    &partial
                        .join(source.name)
                        .join(id)
                        .join(format!("{child}.json")),
                    (progress, source.name),
                )?;
            }
        }
        progress.download_finished(source.name, entities.len() as u64);
        tracing::info!(
            source = source.path,
            entities = entities.len(),
            "downloaded from Graph"
        );
    }
    let _ = std::fs::remove_dir_all(&done);
    std::fs::rename(&partial, &done).map_err(|e| format!("{}: {e}", done.display()))?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    #[test]
    fn resource_of_the_base_url() {
        assert_eq!(
            super::graph_resource("https://graph.microsoft.com/v1.0"),
            "https://graph.microsoft.com"
        );
        assert_eq!(
            super::graph_resource("https://graph.microsoft.com/beta/"),
            "https://graph.microsoft.com"
        );
        assert_eq!(
            super::graph_resource("http://127.0.0.1:9/graph"),
            "http://127.0.0.1:9/graph"
        );
    }
}
