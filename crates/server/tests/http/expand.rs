//! Expanded collections (`devices?$expand=devicePropertyHistories(...)`): nested `$filter`,
//! `$orderby`, `$skip`, `$top`, `$count`, `$select` and `$expand`, `/$count`, the bound with its
//! next link, multi-step paths and `maxhistorydays`; results compared with an evaluation here
//! over the rows of both collections.

use super::*;

/// Only the named properties of `row`.
/// The histories of device `key` (from `histories`, by device) whose compliance state is not 2:
/// what the tests' nested `$filter=complianceStateKey ne 2` must keep.
fn not_in_state_2(histories: &HashMap<u64, Vec<Value>>, key: u64) -> Vec<&Value> {
    histories
        .get(&key)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|h| h["complianceStateKey"] != 2)
        .collect()
}

fn only(row: &Value, names: &[&str]) -> Value {
    Value::Object(
        names
            .iter()
            .map(|n| (n.to_string(), row[*n].clone()))
            .collect(),
    )
}

#[test]
fn expanded_collections_agree_with_an_independent_evaluation() {
    let histories = histories_by_device();
    let url = format!(
        "/devices?api-version=v1.0&$select=deviceKey&$expand={}",
        enc("devicePropertyHistories($select=dateKey,complianceStateKey;$filter=complianceStateKey ne 2;$orderby=complianceStateKey desc,dateKey desc;$skip=2;$top=5;$count=true)")
    );
    let first = get_ok(&url);
    assert!(
        first["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#devices(deviceKey,devicePropertyHistories(dateKey,complianceStateKey))"),
        "{}",
        first["@odata.context"]
    );
    // a page that expands collections holds at most 100 entities
    assert_eq!(first["value"].as_array().unwrap().len(), 100);
    let (rows, pages) = all_rows(&url, &[("Prefer", "odata.maxpagesize=37")]);
    assert_eq!(rows.len(), DEVICES as usize);
    assert!(pages > 8);
    for row in &rows {
        let key = row["deviceKey"].as_u64().unwrap();
        let mut matching = not_in_state_2(&histories, key);
        matching.sort_by_key(|h| {
            std::cmp::Reverse((
                h["complianceStateKey"].as_i64().unwrap_or(i64::MIN),
                h["dateKey"].as_i64().unwrap(),
            ))
        });
        let expected: Vec<Value> = matching
            .iter()
            .skip(2)
            .take(5)
            .map(|h| only(h, &["dateKey", "complianceStateKey"]))
            .collect();
        assert_eq!(
            row["devicePropertyHistories"],
            Value::Array(expected),
            "{row}"
        );
        assert_eq!(
            row["devicePropertyHistories@odata.count"],
            matching.len(),
            "{row}"
        );
        assert!(row.get("devicePropertyHistories@odata.nextLink").is_none());
    }
    // /$count alone, and every history of one device with all its properties
    let counted = get_ok(&format!(
        "/devices?api-version=v1.0&$select=deviceKey&$top=20&$expand={}",
        enc("devicePropertyHistories/$count")
    ));
    for row in counted["value"].as_array().unwrap() {
        let key = row["deviceKey"].as_u64().unwrap();
        let n = histories.get(&key).map_or(0, Vec::len);
        assert_eq!(row["devicePropertyHistories@odata.count"], n, "{row}");
        assert!(row.get("devicePropertyHistories").is_none(), "{row}");
    }
    let one = get_ok("/devices(7)?api-version=v1.0&$expand=devicePropertyHistories");
    assert_eq!(
        one["devicePropertyHistories"],
        Value::Array(histories[&7].clone())
    );
}

#[test]
fn expanded_collections_are_bounded_and_link_to_the_rest() {
    // about 1 800 histories per device category: more than a response holds for one entity
    let mut by_category: HashMap<u64, Vec<Value>> = HashMap::new();
    for h in all_rows("/devicePropertyHistories?api-version=v1.0", &[]).0 {
        if let Some(c) = h["deviceCategoryKey"].as_u64() {
            by_category
                .entry(c)
                .or_default()
                .push(only(&h, &["dateKey", "deviceKey"]));
        }
    }
    let url = format!(
        "/deviceCategories?api-version=v1.0&$select=deviceCategoryKey&$expand={}",
        enc("devicePropertyHistories($select=dateKey,deviceKey;$filter=dateKey ge 20261010;$count=true)")
    );
    let mut checked = 0;
    for category in get_ok(&url)["value"].as_array().unwrap() {
        let key = category["deviceCategoryKey"].as_u64().unwrap();
        let mut expected: Vec<Value> = by_category
            .get(&key)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|h| h["dateKey"].as_i64().unwrap() >= 20261010)
            .collect();
        expected.sort_by_key(|h| (h["dateKey"].as_i64(), h["deviceKey"].as_i64()));
        let inline = category["devicePropertyHistories"].as_array().unwrap();
        assert_eq!(
            category["devicePropertyHistories@odata.count"],
            expected.len()
        );
        if expected.len() <= 1000 {
            assert_eq!(inline, &expected);
            assert!(category
                .get("devicePropertyHistories@odata.nextLink")
                .is_none());
            continue;
        }
        assert_eq!(inline.len(), 1000);
        let link = category["devicePropertyHistories@odata.nextLink"]
            .as_str()
            .unwrap();
        assert!(
            link.contains(&format!(
                "/deviceCategories({key})/devicePropertyHistories?"
            )),
            "{link}"
        );
        let (rest, _) = all_rows(link, &[]);
        let mut all = inline.clone();
        all.extend(rest);
        assert_eq!(all, expected);
        checked += 1;
    }
    assert!(checked > 0, "some category has more than 1000 histories");
}

#[test]
fn expansions_nest_inside_collections_and_paths_expand_each_step() {
    // the devices of each user's associations, with their device type
    let devices: HashMap<u64, Value> = devices()
        .into_iter()
        .map(|d| (d["deviceKey"].as_u64().unwrap(), d))
        .collect();
    let users = get_ok(&format!(
        "/users?api-version=v1.0&$select=userKey&$expand={}",
        enc("userDeviceAssociations($select=deviceKey;$expand=device($select=deviceName,deviceTypeKey))")
    ));
    let mut seen = 0;
    for user in users["value"].as_array().unwrap() {
        for a in user["userDeviceAssociations"].as_array().unwrap() {
            let d = &devices[&a["deviceKey"].as_u64().unwrap()];
            assert_eq!(
                a["device"],
                only(d, &["deviceName", "deviceTypeKey"]),
                "{a}"
            );
            seen += 1;
        }
    }
    assert!(seen > 0);
    // `a/b(options)` is `a($expand=b(options))`, and paths through the same property merge
    let steps = get_ok(&format!(
        "/userDeviceAssociations?api-version=v1.0&$top=30&$expand={}",
        enc("device/deviceType($select=deviceTypeName),device/ownerType,user($select=userKey)")
    ));
    let nested = get_ok(&format!(
        "/userDeviceAssociations?api-version=v1.0&$top=30&$expand={}",
        enc("device($expand=deviceType($select=deviceTypeName),ownerType),user($select=userKey)")
    ));
    assert_eq!(steps["value"], nested["value"]);
    assert!(
        steps["value"][0]["device"]["deviceType"].is_object()
            || steps["value"][0]["device"]["deviceType"].is_null()
    );
    // a collection under a single entity, and parameter aliases in nested options
    let h = get_ok(&format!(
        "/devicePropertyHistories?api-version=v1.0&$top=3&$select=dateKey&$expand={}&@d=20261030",
        enc("device($select=deviceKey;$expand=devicePropertyHistories($select=dateKey;$filter=dateKey ge @d))")
    ));
    for row in h["value"].as_array().unwrap() {
        let key = row["device"]["deviceKey"].as_u64().unwrap();
        let days: Vec<i64> = row["device"]["devicePropertyHistories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["dateKey"].as_i64().unwrap())
            .collect();
        let histories = all_rows(
            &format!("/devices({key})/devicePropertyHistories?api-version=v1.0&$filter=dateKey%20ge%2020261030"),
            &[],
        )
        .0;
        let expected: Vec<i64> = histories
            .iter()
            .map(|d| d["dateKey"].as_i64().unwrap())
            .collect();
        assert_eq!(days, expected);
        assert!(!days.is_empty());
    }
}

#[test]
fn maxhistorydays_limits_expanded_facts_unless_they_filter_by_day() {
    // the tenant's snapshot is 2026-11-01: 7 days back is 20261025
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$top=10&$select=deviceKey&maxhistorydays=7&$expand={}",
        enc("devicePropertyHistories($select=dateKey;$count=true)")
    ));
    for row in v["value"].as_array().unwrap() {
        let days = row["devicePropertyHistories"].as_array().unwrap();
        assert!(days.len() <= 8 && !days.is_empty(), "{row}");
        assert!(
            days.iter()
                .all(|d| d["dateKey"].as_i64().unwrap() >= 20261025),
            "{row}"
        );
        assert_eq!(row["devicePropertyHistories@odata.count"], days.len());
    }
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$top=10&$select=deviceKey&maxhistorydays=7&$expand={}",
        enc("devicePropertyHistories($select=dateKey;$filter=dateKey lt 20261010)")
    ));
    assert!(v["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|row| !row["devicePropertyHistories"]
            .as_array()
            .unwrap()
            .is_empty()));
}

#[test]
fn what_expansions_do_not_support_is_a_precise_error() {
    for (expand, status, position) in [
        ("deviceType($top=1)", 400, 11),
        ("deviceType($orderby=deviceTypeName)", 400, 20),
        ("deviceType($search=Windows)", 400, 11),
        ("devicePropertyHistories($apply=identity)", 501, 24),
        ("devicePropertyHistories($orderby=nothing)", 400, 33),
        (
            "devicePropertyHistories,devicePropertyHistories($top=1)",
            400,
            24,
        ),
        ("deviceType/$count", 400, 0),
        ("devicePropertyHistories/$ref($expand=device)", 400, 29),
        ("devicePropertyHistories($top=1;$top=2)", 400, 31),
        (
            "devicePropertyHistories($expand=device($expand=devicePropertyHistories))",
            501,
            47,
        ),
    ] {
        let r = get(&format!(
            "/devices?api-version=v1.0&$expand={}",
            enc(expand)
        ));
        assert_eq!(r.status, status, "{expand}: {}", r.text());
        let e = error_of(&r);
        assert_eq!(e["target"], "$expand", "{expand}: {e}");
        assert_eq!(e["details"][0]["position"], position, "{expand}: {e}");
    }
}

#[test]
fn computed_properties_inside_expansions() {
    // the same computed values as the related collection's own $compute
    let compute =
        "totalStorageSpaceInBytes div 3.0 as third,physicalMemoryInBytes div 1073741824 as gb";
    let v = get_ok(&format!(
        "/devices(7)?api-version=v1.0&$select=deviceKey&$expand={}",
        enc(&format!("devicePropertyHistories($compute={compute};$select=dateKey,gb,third;$filter=gb ge 8;$orderby=gb desc,dateKey)"))
    ));
    let direct = all_rows(
        &format!(
            "/devices(7)/devicePropertyHistories?api-version=v1.0&$compute={}&$select=dateKey,gb,third&$filter={}&$orderby={}",
            enc(compute),
            enc("gb ge 8"),
            enc("gb desc,dateKey")
        ),
        &[],
    )
    .0;
    assert!(!direct.is_empty());
    assert_eq!(v["devicePropertyHistories"], Value::Array(direct));
    // without $select every computed property comes after the declared ones; single-valued
    // targets compute too, and the context URL names them
    let v = get_ok(&format!(
        "/devicePropertyHistories?api-version=v1.0&$top=3&$select=dateKey&$expand={}",
        enc("device($select=deviceName,loud;$compute=concat(deviceName,'!') as loud)")
    ));
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("#devicePropertyHistories(dateKey,device(deviceName,loud))"));
    for row in v["value"].as_array().unwrap() {
        let name = row["device"]["deviceName"].as_str().unwrap();
        assert_eq!(row["device"]["loud"], format!("{name}!"), "{row}");
    }
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$top=1&$select=deviceKey&$expand={}",
        enc("devicePropertyHistories($compute=dateKey mod 100 as day;$top=1)")
    ));
    let history = &v["value"][0]["devicePropertyHistories"][0];
    assert_eq!(history["day"], history["dateKey"].as_i64().unwrap() % 100);
    assert!(history["osVersion"].is_string(), "{history}");
    // an alias that names a property is a 400 at its expression
    let r = get(&format!(
        "/devices?api-version=v1.0&$expand={}",
        enc("devicePropertyHistories($compute=dateKey add 1 as dateKey)")
    ));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r)["details"][0]["position"], 33);
}

#[test]
fn single_related_entities_that_fail_a_nested_filter_are_null() {
    let types: HashMap<u64, Value> = all_rows("/deviceTypes?api-version=v1.0", &[])
        .0
        .into_iter()
        .map(|t| (t["deviceTypeKey"].as_u64().unwrap(), t))
        .collect();
    // the main $filter and $orderby reach through the same navigation property unfiltered
    let (rows, _) = all_rows(
        &format!(
            "/devices?api-version=v1.0&$select=deviceKey,deviceTypeKey&$expand={}&$filter={}&$orderby={}",
            enc("deviceType($filter=deviceTypeName eq 'Windows';$select=deviceTypeName)"),
            enc("deviceType/deviceTypeName ne null"),
            enc("deviceType/deviceTypeName desc,deviceKey")
        ),
        &[("Prefer", "odata.maxpagesize=70")],
    );
    let devices = devices();
    let with_type = devices
        .iter()
        .filter(|d| {
            d["deviceTypeKey"]
                .as_u64()
                .is_some_and(|k| types.contains_key(&k))
        })
        .count();
    assert_eq!(rows.len(), with_type);
    let (mut windows, mut others) = (0, 0);
    for row in &rows {
        let t = &types[&row["deviceTypeKey"].as_u64().unwrap()];
        if t["deviceTypeName"] == "Windows" {
            assert_eq!(
                row["deviceType"],
                serde_json::json!({"deviceTypeName": "Windows"})
            );
            windows += 1;
        } else {
            assert!(row["deviceType"].is_null(), "{row}");
            others += 1;
        }
    }
    assert!(windows > 0 && others > 0, "{windows} {others}");
    // nested single-valued filters inside an expanded collection, and $search there
    let users = get_ok(&format!(
        "/users?api-version=v1.0&$top=60&$select=userKey&$expand={}",
        enc("userDeviceAssociations($select=deviceKey;$expand=device($filter=startswith(deviceName,'DESKTOP');$select=deviceName))")
    ));
    let by_key: HashMap<u64, &Value> = devices
        .iter()
        .map(|d| (d["deviceKey"].as_u64().unwrap(), d))
        .collect();
    for user in users["value"].as_array().unwrap() {
        for a in user["userDeviceAssociations"].as_array().unwrap() {
            let d = by_key[&a["deviceKey"].as_u64().unwrap()];
            let desktop = d["deviceName"]
                .as_str()
                .is_some_and(|n| n.starts_with("DESKTOP"));
            let expected = if desktop {
                serde_json::json!({"deviceName": d["deviceName"]})
            } else {
                Value::Null
            };
            assert_eq!(a["device"], expected, "{a}");
        }
    }
    let search = "\"10.0.19045\" OR iPhone";
    let v = get_ok(&format!(
        "/devices(9)?api-version=v1.0&$select=deviceKey&$expand={}",
        enc(&format!(
            "devicePropertyHistories($search={search};$select=dateKey,osVersion)"
        ))
    ));
    let direct = all_rows(
        &format!(
            "/devices(9)/devicePropertyHistories?api-version=v1.0&$search={}&$select=dateKey,osVersion",
            enc(search)
        ),
        &[],
    )
    .0;
    assert_eq!(v["devicePropertyHistories"], Value::Array(direct));
}

#[test]
fn references_name_the_related_entities() {
    let root = &fixture().root;
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$top=5&$select=deviceKey,deviceTypeKey&$expand={}",
        enc("deviceType/$ref,devicePropertyHistories/$ref($filter=complianceStateKey ne 2;$orderby=dateKey desc;$top=3;$count=true)")
    ));
    let histories = histories_by_device();
    for row in v["value"].as_array().unwrap() {
        let key = row["deviceKey"].as_u64().unwrap();
        let expected_type = row["deviceTypeKey"].as_u64().map_or(
            Value::Null,
            |t| serde_json::json!({"@odata.id": format!("{root}/deviceTypes({t})")}),
        );
        assert_eq!(row["deviceType"], expected_type, "{row}");
        let mut matching = not_in_state_2(&histories, key);
        matching.sort_by_key(|h| std::cmp::Reverse(h["dateKey"].as_i64().unwrap()));
        let expected: Vec<Value> = matching
            .iter()
            .take(3)
            .map(|h| {
                serde_json::json!({"@odata.id": format!(
                    "{root}/devicePropertyHistories(dateKey={},deviceKey={key})",
                    h["dateKey"]
                )})
            })
            .collect();
        assert_eq!(
            row["devicePropertyHistories"],
            Value::Array(expected),
            "{row}"
        );
        assert_eq!(row["devicePropertyHistories@odata.count"], matching.len());
    }
    // past the bound, the next link reads the rest as references too
    let category = &get_ok(&format!(
        "/deviceCategories?api-version=v1.0&$select=deviceCategoryKey&$expand={}",
        enc("devicePropertyHistories/$ref($count=true)")
    ))["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["devicePropertyHistories@odata.count"].as_u64().unwrap() > 1000)
        .expect("a category with more than 1000 histories")
        .clone();
    let link = category["devicePropertyHistories@odata.nextLink"]
        .as_str()
        .unwrap();
    assert!(link.contains("/devicePropertyHistories/$ref?"), "{link}");
    let first_page = get_ok(link);
    assert!(first_page["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#Collection($ref)"));
    let (rest, _) = all_rows(link, &[]);
    assert_eq!(
        rest.len() + 1000,
        category["devicePropertyHistories@odata.count"]
            .as_u64()
            .unwrap() as usize
    );
    assert!(rest
        .iter()
        .all(|r| r.as_object().unwrap().len() == 1 && r["@odata.id"].is_string()));
    // every navigation property as references
    let v = get_ok("/users(3)?api-version=v1.0&$select=userKey&$expand=*/$ref");
    for a in v["userDeviceAssociations"].as_array().unwrap() {
        let id = a["@odata.id"].as_str().unwrap();
        assert!(
            id.starts_with(&format!("{root}/userDeviceAssociations(userKey=3,")),
            "{id}"
        );
        assert_eq!(a.as_object().unwrap().len(), 1);
    }
}
