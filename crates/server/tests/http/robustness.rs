//! Stale paging tokens after a republish, compression, composite keys and hostile literals, derived facts, data-dependent failures.

use super::*;

#[test]
fn a_token_from_before_a_republish_is_stale() {
    let store = testkit::fresh_store("stale");
    generate(
        store.as_ref(),
        &small_tenant(3),
        &warehouse::progress::NoProgress,
    )
    .unwrap();
    let server = support::start(
        store.clone(),
        10,
        auth::AuthSettings::default(),
        test_registry(),
    );
    let token = support::client_token(&server.base, "test-client", "test-secret");
    let bearer = format!("Bearer {token}");
    let get = |url: &str| request("GET", url, &[("Authorization", bearer.as_str())]);
    let get_ok = |url: &str| {
        let r = get(url);
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        without_etags(r.json())
    };
    let root = server.root;
    let first = get_ok(&format!("{root}/devices?api-version=v1.0"));
    let next = first["@odata.nextLink"].as_str().unwrap().to_string();
    assert_eq!(get(&next).status, 200);
    generate(
        store.as_ref(),
        &small_tenant(3),
        &warehouse::progress::NoProgress,
    )
    .unwrap();
    let r = get(&next);
    assert_eq!(r.status, 400);
    assert!(error_of(&r)["message"]
        .as_str()
        .unwrap()
        .contains("restart from the first page"));
    // after the republish a new export works and sees the same (deterministic) data
    let (rows, _) = all_rows(
        &format!("{root}/devices?api-version=v1.0"),
        &[("Authorization", bearer.as_str())],
    );
    assert_eq!(rows.len(), 40);
    assert_eq!(rows[0], first["value"][0]);
}

/// The raw answer to a GET of `path_and_query` under the service root over a connection of its
/// own, with the fixture's token and `headers` (lines ending in CRLF) as written.
fn raw_get(path_and_query: &str, headers: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let root = &fixture().root;
    let mut s = std::net::TcpStream::connect(root.split('/').nth(2).unwrap()).unwrap();
    let base = &root[root.find(server::BASE_PATH).unwrap()..];
    write!(
        s,
        "GET {base}{path_and_query} HTTP/1.1\r\n{headers}Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
        fixture().token
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    raw
}

#[test]
fn brotli_and_gzip_compression_when_asked() {
    for encoding in ["br", "gzip"] {
        let raw = raw_get(
            "/devices?api-version=v1.0",
            &format!("Host: x\r\nAccept-Encoding: {encoding}\r\n"),
        );
        let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let head = &text[..text.find("\r\n\r\n").unwrap()];
        assert!(
            head.contains(&format!("content-encoding: {encoding}")),
            "{encoding}: {head}"
        );
    }
}

#[test]
fn composite_keys_with_date_times_and_hostile_literals() {
    let a = get_ok("/userDeviceAssociations?api-version=v1.0&$top=1")["value"][0].clone();
    let created = a["createdDateTimeUTC"].as_str().unwrap();
    let url = format!(
        "/userDeviceAssociations(userKey={},deviceKey={},createdDateTimeUTC={created})?api-version=v1.0",
        a["userKey"], a["deviceKey"]
    );
    let e = get_ok(&url);
    assert_eq!(e["deviceKey"], a["deviceKey"]);
    let full = request(
        "GET",
        &url,
        &[("Accept", "application/json;odata.metadata=full")],
    )
    .json();
    assert!(full["@odata.id"]
        .as_str()
        .unwrap()
        .contains(&format!("createdDateTimeUTC={created}")));
    // quotes and SQL in literals are data, never SQL
    for hostile in ["x' OR 1=1 --", "'; DROP TABLE devices; --", "\\\"", "%"] {
        let filter = format!("deviceName eq '{}'", hostile.replace('\'', "''"));
        let v = get_ok(&format!(
            "/devices?api-version=v1.0&$filter={}",
            enc(&filter)
        ));
        assert_eq!(v["value"].as_array().unwrap().len(), 0, "{filter}");
    }
    assert_eq!(
        get("/devices/$count?api-version=v1.0").text(),
        DEVICES.to_string()
    );
}

#[test]
fn derived_facts_agree_with_their_details() {
    // successful enrollments of a day are the devices whose enrollment date is that day
    let (enrollments, _) = all_rows("/enrollmentActivities?api-version=v1.0", &[]);
    let success = get_ok("/enrollmentEventStatuses?api-version=v1.0&$filter=enrollmentEventStatusName%20eq%20'Success'");
    let success_key = success["value"][0]["enrollmentEventStatusKey"]
        .as_u64()
        .unwrap();
    let mut by_day: HashMap<u64, i64> = HashMap::new();
    for d in devices() {
        let day: u64 = d["enrolledDateTime"].as_str().unwrap()[..10]
            .replace('-', "")
            .parse()
            .unwrap();
        *by_day.entry(day).or_default() += 1;
    }
    let fact_days: BTreeSet<u64> = enrollments
        .iter()
        .map(|e| e["dateKey"].as_u64().unwrap())
        .collect();
    assert!(fact_days.len() >= 25);
    for day in &fact_days {
        let successes: i64 = enrollments
            .iter()
            .filter(|e| {
                e["dateKey"].as_u64() == Some(*day)
                    && e["enrollmentEventStatusKey"].as_u64() == Some(success_key)
            })
            .map(|e| e["count"].as_i64().unwrap())
            .sum();
        assert_eq!(successes, *by_day.get(day).unwrap_or(&0), "{day}");
    }
    // policy type activities carry the same counts as the per-policy device activities
    let (types, _) = all_rows("/policyTypeActivities?api-version=v1.0", &[]);
    let (per_policy, _) = all_rows("/policyDeviceActivities?api-version=v1.0", &[]);
    assert_eq!(types.len(), per_policy.len());
    for t in &types {
        let p = per_policy
            .iter()
            .find(|p| p["dateKey"] == t["dateKey"] && p["policyKey"] == t["policyKey"])
            .unwrap();
        for col in ["pending", "succeeded", "error", "failed"] {
            assert_eq!(p[col], t[col]);
        }
    }
    // every active device has at least one profile, so it is counted once a day in one state
    let (profile_days, _) = all_rows(
        "/deviceConfigurationProfileDeviceActivities?api-version=v1.0",
        &[],
    );
    let (histories, _) = all_rows(
        "/devicePropertyHistories?api-version=v1.0&$select=dateKey",
        &[],
    );
    for f in &profile_days {
        let total: i64 = ["pending", "succeeded", "error", "failed"]
            .iter()
            .map(|c| f[*c].as_i64().unwrap())
            .sum();
        let active = histories
            .iter()
            .filter(|h| h["dateKey"] == f["dateKey"])
            .count() as i64;
        assert_eq!(total, active);
    }
    // facts only reference existing dimension rows
    let policy_keys: BTreeSet<u64> = all_rows("/policies?api-version=v1.0", &[])
        .0
        .iter()
        .map(|p| p["policyKey"].as_u64().unwrap())
        .collect();
    assert!(per_policy
        .iter()
        .all(|p| policy_keys.contains(&p["policyKey"].as_u64().unwrap())));
    let date_keys: BTreeSet<u64> = all_rows("/dates?api-version=v1.0", &[])
        .0
        .iter()
        .map(|d| d["dateKey"].as_u64().unwrap())
        .collect();
    assert_eq!(date_keys.len(), 30);
    assert!(histories
        .iter()
        .all(|h| date_keys.contains(&h["dateKey"].as_u64().unwrap())));
}

#[test]
fn data_dependent_failures_are_client_errors_never_500() {
    // SQLite turns an integer overflow into a real; PostgreSQL refuses it: a 400 either way
    for filter in [
        "deviceKey mul 9223372036854775807 gt 0",
        "totalStorageSpaceInBytes mul totalStorageSpaceInBytes gt 0",
        "-totalStorageSpaceInBytes sub 9223372036854775807 lt 0",
    ] {
        let r = get(&format!(
            "/devices/$count?api-version=v1.0&$filter={}",
            enc(filter)
        ));
        assert!(
            r.status == 200 || r.status == 400,
            "{filter}: {} {}",
            r.status,
            r.text()
        );
        if r.status == 400 {
            assert!(error_of(&r)["message"]
                .as_str()
                .unwrap()
                .contains("cannot be evaluated"));
        }
    }
}

#[test]
fn hosts_repeated_options_and_sniffing_are_refused() {
    let raw = |host_lines: &str| {
        String::from_utf8_lossy(&raw_get("/devices?api-version=v1.0&$top=1", host_lines))
            .into_owned()
    };
    // the Host goes into @odata.context and next links when no public URL is set
    let fine = raw("Host: reports.example:8443\r\n");
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
    assert!(fine.contains("http://reports.example:8443/"), "{fine}");
    for host in [
        "Host: evil.example?x=\r\n",
        "Host: a\"b\r\n",
        "Host: x:99999\r\n",
        "Host: a\r\nHost: b\r\n",
    ] {
        let answer = raw(host);
        assert!(answer.starts_with("HTTP/1.1 400"), "{host}: {answer}");
        assert!(answer.contains("\"target\":\"Host\""), "{answer}");
    }
    // which one counts would be a guess
    for query in [
        "api-version=v1.0&api-version=beta",
        "api-version=v1.0&maxhistorydays=3&MaxHistoryDays=30",
    ] {
        let r = get(&format!("/devicePropertyHistories?{query}&$top=1"));
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert!(r.text().contains("more than once"), "{}", r.text());
    }
    let r = get("/devices?api-version=v1.0&$top=1&$expand=deviceType($levels=max)");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let r = get("/nothing?api-version=v1.0");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}
