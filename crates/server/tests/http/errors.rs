//! OData errors with status and position; headers, negotiation and compression; entities, properties, values and counts; `maxhistorydays`.

use super::*;

#[test]
fn errors_are_odata_errors_with_status_and_position() {
    let cases: Vec<(String, u16, &str, Option<u64>)> = vec![
        ("/devices".into(), 400, "api-version", None),
        ("/devices?api-version=v2".into(), 400, "api-version", None),
        ("/nothing?api-version=v1.0".into(), 404, "nothing", None),
        (
            "/currentUsers?api-version=v1.0".into(),
            404,
            "currentUsers",
            None,
        ),
        (
            format!("/devices?api-version=v1.0&$filter={}", enc("deviceKey eq")),
            400,
            "$filter",
            Some(10),
        ),
        (
            format!("/devices?api-version=v1.0&$filter={}", enc("nope eq 1")),
            400,
            "$filter",
            Some(0),
        ),
        (
            format!(
                "/devices?api-version=v1.0&$filter={}",
                enc("deviceKey eq 'x'")
            ),
            400,
            "$filter",
            Some(13),
        ),
        (
            format!(
                "/devices?api-version=v1.0&$filter={}",
                enc("contains(deviceKey,'1')")
            ),
            400,
            "$filter",
            Some(9),
        ),
        (
            format!(
                "/devices?api-version=v1.0&$orderby={}",
                enc("deviceName sideways")
            ),
            400,
            "$orderby",
            Some(11),
        ),
        (
            "/devices?api-version=v1.0&$select=deviceName,nope".into(),
            400,
            "$select",
            Some(11),
        ),
        // numbers beyond Edm.Double, and a cast beyond Int64 (were infinity and Int64's maximum)
        (
            format!(
                "/devices?api-version=v1.0&$filter={}",
                enc("floor(1e309) eq 1")
            ),
            400,
            "$filter",
            Some(6),
        ),
        (
            format!(
                "/devices?api-version=v1.0&$filter={}",
                enc("cast(1e300,Edm.Int64) eq 1")
            ),
            400,
            "$filter",
            Some(5),
        ),
        (
            "/devices?api-version=v1.0&$levels=2".into(),
            400,
            "$levels",
            None,
        ),
        (
            "/devices?api-version=v1.0&$top=-1".into(),
            400,
            "$top",
            Some(0),
        ),
        (
            "/devices?api-version=v1.0&$skip=abc".into(),
            400,
            "$skip",
            Some(0),
        ),
        (
            "/devices?api-version=v1.0&$count=maybe".into(),
            400,
            "$count",
            Some(0),
        ),
        (
            format!(
                "/devices?api-version=v1.0&$expand={}",
                enc("deviceType($apply=identity)")
            ),
            501,
            "$expand",
            Some(11),
        ),
        (
            "/devices?api-version=v1.0&$expand=deviceName".into(),
            400,
            "$expand",
            Some(0),
        ),
        (
            "/devices?api-version=v1.0&$expand=deviceType/deviceTypeName".into(),
            400,
            "$expand",
            Some(0),
        ),
        (
            format!(
                "/devices?api-version=v1.0&$filter={}",
                enc("deviceType/nothing/more eq 1")
            ),
            501,
            "$filter",
            Some(0),
        ),
        (
            "/devices?api-version=v1.0&$expand=deviceType,nothing".into(),
            400,
            "$expand",
            Some(11),
        ),
        (
            format!(
                "/devices?api-version=v1.0&$filter={}",
                enc("tags/any(t:t eq 'x')")
            ),
            400,
            "$filter",
            Some(0),
        ),
        (
            "/devices?api-version=v1.0&$format=atom".into(),
            406,
            "$format",
            None,
        ),
        (
            "/devices?api-version=v1.0&$bogus=1".into(),
            400,
            "query",
            Some(17),
        ),
        (
            "/devicePropertyHistories?api-version=v1.0&maxhistorydays=x".into(),
            400,
            "maxhistorydays",
            None,
        ),
        ("/devices(999999)?api-version=v1.0".into(), 404, "key", None),
        ("/devices('x')?api-version=v1.0".into(), 400, "key", Some(0)),
        (
            "/devicePropertyHistories(1)?api-version=v1.0".into(),
            400,
            "key",
            None,
        ),
        (
            "/devices(1)/nope?api-version=v1.0".into(),
            404,
            "nope",
            None,
        ),
        // the path's grammar (model-free, odata::syntax::parse_resource_path), then the model
        (
            "/devices('a/b')?api-version=v1.0".into(),
            400,
            "path",
            Some(10),
        ),
        (
            "/devices(1;2)?api-version=v1.0".into(),
            400,
            "path",
            Some(9),
        ),
        ("/$batch?api-version=v1.0".into(), 501, "path", None),
        (
            format!(
                "/devices?api-version=v1.0&$filter={}",
                enc("deviceName eq $root/devices(1)/deviceName")
            ),
            501,
            "$filter",
            Some(14),
        ),
        ("/devices/x/y?api-version=v1.0".into(), 404, "path", None),
    ];
    for (url, status, target, position) in cases {
        let r = get(&url);
        assert_eq!(r.status, status, "{url}: {}", r.text());
        let e = error_of(&r);
        assert_eq!(e["target"], target, "{url}: {e}");
        if let Some(p) = position {
            assert_eq!(e["details"][0]["position"], p, "{url}: {e}");
        }
        assert_eq!(r.header("odata-version"), Some("4.0"));
        assert!(r
            .header("content-type")
            .unwrap()
            .starts_with("application/json"));
    }
    let r = request("POST", "/devices?api-version=v1.0", &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    error_of(&r);
    let r = request(
        "GET",
        "/devices?api-version=v1.0",
        &[("Accept", "application/xml")],
    );
    assert_eq!(r.status, 406);
    let r = request(
        "GET",
        "/devices?api-version=v1.0",
        &[("OData-MaxVersion", "3.0")],
    );
    assert_eq!(r.status, 400);
    let outside = fixture().root.replace(server::BASE_PATH, "/elsewhere");
    let r = get(&outside);
    assert_eq!(r.status, 404);
    error_of(&r);
}

#[test]
fn headers_ids_negotiation_and_compression() {
    let r = request(
        "GET",
        "/devices?api-version=v1.0&$top=1",
        &[("client-request-id", "abc-123")],
    );
    assert_eq!(r.header("client-request-id"), Some("abc-123"));
    assert_eq!(r.header("request-id").map(str::len), Some(36));
    assert_eq!(r.header("odata-version"), Some("4.0"));
    let power_bi = "application/json;odata.metadata=minimal;q=1.0,application/json;odata=minimalmetadata;q=0.9,application/atomsvc+xml;q=0.8,application/atom+xml;q=0.8,application/xml;q=0.7,text/plain;q=0.7";
    let r = request(
        "GET",
        "/devices?api-version=v1.0&$top=1",
        &[("Accept", power_bi)],
    );
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .contains("odata.metadata=minimal"));
    let full = request(
        "GET",
        "/devices?api-version=v1.0&$top=1",
        &[(
            "Accept",
            "application/json;odata.metadata=full;IEEE754Compatible=true",
        )],
    )
    .json();
    let row = &full["value"][0];
    assert_eq!(row["@odata.type"], "#Microsoft.Intune.DataWarehouse.device");
    assert!(row["@odata.id"].as_str().unwrap().ends_with("/devices(1)"));
    assert_eq!(row["enrolledDateTime@odata.type"], "#DateTimeOffset");
    assert!(
        row["totalStorageSpaceInBytes"].is_string(),
        "Int64 as string when IEEE754Compatible"
    );
    let none =
        get_ok("/devices?api-version=v1.0&$top=1&$format=application/json;odata.metadata=none");
    assert!(none.get("@odata.context").is_none());
    let r = request(
        "GET",
        "/devices?api-version=v1.0",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(r.status, 200);
    let head = request("HEAD", "/devices?api-version=v1.0&$top=1", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn entities_properties_values_and_counts() {
    let e = get_ok("/devices(7)?api-version=v1.0");
    assert_eq!(e["deviceKey"], 7);
    assert!(e["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#devices/$entity"));
    let name = e["deviceName"].as_str().unwrap().to_string();
    let p = get_ok("/devices(7)/deviceName?api-version=v1.0");
    assert_eq!(p["value"], name.as_str());
    assert!(p["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("#devices(7)/deviceName"));
    let raw = get("/devices(7)/deviceName/$value?api-version=v1.0");
    assert_eq!((raw.status, raw.text()), (200, name));
    let enrolled = get("/devices(7)/enrolledDateTime/$value?api-version=v1.0");
    assert_eq!(
        enrolled.text(),
        e["enrolledDateTime"].as_str().unwrap(),
        "raw values are unquoted"
    );
    let h = get_ok("/devicePropertyHistories(dateKey=20261101,deviceKey=7)?api-version=v1.0");
    assert_eq!(
        (h["dateKey"].as_u64(), h["deviceKey"].as_u64()),
        (Some(20261101), Some(7))
    );
    let h2 = get_ok("/devicePropertyHistories(deviceKey=7,dateKey=20261101)?api-version=v1.0");
    assert_eq!(h, h2);
    let sel = get_ok("/devices(7)?api-version=v1.0&$select=deviceName");
    assert_eq!(sel.as_object().unwrap().len(), 2);
    let total = get("/devices/$count?api-version=v1.0");
    assert_eq!((total.status, total.text()), (200, DEVICES.to_string()));
    let deleted = get(&format!(
        "/devices/$count?api-version=v1.0&$filter={}",
        enc("isDeleted eq true")
    ))
    .text();
    let expected = devices().iter().filter(|d| d["isDeleted"] == true).count();
    assert_eq!(deleted, expected.to_string());
    let null_prop = devices()
        .into_iter()
        .find(|d| d["androidSecurityPatchLevel"].is_null())
        .unwrap();
    let r = get(&format!(
        "/devices({})/androidSecurityPatchLevel?api-version=v1.0",
        null_prop["deviceKey"]
    ));
    assert_eq!(r.status, 204);
}

#[test]
fn maxhistorydays_limits_facts_unless_datekey_is_filtered() {
    let dates = |url: &str| -> BTreeSet<u64> {
        all_rows(url, &[])
            .0
            .iter()
            .map(|r| r["dateKey"].as_u64().unwrap())
            .collect()
    };
    let d = dates("/compliancePolicyStatusDeviceActivities?api-version=v1.0&maxhistorydays=7");
    assert_eq!(d, (20261025..=20261031).chain([20261101]).collect());
    let d = dates("/compliancePolicyStatusDeviceActivities?api-version=v1.0&maxhistorydays=7&$filter=dateKey%20lt%2020261010");
    assert_eq!(d.len(), 7, "an explicit dateKey filter wins");
    let n = get_ok("/devices?api-version=v1.0&maxhistorydays=1&$count=true&$top=0")["@odata.count"]
        .as_u64()
        .unwrap();
    assert_eq!(n, u64::from(DEVICES), "dimensions ignore maxhistorydays");
}
