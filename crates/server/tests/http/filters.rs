//! `$filter` compared with an independent evaluation, and expressions of any shape.

use super::*;

#[test]
fn filters_agree_with_an_independent_evaluation() {
    let all = devices();
    fn s(r: &Value, p: &str) -> Option<String> {
        r[p].as_str().map(str::to_string)
    }
    fn i(r: &Value, p: &str) -> Option<i64> {
        r[p].as_i64()
    }
    type Pred = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, Pred)> = vec![
        ("deviceKey eq 5", Box::new(|r| i(r, "deviceKey") == Some(5))),
        (
            "deviceKey ne 5 and deviceKey le 10",
            Box::new(|r| i(r, "deviceKey") != Some(5) && i(r, "deviceKey").unwrap() <= 10),
        ),
        (
            "deviceKey gt 290 or deviceKey lt 3",
            Box::new(|r| i(r, "deviceKey").unwrap() > 290 || i(r, "deviceKey").unwrap() < 3),
        ),
        (
            "not (deviceKey ge 3)",
            Box::new(|r| i(r, "deviceKey").unwrap() < 3),
        ),
        (
            "deviceKey in (1, 7, 9999)",
            Box::new(|r| [1, 7].contains(&i(r, "deviceKey").unwrap())),
        ),
        ("isDeleted eq true", Box::new(|r| r["isDeleted"] == true)),
        ("isDeleted", Box::new(|r| r["isDeleted"] == true)),
        (
            "androidSecurityPatchLevel eq null",
            Box::new(|r| r["androidSecurityPatchLevel"].is_null()),
        ),
        (
            "androidSecurityPatchLevel ne null",
            Box::new(|r| !r["androidSecurityPatchLevel"].is_null()),
        ),
        (
            "not (androidSecurityPatchLevel gt '2000')",
            Box::new(|r| s(r, "androidSecurityPatchLevel").is_none_or(|v| v.as_str() <= "2000")),
        ),
        (
            "startswith(deviceName,'DESKTOP')",
            Box::new(move |r| s(r, "deviceName").unwrap().starts_with("DESKTOP")),
        ),
        (
            "endswith(deviceName,'A')",
            Box::new(move |r| s(r, "deviceName").unwrap().ends_with('A')),
        ),
        (
            "contains(model,'Pro')",
            Box::new(move |r| s(r, "model").unwrap().contains("Pro")),
        ),
        (
            "tolower(manufacturer) eq 'apple'",
            Box::new(move |r| s(r, "manufacturer").unwrap().to_lowercase() == "apple"),
        ),
        (
            "toupper(manufacturer) eq 'HP'",
            Box::new(move |r| s(r, "manufacturer").unwrap().to_uppercase() == "HP"),
        ),
        (
            "length(deviceName) gt 13",
            Box::new(move |r| s(r, "deviceName").unwrap().len() > 13),
        ),
        (
            "indexof(deviceName,'-') eq 3",
            Box::new(move |r| s(r, "deviceName").unwrap().find('-') == Some(3)),
        ),
        (
            "substring(deviceName, 0, 3) eq 'MAC'",
            Box::new(move |r| s(r, "deviceName").unwrap().starts_with("MAC")),
        ),
        (
            "concat(manufacturer, model) eq 'AppleiPhone 15'",
            Box::new(move |r| {
                s(r, "manufacturer").unwrap() + &s(r, "model").unwrap() == "AppleiPhone 15"
            }),
        ),
        (
            "trim(concat(' ', osVersion)) eq '18.5'",
            Box::new(move |r| s(r, "osVersion").unwrap() == "18.5"),
        ),
        (
            "enrolledDateTime ge 2026-10-15T00:00:00Z",
            Box::new(move |r| s(r, "enrolledDateTime").unwrap().as_str() >= "2026-10-15"),
        ),
        (
            "enrolledDateTime lt 2026-10-15T02:00:00+02:00",
            Box::new(move |r| s(r, "enrolledDateTime").unwrap().as_str() < "2026-10-15"),
        ),
        (
            "year(enrolledDateTime) eq 2026 and month(enrolledDateTime) eq 10",
            Box::new(move |r| s(r, "enrolledDateTime").unwrap().starts_with("2026-10")),
        ),
        (
            "day(enrolledDateTime) eq 1",
            Box::new(move |r| &s(r, "enrolledDateTime").unwrap()[8..10] == "01"),
        ),
        (
            "hour(enrolledDateTime) lt 6",
            Box::new(move |r| {
                s(r, "enrolledDateTime").unwrap()[11..13]
                    .parse::<u32>()
                    .unwrap()
                    < 6
            }),
        ),
        (
            "date(enrolledDateTime) eq 2026-10-20",
            Box::new(move |r| s(r, "enrolledDateTime").unwrap().starts_with("2026-10-20")),
        ),
        (
            "totalStorageSpaceInBytes div 1073741824 eq 128",
            Box::new(|r| i(r, "totalStorageSpaceInBytes").unwrap() / 1073741824 == 128),
        ),
        (
            "totalStorageSpaceInBytes mod 3 eq 1",
            Box::new(|r| i(r, "totalStorageSpaceInBytes").unwrap() % 3 == 1),
        ),
        (
            "freeStorageSpaceInBytes mul 3 add 1 sub 1 eq totalStorageSpaceInBytes",
            Box::new(|r| {
                i(r, "freeStorageSpaceInBytes").unwrap() * 3
                    == i(r, "totalStorageSpaceInBytes").unwrap()
            }),
        ),
        (
            "-deviceKey gt -3",
            Box::new(|r| i(r, "deviceKey").unwrap() < 3),
        ),
        (
            "deviceKey divby 2 eq 2.5",
            Box::new(|r| i(r, "deviceKey") == Some(5)),
        ),
        (
            "cast(deviceKey, Edm.String) eq '42'",
            Box::new(|r| i(r, "deviceKey") == Some(42)),
        ),
        (
            "isof(deviceName, Edm.String)",
            Box::new(|r| !r["deviceName"].is_null()),
        ),
        (
            "round(deviceKey divby 10) eq 3",
            Box::new(|r| (i(r, "deviceKey").unwrap() as f64 / 10.0).round() == 3.0),
        ),
        (
            "floor(deviceKey divby 10) eq 3 and ceiling(deviceKey divby 10) eq 4",
            Box::new(|r| {
                let k = i(r, "deviceKey").unwrap();
                k > 30 && k < 40
            }),
        ),
        ("deviceName eq 'it''s not there'", Box::new(|_| false)),
        ("enrolledDateTime lt now()", Box::new(|_| true)),
    ];
    for (filter, pred) in cases {
        let url = format!("/devices?api-version=v1.0&$filter={}", enc(filter));
        let got = keys_of(get_ok(&url)["value"].as_array().unwrap());
        let expected: BTreeSet<u64> = all
            .iter()
            .filter(|r| pred(r))
            .map(|r| r["deviceKey"].as_u64().unwrap())
            .collect();
        assert_eq!(got, expected, "$filter={filter}");
    }
}

#[test]
fn expressions_of_any_shape_are_bounded_and_answered() {
    // a long disjunction (Power Query's "is one of") is answered, and right
    let keys: Vec<String> = (1..=600).map(|k| format!("deviceKey eq {k}")).collect();
    let url = format!(
        "/devices?api-version=v1.0&$select=deviceKey&$filter={}",
        enc(&keys.join(" or "))
    );
    let v = get_ok(&url);
    assert_eq!(v["value"].as_array().unwrap().len(), DEVICES as usize);
    // every shape beyond the bounds is a 400 naming the limit, never a crash or a 500
    let alias_bomb = {
        let mut q = String::from("$filter=@a0");
        for i in 0..6 {
            let uses = vec![format!("@a{}", i + 1); 10].join(" or ");
            q.push_str(&format!("&@a{i}={}", enc(&uses)));
        }
        q + "&@a6=true"
    };
    let doubling = {
        let mut q = format!("$filter={}", enc("length(@a0) eq 1"));
        for i in 0..12 {
            q.push_str(&format!(
                "&@a{i}={}",
                enc(&format!("concat(@a{0},@a{0})", i + 1))
            ));
        }
        q + "&@a12='x'"
    };
    let cases = [
        (
            format!("$filter={}", enc(&vec!["true"; 4100].join(" or "))),
            "$filter",
            "more than 4000 operators",
        ),
        (
            format!(
                "$orderby={}",
                enc(&format!("deviceKey{}", " add 1".repeat(1500)))
            ),
            "$orderby",
            "nested more than 100 levels",
        ),
        (
            format!("$filter={}", enc(&format!("{}true", "not ".repeat(1000)))),
            "$filter",
            "nested more than 100 levels",
        ),
        (
            format!(
                "$filter={}",
                enc(&format!("{}1{} eq 1", "(".repeat(1000), ")".repeat(1000)))
            ),
            "$filter",
            "nested more than 100 levels",
        ),
        (alias_bomb, "$filter", "more than 4000 operators"),
        (doubling, "$filter", "more than 4000 operators"),
        (
            format!("$orderby={}", vec!["deviceKey"; 33].join(",")),
            "$orderby",
            "more than 32 items",
        ),
        (
            format!("$select={}", vec!["deviceKey"; 300].join(",")),
            "$select",
            "more than 256 items",
        ),
        (
            format!("$expand={}", vec!["deviceType"; 33].join(",")),
            "$expand",
            "more than 32 items",
        ),
    ];
    // the most $orderby items allowed, beside the key columns paging adds, are answered
    let most = ["osVersion", "deviceName desc", "complianceStateKey"]
        .iter()
        .copied()
        .cycle()
        .take(32)
        .collect::<Vec<_>>()
        .join(",");
    let v = get_ok(&format!(
        "/devicePropertyHistories?api-version=v1.0&$top=3&$select=deviceKey&$orderby={}",
        enc(&most)
    ));
    assert_eq!(v["value"].as_array().unwrap().len(), 3);
    for (query, target, message) in cases {
        let started = std::time::Instant::now();
        let r = get(&format!("/devices?api-version=v1.0&{query}"));
        assert_eq!(r.status, 400, "{}: {}", &query[..40], r.text());
        let e = error_of(&r);
        assert_eq!(e["target"], target, "{e}");
        assert!(e["message"].as_str().unwrap().contains(message), "{e}");
        assert!(e["details"][0]["position"].is_u64(), "{e}");
        assert!(started.elapsed().as_secs() < 5, "{}", &query[..40]);
    }
}
