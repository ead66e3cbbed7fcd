//! The recorded three-day tenant with every source: results compared with the recorded ones, retention, bad per-entity sources, a source missing from a day, backfill.

use super::*;

#[test]
fn recorded_tenant_all_sources() {
    let store = store("tenant");
    let s = ingest_tenant_day(store.as_ref(), 0);
    assert!(
        s.unknown_enums.is_empty() && s.unmatched.is_empty(),
        "{s:?}"
    );
    let t = s.tenant.unwrap();
    assert_eq!(
        s.records_read.get(
            "deviceCompliancePolicies/c0a10000-0000-4000-8000-00000000c001/deviceStatuses.json"
        ),
        Some(&1)
    );
    let day1 = tenant_dump(store.as_ref(), &t);
    eprintln!("{day1}");
    assert_eq!(
        day1,
        include_str!("../fixtures/tenant/expected-2026-11-01.txt")
    );
    let s = ingest_tenant_day(store.as_ref(), 1);
    assert!(
        s.unknown_enums.is_empty() && s.unmatched.is_empty(),
        "{s:?}"
    );
    let day2 = tenant_dump(store.as_ref(), &s.tenant.unwrap());
    eprintln!("{day2}");
    assert_eq!(
        day2,
        include_str!("../fixtures/tenant/expected-2026-11-02.txt")
    );
    let s = ingest_tenant_day(store.as_ref(), 2);
    assert!(
        s.unknown_enums.is_empty() && s.unmatched.is_empty(),
        "{s:?}"
    );
    let t = s.tenant.unwrap();
    let day3 = tenant_dump(store.as_ref(), &t);
    eprintln!("{day3}");
    assert_eq!(
        day3,
        include_str!("../fixtures/tenant/expected-2026-11-03.txt")
    );
    assert_kept_counts_agree(store.as_ref(), &t);
    // re-ingesting the newest day changes nothing
    ingest_tenant_day(store.as_ref(), 2);
    assert_eq!(tenant_dump(store.as_ref(), &t), day3);
    assert_kept_counts_agree(store.as_ref(), &t);
}

#[test]
fn configured_retention_overrides_the_model_default() {
    use ingest::{check_retention, Retention};
    let store = store("retention");
    let mut t = None;
    for n in 0..3 {
        let date = time::macros::date!(2026 - 11 - 01) + time::Duration::days(n);
        let mut o = opts(date, NOW1 + n * 86_400_000_000, false);
        o.retention.insert("mamCheckins".into(), Retention::Days(1));
        o.retention
            .insert("policyDeviceActivities".into(), Retention::Forever);
        t = ingest_graph_folder(store.as_ref(), &tenant_day(&date.to_string()), &o)
            .unwrap()
            .tenant;
    }
    let t = t.unwrap();
    assert_kept_counts_agree(store.as_ref(), &t);
    let days = |c: &str| {
        let mut d = dump(store.as_ref(), &t, c, &["dateKey", "dateKey"]);
        d.dedup();
        d
    };
    // one day back from 2026-11-03 keeps 11-02 and 11-03
    assert_eq!(
        days("mamCheckins"),
        ["20261102|20261102", "20261103|20261103"]
    );
    assert_eq!(
        days("policyDeviceActivities"),
        [
            "20261101|20261101",
            "20261102|20261102",
            "20261103|20261103"
        ]
    );
    let mut bad = std::collections::BTreeMap::new();
    bad.insert("users".to_string(), Retention::Days(3));
    assert!(check_retention(&bad)
        .unwrap_err()
        .contains("not a daily fact collection"));
    bad.clear();
    bad.insert("gadgets".to_string(), Retention::Forever);
    assert!(check_retention(&bad)
        .unwrap_err()
        .contains("not a collection of the model"));
    assert_eq!(Retention::parse("forever"), Ok(Retention::Forever));
    assert_eq!(Retention::parse("400"), Ok(Retention::Days(400)));
    assert!(Retention::parse("a year").is_err());
}

#[test]
fn bad_per_entity_sources_stop_the_run_naming_the_file() {
    let store = store("entities");
    let dir = testkit::TempDir::new("ingest-entities");
    let day = time::macros::date!(2026 - 11 - 01);
    let policy = "deviceCompliancePolicies/c0a10000-0000-4000-8000-00000000c001";
    let cases: Vec<(&str, Spoil, &str)> = vec![
        (
            "statuses of a policy the snapshot does not list",
            Box::new(|d| {
                let stray = d.join("deviceCompliancePolicies/ffffffff-0000-4000-8000-000000000000");
                std::fs::create_dir_all(&stray).unwrap();
                std::fs::write(stray.join("deviceStatuses.json"), r#"{"value":[]}"#).unwrap();
            }),
            "deviceCompliancePolicies/ffffffff-0000-4000-8000-000000000000/deviceStatuses.json: is for policy ffffffff-0000-4000-8000-000000000000, which is not in deviceCompliancePolicies.json",
        ),
        (
            "an unknown per-entity file",
            Box::new(move |d| {
                std::fs::write(d.join(policy).join("assignments.json"), r#"{"value":[]}"#).unwrap();
            }),
            "deviceCompliancePolicies/c0a10000-0000-4000-8000-00000000c001/assignments.json: is not a known file of a deviceCompliancePolicies entity",
        ),
        (
            "a status without its state",
            Box::new(move |d| {
                std::fs::write(
                    d.join(policy).join("deviceStatuses.json"),
                    r#"{"value":[{"id":"x","deviceDisplayName":"PC"}]}"#,
                )
                .unwrap();
            }),
            "deviceCompliancePolicies/c0a10000-0000-4000-8000-00000000c001/deviceStatuses.json: record 1: field 'status' is required",
        ),
        (
            "an unknown folder",
            Box::new(|d| std::fs::create_dir_all(d.join("deviceEnrollmentConfigurations/x")).unwrap()),
            "deviceEnrollmentConfigurations: is not a known folder",
        ),
        (
            "an overview with two records",
            Box::new(|d| {
                std::fs::write(
                    d.join("deviceConfigurations/c0f10000-0000-4000-8000-00000000f002/deviceStatusOverview.json"),
                    "{\"id\":\"a\"}\n{\"id\":\"b\"}\n",
                )
                .unwrap();
            }),
            "deviceStatusOverview.json: must hold one overview, not 2 records",
        ),
        (
            "a registration without its app",
            Box::new(|d| {
                std::fs::write(
                    d.join("managedAppRegistrations.json"),
                    r##"{"value":[{"@odata.type":"#microsoft.graph.iosManagedAppRegistration","id":"r1"}]}"##,
                )
                .unwrap();
            }),
            "managedAppRegistrations.json: record 1: field 'appIdentifier' is required",
        ),
    ];
    for (what, spoil, expected) in cases {
        copy_day("2026-11-01", &dir);
        spoil(&dir);
        let e = ingest_graph_folder(store.as_ref(), &dir, &opts(day, NOW1, false))
            .unwrap_err()
            .to_string();
        assert!(e.contains(expected), "{what}: {e}");
        assert!(
            store.tenant("contoso").unwrap().is_none(),
            "{what}: nothing was published"
        );
    }
}

#[test]
fn a_source_missing_from_a_day_leaves_its_part_of_the_warehouse_alone() {
    let store = store("partial");
    let dir = testkit::TempDir::new("ingest-partial");
    ingest_tenant_day(store.as_ref(), 0);
    // day 2 without configuration profiles and without apps
    copy_day("2026-11-02", &dir);
    for gone in ["deviceConfigurations", "mobileApps"] {
        std::fs::remove_file(dir.join(format!("{gone}.json"))).unwrap();
        std::fs::remove_dir_all(dir.join(gone)).unwrap();
    }
    let day2 = time::macros::date!(2026 - 11 - 02);
    let t = ingest_graph_folder(store.as_ref(), &dir, &opts(day2, NOW2, false))
        .unwrap()
        .tenant
        .unwrap();
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "policies",
            &["policyKey", "policyName", "isDeleted"]
        ),
        [
            "1|Windows 10 compliance|0",
            "2|iOS compliance|0",
            "3|BitLocker encryption|0",
            "4|iOS device restrictions|0"
        ],
        "the profiles are not deleted for missing from a day without deviceConfigurations.json"
    );
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "appRevisions",
            &["appKey", "revision", "isCurrent"]
        ),
        ["1|1|1", "2|1|1"]
    );
    // the day's facts of the missing sources are not made up
    let days = |c: &str| dump(store.as_ref(), &t, c, &["dateKey", "policyKey"]);
    assert_eq!(days("policyUserActivities"), ["20261101|3", "20261101|4"]);
    assert_eq!(
        dump(
            store.as_ref(),
            &t,
            "mobileAppInstallStatusCounts",
            &["dateKey", "appKey"]
        ),
        ["20261101|1", "20261101|2"]
    );
}

#[test]
fn a_backfilled_day_adds_its_facts_without_rewinding_the_current_state() {
    let store = store("backfill");
    let dir = testkit::TempDir::new("ingest-backfill");
    ingest_tenant_day(store.as_ref(), 0);
    let t = ingest_tenant_day(store.as_ref(), 2).tenant.unwrap();
    let before = tenant_dump(store.as_ref(), &t);
    // day 2 arrives late, with a device the warehouse never saw (enrolled and gone in between)
    copy_day("2026-11-02", &dir);
    let ghost = r#"{"id":"0a1b2c3d-0009-4000-8000-000000000009","deviceName":"LOANER-9","operatingSystem":"Windows","complianceState":"compliant","enrolledDateTime":"2026-11-02T09:00:00Z","userId":"6e7b768e-07e2-4810-8459-485f84f8f204"}"#;
    let devices = dir.join("managedDevices.ndjson");
    let mut text = std::fs::read_to_string(&devices).unwrap();
    text.push_str(ghost);
    text.push('\n');
    std::fs::write(&devices, text).unwrap();
    let day2 = time::macros::date!(2026 - 11 - 02);
    let now = NOW1 + 3 * 86_400_000_000;
    let s = ingest_graph_folder(store.as_ref(), &dir, &opts(day2, now, true)).unwrap();
    let t2 = s.tenant.unwrap();
    assert_eq!(
        (t2.generation, t2.snapshot_date_key),
        (t.generation + 1, Some(20261103)),
        "published, and the newest day stays the one maxhistorydays counts from"
    );
    let after = tenant_dump(store.as_ref(), &t2);
    // the dimensions' current state is as it was; only the device never seen is added, ended
    let section = |dump: &str, name: &str| -> Vec<String> {
        dump.split(&format!("{name}:\n"))
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| l.starts_with("  "))
            .map(str::to_string)
            .collect()
    };
    for dimension in [
        "users",
        "currentUsers",
        "policies",
        "appRevisions",
        "termsAndConditions",
        "mamApplications",
        "mamApplicationInstances",
        "userDeviceAssociations",
    ] {
        assert_eq!(
            section(&after, dimension),
            section(&before, dimension),
            "{dimension}"
        );
    }
    let mut devices = section(&before, "devices");
    devices.push(format!(
        "  6|0a1b2c3d-0009-4000-8000-000000000009|LOANER-9|3|null|2|1|null|1|{now}"
    ));
    assert_eq!(section(&after, "devices"), devices);
    // the day's facts are there, keyed to the entities' keys
    let dph: Vec<String> = section(&after, "devicePropertyHistories")
        .into_iter()
        .filter(|l| l.contains("20261102|"))
        .collect();
    assert_eq!(
        dph,
        [
            "  20261102|1|3|1|10.0.22631.4460",
            "  20261102|2|3|2|15",
            "  20261102|3|2|1|18.1",
            "  20261102|4|2|1|15.1",
            "  20261102|6|2|1|null"
        ]
    );
    assert_eq!(
        section(&after, "policyDeviceActivities")
            .into_iter()
            .filter(|l| l.contains("20261102|"))
            .count(),
        4
    );
    assert_kept_counts_agree(store.as_ref(), &t2);
}
