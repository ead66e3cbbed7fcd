//! Reading a snapshot live from Microsoft Graph: an app-only token (client credentials), every
//! page of each source (following `@odata.nextLink`, honouring `Retry-After` on 429 and 503), the
//! raw responses written to the snapshot folder layout — so a live run can be replayed with
//! `dw ingest --from DIR` — and only a complete folder is ingested.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Connection to a tenant's Graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GraphSettings {
    /// Directory (tenant) id.
    pub tenant_id: Option<String>,
    /// App registration with DeviceManagementManagedDevices.Read.All and User.Read.All.
    pub client_id: Option<String>,
    /// Its secret (prefer `DW_GRAPH__CLIENT_SECRET`).
    pub client_secret: Option<String>,
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
            authority: "https://login.microsoftonline.com".into(),
            base_url: "https://graph.microsoft.com/v1.0".into(),
            record_dir: "dw-data/graph".into(),
        }
    }
}

/// The Graph collections of a snapshot and the file each is recorded in.
const SOURCES: &[(&str, &str)] = &[
    ("deviceManagement/managedDevices", "managedDevices.json"),
    (
        "users?$select=id,displayName,userPrincipalName,mail,assignedLicenses",
        "users.json",
    ),
    ("deviceManagement/deviceCategories", "deviceCategories.json"),
];

/// Attempts per request when Graph throttles or is unavailable.
const MAX_ATTEMPTS: u32 = 6;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

fn token(s: &GraphSettings) -> Result<String, String> {
    let missing = |what: &str| format!("[graph] {what} is not configured");
    let tenant = s.tenant_id.as_deref().ok_or_else(|| missing("tenant_id"))?;
    let client = s.client_id.as_deref().ok_or_else(|| missing("client_id"))?;
    let secret = s
        .client_secret
        .as_deref()
        .ok_or_else(|| missing("client_secret"))?;
    let url = format!(
        "{}/{tenant}/oauth2/v2.0/token",
        s.authority.trim_end_matches('/')
    );
    let scope = format!("{}/.default", graph_resource(&s.base_url));
    let mut r = agent()
        .post(&url)
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", scope.as_str()),
        ])
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = r.status().as_u16();
    let text = r
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{url}: {e}"))?;
    let body: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{url}: {e}"))?;
    match body["access_token"].as_str() {
        Some(t) if status == 200 => Ok(t.to_string()),
        _ => Err(format!(
            "sign-in to Graph failed ({status}): {}",
            body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no details")
        )),
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

/// GETs one page, retrying throttled and unavailable answers after `Retry-After`.
fn page(url: &str, token: &str) -> Result<serde_json::Value, String> {
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=MAX_ATTEMPTS {
        let mut r = agent()
            .get(url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        let status = r.status().as_u16();
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
        return Err(format!(
            "{url} answered {status}: {}",
            body.chars().take(300).collect::<String>()
        ));
    }
    Err(format!(
        "{url}: still throttled after {MAX_ATTEMPTS} attempts"
    ))
}

/// Downloads the snapshot of `date` into `record_dir/date` and returns that folder. The folder
/// appears only when every page of every source was read.
pub fn download(s: &GraphSettings, date: time::Date) -> Result<PathBuf, String> {
    let token = token(s)?;
    let root = Path::new(&s.record_dir);
    let done = root.join(date.to_string());
    let partial = root.join(format!(".{date}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    for (path, file) in SOURCES {
        let mut out =
            std::fs::File::create(partial.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let mut next = Some(format!("{}/{path}", s.base_url.trim_end_matches('/')));
        let mut pages = 0;
        while let Some(url) = next.take() {
            let body = page(&url, &token)?;
            writeln!(out, "{body}").map_err(|e| format!("{file}: {e}"))?;
            next = body["@odata.nextLink"].as_str().map(str::to_string);
            pages += 1;
        }
        tracing::info!(source = path, pages, "downloaded from Graph");
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
