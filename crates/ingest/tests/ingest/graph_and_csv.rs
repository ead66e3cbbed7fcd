//! A Graph snapshot builds history and daily facts; unknown files and missing sources stop a run; CSV exports of other MDMs go through the same merge.

use super::*;

#[test]
fn graph_snapshots_build_history_and_daily_facts() {
    assert_eq!(NOW1, micros(time::macros::datetime!(2026-11-02 00:00 UTC)));
    let store = store("history");
    first_day_builds_the_dimensions_and_facts(&store);
    let t = second_day_adds_history(&store);
    re_ingesting_a_day_changes_nothing(&store, &t);
    older_days_and_bad_input_publish_nothing(&store);
}

const DAY1: time::Date = time::macros::date!(2026 - 11 - 01);
const DAY2: time::Date = time::macros::date!(2026 - 11 - 02);

/// Day 1 of the Graph fixtures: devices, users, associations, the day's facts.
fn first_day_builds_the_dimensions_and_facts(store: &Arc<dyn Store>) {
    let day1 = DAY1;
    let s1 =
        ingest_graph_folder(store.as_ref(), &fixtures("day1"), &opts(day1, NOW1, false)).unwrap();
    let t = s1.tenant.clone().unwrap();
    assert_eq!((t.generation, t.snapshot_date_key), (1, Some(20261101)));
    let published = store.tenant("contoso").unwrap().unwrap().published_at;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        published.is_some_and(|p| (now - 600..=now + 60).contains(&p)),
        "the publication time is recorded: {published:?} at {now}"
    );
    assert_eq!(
        s1.records_read.get("managedDevices.json"),
        Some(&3),
        "paged responses are read whole"
    );
    assert_eq!(
        s1.unknown_enums.get("managementAgentTypes: someNewAgent"),
        Some(&1),
        "unknown enums are counted"
    );
    let (compliant, noncompliant, unknown_agent) = (
        key("complianceStates", "Compliant"),
        key("complianceStates", "Noncompliant"),
        key("managementAgentTypes", "Unknown"),
    );
    let cols = [
        "deviceKey",
        "deviceId",
        "complianceStateKey",
        "ownerTypeKey",
        "managementAgentKey",
        "isDeleted",
        "lastSyncDateTime",
        "rowLastModifiedDateTimeUTC",
    ];
    let devices = dump(store.as_ref(), &t, "devices", &cols);
    assert_eq!(
        devices,
        [format!(
                "1|0f1c1a5e-1111-4a6e-9d5e-000000000001|{compliant}|{owner}|{agent}|0|{sync}|{NOW1}",
                owner = key("ownerTypes", "Corporate"),
                agent = key("managementAgentTypes", "MDM"),
                sync = micros(time::macros::datetime!(2026-10-31 22:01:12 UTC))
            ),
            format!(
                "2|0f1c1a5e-1111-4a6e-9d5e-000000000002|{noncompliant}|{owner}|{agent}|0|{sync}|{NOW1}",
                owner = key("ownerTypes", "Personal"),
                agent = key("managementAgentTypes", "MDM"),
                sync = micros(time::macros::datetime!(2026-10-31 20:00:00 UTC))
            ),
            format!("3|0f1c1a5e-1111-4a6e-9d5e-000000000003|{compliant}|{}|{unknown_agent}|0|null|{NOW1}", key("ownerTypes", "Unknown"))]
        .to_vec()
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "compliancePolicyStatusDeviceActivities",
            &["dateKey", "compliant", "nonCompliant", "inGracePeriod"]
        ),
        vec!["20261101|2|1|0"]
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "users",
            &["userKey", "userId", "intuneLicensed", "isDeleted"]
        )
        .len(),
        3
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "deviceCategories",
            &["deviceCategoryKey", "deviceCategoryName"]
        ),
        vec!["1|Laptops"]
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "dates",
            &["dateKey", "dayOfWeek", "weekOfYear"]
        ),
        vec!["20261101|1|45"]
    );

    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "userDeviceAssociations",
            &["userKey", "deviceKey", "isDeleted", "createdDateTimeUTC"]
        ),
        vec![
            format!(
                "1|1|0|{}",
                micros(time::macros::datetime!(2026-03-02 08:15 UTC))
            ),
            format!(
                "2|2|0|{}",
                micros(time::macros::datetime!(2026-06-11 10:00 UTC))
            ),
        ],
        "a device without a user has no association"
    );
}

/// Day 2: one device changes compliance, one retires, one enrolls; a user loses the license,
/// one leaves. Returns the tenant as published.
fn second_day_adds_history(store: &Arc<dyn Store>) -> Tenant {
    let day2 = DAY2;
    let (compliant, noncompliant, grace) = (
        key("complianceStates", "Compliant"),
        key("complianceStates", "Noncompliant"),
        key("complianceStates", "InGracePeriod"),
    );
    // day 2: one device changes compliance, one retires, one enrolls; a user loses the license, one leaves
    let s2 =
        ingest_graph_folder(store.as_ref(), &fixtures("day2"), &opts(day2, NOW2, false)).unwrap();
    let t = s2.tenant.clone().unwrap();
    assert_eq!((t.generation, t.snapshot_date_key), (2, Some(20261102)));
    let devices = dump(
        store.as_ref(),
        &t,
        "devices",
        &[
            "deviceKey",
            "complianceStateKey",
            "isDeleted",
            "rowLastModifiedDateTimeUTC",
        ],
    );
    assert_eq!(
        devices,
        [
            format!("1|{grace}|0|{NOW2}"),
            format!("2|{noncompliant}|1|{NOW2}"),
            format!("3|{compliant}|0|{NOW1}"),
            format!("4|{compliant}|0|{NOW2}")
        ]
        .to_vec(),
        "stable keys; only changed rows get a new rowLastModifiedDateTimeUTC"
    );
    let users = dump(
        store.as_ref(),
        &t,
        "users",
        &[
            "userKey",
            "userId",
            "intuneLicensed",
            "isDeleted",
            "rowLastModifiedDateTimeUTC",
        ],
    );
    assert_eq!(
        users,
        [
            format!("1|u-0001|1|0|{NOW1}"),
            format!("2|u-0002|1|1|{NOW2}"),
            format!("3|u-0003|0|1|{NOW2}"),
            format!("4|u-0002|0|0|{NOW2}")
        ]
        .to_vec(),
        "a state change adds a row; the old one and a removed user are soft-deleted"
    );
    assert_eq!(
        dump(store.as_ref(), &t, "currentUsers", &["userKey", "userId"]),
        vec!["1|u-0001", "4|u-0002"]
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "userDeviceAssociations",
            &["userKey", "deviceKey", "isDeleted", "endedDateTimeUTC"]
        ),
        vec![
            "1|1|0|null".to_string(),
            "1|4|0|null".to_string(),
            format!("2|2|1|{NOW2}")
        ],
        "the retired device's association ends; the new device's begins"
    );
    // with deviceCategories.json, categories carry their Graph ids; the name-only one of day 1 is retired
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "deviceCategories",
            &["deviceCategoryKey", "deviceCategoryName", "isDeleted"]
        ),
        vec!["1|Laptops|1", "2|Laptops|0", "3|Kiosks|0"]
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "devicePropertyHistories",
            &["dateKey", "deviceKey", "deviceCategoryKey"]
        )[3..],
        ["20261102|1|2", "20261102|3|null", "20261102|4|2"]
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "devicePropertyHistories",
            &["dateKey", "deviceKey"]
        ),
        vec![
            "20261101|1",
            "20261101|2",
            "20261101|3",
            "20261102|1",
            "20261102|3",
            "20261102|4"
        ]
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "compliancePolicyStatusDeviceActivities",
            &["dateKey", "compliant", "nonCompliant", "inGracePeriod"]
        ),
        vec!["20261101|2|1|0", "20261102|2|0|1"]
    );
    t
}

/// Re-ingesting a day gives the same warehouse, and unchanged rows keep their timestamp.
fn re_ingesting_a_day_changes_nothing(store: &Arc<dyn Store>, t: &Tenant) {
    let day2 = DAY2;
    // re-ingesting a day gives the same warehouse
    let everything = |store: &dyn Store| -> Vec<Vec<String>> {
        warehouse::Warehouse::get()
            .collections
            .iter()
            .map(|c| {
                let cols: Vec<&str> = c.properties.iter().map(|p| p.name.as_str()).collect();
                dump(store, t, &c.name, &cols)
            })
            .collect()
    };
    let before = everything(store.as_ref());
    ingest_graph_folder(
        store.as_ref(),
        &fixtures("day2"),
        &opts(day2, NOW2 + 1, false),
    )
    .unwrap();
    let after = everything(store.as_ref());
    assert_eq!(before, after);
    assert_eq!(
        dump(
            store.as_ref(),
            t,
            "devices",
            &["deviceKey", "rowLastModifiedDateTimeUTC"]
        )[2],
        format!("3|{NOW1}"),
        "unchanged rows keep their timestamp"
    );
}

/// An older day needs `--backfill`; bad input names file, record and field, and publishes
/// nothing.
fn older_days_and_bad_input_publish_nothing(store: &Arc<dyn Store>) {
    let day1 = DAY1;
    // an older day needs --backfill
    let e = ingest_graph_folder(store.as_ref(), &fixtures("day1"), &opts(day1, NOW2, false))
        .unwrap_err();
    assert!(e.to_string().contains("--backfill"), "{e}");

    // bad input names file, record and field, and publishes nothing
    let generation = store.tenant("contoso").unwrap().unwrap().generation;
    let e = ingest_graph_folder(
        store.as_ref(),
        &fixtures("day3-bad"),
        &opts(time::macros::date!(2026 - 11 - 03), NOW2, false),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "managedDevices.json: record 2: field 'azureADRegistered' must be true or false, not \"yes\"");
    let t2 = store.tenant("contoso").unwrap().unwrap();
    assert_eq!(
        (t2.generation, t2.snapshot_date_key),
        (generation, Some(20261102))
    );
    assert!(
        !dump(store.as_ref(), &t2, "dates", &["dateKey", "dayOfWeek"])
            .iter()
            .any(|d| d.starts_with("20261103"))
    );
}

#[test]
fn unknown_files_and_missing_sources_stop_the_run() {
    let store = store("files");
    let dir = testkit::TempDir::new("ingest-unknown");
    std::fs::copy(fixtures("day1").join("users.json"), dir.join("users.json")).unwrap();
    let e = ingest_graph_folder(
        store.as_ref(),
        &dir,
        &opts(time::macros::date!(2026 - 11 - 01), NOW1, false),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("managedDevices.json is missing"),
        "{e}"
    );
    std::fs::write(dir.join("notes.txt"), "x").unwrap();
    let e = ingest_graph_folder(
        store.as_ref(),
        &dir,
        &opts(time::macros::date!(2026 - 11 - 01), NOW1, false),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("notes.txt: is not a known Graph snapshot file"),
        "{e}"
    );
    assert!(
        store.tenant("contoso").unwrap().is_none(),
        "nothing was published"
    );
}

#[test]
fn csv_exports_from_other_mdms_use_the_same_merge() {
    let store = store("csv");
    let day = time::macros::date!(2026 - 11 - 01);
    let e = ingest_csv_folder(
        store.as_ref(),
        &csv_fixtures("bad-header"),
        &opts(day, NOW1, false),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("devices.csv: unknown column(s) color; the columns are deviceId,"),
        "{e}"
    );
    assert!(
        store.tenant("contoso").unwrap().is_none(),
        "nothing was published"
    );
    let s = ingest_csv_folder(
        store.as_ref(),
        &csv_fixtures("good"),
        &opts(day, NOW1, false),
    )
    .unwrap();
    let t = s.tenant.unwrap();
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "devices",
            &[
                "deviceKey",
                "deviceId",
                "complianceStateKey",
                "encryptionState",
                "lastSyncDateTime"
            ]
        ),
        vec![
            format!(
                "1|mdm-1|{}|1|{}",
                key("complianceStates", "Compliant"),
                micros(time::macros::datetime!(2026-11-01 08:00 UTC))
            ),
            format!("2|mdm-2|{}|0|null", key("complianceStates", "Noncompliant")),
        ]
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "users",
            &["userKey", "userId", "intuneLicensed"]
        ),
        vec!["1|jdoe|1"]
    );
}
