//! HTTPS with rustls: the certificate and key are PEM files, reloaded on SIGHUP so a renewed
//! certificate needs no restart. Connections go through the same accept loop and limits as
//! plain HTTP ([`server::listen`]); the handshake is part of the header-read time-out.

use crate::error::{CliError, CliResult};
use axum_server::tls_rustls::RustlsConfig;
use server::listen::ConnectionLimits;
use tokio_rustls::TlsAcceptor;

/// Serves `app` over TLS on `listener` until a stop signal, then drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    cert: &str,
    key: &str,
    signals: &crate::signals::Signals,
) -> CliResult<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (cert_pem, key_pem) = read_pem_files(cert, key)?;
    let config = RustlsConfig::from_pem(cert_pem, key_pem)
        .await
        .map_err(CliError::io_doing(format!(
            "cannot load TLS certificate {cert} / key {key}"
        )))?;
    let reload = config.clone();
    let (cert_path, key_path) = (cert.to_string(), key.to_string());
    let mut hangups = signals.hangups();
    tokio::spawn(async move {
        while hangups.recv().await.is_ok() {
            let (c, k) = (cert_path.clone(), key_path.clone());
            let read = tokio::task::spawn_blocking(move || read_pem_files(&c, &k))
                .await
                .unwrap_or_else(|e| Err(CliError::Failed(e.to_string())));
            let reloaded = match read {
                Ok((cert_pem, key_pem)) => reload
                    .reload_from_pem(cert_pem, key_pem)
                    .await
                    .map_err(CliError::io_doing("the TLS certificate")),
                Err(e) => Err(e),
            };
            match reloaded {
                Ok(()) => tracing::info!("reloaded the TLS certificate"),
                Err(e) => {
                    tracing::error!(error = %e, "cannot reload the TLS certificate; keeping the previous one")
                }
            }
        }
    });
    let handshake = move |socket: tokio::net::TcpStream| {
        // the current certificate, as last reloaded
        let acceptor = TlsAcceptor::from(config.get_inner());
        async move { acceptor.accept(socket).await }
    };
    server::listen::serve(listener, app, limits, handshake, signals.shutdown()).await;
    Ok(())
}

/// Largest certificate chain or key file read (a chain is a few KB).
pub const MAX_PEM_BYTES: u64 = 1 << 20;

/// The certificate chain and key files: regular files of at most [`MAX_PEM_BYTES`].
fn read_pem_files(cert: &str, key: &str) -> CliResult<(Vec<u8>, Vec<u8>)> {
    let read = |what: &str, path: &str| {
        safe_files::read_regular(std::path::Path::new(path), MAX_PEM_BYTES)
            .map_err(|e| CliError::Usage(format!("TLS {what} {path}: {e}")))
    };
    Ok((read("certificate", cert)?, read("key", key)?))
}
