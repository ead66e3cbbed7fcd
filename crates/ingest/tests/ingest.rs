//! Ingesting Graph snapshot folders: exact warehouse contents after each day, history rows,
//! incremental-load timestamps, idempotence, the backfill rule, and nothing published on bad input.
//! Runs on SQLite, and on PostgreSQL with `DW_TEST_STORE=postgres` (as `./scripts/test` does).

use ingest::{ingest_csv_folder, ingest_graph_folder, IngestOptions};
use std::path::PathBuf;
use std::sync::Arc;
use warehouse::sql::{PlannedQuery, SqlValue};
use warehouse::{Store, Tenant};

fn fixtures(day: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("tests/fixtures/graph")
        .join(day)
}

fn store(tag: &str) -> Arc<dyn Store> {
    testkit::fresh_store(&format!("ingest_{tag}"))
}

/// Microseconds since the Unix epoch of a UTC date-time.
fn micros(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp() * 1_000_000
}

const NOW1: i64 = 1_793_577_600_000_000; // 2026-11-02T00:00:00Z, when day 1 is ingested
const NOW2: i64 = NOW1 + 86_400_000_000;

fn opts(day: time::Date, now: i64, backfill: bool) -> IngestOptions {
    IngestOptions {
        tenant: "contoso".into(),
        date: day,
        backfill,
        now_micros: now,
        retention: Default::default(),
        limits: Default::default(),
    }
}

/// Rows of a collection as text, `columns` in order, sorted by all of them.
fn dump(store: &dyn Store, t: &Tenant, collection: &str, columns: &[&str]) -> Vec<String> {
    let cols: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let p = if store.dialect().name() == "postgres" {
        "$1::bigint"
    } else {
        "?1"
    };
    let q = PlannedQuery {
        sql: format!(
            "SELECT {} FROM \"{collection}\" WHERE \"_tenant\" = {p} ORDER BY {}",
            cols.join(", "),
            (1..=cols.len())
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        params: vec![SqlValue::Integer(t.id)],
        tenant: Some(t.id),
    };
    let mut out = Vec::new();
    store
        .stream(&q, &mut |row| {
            let cells: Vec<String> = (0..columns.len())
                .map(|i| match row.cell(i) {
                    odata::json::Cell::Null => "null".into(),
                    odata::json::Cell::Integer(v) => v.to_string(),
                    odata::json::Cell::Real(v) => v.to_string(),
                    odata::json::Cell::Text(s) => s.to_string(),
                })
                .collect();
            out.push(cells.join("|"));
            true
        })
        .unwrap();
    out
}

fn key(collection: &str, name: &str) -> i64 {
    warehouse::reference::key(collection, name).unwrap()
}

#[test]
fn graph_snapshots_build_history_and_daily_facts() {
    assert_eq!(NOW1, micros(time::macros::datetime!(2026-11-02 00:00 UTC)));
    let store = store("history");
    let day1 = time::macros::date!(2026 - 11 - 01);
    let day2 = time::macros::date!(2026 - 11 - 02);
    let s1 =
        ingest_graph_folder(store.as_ref(), &fixtures("day1"), &opts(day1, NOW1, false)).unwrap();
    let t = s1.tenant.clone().unwrap();
    assert_eq!((t.generation, t.snapshot_date_key), (1, Some(20261101)));
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
    let (compliant, noncompliant, grace, unknown_agent) = (
        key("complianceStates", "Compliant"),
        key("complianceStates", "Noncompliant"),
        key("complianceStates", "InGracePeriod"),
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

    // re-ingesting a day gives the same warehouse
    let everything = |store: &dyn Store| -> Vec<Vec<String>> {
        warehouse::Warehouse::get()
            .collections
            .iter()
            .map(|c| {
                let cols: Vec<&str> = c.properties.iter().map(|p| p.name.as_str()).collect();
                dump(store, &t, &c.name, &cols)
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
            &t,
            "devices",
            &["deviceKey", "rowLastModifiedDateTimeUTC"]
        )[2],
        format!("3|{NOW1}"),
        "unchanged rows keep their timestamp"
    );

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

fn csv_fixtures(case: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("tests/fixtures/csv")
        .join(case)
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

fn tenant_day(day: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("tests/fixtures/tenant")
        .join(day)
}

/// The collections fed by the recorded tenant's sources, with the columns the test checks.
const TENANT_COLLECTIONS: &[(&str, &[&str])] = &[
    (
        "policies",
        &[
            "policyKey",
            "policyId",
            "policyName",
            "policyVersion",
            "isDeleted",
            "startDateInclusiveUTC",
            "deletedDateUTC",
        ],
    ),
    (
        "policyDeviceActivities",
        &[
            "dateKey",
            "policyKey",
            "pending",
            "succeeded",
            "error",
            "failed",
        ],
    ),
    (
        "policyTypeActivities",
        &[
            "dateKey",
            "policyKey",
            "policyTypeKey",
            "pending",
            "succeeded",
            "error",
            "failed",
        ],
    ),
    (
        "policyUserActivities",
        &[
            "dateKey",
            "policyKey",
            "pending",
            "succeeded",
            "error",
            "failed",
        ],
    ),
    (
        "compliancePolicyStatusDevicePerPolicyActivities",
        &[
            "dateKey",
            "policyKey",
            "policyPlatformKey",
            "unknown",
            "notApplicable",
            "compliant",
            "inGracePeriod",
            "nonCompliant",
            "error",
        ],
    ),
    (
        "deviceConfigurationProfileDeviceActivities",
        &["dateKey", "pending", "succeeded", "error", "failed"],
    ),
    (
        "deviceConfigurationProfileUserActivities",
        &["dateKey", "pending", "succeeded", "error", "failed"],
    ),
    (
        "appRevisions",
        &[
            "appKey",
            "applicationId",
            "revision",
            "title",
            "appTypeKey",
            "vppProgramTypeKey",
            "modifiedTime",
            "size",
            "startDateInclusiveUTC",
            "endDateExclusiveUTC",
            "isCurrent",
        ],
    ),
    (
        "mobileAppInstallStatusCounts",
        &[
            "dateKey",
            "appKey",
            "deviceTypeKey",
            "appInstallStateKey",
            "errorCode",
            "count",
        ],
    ),
    (
        "termsAndConditions",
        &[
            "termsAndConditionsKey",
            "termsAndConditionsId",
            "termsAndConditionsVersion",
            "termsAndConditionsBodyText",
            "isDeleted",
            "startDateInclusiveUTC",
            "endDateExclusiveUTC",
        ],
    ),
    (
        "userTermsAndConditionsAcceptances",
        &[
            "dateKey",
            "userKey",
            "termsAndConditionsKey",
            "acceptedDateTimeUTC",
        ],
    ),
    (
        "enrollmentActivities",
        &[
            "dateKey",
            "deviceEnrollmentTypeKey",
            "deviceTypeKey",
            "enrollmentEventStatusKey",
            "enrollmentFailureCategoryKey",
            "enrollmentFailureReasonKey",
            "osVersion",
            "count",
        ],
    ),
    (
        "mamApplications",
        &[
            "mamApplicationKey",
            "mamApplicationId",
            "mamApplicationName",
            "isDeleted",
            "deletedDateUTC",
        ],
    ),
    (
        "mamApplicationInstances",
        &[
            "applicationInstanceKey",
            "applicationInstanceId",
            "applicationVersion",
            "platform",
            "mamDeviceId",
            "isDeleted",
            "deletedDateUTC",
        ],
    ),
    (
        "mamCheckins",
        &[
            "dateKey",
            "applicationInstanceKey",
            "userKey",
            "mamApplicationKey",
            "deviceHealthKey",
            "platformKey",
            "lastCheckInDate",
        ],
    ),
    (
        "users",
        &["userKey", "userId", "intuneLicensed", "isDeleted"],
    ),
    (
        "intuneManagementExtensionVersions",
        &["extensionVersionKey", "extensionVersion"],
    ),
    (
        "intuneManagementExtensions",
        &[
            "dateKey",
            "deviceKey",
            "extensionVersionKey",
            "extensionStateKey",
        ],
    ),
    (
        "applicationInventories",
        &[
            "dateKey",
            "deviceKey",
            "applicationName",
            "applicationVersion",
            "bundleSize",
        ],
    ),
    (
        "devices",
        &[
            "deviceKey",
            "deviceId",
            "deviceName",
            "deviceTypeKey",
            "ownerTypeKey",
            "complianceStateKey",
            "managementStateKey",
            "osVersion",
            "isDeleted",
            "rowLastModifiedDateTimeUTC",
        ],
    ),
    (
        "devicePropertyHistories",
        &[
            "dateKey",
            "deviceKey",
            "complianceStateKey",
            "managementStateKey",
            "osVersion",
        ],
    ),
    (
        "compliancePolicyStatusDeviceActivities",
        &[
            "dateKey",
            "unknown",
            "compliant",
            "inGracePeriod",
            "nonCompliant",
            "error",
        ],
    ),
    (
        "userDeviceAssociations",
        &[
            "userKey",
            "deviceKey",
            "createdDateTimeUTC",
            "isDeleted",
            "endedDateTimeUTC",
        ],
    ),
    ("currentUsers", &["userKey", "userId", "intuneLicensed"]),
    ("dates", &["dateKey", "dayOfWeek"]),
];

/// The recorded tenant's collections as text: a line per collection, then a line per row.
fn tenant_dump(store: &dyn Store, t: &Tenant) -> String {
    let mut out = String::new();
    for (c, cols) in TENANT_COLLECTIONS {
        out.push_str(&format!("{c}:\n"));
        for r in dump(store, t, c, cols) {
            out.push_str(&format!("  {r}\n"));
        }
    }
    out
}

/// Ingests day `n` (0-based) of the recorded tenant.
fn ingest_tenant_day(store: &dyn Store, n: usize) -> ingest::IngestSummary {
    let date = time::macros::date!(2026 - 11 - 01) + time::Duration::days(n as i64);
    ingest_graph_folder(
        store,
        &tenant_day(&date.to_string()),
        &opts(date, NOW1 + n as i64 * 86_400_000_000, false),
    )
    .unwrap()
}

/// Every collection's unfiltered count, as kept by the publications, equals a count of its
/// rows, over all days and from a middle day on (`maxhistorydays`).
fn assert_kept_counts_agree(store: &dyn Store, t: &Tenant) {
    use odata::bind::bind_filter;
    use odata::syntax::parse_filter;
    use warehouse::sql::{plan, CollectionQuery};
    use warehouse::{ApiVersion, Warehouse};
    let w = Warehouse::get();
    for collection in &w.collections {
        let model = [ApiVersion::V1, ApiVersion::Beta]
            .into_iter()
            .map(|v| w.edm(v))
            .find(|m| m.entity_set(&collection.name).is_some())
            .expect("every collection is in a version");
        let entity = model.type_of(model.entity_set(&collection.name).unwrap());
        let everything = bind_filter(&parse_filter("true").unwrap(), entity).unwrap();
        for min_date_key in [None, Some(20261102)] {
            let count = |filter| {
                let q = CollectionQuery {
                    collection,
                    entity,
                    tenant: t.id,
                    filter,
                    orderby: &[],
                    select: &[],
                    key: &[],
                    min_date_key,
                    after: None,
                    offset: 0,
                    limit: None,
                    now_micros: 0,
                    expand: &[],
                };
                let p = plan(&q, store.dialect());
                (store.count(&p.count).unwrap(), p.count.sql)
            };
            let (kept, kept_sql) = count(None);
            let (scanned, _) = count(Some(&everything));
            assert!(kept_sql.contains("_dw_counts"), "{kept_sql}");
            assert_eq!(kept, scanned, "{} from {min_date_key:?}", collection.name);
        }
    }
}

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
        include_str!("fixtures/tenant/expected-2026-11-01.txt")
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
        include_str!("fixtures/tenant/expected-2026-11-02.txt")
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
        include_str!("fixtures/tenant/expected-2026-11-03.txt")
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

/// Copies a recorded tenant day to a fresh folder.
fn copy_day(day: &str, to: &std::path::Path) {
    let from = tenant_day(day);
    let _ = std::fs::remove_dir_all(to);
    let mut stack = vec![from.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let target = to.join(path.strip_prefix(&from).unwrap());
            if path.is_dir() {
                stack.push(path);
            } else {
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(&path, target).unwrap();
            }
        }
    }
}

/// A change that makes a copied snapshot folder bad.
type Spoil = Box<dyn Fn(&std::path::Path)>;

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

/// Writes a snapshot folder with `devices` (id, user id) and users u-1 and u-2.
fn snapshot_with(dir: &std::path::Path, devices: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    let users = r#"{"value":[{"id":"u-1","displayName":"One","userPrincipalName":"one@contoso.com"},{"id":"u-2","displayName":"Two","userPrincipalName":"two@contoso.com"}]}"#;
    std::fs::write(dir.join("users.json"), users).unwrap();
    let records: Vec<String> = devices
        .iter()
        .map(|(id, user)| {
            format!(
                r#"{{"id":"{id}","deviceName":"PC-{id}","operatingSystem":"Windows","userId":"{user}","enrolledDateTime":"2026-10-01T08:00:00Z"}}"#
            )
        })
        .collect();
    std::fs::write(
        dir.join("managedDevices.json"),
        format!(r#"{{"value":[{}]}}"#, records.join(",")),
    )
    .unwrap();
}

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
