//! HTTPS with rustls: the certificate and key are PEM files, reloaded on SIGHUP so a renewed
//! certificate needs no restart.

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum_server::tls_rustls::RustlsConfig;
use std::net::SocketAddr;
use std::time::Duration;

/// Serves `make` over TLS on `listener` until a stop signal, then drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    make: IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
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
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    let shutdown = signals.shutdown();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let std_listener = listener.into_std().map_err(|e| e.to_string())?;
    axum_server::from_tcp_rustls(std_listener, config)
        .map_err(|e| e.to_string())?
        .handle(handle)
        .serve(make)
        .await
        .map_err(|e| e.to_string())
}
