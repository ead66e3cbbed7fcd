//! HTTPS with rustls: the certificate and key are PEM files, reloaded on SIGHUP so a renewed
//! certificate needs no restart. Connections go through the same accept loop and limits as
//! plain HTTP ([`server::listen`]); the handshake is part of the header-read time-out.

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
) -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = RustlsConfig::from_pem_file(cert, key)
        .await
        .map_err(|e| format!("cannot load TLS certificate {cert} / key {key}: {e}"))?;
    let reload = config.clone();
    let (cert_path, key_path) = (cert.to_string(), key.to_string());
    let mut hangups = signals.hangups();
    tokio::spawn(async move {
        while hangups.recv().await.is_ok() {
            match reload.reload_from_pem_file(&cert_path, &key_path).await {
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
