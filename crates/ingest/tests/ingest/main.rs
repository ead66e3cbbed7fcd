//! Ingesting Graph snapshot folders: exact warehouse contents after each day, history rows,
//! incremental-load timestamps, idempotence, the backfill rule, and nothing published on bad input.
//! Runs on SQLite, and on PostgreSQL with `DW_TEST_STORE=postgres` (as `./scripts/test` does).

mod graph_and_csv;
mod history_and_guards;
mod recorded_tenant;

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
        any_day: false,
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
        planning: std::time::Duration::ZERO,
        client: None,
    };
    let mut out = Vec::new();
    store
        .stream(&q, &mut |row| {
            let cells: Vec<String> = (0..columns.len())
                .map(|i| match row.cell(i) {
                    warehouse::store::Cell::Null => "null".into(),
                    warehouse::store::Cell::Integer(v) => v.to_string(),
                    warehouse::store::Cell::Real(v) => v.to_string(),
                    warehouse::store::Cell::Text(s) => s.to_string(),
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

fn csv_fixtures(case: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("tests/fixtures/csv")
        .join(case)
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
                    apply: None,
                    collection,
                    entity,
                    tenant: t.id,
                    filter,
                    orderby: &[],
                    select: &[],
                    computed: &[],
                    key: &[],
                    min_date_key,
                    max_date_key: None,
                    valid_during: None,
                    as_of_day: None,
                    changed: None,
                    after: None,
                    offset: 0,
                    limit: None,
                    now_micros: 0,
                    expand: &[],
                };
                let p = plan(&q, store.dialect()).unwrap();
                (store.count(&p.count).unwrap(), p.count.sql)
            };
            let (kept, kept_sql) = count(None);
            let (scanned, _) = count(Some(&everything));
            assert!(kept_sql.contains("_dw_counts"), "{kept_sql}");
            assert_eq!(kept, scanned, "{} from {min_date_key:?}", collection.name);
        }
    }
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
