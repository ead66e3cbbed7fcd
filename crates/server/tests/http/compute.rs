//! `$compute` and `compute(...)` in `$apply`: computed values compared with the same values
//! computed here from the rows; filtering, ordering, selecting and paging by them; errors.

use super::*;
use std::collections::BTreeMap;

const GIB: i64 = 1 << 30;

#[test]
fn computed_properties_agree_with_an_independent_evaluation() {
    let devices = devices();
    let compute = enc("totalStorageSpaceInBytes div 1073741824 as storageGB,\
         freeStorageSpaceInBytes mul 100 div totalStorageSpaceInBytes as freePercent,\
         concat(manufacturer,concat(' ',model)) as label");
    let url = format!(
        "/devices?api-version=v1.0&$compute={compute}&$filter=storageGB%20ge%20256&$orderby=freePercent%20desc,storageGB&$select=deviceKey,storageGB,freePercent,label"
    );
    let whole = get_ok(&url);
    assert!(
        whole["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#devices(deviceKey,storageGB,freePercent,label)"),
        "{}",
        whole["@odata.context"]
    );
    let rows = whole["value"].as_array().unwrap().clone();
    let mut expected: Vec<(i64, i64, i64, String)> = devices
        .iter()
        .filter_map(|d| {
            let total = d["totalStorageSpaceInBytes"].as_i64()?;
            let free = d["freeStorageSpaceInBytes"].as_i64()?;
            let label = format!("{} {}", d["manufacturer"].as_str()?, d["model"].as_str()?);
            (total / GIB >= 256).then(|| {
                let key = d["deviceKey"].as_i64().unwrap();
                (key, total / GIB, free * 100 / total, label)
            })
        })
        .collect();
    expected.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)).then(a.0.cmp(&b.0)));
    let got: Vec<(i64, i64, i64, String)> = rows
        .iter()
        .map(|r| {
            assert_eq!(r.as_object().unwrap().len(), 4, "{r}");
            (
                r["deviceKey"].as_i64().unwrap(),
                r["storageGB"].as_i64().unwrap(),
                r["freePercent"].as_i64().unwrap(),
                r["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    // pages continue after a computed sort value
    let (paged, pages) = all_rows(&url, &[("Prefer", "odata.maxpagesize=9")]);
    assert_eq!(paged, rows);
    assert_eq!(pages, rows.len().div_ceil(9));
    // without $select, computed properties come with the declared ones; * selects them too
    for select in ["", "&$select=*"] {
        let v = get_ok(&format!(
            "/devices?api-version=v1.0&$compute={}&$top=1{select}",
            enc("deviceKey mul 2 as twice")
        ));
        let row = v["value"][0].as_object().unwrap();
        assert!(row.len() > 30, "{select}: every declared property too");
        assert_eq!(row["twice"], row["deviceKey"].as_i64().unwrap() * 2);
    }
}

#[test]
fn compute_in_apply_groups_by_a_computed_value() {
    let devices = devices();
    let got = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}",
        enc("compute(totalStorageSpaceInBytes div 1073741824 as gb)/filter(gb ge 128)/groupby((gb),aggregate($count as n,gb with max as top))")
    ));
    let mut expected: BTreeMap<i64, usize> = BTreeMap::new();
    for d in &devices {
        if let Some(gb) = d["totalStorageSpaceInBytes"].as_i64().map(|t| t / GIB) {
            if gb >= 128 {
                *expected.entry(gb).or_default() += 1;
            }
        }
    }
    let rows: Vec<(i64, usize)> = got["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["top"], r["gb"]);
            (r["gb"].as_i64().unwrap(), r["n"].as_u64().unwrap() as usize)
        })
        .collect();
    assert_eq!(rows, expected.into_iter().collect::<Vec<_>>());
}

#[test]
fn compute_errors_are_precise() {
    for (query, status, target, position) in [
        (
            "$compute=deviceKey%20add%201%20as%20deviceName",
            400,
            "$compute",
            Some(0),
        ),
        (
            "$compute=deviceKey%20as%20a,a%20add%201%20as%20b",
            400,
            "$compute",
            Some(15),
        ),
        ("$compute=deviceKey%20add%201", 400, "$compute", Some(15)),
        (
            "$compute=deviceKey%20as%20a&$select=deviceKey,b",
            400,
            "$select",
            None,
        ),
        (
            "$compute=deviceKey%20as%20a&$apply=aggregate($count%20as%20n)",
            501,
            "$compute",
            None,
        ),
    ] {
        let r = get(&format!("/devices?api-version=v1.0&{query}"));
        assert_eq!(r.status, status, "{query}: {}", r.text());
        let e = error_of(&r);
        assert_eq!(e["target"], target, "{query}: {e}");
        if let Some(p) = position {
            assert_eq!(e["details"][0]["position"], p, "{query}: {e}");
        }
    }
    let r = get("/devices(1)?api-version=v1.0&$compute=deviceKey%20as%20a");
    assert_eq!(r.status, 501, "{}", r.text());
}
