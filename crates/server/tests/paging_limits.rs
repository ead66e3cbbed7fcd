//! Paging links stay small whatever the sort values: a page ends at a row whose sort values fit
//! in a token, and a sort that never gives such a row is refused with a clear error.
//!
//! Runs on SQLite, and on PostgreSQL with `DW_TEST_STORE=postgres` (as `./scripts/test` does).

use demo::{generate, GenerateOptions};
use serde_json::Value;
use warehouse::sql::{PlannedQuery, SqlValue};

mod support;

#[test]
fn long_sort_values_never_make_long_links() {
    let store = testkit::fresh_store("long_sort");
    let opts = GenerateOptions {
        tenant: "demo".into(),
        devices: 40,
        users: 50,
        days: 30,
        seed: 9,
        end_date: time::macros::date!(2026 - 11 - 01),
    };
    generate(store.as_ref(), &opts, &warehouse::progress::NoProgress).unwrap();
    // eight devices share a 100 KB name, so pages end on them
    let long = format!("M{}", "x".repeat(100_000));
    let p = |i: usize| {
        if store.dialect().name() == "postgres" {
            format!("${i}")
        } else {
            format!("?{i}")
        }
    };
    store
        .update_tenant("demo", &mut |tx, t| {
            tx.execute(&PlannedQuery {
                sql: format!(
                    "UPDATE \"devices\" SET \"deviceName\" = {} WHERE \"_tenant\" = {} AND \"deviceKey\" BETWEEN 5 AND 12",
                    p(1),
                    p(2)
                ),
                params: vec![SqlValue::Text(long.clone()), SqlValue::Integer(t.id)],
                tenant: Some(t.id),
                planning: std::time::Duration::ZERO,
                client: None,
            })?;
            Ok(t.snapshot_date_key.unwrap_or(0))
        })
        .unwrap();
    let (server, token) = support::serve_demo(store, 1000);
    let agent = support::agent();
    let get = |url: &str| {
        let mut r = agent
            .get(url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Prefer", "odata.maxpagesize=3")
            .call()
            .unwrap();
        let status = r.status().as_u16();
        let body = r
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .unwrap();
        (status, body)
    };

    for order in ["deviceName", "deviceName desc"] {
        let mut next = Some(format!(
            "{}/devices?api-version=v1.0&$select=deviceKey,deviceName&$orderby={}",
            server.root,
            order.replace(' ', "%20")
        ));
        let mut names = Vec::new();
        let mut keys = Vec::new();
        while let Some(url) = next.take() {
            assert!(url.len() < 16 * 1024, "a {} byte link", url.len());
            let (status, body) = get(&url);
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            for row in v["value"].as_array().unwrap() {
                names.push(row["deviceName"].as_str().unwrap().to_string());
                keys.push(row["deviceKey"].as_u64().unwrap());
            }
            next = v["@odata.nextLink"].as_str().map(str::to_string);
        }
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 40, "{order}: every device exactly once");
        assert_eq!(names.len(), 40, "{order}: every device exactly once");
        let mut sorted = names.clone();
        sorted.sort();
        if order.ends_with("desc") {
            sorted.reverse();
        }
        assert!(names == sorted, "{order}: in order");
    }

    // a sort whose values are too long for a link for more than the page extension (1000 rows)
    // is refused, not paged with huge links
    let mut doubled = "deviceName".to_string();
    for _ in 0..9 {
        doubled = format!("concat({doubled},{doubled})");
    }
    let (status, body) = get(&format!(
        "{}/devicePropertyHistories?api-version=v1.0&$select=deviceKey&$orderby={doubled}",
        server.root
    ));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("more than a paging link carries"), "{body}");
}
