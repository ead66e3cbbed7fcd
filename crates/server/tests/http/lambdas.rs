//! Collection-valued navigation: `any`/`all` lambdas and `$count` of a navigation property in
//! `$filter` and `$orderby`, `/{set}({key})/{collection}`, and `$metadata`'s partners; results
//! compared with an evaluation here over the rows of both collections.

use super::*;
use std::collections::BTreeMap;

fn matching(filter: &str) -> BTreeSet<u64> {
    let (rows, _) = all_rows(
        &format!(
            "/devices?api-version=v1.0&$select=deviceKey&$filter={}",
            enc(filter)
        ),
        &[("Prefer", "odata.maxpagesize=50")],
    );
    keys_of(&rows)
}

#[test]
fn lambdas_agree_with_an_independent_evaluation() {
    let devices = devices();
    let histories = histories_by_device();
    let none = Vec::new();
    let of = |d: &Value| {
        histories
            .get(&d["deviceKey"].as_u64().unwrap())
            .unwrap_or(&none)
    };
    type Pred<'a> = Box<dyn Fn(&Value) -> bool + 'a>;
    let cases: Vec<(&str, Pred)> = vec![
        (
            "devicePropertyHistories/any(h: h/complianceStateKey eq 4)",
            Box::new(|d| of(d).iter().any(|h| h["complianceStateKey"] == 4)),
        ),
        (
            "devicePropertyHistories/all(h: h/complianceStateKey eq 2)",
            Box::new(|d| of(d).iter().all(|h| h["complianceStateKey"] == 2)),
        ),
        (
            "devicePropertyHistories/any()",
            Box::new(|d| !of(d).is_empty()),
        ),
        (
            // an unprefixed path in the predicate is the device's own property
            "devicePropertyHistories/any(h: h/osVersion ne osVersion)",
            Box::new(|d| of(d).iter().any(|h| h["osVersion"] != d["osVersion"])),
        ),
        (
            "not devicePropertyHistories/any(h: h/complianceStateKey eq 4) and deviceKey le 100",
            Box::new(|d| {
                !of(d).iter().any(|h| h["complianceStateKey"] == 4)
                    && d["deviceKey"].as_u64().unwrap() <= 100
            }),
        ),
        (
            "devicePropertyHistories/$count ge 30",
            Box::new(|d| of(d).len() >= 30),
        ),
        (
            "devicePropertyHistories/any(h: startswith(h/deviceName, 'DESKTOP') and h/dateKey ge 20261025)",
            Box::new(|d| {
                of(d).iter().any(|h| {
                    h["deviceName"].as_str().is_some_and(|n| n.starts_with("DESKTOP"))
                        && h["dateKey"].as_i64().unwrap() >= 20261025
                })
            }),
        ),
    ];
    for (filter, expected) in &cases {
        let want: BTreeSet<u64> = devices
            .iter()
            .filter(|d| expected(d))
            .map(|d| d["deviceKey"].as_u64().unwrap())
            .collect();
        assert_eq!(matching(filter), want, "{filter}");
    }
    // $count of a navigation property orders too; and a lambda filters $apply's rows
    let v = get_ok(&format!(
        "/users?api-version=v1.0&$select=userKey&$orderby={}&$top=5",
        enc("userDeviceAssociations/$count desc,userKey")
    ));
    let associations = all_rows("/userDeviceAssociations?api-version=v1.0", &[]).0;
    let mut per_user: BTreeMap<u64, usize> = BTreeMap::new();
    for u in get_ok("/users?api-version=v1.0&$select=userKey")["value"]
        .as_array()
        .unwrap()
    {
        per_user.insert(u["userKey"].as_u64().unwrap(), 0);
    }
    for a in &associations {
        *per_user.entry(a["userKey"].as_u64().unwrap()).or_default() += 1;
    }
    let mut ranked: Vec<(u64, usize)> = per_user.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got: Vec<u64> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userKey"].as_u64().unwrap())
        .collect();
    assert_eq!(got, ranked[..5].iter().map(|r| r.0).collect::<Vec<_>>());
    let n = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}",
        enc("filter(devicePropertyHistories/any(h: h/complianceStateKey eq 4))/aggregate($count as n)")
    ));
    let want = devices
        .iter()
        .filter(|d| of(d).iter().any(|h| h["complianceStateKey"] == 4))
        .count();
    assert_eq!(n["value"][0]["n"], want);
}

#[test]
fn a_collection_navigation_path_reads_the_related_rows() {
    let histories = histories_by_device();
    let (rows, pages) = all_rows(
        "/devices(7)/devicePropertyHistories?api-version=v1.0&$select=dateKey,deviceKey",
        &[("Prefer", "odata.maxpagesize=8")],
    );
    assert_eq!(rows.len(), histories[&7].len());
    assert!(pages > 1);
    assert!(rows.iter().all(|r| r["deviceKey"] == 7));
    let v = get_ok(
        "/devices(7)/devicePropertyHistories?api-version=v1.0&$count=true&$top=1&$filter=dateKey%20ge%2020261030",
    );
    let want = histories[&7]
        .iter()
        .filter(|h| h["dateKey"].as_i64().unwrap() >= 20261030)
        .count();
    assert_eq!(v["@odata.count"], want);
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#devicePropertyHistories"));
    // and its count
    let n = get("/devices(7)/devicePropertyHistories/$count?api-version=v1.0&$filter=dateKey%20ge%2020261030");
    assert_eq!((n.status, n.text()), (200, want.to_string()));
    // no such device: no rows
    let v = get_ok("/devices(999999)/devicePropertyHistories?api-version=v1.0");
    assert_eq!(v["value"].as_array().unwrap().len(), 0);
}

#[test]
fn metadata_declares_collection_navigation_as_partners() {
    let xml = get("/$metadata?api-version=v1.0").text();
    assert!(
        xml.contains("<NavigationProperty Name=\"devicePropertyHistories\" Type=\"Collection(")
            && xml.contains("Partner=\"device\"/>"),
        "the device's histories"
    );
    assert!(
        xml.contains("Partner=\"devicePropertyHistories\">"),
        "and back"
    );
    // lookups of fixed rows and the calendar get none
    let block = |name: &str| {
        xml.split("<EntityType Name=\"")
            .find(|b| b.starts_with(&format!("{name}\"")))
            .unwrap()
            .split("</EntityType>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(block("device").contains("Name=\"devicePropertyHistories\" Type=\"Collection("));
    assert!(block("user").contains("Name=\"userDeviceAssociations\" Type=\"Collection("));
    for lookup in ["complianceState", "deviceType", "date"] {
        assert!(!block(lookup).contains("Collection("), "{lookup}");
    }
}

#[test]
fn collection_navigation_errors_are_precise() {
    for (query, status, target) in [
        (
            "$filter=devicePropertyHistories/deviceName%20eq%20'x'",
            400,
            "$filter",
        ),
        (
            "$filter=deviceType/any(t:%20t/deviceTypeKey%20eq%201)",
            400,
            "$filter",
        ),
        (
            "$filter=devicePropertyHistories/any(h:%20h%20eq%201)",
            400,
            "$filter",
        ),
        (
            "$filter=devicePropertyHistories/any(h:%20h/device/deviceName%20eq%20'x')",
            501,
            "$filter",
        ),
        (
            "$filter=devicePropertyHistories/any(h:%20userDeviceAssociations/any())",
            501,
            "$filter",
        ),
        (
            "$expand=devicePropertyHistories($expand=device($expand=devicePropertyHistories))",
            501,
            "$expand",
        ),
        (
            "$expand=deviceType/$ref($select=deviceTypeName)",
            400,
            "$expand",
        ),
        ("$expand=deviceType($apply=identity)", 501, "$expand"),
        (
            "$expand=deviceType($filter=deviceTypeKey%20eq)",
            400,
            "$expand",
        ),
        (
            "$select=deviceKey&$orderby=devicePropertyHistories/$count%20desc",
            200,
            "",
        ),
    ] {
        let r = get(&format!("/devices?api-version=v1.0&{query}"));
        assert_eq!(r.status, status, "{query}: {}", r.text());
        if status != 200 {
            assert_eq!(error_of(&r)["target"], target, "{query}");
        }
    }
    // $expand nests at most 8 levels
    let deep = format!(
        "{}deviceType{}",
        "deviceType($expand=".repeat(9),
        ")".repeat(9)
    );
    let r = get(&format!("/devices?api-version=v1.0&$expand={}", enc(&deep)));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(error_of(&r)["message"]
        .as_str()
        .unwrap()
        .contains("levels deep"));
}
