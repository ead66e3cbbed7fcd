//! `$at` (OData Temporal): collections read as of a day, checked against an independent
//! computation from every row the collection holds.

use super::*;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// The generated tenant's days (30 up to 2026-11-01) and a day on each side.
fn days() -> Vec<Date> {
    let last = time::macros::date!(2026 - 11 - 01);
    (0..32)
        .map(|n| last - time::Duration::days(30 - n))
        .collect()
}

fn instant(v: &Value) -> Option<OffsetDateTime> {
    v.as_str()
        .map(|t| OffsetDateTime::parse(t, &Rfc3339).unwrap())
}

/// The keys of every row of `set` whose state held at the end of `day`: begun before the next
/// midnight and not ended by it.
fn valid_on(rows: &[Value], key: &str, end: &str, day: Date) -> BTreeSet<u64> {
    let next_midnight = day.next_day().unwrap().midnight().assume_utc();
    rows.iter()
        .filter(|r| instant(&r["startDateInclusiveUTC"]).unwrap() < next_midnight)
        .filter(|r| instant(&r[end]).is_none_or(|e| e >= next_midnight))
        .map(|r| r[key].as_u64().unwrap())
        .collect()
}

fn keys(rows: &[Value], key: &str) -> BTreeSet<u64> {
    rows.iter().map(|r| r[key].as_u64().unwrap()).collect()
}

#[test]
fn history_dimensions_as_of_a_day_hold_the_rows_valid_that_day() {
    let mut checked_a_change = false;
    for (set, key, id, end) in [
        ("policies", "policyKey", "policyId", "deletedDateUTC"),
        (
            "appRevisions",
            "appKey",
            "applicationId",
            "endDateExclusiveUTC",
        ),
        (
            "termsAndConditions",
            "termsAndConditionsKey",
            "termsAndConditionsId",
            "endDateExclusiveUTC",
        ),
        (
            "mamApplications",
            "mamApplicationKey",
            "mamApplicationId",
            "deletedDateUTC",
        ),
    ] {
        let (every, _) = all_rows(&format!("/{set}?api-version=v1.0"), &[]);
        let mut seen = BTreeSet::new();
        for day in days() {
            let expected = valid_on(&every, key, end, day);
            let url = format!("/{set}?api-version=v1.0&$at={day}&$count=true");
            let page = get_ok(&url);
            assert_eq!(page["@odata.count"], expected.len(), "{url}");
            let (rows, _) = all_rows(&url, &[("Prefer", "odata.maxpagesize=7")]);
            assert_eq!(keys(&rows, key), expected, "{url}");
            // one state per entity on a day
            let ids: BTreeSet<&str> = rows.iter().map(|r| r[id].as_str().unwrap()).collect();
            assert_eq!(ids.len(), rows.len(), "{url}");
            // a timestamp is read as its day
            let stamped = format!("/{set}?api-version=v1.0&$at={day}T13:45:00Z");
            assert_eq!(keys(&all_rows(&stamped, &[]).0, key), expected, "{stamped}");
            seen.insert(expected);
        }
        checked_a_change |= seen.len() > 1;
        // max is the latest published day
        let latest = keys(
            &all_rows(&format!("/{set}?api-version=v1.0&$at=max"), &[]).0,
            key,
        );
        assert_eq!(
            latest,
            valid_on(&every, key, end, *days().last().unwrap()),
            "{set}"
        );
    }
    assert!(
        checked_a_change,
        "no dimension changed within the days read"
    );
}

#[test]
fn facts_as_of_a_day_are_that_days_rows_whatever_maxhistorydays_says() {
    let day = time::macros::date!(2026 - 10 - 10);
    let by_filter = all_rows(
        "/devicePropertyHistories?api-version=v1.0&$filter=dateKey%20eq%2020261010&$select=deviceKey,dateKey",
        &[],
    )
    .0;
    assert!(!by_filter.is_empty());
    for extra in ["", "&maxhistorydays=2"] {
        let url = format!(
            "/devicePropertyHistories?api-version=v1.0&$at={day}&$select=deviceKey,dateKey{extra}"
        );
        assert_eq!(all_rows(&url, &[]).0, by_filter, "{url}");
        let count = get(&format!(
            "/devicePropertyHistories/$count?api-version=v1.0&$at={day}{extra}"
        ));
        assert_eq!(count.text(), by_filter.len().to_string());
    }
    let aggregated = get_ok(&format!(
        "/devicePropertyHistories?api-version=v1.0&$at={day}&$apply={}",
        enc("groupby((dateKey),aggregate($count as n))")
    ));
    assert_eq!(
        aggregated["value"],
        serde_json::json!([{"dateKey": 20261010, "n": by_filter.len()}])
    );
    // the counts each publication keeps answer the unfiltered count of a day too
    let compliance = get_ok(&format!(
        "/compliancePolicyStatusDeviceActivities?api-version=v1.0&$at={day}&$count=true"
    ));
    assert_eq!(compliance["@odata.count"], 1);
    assert_eq!(compliance["value"][0]["dateKey"], 20261010);
}

#[test]
fn at_is_refused_where_it_cannot_be_answered() {
    for (url, status, target) in [
        ("/deviceTypes?api-version=v1.0&$at=2026-10-10", 400, "$at"),
        ("/currentUsers?api-version=beta&$at=2026-10-10", 400, "$at"),
        ("/policies?api-version=v1.0&$at=2026-13-01", 400, "$at"),
        ("/policies?api-version=v1.0&$at=now()", 400, "$at"),
        ("/policies?api-version=v1.0&$at='2026-10-10'", 400, "$at"),
        ("/policies?api-version=v1.0&$at=min", 501, "$at"),
        ("/devices?api-version=v1.0&$from=2026-10-01", 400, "$from"),
        (
            "/policies?api-version=v1.0&$at=2026-10-10&$from=2026-10-01",
            400,
            "$at",
        ),
        ("/policies?api-version=v1.0&$to=2026-10-01", 400, "$to"),
        (
            "/policies?api-version=v1.0&$toInclusive=2026-10-01",
            400,
            "$toInclusive",
        ),
        (
            "/policies?api-version=v1.0&$from=2026-10-01&$to=2026-10-05&$toInclusive=2026-10-05",
            400,
            "$toInclusive",
        ),
        (
            "/policies?api-version=v1.0&$from=2026-10-05&$to=2026-10-05",
            400,
            "$to",
        ),
        ("/policies?api-version=v1.0&$from=max", 400, "$from"),
        ("/policies?api-version=v1.0&$from=min&$to=min", 400, "$to"),
        ("/policies?api-version=v1.0&$from=2026-02-30", 400, "$from"),
        (
            "/policies?api-version=v1.0&$at=2026-10-10&$at=2026-10-11",
            400,
            "query",
        ),
        (
            "/devices?api-version=v1.0&$expand=devicePropertyHistories($at=2026-10-10;$from=2026-10-01)",
            400,
            "$expand",
        ),
    ] {
        let r = get(url);
        assert_eq!(r.status, status, "{url}: {}", r.text());
        assert_eq!(error_of(&r)["target"], target, "{url}");
    }
}

#[test]
fn a_day_outside_the_history_kept_of_a_fact_is_refused_naming_the_days_kept() {
    let first =
        get_ok("/devicePropertyHistories?api-version=v1.0&$orderby=dateKey&$top=1&$select=dateKey")
            ["value"][0]["dateKey"]
            .as_i64()
            .unwrap();
    assert_eq!(first, 20261003);
    for url in [
        "/devicePropertyHistories?api-version=v1.0&$at=2026-10-02",
        "/devicePropertyHistories/$count?api-version=v1.0&$at=2026-09-01",
        "/devicePropertyHistories?api-version=v1.0&$at=2026-11-02T00:00:00Z",
        "/policyDeviceActivities?api-version=v1.0&$at=2025-01-01&$apply=aggregate($count%20as%20n)",
    ] {
        let r = get(url);
        assert_eq!(r.status, 400, "{url}: {}", r.text());
        let e = error_of(&r);
        assert_eq!(e["target"], "$at", "{url}");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("from 2026-10-03 to 2026-11-01"),
            "{url}: {message}"
        );
    }
    // the first and last days kept, and dimensions on any day
    for url in [
        "/devicePropertyHistories/$count?api-version=v1.0&$at=2026-10-03",
        "/devicePropertyHistories/$count?api-version=v1.0&$at=2026-11-01",
        "/policies?api-version=v1.0&$at=2020-01-01",
    ] {
        assert_eq!(get(url).status, 200, "{url}");
    }
}

/// The keys of the rows of `rows` whose validity overlaps the closed-open period `[from, to)`.
fn valid_during(
    rows: &[Value],
    key: &str,
    end: &str,
    from: OffsetDateTime,
    to: Option<OffsetDateTime>,
) -> BTreeSet<u64> {
    rows.iter()
        .filter(|r| to.is_none_or(|to| instant(&r["startDateInclusiveUTC"]).unwrap() < to))
        .filter(|r| instant(&r[end]).is_none_or(|e| e > from))
        .map(|r| r[key].as_u64().unwrap())
        .collect()
}

#[test]
fn history_dimensions_over_a_period_hold_every_row_valid_in_it() {
    let (every, _) = all_rows("/policies?api-version=v1.0", &[]);
    let midnight = |d: Date| d.midnight().assume_utc();
    let mut saw_two_versions = false;
    for (from, to) in [
        (
            time::macros::date!(2026 - 10 - 01),
            Some(time::macros::date!(2026 - 10 - 15)),
        ),
        (
            time::macros::date!(2026 - 10 - 14),
            Some(time::macros::date!(2026 - 10 - 14)),
        ),
        (time::macros::date!(2026 - 10 - 20), None),
        (
            time::macros::date!(2020 - 01 - 01),
            Some(time::macros::date!(2020 - 02 - 01)),
        ),
    ] {
        // closed-open ($to) and closed-closed ($toInclusive) periods
        let mut urls = vec![(
            format!("/policies?api-version=v1.0&$from={from}"),
            to.map(|to| midnight(to.next_day().unwrap())),
        )];
        if let Some(to) = to {
            urls[0].0.push_str(&format!("&$toInclusive={to}"));
            if to > from {
                urls.push((
                    format!("/policies?api-version=v1.0&$from={from}&$to={to}"),
                    Some(midnight(to)),
                ));
            }
        }
        for (url, end) in urls {
            let expected = valid_during(&every, "policyKey", "deletedDateUTC", midnight(from), end);
            let (rows, _) = all_rows(&url, &[]);
            assert_eq!(keys(&rows, "policyKey"), expected, "{url}");
            let ids: BTreeSet<&str> = rows
                .iter()
                .map(|r| r["policyId"].as_str().unwrap())
                .collect();
            saw_two_versions |= ids.len() < rows.len();
        }
    }
    assert!(
        saw_two_versions,
        "a period over a change holds both versions"
    );
    // from the start of time: every state there is
    let (all, _) = all_rows("/policies?api-version=v1.0&$from=min", &[]);
    assert_eq!(keys(&all, "policyKey"), keys(&every, "policyKey"));
    // an instant as the bound: the row that began at it is in a period from it, not in one to it
    let change = every
        .iter()
        .find(|r| r["policyVersion"] == 2)
        .expect("a policy changed");
    let began = change["startDateInclusiveUTC"].as_str().unwrap();
    let key = change["policyKey"].as_u64().unwrap();
    let (after, _) = all_rows(
        &format!("/policies?api-version=v1.0&$from={}", enc(began)),
        &[],
    );
    assert!(keys(&after, "policyKey").contains(&key));
    let (before, _) = all_rows(
        &format!(
            "/policies?api-version=v1.0&$from=2026-01-01&$to={}",
            enc(began)
        ),
        &[],
    );
    assert!(!keys(&before, "policyKey").contains(&key));
    let (ending, _) = all_rows(
        &format!(
            "/policies?api-version=v1.0&$from=2026-01-01&$toInclusive={}",
            enc(began)
        ),
        &[],
    );
    assert!(keys(&ending, "policyKey").contains(&key));
}

/// Each user row's state as an independent reading of the rows tells it: a row ends when it is
/// deleted (at `rowLastModifiedDateTimeUTC`); a live row began when it was written, an ended one
/// when the user's previous row ended (none before it: before the warehouse recorded it).
/// Returns (key, start, end) per row.
fn user_states(rows: &[Value]) -> Vec<(u64, Option<OffsetDateTime>, Option<OffsetDateTime>)> {
    let mut by_user: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for r in rows {
        by_user
            .entry(r["userId"].as_str().unwrap())
            .or_default()
            .push(r);
    }
    let mut states = Vec::new();
    for versions in by_user.values_mut() {
        versions.sort_by_key(|r| r["userKey"].as_u64().unwrap());
        let mut previous_end = None;
        for r in versions.iter() {
            let modified = instant(&r["rowLastModifiedDateTimeUTC"]);
            let deleted = r["isDeleted"].as_bool().unwrap();
            let start = if deleted { previous_end } else { modified };
            let end = if deleted { modified } else { None };
            states.push((r["userKey"].as_u64().unwrap(), start, end));
            previous_end = end;
        }
    }
    states
}

#[test]
fn users_as_of_a_point_and_over_a_period_hold_the_states_that_held() {
    let (every, _) = all_rows("/users?api-version=v1.0", &[]);
    let states = user_states(&every);
    let held = |from: OffsetDateTime, to: OffsetDateTime| -> BTreeSet<u64> {
        states
            .iter()
            .filter(|(_, start, end)| start.is_none_or(|s| s < to) && end.is_none_or(|e| e > from))
            .map(|(k, _, _)| *k)
            .collect()
    };
    let midnight = |d: Date| d.midnight().assume_utc();
    let mut saw_history = false;
    for day in days() {
        let end_of_day = midnight(day.next_day().unwrap());
        let expected = held(end_of_day - time::Duration::microseconds(1), end_of_day);
        let (rows, _) = all_rows(
            &format!("/users?api-version=v1.0&$at={day}&$select=userKey"),
            &[],
        );
        assert_eq!(keys(&rows, "userKey"), expected, "$at={day}");
        saw_history |= expected.len() < every.len() && expected.len() > every.len() / 2;
    }
    assert!(saw_history, "some users changed or left during the days");
    // one user per object key at any point: the states of a user never overlap
    let (at, _) = all_rows("/users?api-version=v1.0&$at=2026-10-20", &[]);
    let ids: BTreeSet<&str> = at.iter().map(|r| r["userId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), at.len());
    // a user whose licence changed: before the change the earlier state, from it the later one
    let changed = states
        .iter()
        .filter(|(_, start, _)| start.is_some())
        .find_map(|(key, start, _)| {
            let row = every.iter().find(|r| r["userKey"] == *key).unwrap();
            let id = row["userId"].as_str().unwrap();
            let earlier = every
                .iter()
                .filter(|r| r["userId"] == id && r["userKey"].as_u64() < Some(*key))
                .count();
            (earlier > 0).then(|| (id.to_string(), *key, start.unwrap()))
        })
        .expect("a user with two states");
    let (id, key, began) = changed;
    let at_instant = |t: OffsetDateTime| {
        let url = format!(
            "/users?api-version=v1.0&$at={}&$filter=userId%20eq%20'{id}'&$select=userKey",
            enc(&t.format(&Rfc3339).unwrap())
        );
        keys(&all_rows(&url, &[]).0, "userKey")
    };
    assert_eq!(at_instant(began), BTreeSet::from([key]));
    let before = at_instant(began - time::Duration::microseconds(1));
    assert_eq!(before.len(), 1);
    assert!(!before.contains(&key));
    // over a period: every state that held in it
    for (from, to) in [
        (
            time::macros::date!(2026 - 10 - 05),
            time::macros::date!(2026 - 10 - 25),
        ),
        (
            time::macros::date!(2026 - 10 - 31),
            time::macros::date!(2026 - 11 - 01),
        ),
    ] {
        let url = format!("/users?api-version=v1.0&$from={from}&$to={to}&$select=userKey");
        let (rows, _) = all_rows(&url, &[]);
        assert_eq!(
            keys(&rows, "userKey"),
            held(midnight(from), midnight(to)),
            "{url}"
        );
    }
    // with $count, $filter and $apply
    let count = get_ok("/users/$count?api-version=v1.0&$at=2026-10-20");
    assert_eq!(count.as_u64(), Some(at.len() as u64));
    let licensed = get_ok(
        "/users?api-version=v1.0&$at=2026-10-20&$apply=groupby((intuneLicensed),aggregate($count%20as%20n))",
    );
    let total: u64 = licensed["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["n"].as_u64().unwrap())
        .sum();
    assert_eq!(total, at.len() as u64);
}

#[test]
fn facts_over_a_period_are_the_rows_of_its_days() {
    for (query, first, last) in [
        ("$from=2026-10-10&$to=2026-10-13", 20261010, 20261012),
        (
            "$from=2026-10-10&$toInclusive=2026-10-13",
            20261010,
            20261013,
        ),
        ("$from=2026-10-30", 20261030, 20261101),
        // a period partly outside the history kept reads the days kept
        ("$from=2026-09-01&$to=2026-10-05", 20261003, 20261004),
        ("$from=min&$to=2026-10-05", 20261003, 20261004),
        ("$from=min", 20261003, 20261101),
    ] {
        let url = format!(
            "/devicePropertyHistories?api-version=v1.0&{query}&$apply=groupby((dateKey),aggregate($count%20as%20n))&$orderby=dateKey"
        );
        let v = get_ok(&url);
        let days: Vec<i64> = v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dateKey"].as_i64().unwrap())
            .collect();
        assert_eq!(days.first(), Some(&first), "{url}");
        assert_eq!(days.last(), Some(&last), "{url}");
        let filter = format!(
            "/devicePropertyHistories/$count?api-version=v1.0&$filter=dateKey%20ge%20{first}%20and%20dateKey%20le%20{last}"
        );
        let count = |u: &str| get(u).text().parse::<u64>().unwrap();
        let n: u64 = v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["n"].as_u64().unwrap())
            .sum();
        assert_eq!(n, count(&filter), "{url}");
    }
    // a period touching no day kept is refused, naming the days kept
    let r = get("/devicePropertyHistories?api-version=v1.0&$from=2025-01-01&$to=2025-02-01");
    assert_eq!(r.status, 400, "{}", r.text());
    let e = error_of(&r);
    assert_eq!(e["target"], "$from");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("2025-01-01 to 2025-01-31")
            && message.contains("2026-10-03 to 2026-11-01"),
        "{message}"
    );
}

#[test]
fn metadata_and_openapi_say_which_sets_keep_their_history_and_how() {
    let csdl = get_ok("/$metadata?api-version=v1.0&$format=application/json");
    let container = &csdl["Microsoft.Intune.DataWarehouse"]["DataWarehouseFEService"];
    let support = |set: &str| container[set]["@Temporal.ApplicationTimeSupport"].clone();
    // a dimension keeping a row per state: time slices of instants, an object per natural id
    let policies = support("policies");
    assert!(policies["UnitOfTime"]["@type"]
        .as_str()
        .unwrap()
        .ends_with("#Temporal.UnitOfTimeDateTimeOffset"));
    assert_eq!(policies["Timeline"]["PeriodStart"], "startDateInclusiveUTC");
    assert_eq!(policies["Timeline"]["PeriodEnd"], "deletedDateUTC");
    assert_eq!(
        policies["Timeline"]["ObjectKey"],
        serde_json::json!(["policyId"])
    );
    assert_eq!(
        support("appRevisions")["Timeline"]["ObjectKey"],
        serde_json::json!(["applicationId"])
    );
    // a daily fact: one-day closed-closed periods named by dateKey
    let facts = support("devicePropertyHistories");
    assert_eq!(facts["UnitOfTime"]["ClosedClosedPeriods"], true);
    assert_eq!(facts["Timeline"]["PeriodStart"], "dateKey");
    assert_eq!(
        facts["Timeline"]["ObjectKey"],
        serde_json::json!(["deviceKey"])
    );
    // users: states whose periods are not properties, read at a point as snapshots
    let users = support("users");
    assert!(users["Timeline"]["@type"]
        .as_str()
        .unwrap()
        .ends_with("#Temporal.TimelineSnapshot"));
    assert!(users["UnitOfTime"]["@type"]
        .as_str()
        .unwrap()
        .ends_with("#Temporal.UnitOfTimeDateTimeOffset"));
    assert!(container["users"]["@Core.LongDescription"]
        .as_str()
        .unwrap()
        .contains("state of the object userId names"));
    // a set without history has none
    assert!(container["deviceTypes"]
        .get("@Temporal.ApplicationTimeSupport")
        .is_none());
    let xml = get("/$metadata?api-version=v1.0").text();
    assert!(xml.contains("Alias=\"Temporal\""));
    assert!(xml.contains("<PropertyValue Property=\"PeriodEnd\" PropertyPath=\"deletedDateUTC\"/>"));
    // OpenAPI documents the options where they apply
    let openapi = get_ok("/openapi.json?api-version=v1.0");
    let names = |path: &str| -> Vec<String> {
        openapi["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["$ref"].as_str())
            .map(|r| r.rsplit('/').next().unwrap().to_string())
            .collect()
    };
    for path in ["/policies", "/policies/$count", "/devicePropertyHistories"] {
        let n = names(path);
        for option in ["at", "from", "to", "toInclusive"] {
            assert!(n.contains(&option.to_string()), "{path}: {n:?}");
        }
    }
    assert!(!names("/deviceTypes").contains(&"at".to_string()));
    assert_eq!(
        openapi["components"]["parameters"]["toInclusive"]["name"],
        "$toInclusive"
    );
}

#[test]
fn devices_as_of_a_day_hold_what_their_daily_history_recorded() {
    let csdl = get_ok("/$metadata?api-version=v1.0&$format=application/json");
    let set = &csdl["Microsoft.Intune.DataWarehouse"]["DataWarehouseFEService"]["devices"];
    assert!(set["@Temporal.ApplicationTimeSupport"]["Timeline"]["@type"]
        .as_str()
        .unwrap()
        .ends_with("#Temporal.TimelineSnapshot"));
    let described = set["@Core.LongDescription"].as_str().unwrap();
    assert!(
        described.contains("osVersion") && !described.contains("serialNumber"),
        "{described}"
    );
    let recorded = [
        "deviceName",
        "deviceRegistrationStateKey",
        "ownerTypeKey",
        "managementStateKey",
        "azureADRegistered",
        "complianceStateKey",
        "osVersion",
        "jailBroken",
        "deviceCategoryKey",
        "totalStorageSpaceInBytes",
    ];
    let current: HashMap<u64, Value> = devices()
        .into_iter()
        .map(|d| (d["deviceKey"].as_u64().unwrap(), d))
        .collect();
    let histories = histories_by_device();
    let mut checked_a_change = false;
    for day in [20261003, 20261015, 20261101] {
        let date = format!("{}-{:02}-{:02}", day / 10000, day / 100 % 100, day % 100);
        let (rows, _) = all_rows(&format!("/devices?api-version=v1.0&$at={date}"), &[]);
        let that_day: HashMap<u64, &Value> = histories
            .values()
            .flatten()
            .filter(|h| h["dateKey"] == day)
            .map(|h| (h["deviceKey"].as_u64().unwrap(), h))
            .collect();
        assert_eq!(
            keys_of(&rows),
            that_day.keys().copied().collect::<BTreeSet<u64>>(),
            "{date}: the devices recorded that day"
        );
        for row in &rows {
            let key = row["deviceKey"].as_u64().unwrap();
            let (h, now) = (that_day[&key], &current[&key]);
            for (name, value) in row.as_object().unwrap() {
                let expected = if recorded.contains(&name.as_str()) {
                    &h[name]
                } else {
                    &now[name]
                };
                assert_eq!(value, expected, "{date} device {key} {name}");
                checked_a_change |= recorded.contains(&name.as_str()) && h[name] != now[name];
            }
        }
        // with a filter, a count and an aggregation over that day's values
        let by_state = that_day
            .values()
            .filter(|h| h["complianceStateKey"] == 2)
            .count();
        let v = get_ok(&format!(
            "/devices?api-version=v1.0&$at={date}&$filter=complianceStateKey%20eq%202&$count=true&$top=1"
        ));
        assert_eq!(v["@odata.count"], by_state, "{date}");
        let n = get(&format!("/devices/$count?api-version=v1.0&$at={date}")).text();
        assert_eq!(n, that_day.len().to_string());
        let v = get_ok(&format!(
            "/devices?api-version=v1.0&$at={date}&$apply=groupby((complianceStateKey),aggregate($count%20as%20n))"
        ));
        let grouped: u64 = v["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["complianceStateKey"] == 2)
            .map(|g| g["n"].as_u64().unwrap())
            .sum();
        assert_eq!(grouped, by_state as u64, "{date}");
    }
    assert!(
        checked_a_change,
        "a recorded property changed since one of the days"
    );
    // one device as of a day; a device the day has no row of did not exist then
    let (key, h) = histories
        .iter()
        .find_map(|(k, hs)| hs.first().map(|h| (*k, h)))
        .unwrap();
    let day = h["dateKey"].as_i64().unwrap();
    let date = format!("{}-{:02}-{:02}", day / 10000, day / 100 % 100, day % 100);
    let one = get_ok(&format!("/devices({key})?api-version=v1.0&$at={date}"));
    assert_eq!(one["osVersion"], h["osVersion"]);
    let enrolled_late = histories
        .iter()
        .find(|(_, hs)| hs[0]["dateKey"].as_i64().unwrap() > 20261003)
        .map(|(k, _)| *k);
    if let Some(late) = enrolled_late {
        let r = get(&format!("/devices({late})?api-version=v1.0&$at=2026-10-03"));
        assert_eq!(r.status, 404, "{}", r.text());
    }
    // outside the days kept, and over a period: refused
    let r = get("/devices?api-version=v1.0&$at=2026-09-01");
    assert_eq!(r.status, 400);
    assert!(error_of(&r)["message"]
        .as_str()
        .unwrap()
        .contains("2026-10-03 to 2026-11-01"));
    let r = get("/devices?api-version=v1.0&$from=2026-10-01");
    assert_eq!(r.status, 400);
    assert_eq!(error_of(&r)["target"], "$from");
}

#[test]
fn associations_over_a_period_and_as_of_a_day_are_those_that_held() {
    let (every, _) = all_rows("/userDeviceAssociations?api-version=v1.0", &[]);
    let key = |r: &Value| {
        format!(
            "{}/{}/{}",
            r["userKey"], r["deviceKey"], r["createdDateTimeUTC"]
        )
    };
    let instant_of = |r: &Value, p: &str| instant(&r[p]);
    assert!(
        every.iter().any(|r| !r["endedDateTimeUTC"].is_null()),
        "some associations ended"
    );
    let midnight = |d: Date| d.midnight().assume_utc();
    for (from, to) in [
        (
            time::macros::date!(2026 - 10 - 05),
            time::macros::date!(2026 - 10 - 20),
        ),
        (
            time::macros::date!(2026 - 10 - 25),
            time::macros::date!(2026 - 10 - 26),
        ),
    ] {
        let expected: BTreeSet<String> = every
            .iter()
            .filter(|r| instant_of(r, "createdDateTimeUTC").unwrap() < midnight(to))
            .filter(|r| instant_of(r, "endedDateTimeUTC").is_none_or(|e| e > midnight(from)))
            .map(key)
            .collect();
        let (rows, _) = all_rows(
            &format!("/userDeviceAssociations?api-version=v1.0&$from={from}&$to={to}"),
            &[],
        );
        assert_eq!(rows.iter().map(key).collect::<BTreeSet<_>>(), expected);
        // as of a day: those that held at its end
        let end = midnight(to);
        let held: BTreeSet<String> = every
            .iter()
            .filter(|r| instant_of(r, "createdDateTimeUTC").unwrap() < end)
            .filter(|r| instant_of(r, "endedDateTimeUTC").is_none_or(|e| e >= end))
            .map(key)
            .collect();
        let day = to.previous_day().unwrap();
        let (rows, _) = all_rows(
            &format!("/userDeviceAssociations?api-version=v1.0&$at={day}"),
            &[],
        );
        assert_eq!(rows.iter().map(key).collect::<BTreeSet<_>>(), held, "{day}");
    }
}

#[test]
fn temporal_options_reach_expanded_collections_and_nested_ones_override_them() {
    let histories = histories_by_device();
    let (key, rows) = histories
        .iter()
        .find(|(_, hs)| hs.len() >= 20)
        .map(|(k, hs)| (*k, hs.clone()))
        .unwrap();
    let days = |v: &Value| -> Vec<i64> {
        v["devicePropertyHistories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["dateKey"].as_i64().unwrap())
            .collect()
    };
    let day_of = |h: &Value| h["dateKey"].as_i64().unwrap();
    let date = |k: i64| format!("{}-{:02}-{:02}", k / 10000, k / 100 % 100, k % 100);
    let (d1, d2) = (day_of(&rows[5]), day_of(&rows[9]));
    // the request's $at reaches the expansion
    let v = get_ok(&format!(
        "/devices({key})?api-version=v1.0&$at={}&$expand=devicePropertyHistories",
        date(d1)
    ));
    assert_eq!(days(&v), vec![d1]);
    // a nested period, without one on the request
    let v = get_ok(&format!(
        "/devices({key})?api-version=v1.0&$expand=devicePropertyHistories($from={};$to={})",
        date(d1),
        date(d2)
    ));
    let expected: Vec<i64> = rows
        .iter()
        .map(day_of)
        .filter(|d| *d >= d1 && *d < d2)
        .collect();
    assert_eq!(days(&v), expected);
    // a nested $at overrides the request's
    let v = get_ok(&format!(
        "/devices({key})?api-version=v1.0&$at={}&$expand=devicePropertyHistories($at=max)",
        date(d1)
    ));
    assert_eq!(days(&v), vec![day_of(rows.last().unwrap())]);
    // a timeline expanded: the associations that held that day
    let (every, _) = all_rows("/userDeviceAssociations?api-version=v1.0", &[]);
    let end = time::macros::datetime!(2026-10-16 00:00 UTC);
    let held: BTreeSet<(u64, u64)> = every
        .iter()
        .filter(|r| instant(&r["createdDateTimeUTC"]).unwrap() < end)
        .filter(|r| instant(&r["endedDateTimeUTC"]).is_none_or(|e| e >= end))
        .map(|r| {
            (
                r["userKey"].as_u64().unwrap(),
                r["deviceKey"].as_u64().unwrap(),
            )
        })
        .collect();
    let (users, _) = all_rows(
        "/users?api-version=v1.0&$select=userKey&$expand=userDeviceAssociations($at=2026-10-15;$select=deviceKey)",
        &[],
    );
    let expanded: BTreeSet<(u64, u64)> = users
        .iter()
        .flat_map(|u| {
            let user = u["userKey"].as_u64().unwrap();
            u["userDeviceAssociations"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |a| (user, a["deviceKey"].as_u64().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(expanded, held);
    // a nested temporal option where the target keeps no history: a 400 at its position
    let url = "/devices?api-version=v1.0&$expand=deviceType($at=2026-10-15)";
    let r = get(url);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(error_of(&r)["message"]
        .as_str()
        .unwrap()
        .contains("does not keep its history"));
}

/// Users as of each day ingestion published, on the store the tests run on: what the service
/// said of the users then is what `$at` says of that day now, after later days changed licences,
/// removed users and brought them back.
#[test]
fn users_as_of_an_ingested_day_are_what_that_day_published() {
    let dir = testkit::TempDir::new("users-at-snapshots");
    for day in 0..2 {
        demo::snapshot::write_snapshot(&dir.join(format!("day{day}")), 300, day).unwrap();
    }
    let store = testkit::fresh_store("users-at");
    let (server, bearer) = serve_with_bearer(store.clone());
    let users = |query: &str| -> BTreeMap<String, Value> {
        let url = format!(
            "{}/users?api-version=v1.0&$select=userId,intuneLicensed,displayName{query}",
            server.root
        );
        let r = request("GET", &url, &[("Authorization", bearer.as_str())]);
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let v = r.json();
        assert!(v.get("@odata.nextLink").is_none(), "one page");
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let mut u = u.clone();
                u.as_object_mut().unwrap().remove("@odata.etag");
                (u["userId"].as_str().unwrap().to_string(), u)
            })
            .collect()
    };
    let mut published = Vec::new();
    for (day, date) in [
        (0, time::macros::date!(2026 - 11 - 01)),
        (1, time::macros::date!(2026 - 11 - 02)),
        (0, time::macros::date!(2026 - 11 - 03)),
    ] {
        ingest_day(store.as_ref(), &dir.join(format!("day{day}")), date, &[]);
        published.push((date, users("&$filter=isDeleted%20eq%20false")));
        // the day just published is within the history kept (what the service remembers of
        // the days kept follows each publication)
        let url = format!(
            "{}/devicePropertyHistories/$count?api-version=v1.0&$at={date}",
            server.root
        );
        let r = request("GET", &url, &[("Authorization", bearer.as_str())]);
        assert_eq!(r.status, 200, "{url}: {}", r.text());
    }
    assert_ne!(published[0].1, published[1].1, "the days differ");
    for (date, then) in &published {
        let at = users(&format!("&$at={date}"));
        let differing: Vec<_> = then
            .iter()
            .filter(|(id, u)| at.get(*id) != Some(u))
            .map(|(id, _)| id)
            .chain(at.keys().filter(|id| !then.contains_key(*id)))
            .collect();
        assert!(differing.is_empty(), "$at={date}: {differing:?}");
    }
    // before the first day the warehouse saw, no user; over the days, every state
    assert!(users("&$at=2026-10-31").is_empty());
    let states = |query: &str| {
        let url = format!("{}/users?api-version=v1.0{query}", server.root);
        request("GET", &url, &[("Authorization", bearer.as_str())]).json()["value"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(states("&$from=2026-11-01"), states(""));
    assert_eq!(
        states("&$from=2026-11-02&$to=2026-11-03"),
        published[1].1.len()
    );
}

/// A single related device expanded at a point in time (the request's `$at` or its own) is the
/// device as of that day, as `devices(k)?$at=` reads it; a single related state of a timeline is
/// the one its reference names, which a temporal option cannot choose.
#[test]
fn a_single_related_device_at_a_point_is_read_as_of_that_day() {
    let day = "2026-10-12";
    let select = "deviceKey,deviceName,osVersion,complianceStateKey,model";
    let as_of = |key: u64| {
        let mut v = get_ok(&format!(
            "/devices({key})?api-version=v1.0&$at={day}&$select={select}"
        ));
        let object = v.as_object_mut().unwrap();
        object.retain(|k, _| !k.starts_with('@'));
        v
    };
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut()
            .unwrap()
            .retain(|k, _| !k.starts_with('@'));
        v
    };
    for url in [
        format!(
            "/devicePropertyHistories?api-version=v1.0&$at={day}&$filter=deviceKey%20lt%2025&$select=deviceKey&$expand=device($select={select})"
        ),
        format!(
            "/userDeviceAssociations?api-version=v1.0&$filter=deviceKey%20lt%2025&$select=deviceKey&$expand=device($at={day};$select={select})"
        ),
    ] {
        let (rows, _) = all_rows(&url, &[]);
        assert!(!rows.is_empty(), "{url}");
        let mut differs_from_now = false;
        for r in &rows {
            let key = r["deviceKey"].as_u64().unwrap();
            if r["device"].is_null() {
                // a device that did not exist that day
                let r = get(&format!("/devices({key})?api-version=v1.0&$at={day}"));
                assert_eq!(r.status, 404, "{url}: device {key}");
                continue;
            }
            let expanded = strip(&r["device"]);
            assert_eq!(expanded, as_of(key), "{url}: device {key}");
            let now = strip(&get_ok(&format!(
                "/devices({key})?api-version=v1.0&$select={select}"
            )));
            differs_from_now |= expanded != now;
        }
        assert!(differs_from_now, "{url}: some device changed since {day}");
    }
    // a filter through the expanded navigation reads the same day's device
    let (rows, _) = all_rows(
        &format!(
            "/devicePropertyHistories?api-version=v1.0&$at={day}&$filter=deviceKey%20lt%2025%20and%20device/osVersion%20eq%20osVersion&$select=deviceKey&$expand=device($select=osVersion)"
        ),
        &[],
    );
    let (that_day, _) = all_rows(
        &format!(
            "/devicePropertyHistories?api-version=v1.0&$at={day}&$filter=deviceKey%20lt%2025&$select=deviceKey"
        ),
        &[],
    );
    assert_eq!(rows.len(), that_day.len());
    // a state of a timeline is the one the reference names
    let r = get("/userDeviceAssociations?api-version=v1.0&$expand=user($at=2026-10-12)");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_of(&r)["target"], "$expand");
}
