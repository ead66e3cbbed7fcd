//! Change tracking: a tracked read, then the deltas of several published days (changes,
//! departures, returns, retention) applied to it, must give exactly what a new read gives; on
//! the store the tests run on (SQLite, then PostgreSQL in `./scripts/test`'s second pass).

use super::*;
use std::collections::BTreeMap;

/// Entities by id, their properties without control information.
type Copy = BTreeMap<String, serde_json::Map<String, Value>>;

const FULL: &str = "application/json;odata.metadata=full";

fn properties(entity: &Value) -> serde_json::Map<String, Value> {
    entity
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.contains('@'))
        .map(|(k, v)| (k.clone(), without_control(v)))
        .collect()
}

/// `v` without control information (expanded entities' ETags name their publication).
fn without_control(v: &Value) -> Value {
    match v {
        Value::Object(_) => Value::Object(properties(v)),
        Value::Array(items) => Value::Array(items.iter().map(without_control).collect()),
        _ => v.clone(),
    }
}

/// Every page of `url` with `headers`: the rows and the last page's delta link.
fn pages(url: &str, headers: &[(&str, &str)]) -> (Vec<Value>, Option<String>) {
    let (mut rows, mut delta) = (Vec::new(), None);
    let mut next = Some(url.to_string());
    while let Some(u) = next.take() {
        let r = request("GET", &u, headers);
        assert_eq!(r.status, 200, "{u}: {}", r.text());
        let v = r.json();
        rows.extend(v["value"].as_array().unwrap().iter().cloned());
        next = v["@odata.nextLink"].as_str().map(str::to_string);
        if next.is_none() {
            delta = v["@odata.deltaLink"].as_str().map(str::to_string);
        }
    }
    (rows, delta)
}

/// What a read of `url` holds now, by entity id.
fn current(url: &str, bearer: &str) -> Copy {
    let (rows, _) = pages(url, &[("Authorization", bearer), ("Accept", FULL)]);
    rows.iter()
        .map(|r| (r["@odata.id"].as_str().unwrap().to_string(), properties(r)))
        .collect()
}

/// Applies the delta at `link` to `copy`; returns the next delta link and how many entries the
/// delta held.
fn apply(copy: &mut Copy, link: &str, bearer: &str) -> (String, usize) {
    let headers = [
        ("Authorization", bearer),
        ("Accept", FULL),
        ("Prefer", "odata.maxpagesize=7"),
    ];
    let (entries, next) = pages(link, &headers);
    let told = entries.len();
    for e in entries {
        let id = e["@id"].as_str().unwrap().to_string();
        if e.get("@removed").is_some() {
            let reason = e["@removed"]["reason"].as_str().unwrap();
            assert!(reason == "deleted" || reason == "changed", "{e}");
            copy.remove(&id);
        } else {
            copy.insert(id, properties(&e));
        }
    }
    (next.expect("a delta ends with a delta link"), told)
}

#[test]
fn deltas_applied_to_a_tracked_read_give_what_a_new_read_gives() {
    let dir = testkit::TempDir::new("delta-snapshots");
    for day in 0..2 {
        demo::snapshot::write_snapshot(&dir.join(format!("day{day}")), 400, day).unwrap();
    }
    let store = testkit::fresh_store("delta");
    let ingest = |day: u32, date: time::Date| {
        let retention = [("devicePropertyHistories", ingest::Retention::Days(1))];
        ingest_day(
            store.as_ref(),
            &dir.join(format!("day{day}")),
            date,
            &retention,
        );
    };
    ingest(0, time::macros::date!(2026 - 11 - 01));
    let (server, bearer) = serve_with_bearer(store.clone());
    let root = &server.root;
    let queries = [
        "devices?api-version=v1.0",
        "devices?api-version=v1.0&$filter=complianceStateKey%20eq%202&$select=deviceKey,deviceName,complianceStateKey,isDeleted",
        "users?api-version=v1.0",
        "currentUsers?api-version=beta",
        "devicePropertyHistories?api-version=v1.0&$filter=deviceKey%20lt%2040",
        "userDeviceAssociations?api-version=v1.0",
        // expansions: of collections (whose rows publications write and retention deletes)
        // and of single entities
        "users?api-version=v1.0&$select=userKey,intuneLicensed&$expand=userDeviceAssociations($select=deviceKey,isDeleted)",
        "devices?api-version=v1.0&$filter=deviceKey%20lt%2030&$select=deviceKey&$expand=devicePropertyHistories($select=dateKey,complianceStateKey)",
        "userDeviceAssociations?api-version=v1.0&$select=userKey,deviceKey&$expand=device($select=deviceName,complianceStateKey),user($select=intuneLicensed)",
    ];
    // the first, tracked read (in small pages, so the delta link ends the last)
    let mut copies: Vec<(String, Copy, String)> = queries
        .iter()
        .map(|q| {
            let url = format!("{root}/{q}");
            let r = request(
                "GET",
                &url,
                &[
                    ("Authorization", bearer.as_str()),
                    ("Prefer", "odata.track-changes, odata.maxpagesize=9"),
                ],
            );
            assert_eq!(r.status, 200, "{url}: {}", r.text());
            let applied = r.header("preference-applied").unwrap_or_default();
            assert!(applied.contains("odata.track-changes"), "{url}: {applied}");
            let (rows, delta) = pages(
                &url,
                &[
                    ("Authorization", bearer.as_str()),
                    ("Accept", FULL),
                    ("Prefer", "odata.track-changes, odata.maxpagesize=9"),
                ],
            );
            assert!(!rows.is_empty(), "{url}");
            let copy = rows
                .iter()
                .map(|r| (r["@odata.id"].as_str().unwrap().to_string(), properties(r)))
                .collect();
            let delta = delta.unwrap_or_else(|| panic!("{url}: a delta link"));
            (url, copy, delta)
        })
        .collect();
    // days that change devices' compliance, retire and enroll devices, take licenses away and
    // give them back, and retire a day of history
    let mut removed = 0;
    for (day, date) in [
        (1, time::macros::date!(2026 - 11 - 02)),
        (0, time::macros::date!(2026 - 11 - 03)),
        (1, time::macros::date!(2026 - 11 - 04)),
    ] {
        ingest(day, date);
        for (url, copy, link) in &mut copies {
            let before = copy.len();
            let told;
            (*link, told) = apply(copy, link, &bearer);
            removed += before.saturating_sub(copy.len());
            let now = current(url, &bearer);
            assert_eq!(*copy, now, "{url} after {date}");
            // a day's changes, not the collection again (every device syncs daily, so devices
            // change every day; a few users do)
            if url.ends_with("/users?api-version=v1.0") {
                assert!(
                    told < now.len() / 2,
                    "{url} after {date}: {told} of {}",
                    now.len()
                );
            }
        }
    }
    assert!(removed > 0, "some entities left the results");
    // nothing changed since the last link: an empty delta and a link
    for (url, copy, link) in &mut copies {
        let told;
        (*link, told) = apply(copy, link, &bearer);
        assert_eq!(told, 0, "{url}");
    }
    // a link bound to another query, or tampered with, is refused
    let (url, _, link) = &copies[0];
    let r = request(
        "GET",
        &link.replace("devices?", "devices?$select=deviceKey&"),
        &[("Authorization", bearer.as_str())],
    );
    assert_eq!(r.status, 400, "{url}: {}", r.text());
    // after a publication that replaces every row, older links are gone: 410 and where to
    // start over
    generate(
        store.as_ref(),
        &small_tenant(3),
        &warehouse::progress::NoProgress,
    )
    .unwrap();
    let r = request("GET", link, &[("Authorization", bearer.as_str())]);
    assert_eq!(r.status, 410, "{}", r.text());
    assert_eq!(error_of(&r)["code"], "Gone");
    let start_over = r.header("location").unwrap();
    assert!(!start_over.contains("deltatoken"), "{start_over}");
    assert_eq!(
        request("GET", start_over, &[("Authorization", bearer.as_str())]).status,
        200
    );
}

#[test]
fn the_preference_is_applied_only_where_changes_can_be_told() {
    for url in [
        "/devices?api-version=v1.0&$top=5",
        "/devices?api-version=v1.0&$apply=aggregate($count%20as%20n)",
        "/users?api-version=v1.0&$expand=userDeviceAssociations($expand=device)",
        "/devices?api-version=v1.0&$expand=devicePropertyHistories($at=2026-10-10)",
        "/devicePropertyHistories?api-version=v1.0&maxhistorydays=3",
        "/policies?api-version=v1.0&$at=2026-10-10",
    ] {
        let r = request("GET", url, &[("Prefer", "odata.track-changes")]);
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        assert!(r.header("preference-applied").is_none(), "{url}");
        assert!(r.json().get("@odata.deltaLink").is_none(), "{url}");
    }
}
