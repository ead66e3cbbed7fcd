//! Crash safety of ingestion: `dw ingest` killed with SIGKILL at many moments leaves the store
//! with the previous day or the whole new day, never part of one.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use warehouse::sql::{PlannedQuery, SqlValue};
use warehouse::{SqliteStore, Store};

const DEVICES: u32 = 6000;

/// Writes day `day`'s snapshot folder (the benchmark's synthetic tenant); returns its devices.
fn snapshot(dir: &Path, day: u32) -> u32 {
    demo::snapshot::write_snapshot(dir, DEVICES, day).unwrap()
}

fn count(store: &SqliteStore, sql: &str, tenant: i64) -> u64 {
    store
        .count(&PlannedQuery {
            sql: sql.into(),
            params: vec![SqlValue::Integer(tenant)],
            tenant: Some(tenant),
            planning: std::time::Duration::ZERO,
            client: None,
        })
        .unwrap()
}

fn ingest(dir: &Path, from: &Path, date: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_dw"))
        .args(["ingest", "--tenant", "acme", "--date", date, "--from"])
        .arg(from)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_killed_ingestion_leaves_the_previous_day_or_the_whole_new_one() {
    let dir = testkit::TempDir::new("crash-test");
    snapshot(&dir.join("day1"), 0);
    let day2_devices = snapshot(&dir.join("day2"), 1);
    assert!(ingest(&dir, &dir.join("day1"), "2026-11-01")
        .wait()
        .unwrap()
        .success());

    // how long a whole run takes, to spread the kills over it
    let db = dir.join("dw-data/warehouse.db");
    let probe = std::time::Instant::now();
    let mut outcomes = (0, 0);
    for step in 0..10u64 {
        let mut child = ingest(&dir, &dir.join("day2"), "2026-11-02");
        std::thread::sleep(Duration::from_millis(30 + step * step * 25));
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(child.id().to_string())
            .status();
        let _ = child.wait();
        let store = SqliteStore::open(&db).unwrap();
        let t = store.tenant("acme").unwrap().unwrap();
        let day2 = count(&store, "SELECT COUNT(*) FROM \"devicePropertyHistories\" WHERE \"_tenant\" = ?1 AND \"dateKey\" = 20261102", t.id);
        let facts = count(&store, "SELECT COUNT(*) FROM \"compliancePolicyStatusDeviceActivities\" WHERE \"_tenant\" = ?1 AND \"dateKey\" = 20261102", t.id);
        match t.snapshot_date_key {
            Some(20261101) => {
                assert_eq!(
                    (day2, facts),
                    (0, 0),
                    "kill {step}: nothing of day 2 may be visible"
                );
                outcomes.0 += 1;
            }
            Some(20261102) => {
                assert_eq!(
                    (day2, facts),
                    (u64::from(day2_devices), 1),
                    "kill {step}: day 2 must be whole"
                );
                outcomes.1 += 1;
            }
            other => panic!("kill {step}: unexpected snapshot {other:?}"),
        }
        let integrity = count(
            &store,
            "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok' AND ?1 = ?1",
            t.id,
        );
        assert_eq!(integrity, 0, "kill {step}: the database is intact");
    }
    eprintln!(
        "kills: {} left day 1, {} after day 2 was published ({:?})",
        outcomes.0,
        outcomes.1,
        probe.elapsed()
    );
    assert!(
        outcomes.0 > 0,
        "some kills must land during the run for the test to mean anything"
    );
    // and a run that is left alone publishes the day
    assert!(ingest(&dir, &dir.join("day2"), "2026-11-02")
        .wait()
        .unwrap()
        .success());
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(
        store.tenant("acme").unwrap().unwrap().snapshot_date_key,
        Some(20261102)
    );
}

#[test]
fn a_full_disk_during_ingestion_leaves_the_store_as_it_was() {
    let dir = testkit::TempDir::new("full-disk-test");
    let mnt = dir.join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    // a 1 MiB filesystem for the store (needs root, as in CI)
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a small tmpfs here (not root?): full-disk test skipped");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    std::fs::write(
        dir.join("dw.toml"),
        format!(
            "store = \"sqlite:{}\"\ntenant = \"acme\"\n",
            mnt.join("w.db").display()
        ),
    )
    .unwrap();
    let run = |from: &Path, date: &str| {
        Command::new(env!("CARGO_BIN_EXE_dw"))
            .args(["ingest", "--config", "dw.toml", "--date", date, "--from"])
            .arg(from)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let small = dir.join("day1");
    snapshot(&small, 0);
    // keep day 1 small enough to fit: the first 100 devices and users, no other source
    for entry in std::fs::read_dir(&small).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else if name != "managedDevices.ndjson" && name != "users.ndjson" {
            std::fs::remove_file(&path).unwrap();
        }
    }
    for f in ["managedDevices.ndjson", "users.ndjson"] {
        let text = std::fs::read_to_string(small.join(f)).unwrap();
        std::fs::write(
            small.join(f),
            text.lines().take(100).collect::<Vec<_>>().join("\n"),
        )
        .unwrap();
    }
    let out = run(&small, "2026-11-01");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // day 2 does not fit
    let big = dir.join("day2");
    snapshot(&big, 1);
    let out = run(&big, "2026-11-02");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing was published"), "{err}");
    let store = SqliteStore::open(&mnt.join("w.db")).unwrap();
    let t = store.tenant("acme").unwrap().unwrap();
    assert_eq!(t.snapshot_date_key, Some(20261101));
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM \"devices\" WHERE \"_tenant\" = ?1",
            t.id
        ),
        100
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok' AND ?1 = ?1",
            t.id
        ),
        0
    );
}
