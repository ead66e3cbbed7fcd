//! The request shapes of real clients: the Power BI connector's routed root, names in any case, padded integers, the reference model's names, and requests refused whole.

use super::*;

#[test]
fn the_routed_root_of_the_power_bi_connector_is_an_alias() {
    let routed = fixture().root.replace(
        server::BASE_PATH,
        &format!("{}{}", server::ROUTED_PREFIX, server::BASE_PATH),
    );
    let doc = get_ok(&format!("{routed}?api-version=v1.0"));
    assert!(doc["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "devices"));
    assert!(doc["@odata.context"].as_str().unwrap().starts_with(&routed));
    let metadata = get(&format!("{routed}/$metadata?api-version=v1.0"));
    assert_eq!(metadata.status, 200);
    let (rows, pages) = all_rows(
        &format!("{routed}/devices?api-version=v1.0&$select=deviceKey"),
        &[("Prefer", "odata.maxpagesize=100")],
    );
    assert_eq!((rows.len(), pages), (DEVICES as usize, 3));
    let first = request(
        "GET",
        &format!("{routed}/devices?api-version=v1.0&$top=150"),
        &[("Prefer", "odata.maxpagesize=100")],
    )
    .json();
    let next = first["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&routed), "{next}");
    assert!(first["@odata.context"]
        .as_str()
        .unwrap()
        .starts_with(&routed));
    let one = get_ok(&format!("{routed}/devices(1)?api-version=v1.0"));
    assert_eq!(one["deviceKey"], 1);
}

#[test]
fn metadata_names_every_collection_and_property_as_the_reference_model_does() {
    // the repository's copy of the reference model (scripts/model-drift compares it with a newer one)
    let model: Value = serde_json::from_str(include_str!(
        "../../../warehouse/model/intune-dw-model.json"
    ))
    .unwrap();
    let ns = model["namespace"].as_str().unwrap();
    for version in ["v1.0", "beta"] {
        let csdl = get_ok(&format!("/$metadata?api-version={version}&$format=json"));
        let schema = &csdl[ns];
        let container = schema
            .as_object()
            .unwrap()
            .values()
            .find(|v| v["$Kind"] == "EntityContainer")
            .unwrap();
        for c in model["collections"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let in_version = c["versions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == version);
            assert_eq!(container[name].is_object(), in_version, "{version} {name}");
            if !in_version {
                continue;
            }
            let type_name = container[name]["$Type"].as_str().unwrap();
            let ty = &schema[type_name.rsplit('.').next().unwrap()];
            assert_eq!(ty["$Key"], c["key"], "{version} {name}");
            let declared: BTreeSet<&str> = ty
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| !k.starts_with('$') && v["$Kind"] != "NavigationProperty")
                .map(|(k, _)| k.as_str())
                .collect();
            let expected: BTreeSet<&str> = c["properties"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                declared, expected,
                "{version} {name}: property names, exactly"
            );
            for p in c["properties"].as_array().unwrap() {
                let prop = &ty[p["name"].as_str().unwrap()];
                let ty_name = prop["$Type"].as_str().unwrap_or("Edm.String");
                assert_eq!(ty_name, p["type"], "{version} {name}.{}", p["name"]);
                assert_eq!(
                    prop["$Nullable"].as_bool().unwrap_or(false),
                    p["nullable"].as_bool().unwrap(),
                    "{version} {name}.{}",
                    p["name"]
                );
            }
        }
    }
}

#[test]
fn the_request_shapes_of_real_clients_work() {
    // Microsoft's PowerShell module: service root, a name check against value[].name, then
    // $skip/$top/$select with client-request-id, following @odata.nextLink; -Top beyond a page
    let names: Vec<String> = get_ok("?api-version=v1.0")["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "devicePropertyHistories"));
    let mut url = Some(format!(
        "{}/devicePropertyHistories?api-version=v1.0&$skip=0&$top=1200&$select=dateKey,deviceKey",
        fixture().root
    ));
    let (mut rows, mut pages) = (0, 0);
    while let Some(u) = url.take() {
        let r = request(
            "GET",
            &u,
            &[("client-request-id", "7c9e6679-7425-40de-944b-e07fc1f90ae7")],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("client-request-id"),
            Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
        );
        let v = r.json();
        rows += v["value"].as_array().unwrap().len();
        pages += 1;
        url = v["@odata.nextLink"].as_str().map(str::to_string);
    }
    assert_eq!((rows, pages), (1200, 2), "-Top 1200 over pages of 1000");
    // Microsoft's C# sample
    let dates = get_ok("/dates?api-version=beta");
    assert!(dates["value"][0]["dateKey"].is_u64());
    // Power Query's OData.Feed(..., Query=[#"api-version"="v1.0"]): service document and
    // $metadata with its Accept headers, then the first page of every collection
    let accept = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";
    let headers = [("Accept", accept), ("OData-MaxVersion", "4.0")];
    let doc = request("GET", "?api-version=v1.0", &headers);
    assert_eq!(doc.status, 200);
    let metadata = request(
        "GET",
        "/$metadata?api-version=v1.0",
        &[("Accept", "application/xml"), ("OData-MaxVersion", "4.0")],
    );
    assert_eq!(metadata.status, 200);
    assert!(metadata.text().contains("<edmx:Edmx"));
    for c in doc.json()["value"].as_array().unwrap() {
        let url = format!("/{}?api-version=v1.0", c["url"].as_str().unwrap());
        let r = request("GET", &url, &headers);
        assert_eq!(r.status, 200, "{url}: {}", r.text());
    }
}

#[test]
fn names_are_matched_ignoring_case_and_answered_canonically() {
    // the Intune documentation's own examples, verbatim
    let by_date = get_ok(&format!(
        "/devicePropertyHistories/$count?api-version=v1.0&$filter={}",
        enc("DateKey eq 20261101")
    ));
    let canonical = get_ok(&format!(
        "/devicePropertyHistories/$count?api-version=v1.0&$filter={}",
        enc("dateKey eq 20261101")
    ));
    assert_eq!(by_date, canonical);
    assert!(by_date.as_u64().unwrap() > 0);
    let recent = get_ok(&format!(
        "/devices?api-version=v1.0&$filter={}&$top=3",
        enc("RowLastModifiedDateTimeUTC ge 2018-02-21T23:18:51.3277273Z")
    ));
    assert_eq!(recent["value"].as_array().unwrap().len(), 3);
    // names in every place a client writes one, answered with the model's spelling
    let v = get_ok(&format!(
        "/Devices?API-Version=v1.0&$select=DeviceName,OSVersion&$orderby={}&$top=2&$expand={}",
        enc("DeviceKey desc"),
        enc("DeviceType($select=DeviceTypeName)")
    ));
    let context = v["@odata.context"].as_str().unwrap();
    assert!(
        context.ends_with("#devices(deviceName,osVersion,deviceType(deviceTypeName))"),
        "{context}"
    );
    let row = &v["value"][0];
    assert!(
        row["deviceName"].is_string() && row["DeviceName"].is_null(),
        "{row}"
    );
    assert!(row["deviceType"]["deviceTypeName"].is_string(), "{row}");
    // an expansion without a nested $select is named alone in the context URL: Power Query
    // refuses `deviceType()` ("The odata.context url ... is invalid", OData/WebApi#2088)
    let v = get_ok("/devices?api-version=v1.0&$select=deviceName&$top=1&$expand=deviceType,devicePropertyHistories($top=1)");
    let context = v["@odata.context"].as_str().unwrap();
    assert!(
        context.ends_with("#devices(deviceName,deviceType,devicePropertyHistories)"),
        "{context}"
    );
    let one = get_ok("/DEVICES(1)/DeviceName?api-version=v1.0");
    assert!(one["value"].is_string());
    let related = get_ok("/devices(1)/DeviceType?api-version=v1.0");
    assert!(related["deviceTypeName"].is_string());
    let keyed = get_ok("/devicePropertyHistories(DateKey=20261101,DeviceKey=1)?api-version=v1.0");
    assert_eq!(keyed["deviceKey"], 1);
    let days = get_ok("/devicePropertyHistories/$count?api-version=v1.0&MaxHistoryDays=1");
    let plain = get_ok("/devicePropertyHistories/$count?api-version=v1.0&maxhistorydays=1");
    assert_eq!(days, plain);
    let nav = get_ok(&format!(
        "/devices/$count?api-version=v1.0&$filter={}",
        enc("DeviceType/DeviceTypeName ne 'x'")
    ));
    assert!(nav.as_u64().is_some());
}

#[test]
fn community_scripts_pad_integers_with_blanks() {
    let plain = get_ok("/devices?api-version=v1.0&$skip=10&$top=5&$select=deviceKey");
    let padded = get_ok("/devices?api-version=v1.0&$skip=%2010%20&$top=%205&$select=deviceKey");
    assert_eq!(padded["value"], plain["value"]);
    assert_eq!(plain["value"].as_array().unwrap().len(), 5);
    let days = get_ok("/devicePropertyHistories/$count?api-version=v1.0&maxhistorydays=%202%20");
    let plain_days = get_ok("/devicePropertyHistories/$count?api-version=v1.0&maxhistorydays=2");
    assert_eq!(days, plain_days);
    let r = get("/devices?api-version=v1.0&$top=%201%202");
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r)["details"][0]["position"], 2);
}

#[test]
fn paths_beyond_one_navigation_step_are_501_and_other_deep_paths_404() {
    let r = get("/devices(1)/deviceType/deviceTypeName?api-version=v1.0");
    assert_eq!(r.status, 501, "{}", r.text());
    assert_eq!(error_of(&r)["target"], "path");
    for path in [
        "/devices(1)/deviceName/x?api-version=v1.0",
        "/devices(1)/nothing/x?api-version=v1.0",
    ] {
        let r = get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
    }
}

#[test]
fn oversized_and_ambiguous_requests_are_refused_with_odata_errors() {
    let long = format!(
        "/devices?api-version=v1.0&$filter={}",
        "x".repeat(62 * 1024)
    );
    let r = get(&long);
    assert_eq!(r.status, 414, "{}", r.text());
    assert_eq!(error_of(&r)["target"], "URL");
    let big = "b".repeat(8 * 1024);
    let many: Vec<(String, String)> = (0..10)
        .map(|i| (format!("x-big-{i}"), big.clone()))
        .collect();
    let headers: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = request("GET", "/devices?api-version=v1.0&$top=1", &headers);
    assert_eq!(r.status, 431, "{}", r.text());
    assert_eq!(error_of(&r)["target"], "headers");
    let token = format!("Bearer {}", fixture().token);
    let r = request(
        "GET",
        "/devices?api-version=v1.0&$top=1",
        &[("Authorization", &token), ("Authorization", "Bearer other")],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r)["target"], "Authorization");
}

#[test]
fn aggregations_as_power_query_and_sap_clients_spell_them() {
    let devices = devices();
    let total: i64 = devices
        .iter()
        .filter_map(|d| d["totalStorageSpaceInBytes"].as_i64())
        .sum();
    // Power Query folds "Group By" with a row count and a sum (alias = the column's own name),
    // "Count Rows" and "Remove Duplicates" of one column to $apply, with its paging options
    let grouped = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}&$top=1000",
        enc("groupby((manufacturer),aggregate($count as Count,totalStorageSpaceInBytes with sum as totalStorageSpaceInBytes))")
    ));
    let rows = grouped["value"].as_array().unwrap();
    let counted: u64 = rows.iter().map(|r| r["Count"].as_u64().unwrap()).sum();
    let summed: i64 = rows
        .iter()
        .filter_map(|r| r["totalStorageSpaceInBytes"].as_i64())
        .sum();
    assert_eq!((counted as usize, summed), (devices.len(), total));
    let count = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}",
        enc("aggregate($count as Count)")
    ));
    assert_eq!(count["value"][0]["Count"], devices.len());
    let distinct = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}",
        enc("groupby((operatingSystem))")
    ));
    let systems: BTreeSet<&str> = devices
        .iter()
        .filter_map(|d| d["operatingSystem"].as_str())
        .collect();
    assert_eq!(distinct["value"].as_array().unwrap().len(), systems.len());
    // SAP UI5 / CAP list reports: filter then groupby, $count=true with $skip/$top, ordered by
    // an aggregate
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}&$count=true&$skip=0&$top=3&$orderby={}",
        enc("filter(isDeleted eq false)/groupby((manufacturer),aggregate(freeStorageSpaceInBytes with average as freeStorageSpaceInBytes))"),
        enc("freeStorageSpaceInBytes desc")
    ));
    let averages: Vec<f64> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["freeStorageSpaceInBytes"].as_f64().unwrap())
        .collect();
    assert!(averages.windows(2).all(|w| w[0] >= w[1]), "{averages:?}");
    assert!(v["@odata.count"].as_u64().unwrap() >= averages.len() as u64);
}
