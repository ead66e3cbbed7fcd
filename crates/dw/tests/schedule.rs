//! `dw serve --ingest-schedule`: the day's folder is ingested at the scheduled time and the
//! outcome is reported on `/status/ingest`.

mod support;

use std::time::{Duration, Instant};

fn get(url: &str, token: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .get(url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn the_scheduled_ingestion_publishes_the_day_and_reports_it() {
    let dir = testkit::TempDir::new("schedule-test");
    let fixture = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../ingest/tests/fixtures/graph/day1");
    let now = time::OffsetDateTime::now_utc();
    // a run publishes the day that ended last: yesterday's folder, and today's in case the run
    // falls after midnight
    for date in [now.date().previous_day().unwrap(), now.date()] {
        let day = dir.join("snapshots").join(date.to_string());
        std::fs::create_dir_all(&day).unwrap();
        for f in ["managedDevices.json", "users.json"] {
            std::fs::copy(fixture.join(f), day.join(f)).unwrap();
        }
    }
    support::dw_ok(&dir, &["clients", "add", "ops", "--tenant", "acme"]);
    let metrics_at = support::closed_address();
    let at = now + time::Duration::seconds(3);
    let at = format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second());
    let server = support::start(
        &dir,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tenant",
            "acme",
            "--ingest-schedule",
            &at,
            "--ingest-from",
            "snapshots",
            "--metrics-listen",
            &metrics_at,
        ],
        "schedule",
    );
    let base = server.base.clone();
    let token = support::dw_ok(
        &dir,
        &[
            "token",
            "--client",
            "ops",
            "--tenant",
            "acme",
            "--public-url",
            &base,
        ],
    )
    .trim()
    .to_string();
    let (status, body) = get(&format!("{base}/status/ingest"), &token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"scheduled\":true"), "{body}");
    assert_eq!(get(&format!("{base}/status/ingest"), "bad").0, 401);
    // another tenant's client sees no schedule
    support::dw_ok(&dir, &["clients", "add", "other", "--tenant", "globex"]);
    server.signal("HUP");
    let other = support::dw_ok(
        &dir,
        &[
            "token",
            "--client",
            "other",
            "--tenant",
            "globex",
            "--public-url",
            &base,
        ],
    )
    .trim()
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let last = loop {
        let v: serde_json::Value =
            serde_json::from_str(&get(&format!("{base}/status/ingest"), &token).1).unwrap();
        if !v["lastRun"].is_null() {
            break v["lastRun"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled run did not happen: {v}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(last["outcome"], "published", "{last}");
    let (status, theirs) = get(&format!("{base}/status/ingest"), &other);
    assert_eq!((status, theirs.as_str()), (200, r#"{"scheduled":false}"#));
    assert_eq!(last["rowsWritten"]["devices"], 3);
    let (status, count) = get(
        &format!("{base}/ReportingService/DataWarehouseFEService/devices/$count?api-version=v1.0"),
        &token,
    );
    assert_eq!((status, count.as_str()), (200, "3"));
    // the run in the metrics
    let mut resp = ureq::get(&format!("http://{metrics_at}/metrics"))
        .call()
        .unwrap();
    let text = resp.body_mut().read_to_string().unwrap();
    let value = |series: &str| {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(
        value("dw_ingestion_runs_total{outcome=\"published\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("dw_ingestion_rows_written_total{collection=\"devices\"}"),
        Some(3.0),
        "{text}"
    );
    assert!(
        value("dw_last_publication_timestamp_seconds").unwrap() > 1.7e9,
        "{text}"
    );
    assert_eq!(
        value("dw_ingestion_duration_seconds_count"),
        Some(1.0),
        "{text}"
    );
    server.stop();
}
