//! The daily ingestion schedule of `dw serve --ingest-schedule`.

use crate::error::{CliError, CliResult};
use ingest::{ingest_csv_folder, ingest_graph_folder, IngestOptions, Retention};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use warehouse::Store;

/// Parses `HH:MM` or `HH:MM:SS` (UTC).
pub fn parse_time(text: &str) -> CliResult<time::Time> {
    let parts: Vec<&str> = text.split(':').collect();
    let n = |i: usize| {
        parts
            .get(i)
            .map_or(Ok(0), |p| p.parse::<u8>())
            .map_err(|_| CliError::Usage(format!("'{text}' is not HH:MM or HH:MM:SS")))
    };
    if !(2..=3).contains(&parts.len()) {
        return Err(CliError::Failed(format!(
            "'{text}' is not HH:MM or HH:MM:SS"
        )));
    }
    time::Time::from_hms(n(0)?, n(1)?, n(2)?)
        .map_err(|_| CliError::Usage(format!("'{text}' is not a time of day")))
}

/// Time until the next `at` (UTC), strictly in the future.
fn until_next(at: time::Time) -> std::time::Duration {
    let now = time::OffsetDateTime::now_utc();
    let mut next = now.replace_time(at);
    if next <= now {
        next += time::Duration::days(1);
    }
    (next - now).try_into().unwrap_or_default()
}

/// What every scheduled run applies (retention and the snapshot limits), and whom it tells.
pub struct Rules {
    /// Retention per fact collection.
    pub retention: BTreeMap<String, Retention>,
    /// Bounds on the snapshot (the deletion guard is always on for scheduled runs).
    pub limits: ingest::SnapshotLimits,
    /// Told of each publication (the metrics read the publication times again).
    pub published: crate::publication_metrics::Published,
}

/// Most characters of a failed run's message on `/status/ingest`.
const MAX_REPORTED_ERROR_CHARS: usize = 2000;

/// Runs the ingestion at `at` every day, publishing the day that ended last, and records the
/// outcome in `status`. `from` is a folder of per-day snapshot folders, or `graph` to read live
/// from Microsoft Graph.
pub async fn run(
    at: time::Time,
    from: PathBuf,
    graph: ingest::download::GraphSettings,
    store: Arc<dyn Store>,
    tenant: String,
    rules: Rules,
    status: Arc<RwLock<serde_json::Value>>,
) {
    *status.write().expect("lock") = serde_json::json!({
        "scheduled": true, "tenant": tenant, "at": format!("{at} UTC"), "from": from.display().to_string(), "lastRun": null
    });
    loop {
        tokio::time::sleep(until_next(at)).await;
        let now = time::OffsetDateTime::now_utc();
        // each run publishes the UTC day that ended last: its state as of now and all of its
        // activity (enrollments, check-ins, ...)
        let date = now.date().previous_day().unwrap_or(now.date());
        let opts = IngestOptions {
            tenant: tenant.clone(),
            date,
            backfill: false,
            any_day: false,
            now_micros: (now.unix_timestamp_nanos() / 1000) as i64,
            retention: rules.retention.clone(),
            limits: rules.limits.clone(),
        };
        let (store, from, graph) = (store.clone(), from.clone(), graph.clone());
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || -> CliResult<_> {
            let dir = if from.as_os_str() == "graph" {
                ingest::download::download(&graph, date, &crate::progress::Bars::hidden())
                    .map_err(CliError::Failed)?
            } else {
                from.join(date.to_string())
            };
            let summary = if dir.join("devices.csv").exists() {
                ingest_csv_folder(store.as_ref(), &dir, &opts)
            } else {
                ingest_graph_folder(store.as_ref(), &dir, &opts)
            };
            Ok(summary?)
        })
        .await;
        let seconds = started.elapsed().as_secs_f64();
        let last = match result {
            Ok(Ok(summary)) => {
                record_publication(&summary, seconds);
                rules.published.notify();
                let t = summary.tenant.as_ref().expect("published");
                tracing::info!(date = %date, generation = t.generation, seconds, "scheduled ingestion published");
                serde_json::json!({
                    "outcome": "published", "date": date.to_string(), "generation": t.generation, "seconds": seconds,
                    "recordsRead": summary.records_read, "rowsWritten": summary.rows_written,
                    "unknownEnumValues": summary.unknown_enums, "skipped": summary.unmatched,
                })
            }
            Ok(Err(e)) => {
                let e = e.to_string();
                record_failure(seconds);
                tracing::error!(date = %date, error = %auth::log_safe(&e), "scheduled ingestion failed; nothing was published");
                // cut: a failure's message can quote the snapshot's data
                let error: String = e.chars().take(MAX_REPORTED_ERROR_CHARS).collect();
                serde_json::json!({ "outcome": "failed", "date": date.to_string(), "error": error, "seconds": seconds })
            }
            Err(_) => serde_json::json!({
                "outcome": "failed", "date": date.to_string(), "error": "the ingestion task stopped unexpectedly"
            }),
        };
        let mut s = status.write().expect("lock");
        s["lastRun"] = last;
        s["lastRunAt"] = serde_json::json!(now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default());
    }
}

/// A published run in the metrics: its outcome and duration, the rows it wrote per collection,
/// and the enumeration values it did not know (its time of publication is read from the store
/// with the other tenants', [`crate::publication_metrics`]).
fn record_publication(summary: &ingest::IngestSummary, seconds: f64) {
    metrics::counter!("dw_ingestion_runs_total", "outcome" => "published").increment(1);
    metrics::histogram!("dw_ingestion_duration_seconds").record(seconds);
    for (collection, rows) in &summary.rows_written {
        metrics::counter!("dw_ingestion_rows_written_total", "collection" => collection.clone())
            .increment(*rows);
    }
    metrics::counter!("dw_ingestion_unknown_enum_values_total")
        .increment(summary.unknown_enums.values().sum());
}

/// A failed run in the metrics (nothing was published).
fn record_failure(seconds: f64) {
    metrics::counter!("dw_ingestion_runs_total", "outcome" => "failed").increment(1);
    metrics::histogram!("dw_ingestion_duration_seconds").record(seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("00:00").unwrap(), time::Time::MIDNIGHT);
        assert_eq!(
            parse_time("23:59:30").unwrap(),
            time::macros::time!(23:59:30)
        );
        assert!(
            parse_time("24:00").is_err() && parse_time("7").is_err() && parse_time("a:b").is_err()
        );
        assert!(until_next(time::Time::MIDNIGHT) <= std::time::Duration::from_secs(86_400));
    }
}
