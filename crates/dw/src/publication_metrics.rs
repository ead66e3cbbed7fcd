//! The tenants' last publications in the metrics, read from the store: publications by
//! `dw ingest` in another process, and those made before the server started, show as well as
//! the scheduled ones.

use std::sync::Arc;
use std::time::Duration;
use warehouse::{Store, StoreError};

/// How often the publication times are read from the store again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// Sets `dw_last_publication_timestamp_seconds` (Unix seconds) from the store: one series per
/// tenant, labelled `tenant`, when `tenant_labels`; else one series, the least recent of the
/// tenants' last publications, so that one alert on its age covers every tenant without naming
/// any. Tenants never published are left out.
pub fn record(store: &dyn Store, tenant_labels: bool) -> Result<(), StoreError> {
    let tenants = store.tenants()?;
    let published = tenants
        .into_iter()
        .filter_map(|t| Some((t.name, t.published_at?)));
    if tenant_labels {
        for (tenant, at) in published {
            metrics::gauge!("dw_last_publication_timestamp_seconds", "tenant" => tenant)
                .set(at as f64);
        }
    } else if let Some(oldest) = published.map(|(_, at)| at).min() {
        metrics::gauge!("dw_last_publication_timestamp_seconds").set(oldest as f64);
    }
    Ok(())
}

/// Tells the refresher of a publication by this process, so the metrics show it at once.
#[derive(Clone, Default)]
pub struct Published(Arc<tokio::sync::Notify>);

impl Published {
    /// A tenant was just published.
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// Records the publications at once, then every [`REFRESH`] and after each publication
/// `published` is told of, for as long as the server runs.
pub async fn refresh(store: Arc<dyn Store>, tenant_labels: bool, published: Published) {
    loop {
        let store = store.clone();
        match tokio::task::spawn_blocking(move || record(store.as_ref(), tenant_labels)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the tenants' publications for the metrics")
            }
            Err(e) => tracing::warn!(error = %e, "the publications' metrics task stopped"),
        }
        tokio::select! {
            _ = tokio::time::sleep(REFRESH) => {}
            _ = published.0.notified() => {}
        }
    }
}
