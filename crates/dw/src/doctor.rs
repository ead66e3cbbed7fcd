//! `dw doctor`: checks a deployment the way an operator would before trusting it: the
//! configuration, the store (reachable, migrated, intact, tenants isolated), file permissions of
//! what holds secrets or data, each trusted issuer's discovery and keys (and the clock against
//! it), the TLS certificate, and the ingestion schedule with the last publication. Each line is
//! OK, WARN or FAIL with what to do; the exit code is 0 only when nothing failed.

use crate::error::{CliError, CliResult};
use crate::settings::CommonArgs;
use crate::settings::{self, Settings, StoreUrl};
use clap::Args;
use std::path::Path;
use std::time::{Duration, SystemTime};
use warehouse::sql::PlannedQuery;
use warehouse::{Store, Warehouse};

/// `dw doctor`.
#[derive(Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    common: CommonArgs,
}

/// How a check came out.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// The lines printed so far.
#[derive(Default)]
struct Report {
    worst: Option<Level>,
}

impl Report {
    fn line(&mut self, level: Level, subject: &str, message: impl AsRef<str>) {
        let tag = match level {
            Level::Ok => "OK  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        println!("{tag} {subject:<12} {}", message.as_ref());
        self.worst = self.worst.max(Some(level));
    }
}

/// Runs every check; an error when any failed.
pub(crate) fn run(a: DoctorArgs) -> CliResult<()> {
    let mut report = Report::default();
    let settings = match Settings::load(
        a.common.config.as_deref(),
        &settings::Overrides::from_common(&a.common),
    ) {
        Ok(s) => {
            let from = a
                .common
                .config
                .as_ref()
                .map_or("defaults and environment".to_string(), |c| {
                    c.display().to_string()
                });
            report.line(Level::Ok, "config", format!("loaded ({from})"));
            s
        }
        Err(e) => {
            report.line(
                Level::Fail,
                "config",
                format!("{e}: fix the file or the DW_* variable it names"),
            );
            return Err(CliError::Failed("the configuration does not load".into()));
        }
    };
    // before the store is opened, which tightens its own file's mode
    permission_checks(&settings, &mut report);
    store_checks(&settings, &mut report);
    issuer_checks(&settings, &mut report);
    tls_checks(&settings, &mut report);
    schedule_checks(&settings, &mut report);
    match report.worst {
        Some(Level::Fail) => Err(CliError::Failed("some checks failed".into())),
        _ => Ok(()),
    }
}

/// The store answers, is migrated (opening it migrates), is intact (SQLite) or isolates tenants
/// (PostgreSQL row-level security), and has published tenants.
fn store_checks(settings: &Settings, report: &mut Report) {
    let store = match crate::settings::open_store(settings) {
        Ok(s) => {
            report.line(
                Level::Ok,
                "store",
                format!("{} opened, migrations applied", redacted(&settings.store)),
            );
            s
        }
        Err(e) => {
            report.line(
                Level::Fail,
                "store",
                format!("{e}: check the store URL, that the server runs, and the credentials"),
            );
            return;
        }
    };
    match store.dialect().name() {
        "sqlite" => match single_text(store.as_ref(), "PRAGMA quick_check") {
            Ok(result) if result == "ok" => report.line(Level::Ok, "integrity", "quick_check: ok"),
            Ok(result) => report.line(
                Level::Fail,
                "integrity",
                format!("quick_check: {result}; restore the latest backup (README, \"Backups\")"),
            ),
            Err(e) => report.line(Level::Fail, "integrity", e.to_string()),
        },
        _ => {
            let names: Vec<String> = Warehouse::get()
                .collections
                .iter()
                .map(|c| format!("'{}'", c.name))
                .collect();
            let sql = format!(
                "SELECT COUNT(*) FROM pg_class WHERE relkind = 'r' AND relname IN ({}) AND relnamespace = to_regnamespace(current_schema())::oid AND NOT (relrowsecurity AND relforcerowsecurity)",
                names.join(", ")
            );
            match single_text(store.as_ref(), &sql) {
                Ok(n) if n == "0" => report.line(
                    Level::Ok,
                    "isolation",
                    "row-level security is forced on every collection table",
                ),
                Ok(n) => report.line(
                    Level::Fail,
                    "isolation",
                    format!("{n} collection tables lack forced row-level security; run dw serve once as the tables' owner to apply the migrations"),
                ),
                Err(e) => report.line(Level::Fail, "isolation", e.to_string()),
            }
        }
    }
    match store.tenants() {
        Ok(tenants) if tenants.is_empty() => report.line(
            Level::Warn,
            "tenants",
            "none yet: dw ingest (or dw generate for a demo) publishes the first",
        ),
        Ok(tenants) => {
            for t in tenants {
                match t.snapshot_date_key {
                    Some(day) => report.line(
                        Level::Ok,
                        "tenants",
                        format!("{}: published up to {day}", t.name),
                    ),
                    None => report.line(
                        Level::Warn,
                        "tenants",
                        format!("{}: nothing published yet", t.name),
                    ),
                }
            }
        }
        Err(e) => report.line(Level::Fail, "tenants", e.to_string()),
    }
}

/// The first column of the first row of `sql`, as text.
fn single_text(store: &dyn Store, sql: &str) -> CliResult<String> {
    let mut out = None;
    store.stream(
        &PlannedQuery {
            sql: sql.to_string(),
            params: Vec::new(),
            tenant: None,
            planning: std::time::Duration::ZERO,
            client: None,
        },
        &mut |row| {
            out = Some(match row.cell(0) {
                warehouse::store::Cell::Text(s) => s.to_string(),
                warehouse::store::Cell::Integer(i) => i.to_string(),
                warehouse::store::Cell::Real(f) => f.to_string(),
                warehouse::store::Cell::Null => String::new(),
            });
            false
        },
    )?;
    out.ok_or_else(|| CliError::Failed("no answer".into()))
}

/// A store URL without its password.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Files that hold data or secrets are regular files readable by their owner only.
fn permission_checks(settings: &Settings, report: &mut Report) {
    let mut files = Vec::new();
    if let Ok(StoreUrl::Sqlite(db)) = settings.store_url() {
        files.push(db);
    }
    if let Ok(dir) = settings.data_dir() {
        for name in ["signing-keys.json", "auth-registry.json", "paging.key"] {
            files.push(dir.join(name));
        }
    }
    if let Some(key) = &settings.tls_key {
        files.push(key.into());
    }
    for file in files.iter().filter(|f| f.exists()) {
        if std::fs::metadata(file).is_ok_and(|m| !m.is_file()) {
            report.line(
                Level::Fail,
                "permissions",
                format!(
                    "{} {}: put the file itself there",
                    file.display(),
                    safe_files::ReadError::NotRegular
                ),
            );
            continue;
        }
        match mode(file) {
            Some(m) if m & 0o077 == 0 => report.line(
                Level::Ok,
                "permissions",
                format!("{} ({m:o})", file.display()),
            ),
            Some(m) => report.line(
                Level::Warn,
                "permissions",
                format!(
                    "{} is readable by others ({m:o}): chmod 600 {}",
                    file.display(),
                    file.display()
                ),
            ),
            None => {}
        }
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn mode(_: &Path) -> Option<u32> {
    None
}

/// Each trusted issuer's discovery document and keys answer, and the clock agrees with it.
fn issuer_checks(settings: &Settings, report: &mut Report) {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    for issuer in &settings.auth.issuers {
        let subject = "issuer";
        let jwks_uri = match &issuer.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let discovery = issuer.discovery_url.clone().unwrap_or_else(|| {
                    format!(
                        "{}/.well-known/openid-configuration",
                        issuer.issuer.trim_end_matches('/')
                    )
                });
                match fetch_json(&agent, &discovery) {
                    Ok((doc, date)) => {
                        clock(report, &issuer.issuer, date, settings.auth.clock_skew_secs);
                        match doc["jwks_uri"].as_str() {
                            Some(u) => u.to_string(),
                            None => {
                                report.line(
                                    Level::Fail,
                                    subject,
                                    format!("{discovery} names no jwks_uri"),
                                );
                                continue;
                            }
                        }
                    }
                    Err(e) => {
                        report.line(
                            Level::Fail,
                            subject,
                            format!("{discovery}: {e}; check the URL and the network"),
                        );
                        continue;
                    }
                }
            }
        };
        match fetch_json(&agent, &jwks_uri) {
            Ok((keys, _)) if keys["keys"].as_array().is_some_and(|k| !k.is_empty()) => report.line(
                Level::Ok,
                subject,
                format!(
                    "{}: {} signing keys",
                    issuer.issuer,
                    keys["keys"].as_array().map_or(0, Vec::len)
                ),
            ),
            Ok(_) => report.line(Level::Fail, subject, format!("{jwks_uri} holds no keys")),
            Err(e) => report.line(Level::Fail, subject, format!("{jwks_uri}: {e}")),
        }
    }
}

/// A JSON document and the response's `Date`.
fn fetch_json(
    agent: &ureq::Agent,
    url: &str,
) -> CliResult<(serde_json::Value, Option<SystemTime>)> {
    let failed = |e: &dyn std::fmt::Display| CliError::Failed(e.to_string());
    let mut resp = agent.get(url).call().map_err(|e| failed(&e))?;
    if !resp.status().is_success() {
        return Err(CliError::Failed(format!("HTTP {}", resp.status())));
    }
    let date = resp
        .headers()
        .get("date")
        .and_then(|d| d.to_str().ok())
        .and_then(httpdate);
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(|e| failed(&e))?;
    let body = serde_json::from_str(&text).map_err(|e| failed(&e))?;
    Ok((body, date))
}

/// An RFC 7231 date (`Tue, 01 Dec 2026 03:10:00 GMT`).
fn httpdate(text: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(text, &format).ok()?;
    Some(t.assume_utc().into())
}

/// The local clock against the issuer's `Date`, which token lifetimes depend on.
fn clock(report: &mut Report, issuer: &str, date: Option<SystemTime>, allowed: u64) {
    let Some(date) = date else {
        return;
    };
    let now = SystemTime::now();
    let skew = now
        .duration_since(date)
        .or_else(|_| date.duration_since(now))
        .unwrap_or_default()
        .as_secs();
    if skew > allowed.max(5) {
        report.line(
            Level::Warn,
            "clock",
            format!("{skew} s away from {issuer} (tokens allow {allowed} s): synchronize the clock (NTP)"),
        );
    } else {
        report.line(Level::Ok, "clock", format!("within {skew} s of {issuer}"));
    }
}

/// The TLS certificate is readable, valid and not about to expire.
fn tls_checks(settings: &Settings, report: &mut Report) {
    let Some(cert) = &settings.tls_cert else {
        return;
    };
    let pem = match safe_files::read_regular(Path::new(cert), crate::tls::MAX_PEM_BYTES) {
        Ok(p) => p,
        Err(e) => {
            report.line(Level::Fail, "tls", format!("{cert}: {e}"));
            return;
        }
    };
    let parsed = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| e.to_string())
        .and_then(|(_, p)| {
            p.parse_x509()
                .map(|c| c.validity().not_after.timestamp())
                .map_err(|e| e.to_string())
        });
    match parsed {
        Ok(not_after) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let days = (not_after - now) / 86_400;
            if not_after <= now {
                report.line(
                    Level::Fail,
                    "tls",
                    format!(
                        "{cert} expired {} days ago: renew it, then systemctl reload dw",
                        -days
                    ),
                );
            } else if days < 14 {
                report.line(
                    Level::Warn,
                    "tls",
                    format!("{cert} expires in {days} days: renew it (SIGHUP reloads it)"),
                );
            } else {
                report.line(
                    Level::Ok,
                    "tls",
                    format!("{cert} valid for {days} more days"),
                );
            }
        }
        Err(e) => report.line(
            Level::Fail,
            "tls",
            format!("{cert}: not a PEM certificate ({e})"),
        ),
    }
}

/// The daily ingestion's time and folder.
fn schedule_checks(settings: &Settings, report: &mut Report) {
    let Some(at) = &settings.ingest_schedule else {
        report.line(
            Level::Ok,
            "schedule",
            "no scheduled ingestion (dw ingest runs it by hand)",
        );
        return;
    };
    if let Err(e) = crate::schedule::parse_time(at) {
        report.line(
            Level::Fail,
            "schedule",
            format!("ingest_schedule '{at}': {e}"),
        );
        return;
    }
    match &settings.ingest_from {
        Some(from) if Path::new(from).is_dir() => report.line(
            Level::Ok,
            "schedule",
            format!("daily at {at} UTC from {from}"),
        ),
        Some(from) => report.line(
            Level::Fail,
            "schedule",
            format!("ingest_from '{from}' is not a folder"),
        ),
        None => report.line(
            Level::Fail,
            "schedule",
            "ingest_schedule is set without ingest_from",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_dates_read() {
        assert_eq!(
            redacted("postgres://dw:secret@db:5432/dw"),
            "postgres://dw:***@db:5432/dw"
        );
        assert_eq!(
            redacted("sqlite:dw-data/warehouse.db"),
            "sqlite:dw-data/warehouse.db"
        );
        assert!(httpdate("Tue, 01 Dec 2026 03:10:00 GMT").is_some());
        assert!(httpdate("yesterday").is_none());
    }
}
