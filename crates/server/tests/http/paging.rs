//! Collections in both versions and server-driven paging.

use super::*;

#[test]
fn service_document_lists_every_collection_of_each_version() {
    for version in ApiVersion::ALL {
        let v = get_ok(&format!("?api-version={}", version.as_str()));
        let names: BTreeSet<String> = v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect();
        let expected: BTreeSet<String> = Warehouse::get()
            .collections
            .iter()
            .filter(|c| c.in_version(version))
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(names, expected);
        assert!(v["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["kind"] == "EntitySet" && e["url"] == e["name"]));
    }
}

#[test]
fn every_collection_answers_in_both_versions_with_its_properties() {
    for version in ApiVersion::ALL {
        for c in Warehouse::get().collections.iter() {
            let url = format!("/{}?api-version={}&$top=3", c.name, version.as_str());
            let r = get(&url);
            if !c.in_version(version) {
                assert_eq!(r.status, 404, "{url}");
                assert!(error_of(&r)["message"].as_str().unwrap().contains("beta"));
                continue;
            }
            assert_eq!(r.status, 200, "{url}: {}", r.text());
            let v = without_etags(r.json());
            let rows = v["value"].as_array().unwrap();
            assert!(!rows.is_empty(), "{} has rows", c.name);
            let props: BTreeSet<&str> = c.properties.iter().map(|p| p.name.as_str()).collect();
            for row in rows {
                let keys: BTreeSet<&str> = row
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(keys, props, "{}", c.name);
            }
            assert!(v["@odata.context"]
                .as_str()
                .unwrap()
                .ends_with(&format!("$metadata#{}", c.name)));
        }
    }
}

#[test]
fn paging_returns_every_row_exactly_once() {
    let count = get_ok("/devicePropertyHistories?api-version=v1.0&$count=true&$top=0")
        ["@odata.count"]
        .as_u64()
        .unwrap();
    let r = request(
        "GET",
        "/devicePropertyHistories?api-version=v1.0",
        &[("Prefer", "odata.maxpagesize=700")],
    );
    assert_eq!(
        r.header("preference-applied"),
        Some("odata.maxpagesize=700")
    );
    let (rows, pages) = all_rows(
        "/devicePropertyHistories?api-version=v1.0&$select=deviceKey,osVersion",
        &[("Prefer", "odata.maxpagesize=700")],
    );
    assert_eq!(rows.len() as u64, count);
    assert_eq!(pages as u64, count.div_ceil(700));
    // the key is not selected; use the selected properties of a stable order check instead
    let (rows, _) = all_rows(
        "/devicePropertyHistories?api-version=v1.0",
        &[("Prefer", "odata.maxpagesize=700")],
    );
    let keys: BTreeSet<(u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["dateKey"].as_u64().unwrap(),
                r["deviceKey"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys.len() as u64, count, "no duplicates");
    let ordered: Vec<(u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["dateKey"].as_u64().unwrap(),
                r["deviceKey"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(ordered.windows(2).all(|w| w[0] < w[1]), "key order");
}

#[test]
fn paging_by_a_nullable_descending_order_is_complete_and_ordered() {
    let all = get_ok(
        "/devices?api-version=v1.0&$select=deviceKey,lastSyncDateTime,androidSecurityPatchLevel",
    )["value"]
        .as_array()
        .unwrap()
        .clone();
    let (rows, pages) = all_rows(
        "/devices?api-version=v1.0&$orderby=androidSecurityPatchLevel%20desc,lastSyncDateTime&$select=deviceKey,androidSecurityPatchLevel,lastSyncDateTime",
        &[("Prefer", "odata.maxpagesize=37")],
    );
    assert!(pages > 5);
    assert_eq!(rows.len(), all.len());
    let keys: BTreeSet<u64> = rows
        .iter()
        .map(|r| r["deviceKey"].as_u64().unwrap())
        .collect();
    assert_eq!(keys.len(), all.len());
    let sort_key = |r: &Value| {
        (
            std::cmp::Reverse(r["androidSecurityPatchLevel"].as_str().map(str::to_string)),
            r["lastSyncDateTime"].as_str().map(str::to_string),
            r["deviceKey"].as_u64(),
        )
    };
    assert!(rows.windows(2).all(|w| sort_key(&w[0]) <= sort_key(&w[1])));
}

#[test]
fn top_beyond_a_page_continues_and_skip_works_beside_paging() {
    let (rows, pages) = all_rows(
        "/devicePropertyHistories?api-version=v1.0&$top=2500",
        &[("Prefer", "odata.maxpagesize=1000")],
    );
    assert_eq!((rows.len(), pages), (2500, 3));
    let (rows, _) = all_rows("/devicePropertyHistories?api-version=v1.0&$top=1000", &[]);
    assert_eq!(rows.len(), 1000);
    let v = get_ok("/devicePropertyHistories?api-version=v1.0&$top=1000");
    assert!(
        v.get("@odata.nextLink").is_none(),
        "$top satisfied by one page"
    );
    let full = get_ok("/devices?api-version=v1.0&$select=deviceKey")["value"]
        .as_array()
        .unwrap()
        .clone();
    let (skipped, _) = all_rows(
        "/devices?api-version=v1.0&$select=deviceKey&$skip=100",
        &[("Prefer", "odata.maxpagesize=50")],
    );
    assert_eq!(skipped.as_slice(), &full[100..]);
    let (window, _) = all_rows(
        "/devices?api-version=v1.0&$select=deviceKey&$skip=10&$top=120",
        &[("Prefer", "odata.maxpagesize=50")],
    );
    assert_eq!(window.as_slice(), &full[10..130]);
}

#[test]
fn forged_or_foreign_skiptokens_are_rejected() {
    let v = get_ok("/devices?api-version=v1.0&$top=100&$select=deviceKey");
    assert!(v.get("@odata.nextLink").is_none());
    let r = request(
        "GET",
        "/devices?api-version=v1.0",
        &[("Prefer", "odata.maxpagesize=10")],
    );
    let next = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    let token = next.split("$skiptoken=").nth(1).unwrap().to_string();
    let mut forged = token.clone().into_bytes();
    forged[2] = if forged[2] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for bad in [
        format!("/devices?api-version=v1.0&$skiptoken={forged}"),
        "/devices?api-version=v1.0&$skiptoken=xyz".to_string(),
        format!("/users?api-version=v1.0&$skiptoken={token}"),
        format!("/devices?api-version=v1.0&$filter=deviceKey%20gt%205&$skiptoken={token}"),
    ] {
        let r = get(&bad);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(error_of(&r)["target"], "$skiptoken");
    }
    assert_eq!(get(&next).status, 200);
    // a token belongs to the options that shape the rows, whatever order the URL gives them in
    let r = request(
        "GET",
        "/devices?api-version=v1.0&$filter=deviceKey%20gt%205&$select=deviceKey",
        &[("Prefer", "odata.maxpagesize=10")],
    );
    let next = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    let token = next.split("$skiptoken=").nth(1).unwrap().to_string();
    let reordered = format!(
        "/devices?$select=deviceKey&api-version=v1.0&$skiptoken={token}&$filter=deviceKey%20gt%205"
    );
    assert_eq!(get(&reordered).status, 200, "{reordered}");
    for bad in [
        format!("/devices?api-version=v1.0&$filter=deviceKey%20gt%205&$skiptoken={token}"),
        format!("/devices?api-version=v1.0&$filter=deviceKey%20gt%205&$select=deviceName&$skiptoken={token}"),
        format!("/devices?api-version=v1.0&$filter=deviceKey%20gt%205&$select=deviceKey&$orderby=deviceKey&$skiptoken={token}"),
    ] {
        let r = get(&bad);
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(error_of(&r)["target"], "$skiptoken");
    }
}
