//! Parameter aliases, `$expand`, navigation in the path, and filters and orders through navigation properties.

use super::*;

#[test]
fn parameter_aliases_stand_for_their_values() {
    let direct = get_ok(&format!(
        "/devices?api-version=v1.0&$filter={}&$orderby={}",
        enc("deviceKey le 20 and deviceName ne 'x'"),
        enc("deviceKey desc")
    ));
    let aliased_query = format!(
        "/devices?api-version=v1.0&$filter={}&$orderby={}&@max=20&@name={}&@o=deviceKey",
        enc("deviceKey le @max and deviceName ne @name"),
        enc("@o desc"),
        enc("'x'")
    );
    let aliased = get_ok(&aliased_query);
    assert_eq!(aliased["value"], direct["value"]);
    assert_eq!(aliased["value"].as_array().unwrap().len(), 20);
    // an alias the request gives no value is null
    assert_eq!(
        get_ok(&format!(
            "/devices?api-version=v1.0&$filter={}",
            enc("deviceCategoryKey eq @none")
        ))["value"],
        get_ok(&format!(
            "/devices?api-version=v1.0&$filter={}",
            enc("deviceCategoryKey eq null")
        ))["value"]
    );
    // paging links keep the aliases, and a changed value is another query
    let (rows, pages) = all_rows(&aliased_query, &[("Prefer", "odata.maxpagesize=6")]);
    assert_eq!((rows.len(), pages), (20, 4));
    let r = request("GET", &aliased_query, &[("Prefer", "odata.maxpagesize=6")]);
    let next = r.json()["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(next.contains("@max=20"), "{next}");
    let r = get(&next.replace("@max=20", "@max=30"));
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r)["target"], "$skiptoken");
    // errors name the alias, or point at its use
    let r = get("/devices?api-version=v1.0&$filter=deviceKey%20eq%20@a&@a=1%20eq");
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r)["target"], "@a");
    let r = get("/devices?api-version=v1.0&$filter=deviceKey%20eq%20@a&@a=@b&@b=@a");
    assert_eq!(r.status, 400);
    let e = error_of(&r);
    assert_eq!(e["target"], "$filter");
    assert!(
        e["message"].as_str().unwrap().contains("refers to itself"),
        "{e}"
    );
}

#[test]
fn expand_reads_the_related_dimension_inline() {
    let plain = get_ok("/devices?api-version=v1.0&$select=deviceKey,deviceTypeKey,deviceCategoryKey&$orderby=deviceKey");
    let expanded = get_ok(&format!(
        "/devices?api-version=v1.0&$select=deviceKey,deviceTypeKey,deviceCategoryKey&$orderby=deviceKey&$expand={}",
        enc("deviceType($select=deviceTypeName),deviceCategory")
    ));
    assert!(
        expanded["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#devices(deviceKey,deviceTypeKey,deviceCategoryKey,deviceType(deviceTypeName),deviceCategory)"),
        "{}",
        expanded["@odata.context"]
    );
    let types: std::collections::HashMap<u64, String> = get_ok("/deviceTypes?api-version=v1.0")
        ["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["deviceTypeKey"].as_u64().unwrap(),
                t["deviceTypeName"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let (plain, expanded) = (
        plain["value"].as_array().unwrap(),
        expanded["value"].as_array().unwrap(),
    );
    assert_eq!(plain.len(), expanded.len());
    let mut with_category = 0;
    for (p, e) in plain.iter().zip(expanded) {
        // the row itself is unchanged; the related entities follow its properties
        for k in ["deviceKey", "deviceTypeKey", "deviceCategoryKey"] {
            assert_eq!(p[k], e[k]);
        }
        let ty = p["deviceTypeKey"].as_u64().unwrap();
        assert_eq!(
            e["deviceType"],
            serde_json::json!({"deviceTypeName": types[&ty]}),
            "{e}"
        );
        match p["deviceCategoryKey"].as_u64() {
            Some(k) => {
                with_category += 1;
                assert_eq!(e["deviceCategory"]["deviceCategoryKey"], k);
                assert!(e["deviceCategory"]["deviceCategoryName"].is_string());
            }
            None => assert!(e["deviceCategory"].is_null(), "{e}"),
        }
    }
    assert!(with_category > 0);
    // paging with an expansion: every row once, in order
    let (rows, pages) = all_rows(
        "/devices?api-version=v1.0&$select=deviceKey&$expand=deviceType",
        &[("Prefer", "odata.maxpagesize=7")],
    );
    assert!(pages > 2);
    let keys: Vec<u64> = rows
        .iter()
        .map(|r| r["deviceKey"].as_u64().unwrap())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted);
    assert!(rows
        .iter()
        .all(|r| r["deviceType"]["deviceTypeName"].is_string()));
    // Power Query names the expanded navigation property in $select too
    let pq = get_ok(&format!(
        "/devices?api-version=v1.0&$select=deviceKey,deviceType&$expand={}&$top=3",
        enc("deviceType($select=deviceTypeName)")
    ));
    let first = &pq["value"][0];
    assert_eq!(
        first.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["deviceKey", "deviceType"],
        "{first}"
    );
    assert!(first["deviceType"]["deviceTypeName"].is_string());
    // one entity, and every navigation property with *
    let one = get_ok("/devices(1)?api-version=v1.0&$select=deviceKey&$expand=*");
    assert!(one["deviceType"]["deviceTypeName"].is_string(), "{one}");
    assert!(one["ownerType"].is_object(), "{one}");
    // full metadata gives the related entity its id
    let full = get_ok("/devices(1)?api-version=v1.0&$select=deviceKey&$expand=deviceType&$format=application/json;odata.metadata=full");
    let ty = full["deviceType"]["deviceTypeKey"].as_u64().unwrap();
    assert!(
        full["deviceType"]["@odata.id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/deviceTypes({ty})")),
        "{full}"
    );
}

#[test]
fn a_navigation_property_in_the_path_reads_the_related_entity() {
    let devices =
        get_ok("/devices?api-version=v1.0&$select=deviceKey,deviceTypeKey,deviceCategoryKey");
    let devices = devices["value"].as_array().unwrap();
    let d = &devices[0];
    let (key, ty) = (
        d["deviceKey"].as_u64().unwrap(),
        d["deviceTypeKey"].as_u64().unwrap(),
    );
    let related = get_ok(&format!("/devices({key})/deviceType?api-version=v1.0"));
    let direct = get_ok(&format!("/deviceTypes({ty})?api-version=v1.0"));
    assert_eq!(related, direct);
    assert!(related["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#deviceTypes/$entity"));
    // the related entity's own options apply
    let named = get_ok(&format!(
        "/devices({key})/deviceType?api-version=v1.0&$select=deviceTypeName"
    ));
    assert_eq!(named["deviceTypeName"], direct["deviceTypeName"]);
    assert!(named.get("deviceTypeKey").is_none());
    // no related entity: 204; no such device: 404
    if let Some(none) = devices.iter().find(|d| d["deviceCategoryKey"].is_null()) {
        let r = get(&format!(
            "/devices({})/deviceCategory?api-version=v1.0",
            none["deviceKey"]
        ));
        assert_eq!(r.status, 204);
    }
    let r = get("/devices(99999)/deviceType?api-version=v1.0");
    assert_eq!(r.status, 404);
    assert_eq!(error_of(&r)["target"], "key");
}

#[test]
fn filters_and_orders_reach_through_navigation_properties() {
    let types = get_ok("/deviceTypes?api-version=v1.0")["value"]
        .as_array()
        .unwrap()
        .clone();
    let windows = types
        .iter()
        .find(|t| t["deviceTypeName"] == "Windows")
        .unwrap()["deviceTypeKey"]
        .clone();
    // a navigation path in $filter: the same rows as filtering on the key
    let by_name = get_ok(&format!(
        "/devices?api-version=v1.0&$select=deviceKey&$filter={}",
        enc("deviceType/deviceTypeName eq 'Windows'")
    ));
    let by_key = get_ok(&format!(
        "/devices?api-version=v1.0&$select=deviceKey&$filter=deviceTypeKey%20eq%20{windows}"
    ));
    assert_eq!(by_name["value"], by_key["value"]);
    assert!(!by_name["value"].as_array().unwrap().is_empty());
    // a missing related entity is null
    let no_category = get_ok(&format!(
        "/devices?api-version=v1.0&$select=deviceKey&$filter={}",
        enc("deviceCategory/deviceCategoryName eq null")
    ));
    let null_key = get_ok(&format!(
        "/devices?api-version=v1.0&$select=deviceKey&$filter={}",
        enc("deviceCategoryKey eq null")
    ));
    assert_eq!(no_category["value"], null_key["value"]);
    // ordering by a related property, paged: complete and in order
    let url = format!(
        "/devices?api-version=v1.0&$select=deviceKey&$orderby={}&$expand=deviceType($select=deviceTypeName)&$count=true",
        enc("deviceType/deviceTypeName desc,deviceKey")
    );
    let (rows, pages) = all_rows(&url, &[("Prefer", "odata.maxpagesize=9")]);
    assert!(pages > 2);
    assert_eq!(rows.len(), devices().len());
    let names: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["deviceType"]["deviceTypeName"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["deviceKey"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(names, sorted);
    // $count through a navigation path
    let count = get(&format!(
        "/devices/$count?api-version=v1.0&$filter={}",
        enc("deviceType/deviceTypeName eq 'Windows'")
    ));
    assert_eq!(
        count.text(),
        by_key["value"].as_array().unwrap().len().to_string()
    );
    // deeper paths and unknown properties are errors with positions
    let r = get(&format!(
        "/devices?api-version=v1.0&$filter={}",
        enc("deviceType/nothing eq 1")
    ));
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r)["target"], "$filter");
}

#[test]
fn nested_expand_reads_the_related_entities_of_related_entities() {
    let by_key = |collection: &str, key: &str| -> HashMap<u64, Value> {
        all_rows(&format!("/{collection}?api-version=v1.0"), &[])
            .0
            .into_iter()
            .map(|r| (r[key].as_u64().unwrap(), r))
            .collect()
    };
    let (devices, types, users) = (
        by_key("devices", "deviceKey"),
        by_key("deviceTypes", "deviceTypeKey"),
        by_key("users", "userKey"),
    );
    let url = format!(
        "/userDeviceAssociations?api-version=v1.0&$expand={}",
        enc("device($select=deviceName;$expand=deviceType($select=deviceTypeName)),user($select=displayName)")
    );
    let whole = get_ok(&url);
    assert!(whole["@odata.context"].as_str().unwrap().ends_with(
        "#userDeviceAssociations(device(deviceName,deviceType(deviceTypeName)),user(displayName))"
    ));
    let rows = whole["value"].as_array().unwrap().clone();
    assert!(!rows.is_empty());
    for row in &rows {
        let device = &devices[&row["deviceKey"].as_u64().unwrap()];
        assert_eq!(row["device"]["deviceName"], device["deviceName"], "{row}");
        assert_eq!(row["device"].as_object().unwrap().len(), 2, "{row}");
        let expected_type = device["deviceTypeKey"]
            .as_u64()
            .and_then(|k| types.get(&k))
            .map_or(
                Value::Null,
                |t| serde_json::json!({"deviceTypeName": t["deviceTypeName"]}),
            );
        assert_eq!(row["device"]["deviceType"], expected_type, "{row}");
        let user = &users[&row["userKey"].as_u64().unwrap()];
        assert_eq!(row["user"]["displayName"], user["displayName"], "{row}");
    }
    // the same through pages, and beside a filter through the same navigation property
    let (paged, pages) = all_rows(&url, &[("Prefer", "odata.maxpagesize=13")]);
    assert_eq!(paged, rows);
    assert!(pages > 1);
    let filtered = get_ok(&format!(
        "{url}&$filter={}",
        enc("device/deviceName ne null and device/deviceTypeKey ne null")
    ));
    assert!(filtered["value"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["device"]["deviceType"].is_object()));
    // one entity, three levels
    let v = get_ok(&format!(
        "/devicePropertyHistories(dateKey=20261101,deviceKey=3)?api-version=v1.0&$select=dateKey&$expand={}",
        enc("device($select=deviceKey;$expand=deviceType,deviceCategory($select=deviceCategoryName))")
    ));
    assert_eq!(v["device"]["deviceKey"], 3);
    assert!(
        v["device"]["deviceType"]["deviceTypeName"].is_string(),
        "{v}"
    );
}
