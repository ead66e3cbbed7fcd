//! Association history of a device that leaves and comes back, only regular bounded complete files read, the mass-deletion guard.

use super::*;

#[test]
fn a_device_that_leaves_and_comes_back_gets_its_association_history_right() {
    let store = store("comeback");
    let root = testkit::TempDir::new("comeback");
    let day = |n: u8| time::Date::from_calendar_date(2026, time::Month::November, n).unwrap();
    let now = |n: u8| NOW1 + (i64::from(n) - 1) * 86_400_000_000;
    let run = |n: u8, devices: &[(&str, &str)]| {
        let dir = root.join(format!("run-{n}-{}", devices.len()));
        snapshot_with(&dir, devices);
        ingest_graph_folder(store.as_ref(), &dir, &opts(day(n), now(n), false))
    };
    let both = [("d1", "u-1"), ("d2", "u-2")];
    run(1, &both).unwrap();
    run(2, &both[..1]).unwrap();
    let t = run(3, &both)
        .expect("a device back after a day away")
        .tenant
        .unwrap();
    let cols = [
        "deviceKey",
        "userKey",
        "createdDateTimeUTC",
        "isDeleted",
        "endedDateTimeUTC",
    ];
    let enrolled = micros(time::macros::datetime!(2026-10-01 08:00 UTC));
    let expected = [
        format!("1|1|{enrolled}|0|null"),
        // d2: its first association ended when it was missing, a new one started when back
        format!("2|2|{enrolled}|1|{}", now(2)),
        format!("2|2|{}|0|null", now(3)),
    ];
    assert_eq!(
        dump(store.as_ref(), &t, "userDeviceAssociations", &cols),
        expected
    );
    // re-running the day changes nothing
    run(3, &both).unwrap();
    assert_eq!(
        dump(store.as_ref(), &t, "userDeviceAssociations", &cols),
        expected
    );
    // a re-run of a day without the device, then with it again, reopens that day's association
    run(3, &both[..1]).unwrap();
    let t = run(3, &both).unwrap().tenant.unwrap();
    assert_eq!(
        dump(store.as_ref(), &t, "userDeviceAssociations", &cols),
        expected
    );
    // and the days after go on
    run(4, &both[..1]).unwrap();
    let t = run(5, &both).unwrap().tenant.unwrap();
    let rows = dump(store.as_ref(), &t, "userDeviceAssociations", &cols);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[3], format!("2|2|{}|0|null", now(5)));
    // the counts by day and compliance state that reports read follow every publication,
    // re-runs of a day included
    let mut expected: Vec<String> = {
        let mut counts = std::collections::BTreeMap::new();
        for row in dump(
            store.as_ref(),
            &t,
            "devicePropertyHistories",
            &["dateKey", "complianceStateKey"],
        ) {
            *counts.entry(row).or_insert(0) += 1;
        }
        counts
            .into_iter()
            .map(|(k, n)| format!("{k}|{n}"))
            .collect()
    };
    let mut kept = dump(
        store.as_ref(),
        &t,
        "_dw_value_counts",
        &["dateKey", "value", "row_count"],
    );
    expected.sort();
    kept.sort();
    assert_eq!(kept, expected);
    assert_eq!(expected.len(), 5, "one state a day: {expected:?}");
}

#[test]
fn only_regular_bounded_complete_files_are_read() {
    let store = store("hostile_files");
    let root = testkit::TempDir::new("hostile_files");
    let day = time::macros::date!(2026 - 11 - 01);
    let good = root.join("good");
    snapshot_with(&good, &[("d1", "u-1")]);
    let published = ingest_graph_folder(store.as_ref(), &good, &opts(day, NOW1, false))
        .unwrap()
        .tenant
        .unwrap();
    // each case: a copy of the good folder with users.json replaced
    let case = |name: &str, make: &dyn Fn(&std::path::Path)| {
        let dir = root.join(name);
        snapshot_with(&dir, &[("d1", "u-1")]);
        std::fs::remove_file(dir.join("users.json")).unwrap();
        make(&dir.join("users.json"));
        dir
    };
    let zero = case("symlink-to-dev-zero", &|p| {
        std::os::unix::fs::symlink("/dev/zero", p).unwrap()
    });
    let fifo = case("fifo", &|p| {
        assert!(std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap()
            .success())
    });
    let empty = case("empty", &|p| std::fs::write(p, "").unwrap());
    let truncated = case("truncated", &|p| {
        std::fs::write(p, r#"{"value":[{"id":"u-1","displayName":"One"#).unwrap()
    });
    let huge_record = case("huge-record", &|p| {
        let name = "x".repeat(3 << 20);
        std::fs::write(
            p,
            format!(r#"{{"value":[{{"id":"u-1","displayName":"{name}"}}]}}"#),
        )
        .unwrap()
    });
    let huge_line = case("huge-ndjson", &|p| {
        std::fs::remove_file(p).ok();
        let name = "x".repeat(3 << 20);
        std::fs::write(
            p.with_extension("ndjson"),
            format!("{{\"id\":\"u-1\",\"displayName\":\"{name}\"}}\n"),
        )
        .unwrap()
    });
    let mut limited = opts(day, NOW1, false);
    limited.limits.max_record_bytes = 1 << 20;
    for (dir, expected) in [
        (&zero, "not a regular file"),
        (&fifo, "not a regular file"),
        (&empty, "holds no Graph response"),
        (&truncated, "JSON"),
        (&huge_record, "the limit for a record"),
        (&huge_line, "the limit for a record"),
    ] {
        let started = std::time::Instant::now();
        let e = ingest_graph_folder(store.as_ref(), dir, &limited).unwrap_err();
        assert!(e.to_string().contains(expected), "{}: {e}", dir.display());
        assert!(
            e.file.as_deref().is_some_and(|f| f.starts_with("users.")),
            "{e:?}"
        );
        assert!(started.elapsed().as_secs() < 10, "{}", dir.display());
    }
    // a file larger than the configured limit is refused before it is read
    let mut small = opts(day, NOW1, false);
    small.limits.max_file_bytes = 100;
    let e = ingest_graph_folder(store.as_ref(), &good, &small).unwrap_err();
    assert!(
        e.to_string().contains("the limit for a snapshot file"),
        "{e}"
    );
    // nothing was published by any of them
    assert_eq!(store.tenant("contoso").unwrap().unwrap(), published);

    // CSV: an unterminated quote is an error, not a swallowed row
    let csv = root.join("csv");
    std::fs::create_dir_all(&csv).unwrap();
    std::fs::write(
        csv.join("users.csv"),
        "userId,displayName\nu-1,One\nu-2,Two\n",
    )
    .unwrap();
    std::fs::write(
        csv.join("devices.csv"),
        // the quote swallows the next row into d1's user id, with the right number of fields
        "deviceId,deviceName,userId\nd1,PC one,\"u-1\nd2,PC two,u-2\n",
    )
    .unwrap();
    let e = ingest_csv_folder(store.as_ref(), &csv, &opts(day, NOW1, false)).unwrap_err();
    assert!(e.to_string().contains("never closed"), "{e}");
    assert_eq!(e.file.as_deref(), Some("devices.csv"));
    assert_eq!(store.tenant("contoso").unwrap().unwrap(), published);
}

#[test]
fn a_snapshot_that_would_delete_most_devices_is_refused_unless_allowed() {
    let store = store("mass_deletion");
    let root = testkit::TempDir::new("mass_deletion");
    let ids: Vec<String> = (0..40).map(|i| format!("d{i}")).collect();
    let all: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "u-1")).collect();
    snapshot_with(&root.join("1"), &all);
    snapshot_with(&root.join("2"), &all[..15]);
    let day1 = time::macros::date!(2026 - 11 - 01);
    let day2 = time::macros::date!(2026 - 11 - 02);
    ingest_graph_folder(store.as_ref(), &root.join("1"), &opts(day1, NOW1, false)).unwrap();
    let e =
        ingest_graph_folder(store.as_ref(), &root.join("2"), &opts(day2, NOW2, false)).unwrap_err();
    assert!(e.to_string().contains("25 of 40 live devices"), "{e}");
    assert!(e.to_string().contains("--allow-mass-deletion"), "{e}");
    let mut forced = opts(day2, NOW2, false);
    forced.limits.max_deleted_share = None;
    let t = ingest_graph_folder(store.as_ref(), &root.join("2"), &forced)
        .unwrap()
        .tenant
        .unwrap();
    let deleted = dump(store.as_ref(), &t, "devices", &["isDeleted"])
        .iter()
        .filter(|r| *r == "1")
        .count();
    assert_eq!(deleted, 25);
}

#[test]
fn a_mistyped_day_is_refused_before_it_purges_the_history() {
    let store = store("mistyped_day");
    let root = testkit::TempDir::new("mistyped_day");
    snapshot_with(&root.join("1"), &[("d1", "u-1")]);
    let day1 = time::macros::date!(2026 - 11 - 01);
    let published = ingest_graph_folder(store.as_ref(), &root.join("1"), &opts(day1, NOW1, false))
        .unwrap()
        .tenant
        .unwrap();
    // 2062 for 2026: published, retention would purge the real days as older than it keeps
    for day in [
        time::macros::date!(2062 - 11 - 03),
        time::macros::date!(2026 - 11 - 04),
        time::macros::date!(1999 - 12 - 31),
    ] {
        let e = ingest_graph_folder(store.as_ref(), &root.join("1"), &opts(day, NOW1, false))
            .unwrap_err();
        assert!(e.to_string().contains("--allow-any-day"), "{day}: {e}");
        assert!(e.to_string().contains(&day.to_string()), "{e}");
        assert_eq!(store.tenant("contoso").unwrap().unwrap(), published);
    }
    // tomorrow (UTC) is taken: a run just before midnight elsewhere
    let tomorrow = time::macros::date!(2026 - 11 - 03);
    ingest_graph_folder(
        store.as_ref(),
        &root.join("1"),
        &opts(tomorrow, NOW1, false),
    )
    .unwrap();
    let mut any = opts(time::macros::date!(2026 - 11 - 20), NOW1, false);
    any.any_day = true;
    ingest_graph_folder(store.as_ref(), &root.join("1"), &any).unwrap();
}
