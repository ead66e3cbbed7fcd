//! `$search` and `search(...)` in `$apply`: matches compared with an evaluation here over every
//! string property of the rows (ASCII letters ignoring case); combined with `$filter`, paged,
//! counted; errors.

use super::*;

/// The string properties of `devices` in the model.
fn string_properties() -> Vec<String> {
    let model = Warehouse::get().edm(ApiVersion::V1);
    let set = model.entity_set("devices").unwrap();
    model
        .type_of(set)
        .properties
        .iter()
        .filter(|p| p.ty == odata::edm::PrimitiveType::String)
        .map(|p| p.name.clone())
        .collect()
}

/// Whether a device matches one term.
fn matches(device: &Value, term: &str, properties: &[String]) -> bool {
    let term = term.to_ascii_lowercase();
    properties.iter().any(|p| {
        device[p]
            .as_str()
            .is_some_and(|v| v.to_ascii_lowercase().contains(&term))
    })
}

#[test]
fn search_agrees_with_an_independent_evaluation() {
    let devices = devices();
    let props = string_properties();
    let m = |d: &Value, t: &str| matches(d, t, &props);
    type Pred<'a> = Box<dyn Fn(&Value) -> bool + 'a>;
    let cases: Vec<(&str, Pred)> = vec![
        ("lenovo", Box::new(|d| m(d, "lenovo"))),
        ("LeNoVo", Box::new(|d| m(d, "lenovo"))),
        ("\"T14 Gen\"", Box::new(|d| m(d, "t14 gen"))),
        (
            "apple NOT iphone",
            Box::new(|d| m(d, "apple") && !m(d, "iphone")),
        ),
        (
            "thinkpad OR iphone",
            Box::new(|d| m(d, "thinkpad") || m(d, "iphone")),
        ),
        (
            "(apple OR dell) AND NOT ipad",
            Box::new(|d| (m(d, "apple") || m(d, "dell")) && !m(d, "ipad")),
        ),
        (
            "apple dell OR hp",
            Box::new(|d| (m(d, "apple") && m(d, "dell")) || m(d, "hp")),
        ),
        ("NOT desktop", Box::new(|d| !m(d, "desktop"))),
        ("desk_top", Box::new(|d| m(d, "desk_top"))),
        ("%", Box::new(|d| m(d, "%"))),
    ];
    for (search, expected) in &cases {
        let want: BTreeSet<u64> = keys_of(
            &devices
                .iter()
                .filter(|d| expected(d))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let (rows, _) = all_rows(
            &format!(
                "/devices?api-version=v1.0&$search={}&$select=deviceKey",
                enc(search)
            ),
            &[("Prefer", "odata.maxpagesize=40")],
        );
        assert_eq!(keys_of(&rows), want, "$search={search}");
        assert!(
            !want.is_empty() || ["desk_top", "%"].contains(search),
            "{search} should match something"
        );
    }
    // with $filter and $count
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$search={}&$filter=deviceKey%20le%20150&$count=true&$top=1",
        enc("windows")
    ));
    let want = devices
        .iter()
        .filter(|d| m(d, "windows") && d["deviceKey"].as_u64().unwrap() <= 150)
        .count();
    assert_eq!(v["@odata.count"], want);
    // search(...) in $apply, before grouping
    let grouped = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}",
        enc("search(apple)/aggregate($count as n)")
    ));
    let apple = devices.iter().filter(|d| m(d, "apple")).count();
    assert_eq!(grouped["value"][0]["n"], apple);
}

#[test]
fn search_errors_name_the_position() {
    for (query, status, position) in [
        ("$search=a)", 400, Some(1)),
        ("$search=%22open", 400, Some(5)),
        ("$search=(a", 400, Some(2)),
        ("$search=", 400, None),
        // NOT nests: thousands of them are refused at the depth limit (they overflowed the stack)
        (&format!("$search={}x", "NOT%20".repeat(3000)), 400, None),
        ("$search=a&$apply=groupby((manufacturer))", 501, None),
    ] {
        let r = get(&format!("/devices?api-version=v1.0&{query}"));
        assert_eq!(r.status, status, "{query}: {}", r.text());
        let e = error_of(&r);
        assert_eq!(e["target"], "$search", "{query}: {e}");
        if let Some(p) = position {
            assert_eq!(e["details"][0]["position"], p, "{query}: {e}");
        }
    }
    let r = get(&format!(
        "/devices?api-version=v1.0&$apply={}",
        enc("search(())/aggregate($count as n)")
    ));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r)["details"][0]["position"], 8);
    // keywords without operands are words; the single-quoted form clients send while typing
    let devices = devices();
    for (search, term) in [
        ("a%20AND", None),
        ("'%22blue'", Some("\"blue")),
        ("'lenovo'", Some("lenovo")),
    ] {
        let v = get_ok(&format!(
            "/devices?api-version=v1.0&$search={search}&$count=true&$top=0"
        ));
        if let Some(term) = term {
            let props = string_properties();
            let want = devices.iter().filter(|d| matches(d, term, &props)).count();
            assert_eq!(v["@odata.count"], want, "{search}");
        }
    }
}
