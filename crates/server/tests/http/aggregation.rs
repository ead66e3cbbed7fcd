//! `$apply`: grouped and aggregated results compared with the same answers computed here from
//! the rows themselves; stages, query options and paging on aggregated rows; errors.

use super::*;
use std::collections::BTreeMap;

/// Every row of a collection, following next links.
fn rows_of(collection: &str) -> Vec<Value> {
    all_rows(&format!("/{collection}?api-version=v1.0"), &[]).0
}

/// The aggregated rows a `$apply` returns, all pages.
fn applied(collection: &str, apply: &str, more: &str) -> Vec<Value> {
    all_rows(
        &format!("/{collection}?api-version=v1.0&$apply={}{more}", enc(apply)),
        &[],
    )
    .0
}

/// Rows grouped by the values of `keys` (as JSON text, so null is a group of its own).
fn groups(rows: &[Value], key: impl Fn(&Value) -> Vec<Value>) -> BTreeMap<String, Vec<&Value>> {
    let mut out: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in rows {
        out.entry(Value::Array(key(r)).to_string())
            .or_default()
            .push(r);
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn groupby_counts_agree_with_an_independent_evaluation() {
    let histories = rows_of("devicePropertyHistories");
    let kept: Vec<Value> = histories
        .iter()
        .filter(|r| r["dateKey"].as_i64().unwrap() >= 20261020)
        .cloned()
        .collect();
    let expected = groups(&kept, |r| {
        vec![r["dateKey"].clone(), r["complianceStateKey"].clone()]
    });
    let got = applied(
        "devicePropertyHistories",
        "filter(dateKey ge 20261020)/groupby((dateKey,complianceStateKey),aggregate($count as n))",
        "",
    );
    assert_eq!(got.len(), expected.len());
    let mut previous: Option<(i64, i64)> = None;
    for row in &got {
        let key = Value::Array(vec![
            row["dateKey"].clone(),
            row["complianceStateKey"].clone(),
        ]);
        let members = &expected[&key.to_string()];
        assert_eq!(row["n"].as_u64().unwrap() as usize, members.len(), "{row}");
        // without an order asked for, rows come in the order of the grouping values
        let this = (
            row["dateKey"].as_i64().unwrap(),
            row["complianceStateKey"].as_i64().unwrap(),
        );
        assert!(previous < Some(this), "{previous:?} then {this:?}");
        previous = Some(this);
    }
    // the history window applies to the rows before they are grouped
    let window = applied(
        "devicePropertyHistories",
        "groupby((dateKey))",
        "&maxhistorydays=3",
    );
    let days: Vec<i64> = window
        .iter()
        .map(|r| r["dateKey"].as_i64().unwrap())
        .collect();
    assert_eq!(days, [20261029, 20261030, 20261031, 20261101]);
}

#[test]
fn aggregates_through_a_navigation_path_agree_with_an_independent_evaluation() {
    let devices = devices();
    let type_names: HashMap<i64, Value> = rows_of("deviceTypes")
        .iter()
        .map(|t| {
            (
                t["deviceTypeKey"].as_i64().unwrap(),
                t["deviceTypeName"].clone(),
            )
        })
        .collect();
    let expected = groups(&devices, |d| {
        let name = d["deviceTypeKey"]
            .as_i64()
            .and_then(|k| type_names.get(&k).cloned())
            .unwrap_or(Value::Null);
        vec![name]
    });
    let got = applied(
        "devices",
        "groupby((deviceType/deviceTypeName),aggregate($count as devices,\
         totalStorageSpaceInBytes with sum as storage,freeStorageSpaceInBytes with min as minFree,\
         freeStorageSpaceInBytes with max as maxFree,freeStorageSpaceInBytes with average as avgFree,\
         manufacturer with countdistinct as makers))",
        "",
    );
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for row in &got {
        let name = row["deviceType"]["deviceTypeName"].clone();
        let members = &expected[&Value::Array(vec![name]).to_string()];
        let numbers =
            |p: &str| -> Vec<i64> { members.iter().filter_map(|d| d[p].as_i64()).collect() };
        assert_eq!(row["devices"].as_u64().unwrap() as usize, members.len());
        assert_eq!(
            row["storage"].as_i64(),
            Some(numbers("totalStorageSpaceInBytes").iter().sum())
        );
        let free = numbers("freeStorageSpaceInBytes");
        assert_eq!(row["minFree"].as_i64(), free.iter().min().copied());
        assert_eq!(row["maxFree"].as_i64(), free.iter().max().copied());
        let average = free.iter().map(|&f| f as f64).sum::<f64>() / free.len() as f64;
        assert!(close(row["avgFree"].as_f64().unwrap(), average), "{row}");
        let makers: BTreeSet<&str> = members
            .iter()
            .filter_map(|d| d["manufacturer"].as_str())
            .collect();
        assert_eq!(row["makers"].as_u64().unwrap() as usize, makers.len());
    }
    // aggregate alone: one row over the whole collection
    let total = applied(
        "devices",
        "aggregate($count as n,deviceKey with max as last,lastSyncDateTime with max as latest)",
        "",
    );
    let latest = devices
        .iter()
        .filter_map(|d| d["lastSyncDateTime"].as_str())
        .max()
        .unwrap();
    assert_eq!(total.len(), 1);
    assert_eq!(total[0]["n"], devices.len());
    assert_eq!(total[0]["last"], DEVICES);
    assert_eq!(total[0]["latest"], latest);
}

#[test]
fn stages_and_query_options_work_on_aggregated_rows() {
    let devices = devices();
    let mut per_maker: Vec<(String, usize)> = groups(&devices, |d| vec![d["manufacturer"].clone()])
        .into_iter()
        .map(|(k, v)| {
            let key: Vec<Value> = serde_json::from_str(&k).unwrap();
            (key[0].as_str().unwrap().to_string(), v.len())
        })
        .collect();
    // ties broken by the grouping values, ascending
    per_maker.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let names = |rows: &[Value]| -> Vec<(String, usize)> {
        rows.iter()
            .map(|r| {
                (
                    r["manufacturer"].as_str().unwrap().to_string(),
                    r["n"].as_u64().unwrap() as usize,
                )
            })
            .collect()
    };
    let top3 = applied(
        "devices",
        "groupby((manufacturer),aggregate($count as n))/orderby(n desc)/top(3)",
        "",
    );
    assert_eq!(names(&top3), per_maker[..3]);
    let topcount = applied(
        "devices",
        "groupby((manufacturer),aggregate($count as n))/topcount(3,n)",
        "",
    );
    assert_eq!(names(&topcount), per_maker[..3]);
    // the fewest groups whose counts reach a sum or a share of the total, largest (smallest)
    // first, ties by the grouping values
    let total: usize = per_maker.iter().map(|m| m.1).sum();
    let mut ascending = per_maker.clone();
    ascending.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    let reaching = |ranked: &[(String, usize)], amount: f64| -> Vec<(String, usize)> {
        let mut sum = 0.0;
        ranked
            .iter()
            .take_while(|(_, n)| {
                let before = sum;
                sum += *n as f64;
                before < amount
            })
            .cloned()
            .collect()
    };
    for (transformation, ranked, amount) in [
        (
            format!("topsum({},n)", per_maker[0].1 + 1),
            &per_maker,
            (per_maker[0].1 + 1) as f64,
        ),
        (
            "toppercent(50,n)".to_string(),
            &per_maker,
            total as f64 / 2.0,
        ),
        ("bottomsum(20,n)".to_string(), &ascending, 20.0),
        (
            "bottompercent(10.5,n)".to_string(),
            &ascending,
            total as f64 * 0.105,
        ),
        ("topsum(0,n)".to_string(), &per_maker, 0.0),
    ] {
        let got = applied(
            "devices",
            &format!("groupby((manufacturer),aggregate($count as n))/{transformation}"),
            "",
        );
        assert_eq!(names(&got), reaching(ranked, amount), "{transformation}");
    }
    // a filter after top sees only the three
    let filtered = applied(
        "devices",
        &format!(
            "groupby((manufacturer),aggregate($count as n))/orderby(n desc)/top(3)/filter(n lt {})",
            per_maker[0].1
        ),
        "",
    );
    let expected: Vec<_> = per_maker[..3]
        .iter()
        .filter(|(_, n)| *n < per_maker[0].1)
        .cloned()
        .collect();
    assert_eq!(names(&filtered), expected);
    // $filter, $orderby, $count, $skip and $top apply to the aggregated rows
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}&$filter=n ge 2&$orderby=manufacturer desc&$count=true&$skip=1&$top=2",
        enc("groupby((manufacturer),aggregate($count as n))")
    )
    .replace(' ', "%20"));
    let mut expected: Vec<(String, usize)> =
        per_maker.iter().filter(|(_, n)| *n >= 2).cloned().collect();
    assert_eq!(v["@odata.count"], expected.len());
    expected.sort_by(|a, b| b.0.cmp(&a.0));
    assert_eq!(names(v["value"].as_array().unwrap()), expected[1..3]);
    // $count of the aggregated rows
    let count = get(&format!(
        "/devices/$count?api-version=v1.0&$apply={}",
        enc("groupby((manufacturer))")
    ));
    assert_eq!(count.text(), per_maker.len().to_string());
    // without an aggregation, $apply's filters select entities
    let entities = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}&$select=deviceKey",
        enc("filter(deviceKey le 3)/identity")
    ));
    assert_eq!(
        keys_of(entities["value"].as_array().unwrap()),
        BTreeSet::from([1, 2, 3])
    );
}

#[test]
fn aggregated_rows_page_with_next_links() {
    let apply = enc("groupby((dateKey,complianceStateKey),aggregate($count as n))");
    for order in [
        "",
        "&$orderby=n%20desc",
        "&$orderby=complianceStateKey%20desc,n",
    ] {
        let url = format!("/devicePropertyHistories?api-version=v1.0&$apply={apply}{order}");
        let whole = get_ok(&url)["value"].as_array().unwrap().clone();
        let (paged, pages) = all_rows(&url, &[("Prefer", "odata.maxpagesize=7")]);
        assert_eq!(paged, whole, "{order}");
        assert_eq!(pages, whole.len().div_ceil(7), "{order}");
    }
    // a $skiptoken of an aggregated query is refused for another $apply
    let first = request(
        "GET",
        &format!(
            "/devices?api-version=v1.0&$apply={}",
            enc("groupby((manufacturer))")
        ),
        &[("Prefer", "odata.maxpagesize=2")],
    )
    .json();
    let next = first["@odata.nextLink"].as_str().unwrap();
    let other = next.replace("manufacturer", "model");
    assert_eq!(get(&other).status, 400);
}

#[test]
fn aggregated_rows_carry_their_context_and_no_id() {
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}&$format=application/json;odata.metadata=full",
        enc("groupby((deviceType/deviceTypeName,manufacturer),aggregate($count as n))")
    ));
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#devices(manufacturer,n,deviceType(deviceTypeName))"),
        "{v}"
    );
    let row = &v["value"][0];
    assert!(
        row["@odata.id"].is_null() && row.get("@odata.id").is_some(),
        "{row}"
    );
    assert_eq!(row["n@odata.type"], "#Int64");
    assert!(row["deviceType"]["deviceTypeName"].is_string(), "{row}");
    // $select narrows the aggregated rows: values and nested objects by name, nested values by path
    let v = get_ok(&format!(
        "/devices?api-version=v1.0&$apply={}&$select=n,deviceType/deviceTypeName&$orderby=n%20desc",
        enc("groupby((deviceType/deviceTypeName,manufacturer),aggregate($count as n,deviceKey with max as last))")
    ));
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("$metadata#devices(n,deviceType(deviceTypeName))"));
    for row in v["value"].as_array().unwrap() {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["deviceType", "n"], "{row}");
    }
    // $metadata announces what $apply supports
    let xml = get("/$metadata?api-version=v1.0").text();
    assert!(xml.contains("<Annotation Term=\"Aggregation.ApplySupported\">"));
    assert!(xml.contains("<String>groupby</String>") && xml.contains("<String>topcount</String>"));
    let json = get_ok("/$metadata?api-version=v1.0&$format=application/json");
    let container = json["$EntityContainer"]
        .as_str()
        .unwrap()
        .rsplit_once('.')
        .unwrap()
        .1
        .to_string();
    let ns = json["$EntityContainer"]
        .as_str()
        .unwrap()
        .rsplit_once('.')
        .unwrap()
        .0
        .to_string();
    let supported = &json[&ns][&container]["@Aggregation.ApplySupported"];
    assert!(
        supported["Transformations"]
            .as_array()
            .unwrap()
            .contains(&Value::from("aggregate")),
        "{supported}"
    );
}

#[test]
fn apply_errors_name_the_construct_and_position() {
    let cases: &[(&str, &str, u16, Option<u64>)] = &[
        ("/devices", "concat(identity,identity)", 501, Some(0)),
        (
            "/devices",
            "groupby((manufacturer))/topsum(-1,deviceKey)",
            400,
            Some(24),
        ),
        (
            "/devices",
            "groupby((manufacturer),aggregate($count as n))/toppercent(101,n)",
            400,
            Some(47),
        ),
        (
            "/devices",
            "groupby((manufacturer))/topsum(5,manufacturer)",
            400,
            Some(33),
        ),
        (
            "/devices",
            "orderby(deviceKey)/aggregate($count as n)",
            501,
            Some(0),
        ),
        (
            "/devices",
            "aggregate(deviceKey with median as m)",
            501,
            Some(0),
        ),
        (
            "/devices",
            "aggregate(deviceName with sum as s)",
            400,
            Some(10),
        ),
        ("/devices", "groupby((nope))", 400, Some(0)),
        (
            "/devices",
            "aggregate($count as n,deviceKey with sum as n)",
            400,
            Some(0),
        ),
        ("/devices", "aggregate($count)", 400, Some(16)),
        (
            "/devices",
            "groupby((manufacturer))/groupby((manufacturer))",
            501,
            Some(24),
        ),
        ("/devices(1)", "groupby((manufacturer))", 400, None),
        (
            "/devices",
            &format!("groupby((manufacturer)){}", "/top(9)/skip(1)".repeat(20)),
            400,
            None,
        ),
    ];
    for (path, apply, status, position) in cases {
        let r = get(&format!("{path}?api-version=v1.0&$apply={}", enc(apply)));
        assert_eq!(r.status, *status, "{apply}: {}", r.text());
        let e = error_of(&r);
        assert_eq!(e["target"], "$apply", "{apply}: {e}");
        if let Some(p) = position {
            assert_eq!(e["details"][0]["position"], *p, "{apply}: {e}");
        }
    }
    let grouped = enc("groupby((manufacturer),aggregate($count as n))");
    for (more, status, target) in [
        ("&$select=nope", 400, "$select"),
        ("&$select=n/x", 400, "$select"),
        ("&$expand=deviceType", 501, "$expand"),
        ("&$filter=deviceName%20eq%20'x'", 400, "$filter"),
        ("&$orderby=deviceKey", 400, "$orderby"),
    ] {
        let r = get(&format!("/devices?api-version=v1.0&$apply={grouped}{more}"));
        assert_eq!(r.status, status, "{more}: {}", r.text());
        assert_eq!(error_of(&r)["target"], target, "{more}");
    }
}

#[test]
fn parameter_aliases_stand_for_their_values_inside_apply() {
    let literal = get_ok(&format!(
        "/devicePropertyHistories?api-version=v1.0&$apply={}",
        enc("filter(dateKey ge 20261025)/groupby((complianceStateKey),aggregate($count as n))/filter(n ge 3)/orderby(n desc)")
    ));
    let aliased = get_ok(&format!(
        "/devicePropertyHistories?api-version=v1.0&$apply={}&@from=20261025&@least=3",
        enc("filter(dateKey ge @from)/groupby((complianceStateKey),aggregate($count as n))/filter(n ge @least)/orderby(n desc)")
    ));
    assert!(!literal["value"].as_array().unwrap().is_empty());
    assert_eq!(aliased["value"], literal["value"]);
    // an alias without a value is null: no row has a null dateKey
    let none = get_ok(&format!(
        "/devicePropertyHistories?api-version=v1.0&$apply={}",
        enc("filter(dateKey eq @nothing)/aggregate($count as n)")
    ));
    assert_eq!(none["value"][0]["n"], 0);
}

/// Counts by day and compliance state come from the counts each publication keeps (migration 8)
/// when nothing but the day chooses the rows; each form is compared with the rows themselves,
/// and with the same request answered from the rows (a condition on another property).
#[test]
fn counts_by_day_and_compliance_state_agree_with_the_rows() {
    let rows = rows_of("devicePropertyHistories");
    let day = |r: &Value| r["dateKey"].as_i64().unwrap();
    let count_of = |keep: &dyn Fn(&Value) -> bool, key: &dyn Fn(&Value) -> Vec<Value>| {
        let kept: Vec<Value> = rows.iter().filter(|r| keep(r)).cloned().collect();
        groups(&kept, key)
            .into_iter()
            .map(|(k, g)| (k, g.len() as u64))
            .collect::<BTreeMap<String, u64>>()
    };
    let answered = |apply: &str, more: &str, key: &dyn Fn(&Value) -> Vec<Value>| {
        applied("devicePropertyHistories", apply, more)
            .iter()
            .map(|r| (Value::Array(key(r)).to_string(), r["n"].as_u64().unwrap()))
            .collect::<BTreeMap<String, u64>>()
    };
    let both = |r: &Value| vec![r["dateKey"].clone(), r["complianceStateKey"].clone()];
    let state = |r: &Value| vec![r["complianceStateKey"].clone()];
    let by_day = |r: &Value| vec![r["dateKey"].clone()];
    type Keep = Box<dyn Fn(&Value) -> bool>;
    type Key<'k> = &'k dyn Fn(&Value) -> Vec<Value>;
    let cases: Vec<(&str, &str, Keep, Key)> = vec![
        ("groupby((dateKey,complianceStateKey),aggregate($count as n))", "", Box::new(|_| true), &both),
        ("filter(dateKey ge 20261020 and dateKey le 20261025)/groupby((complianceStateKey),aggregate($count as n))", "", Box::new(move |r| (20261020..=20261025).contains(&day(r))), &state),
        ("filter(dateKey in (20261003,20261030))/groupby((dateKey),aggregate($count as n))", "", Box::new(move |r| [20261003, 20261030].contains(&day(r))), &by_day),
        ("groupby((complianceStateKey,dateKey),aggregate($count as n))", "&maxhistorydays=3", Box::new(move |r| day(r) >= 20261029), &both),
        // answered from the rows: a condition on another property
        ("filter(dateKey ge 20261020 and osVersion ne null)/groupby((complianceStateKey),aggregate($count as n))", "", Box::new(move |r| day(r) >= 20261020 && !r["osVersion"].is_null()), &state),
    ];
    for (apply, more, keep, key) in &cases {
        assert_eq!(
            answered(apply, more, *key),
            count_of(keep.as_ref(), *key),
            "{apply}{more}"
        );
    }
    // one row even when no day matches, and two counts side by side
    let none = applied(
        "devicePropertyHistories",
        "filter(dateKey gt 20300101)/aggregate($count as n,$count as m)",
        "",
    );
    assert_eq!(none, vec![serde_json::json!({"n": 0, "m": 0})]);
}
