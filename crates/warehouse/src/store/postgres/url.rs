//! What a `postgres://` URL says besides what rust-postgres reads: the statement timeout
//! (`statement_timeout=30s`; default 60 s, `0` for none; every transaction of the service sets it)
//! and TLS (rustls). `sslmode` says whether and how:
//!
//! | `sslmode` | TLS | server certificate |
//! |---|---|---|
//! | absent, `disable` | no | - |
//! | `prefer` | when the server offers it | chain verified, host name not |
//! | `require`, `verify-ca` | always | chain verified, host name not |
//! | `verify-full` | always | chain and host name verified |
//!
//! The chain is verified against `sslrootcert=PATH` (PEM, as libpq names it) when given, else
//! against the Mozilla root certificates. Unlike libpq, `require` without a root certificate still
//! verifies the chain: an unverified server would make TLS pointless against an attacker between
//! the service and its database.

use crate::store::StoreError;
use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The statement timeout when the URL names none.
const DEFAULT_STATEMENT_TIMEOUT: &str = "60s";

/// How to connect, from a `postgres://` URL.
pub struct Connection {
    /// rust-postgres' settings.
    pub config: postgres::Config,
    /// The TLS connector (used as `sslmode` says).
    pub tls: MakeRustlsConnect,
    /// The `statement_timeout` of every transaction (`60s`, `500ms`, `0` for none).
    pub statement_timeout: String,
}

/// Whether `text` is a PostgreSQL duration `statement_timeout` accepts: digits and a unit.
fn is_duration(text: &str) -> bool {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && ["", "ms", "s", "min", "h"].contains(&&text[digits..])
}

/// The `statement_timeout` (as [`is_duration`] accepts it) less `spent`, as PostgreSQL reads
/// it: what is left of a statement's budget once it was planned (at least a millisecond; `0`,
/// no limit, stays so).
pub fn less(timeout: &str, spent: std::time::Duration) -> String {
    let digits = timeout.chars().take_while(char::is_ascii_digit).count();
    let amount: u64 = timeout[..digits].parse().unwrap_or(0);
    let unit_ms: u64 = match &timeout[digits..] {
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        _ => 1,
    };
    if amount == 0 || spent.is_zero() {
        return timeout.to_string();
    }
    let left = amount
        .saturating_mul(unit_ms)
        .saturating_sub(spent.as_millis().try_into().unwrap_or(u64::MAX));
    format!("{}ms", left.max(1))
}

/// The connection settings, TLS connector and statement timeout of a `postgres://` URL.
pub fn connection(url: &str) -> Result<Connection, StoreError> {
    let invalid = |e: String| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}"));
    // the settings rust-postgres does not know are taken out before it reads the URL
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut root_cert = None;
    let mut mode = None;
    let mut statement_timeout = DEFAULT_STATEMENT_TIMEOUT.to_string();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslrootcert", path)) => root_cert = Some(path.to_string()),
            Some(("sslmode", m)) => mode = Some(m.to_string()),
            Some(("statement_timeout", t)) if is_duration(t) => statement_timeout = t.to_string(),
            Some(("statement_timeout", t)) => {
                return Err(invalid(format!(
                    "statement_timeout '{t}' is not a duration like 30s, 500ms or 2min"
                )))
            }
            _ => kept.push(pair),
        }
    }
    let (ssl_mode, check_host) = match mode.as_deref() {
        None | Some("disable") => (SslMode::Disable, false),
        Some("prefer") => (SslMode::Prefer, false),
        Some("require") | Some("verify-ca") => (SslMode::Require, false),
        Some("verify-full") => (SslMode::Require, true),
        Some(other) => {
            return Err(invalid(format!(
                "sslmode '{other}' is not disable, prefer, require, verify-ca or verify-full"
            )))
        }
    };
    let plain = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: postgres::Config = plain.parse().map_err(|e| invalid(format!("{e}")))?;
    config.ssl_mode(ssl_mode);
    let roots = root_store(root_cert.as_deref())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| StoreError::Unavailable(format!("TLS for PostgreSQL: {e}")))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Unavailable(format!("TLS for PostgreSQL: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainVerifier {
            inner: verifier,
            check_host,
        }))
        .with_no_client_auth();
    Ok(Connection {
        config,
        tls: MakeRustlsConnect::new(tls),
        statement_timeout,
    })
}

/// An error with its causes (`error performing TLS handshake: invalid peer certificate: ...`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    if text.contains("UnknownIssuer") {
        text.push_str(
            " (name the CA of the server's certificate with sslrootcert=PATH in the URL)",
        );
    }
    text
}

/// Largest `sslrootcert` file read (a system's whole CA bundle is about 200 KB).
const MAX_ROOT_CERTS_BYTES: u64 = 4 << 20;

/// The certificates server chains must lead to.
fn root_store(path: Option<&str>) -> Result<rustls::RootCertStore, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    let Some(path) = path else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    };
    let unreadable = |e: String| StoreError::Unavailable(format!("sslrootcert {path}: {e}"));
    let pem = safe_files::read_regular(std::path::Path::new(path), MAX_ROOT_CERTS_BYTES)
        .map_err(|e| unreadable(e.to_string()))?;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots
            .add(cert.map_err(|e| unreadable(e.to_string()))?)
            .map_err(|e| unreadable(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(unreadable("holds no certificate".into()));
    }
    Ok(roots)
}

/// Verifies the server's chain always and its host name only when asked (`verify-full`).
#[derive(Debug)]
struct ChainVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check_host: bool,
}

impl ServerCertVerifier for ChainVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_host => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planning_is_taken_from_the_statement_timeout() {
        let ms = std::time::Duration::from_millis;
        assert_eq!(less("60s", ms(250)), "59750ms");
        assert_eq!(less("2min", ms(0)), "2min");
        assert_eq!(less("500ms", ms(900)), "1ms");
        assert_eq!(less("0", ms(900)), "0");
        assert_eq!(less("1h", ms(1)), "3599999ms");
        assert_eq!(less("30", ms(10)), "20ms");
    }

    #[test]
    fn statement_timeouts_and_modes_from_the_url() {
        let c = connection("postgres://dw@db/dw").unwrap();
        assert_eq!(c.statement_timeout, "60s");
        assert_eq!(c.config.get_ssl_mode(), SslMode::Disable);
        let c = connection(
            "postgres://dw@db/dw?statement_timeout=5min&sslmode=verify-full&application_name=x",
        )
        .unwrap();
        assert_eq!(c.statement_timeout, "5min");
        assert_eq!(c.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(c.config.get_application_name(), Some("x"));
        for bad in [
            "statement_timeout=soon",
            "statement_timeout=5 s",
            "sslmode=allow",
        ] {
            let e = connection(&format!("postgres://dw@db/dw?{bad}"))
                .err()
                .expect("refused")
                .to_string();
            assert!(
                e.starts_with("store unavailable: invalid PostgreSQL URL"),
                "{e}"
            );
        }
    }
}
