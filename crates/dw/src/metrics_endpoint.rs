//! The Prometheus endpoint of `dw serve --metrics-listen`: the recorder, its upkeep, and
//! `/metrics` served through the service's own accept loop and connection limits. The
//! exporter's built-in listener has neither time-outs nor a bound on connections, so a client
//! that reached the metrics address could hold the process's file descriptors, and with them
//! the service.

use crate::error::{CliError, CliResult};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use server::listen::ConnectionLimits;
use std::future::Future;
use std::time::Duration;

/// Connections the metrics address serves at once (a scraper or two and an operator); more
/// wait in the kernel's queue.
pub const MAX_CONNECTIONS: usize = 16;

/// How often histograms are drained into their summaries (as the exporter's listener does).
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder for the whole process, with its upkeep on `runtime`.
pub fn install(runtime: &tokio::runtime::Handle) -> CliResult<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| CliError::Failed(format!("cannot record metrics: {e}")))?;
    let upkeep = handle.clone();
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP).await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// Serves `GET /metrics` (the text exposition format) on `listener` with the time-outs of
/// `limits` and at most [`MAX_CONNECTIONS`], until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let text = handle.render();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text,
                )
                    .into_response()
            }
        }),
    );
    let limits = ConnectionLimits {
        max_connections: MAX_CONNECTIONS,
        ..limits
    };
    let plain = |socket| async move { Ok::<_, std::io::Error>(socket) };
    server::listen::serve(listener, app, limits, plain, shutdown).await;
}
