//! The planner's statements: parameterized, tenant-scoped, keyset-paged.

use odata::bind::{bind_filter, bind_orderby};
use odata::syntax::{parse_filter, parse_orderby};
use warehouse::sql::{plan, CollectionQuery, KeysetPosition, SqlValue, SqliteDialect};
use warehouse::{ApiVersion, Warehouse};

fn query<'a>(
    name: &str,
    filter: Option<&'a odata::bind::Typed>,
    orderby: &'a [odata::bind::BoundOrder],
    select: &'a [usize],
    after: Option<&'a KeysetPosition>,
) -> CollectionQuery<'a> {
    let w = Warehouse::get();
    let model = w.edm(ApiVersion::V1);
    let set = model.entity_set(name).unwrap();
    CollectionQuery {
        collection: w.collection(name).unwrap(),
        apply: None,
        entity: model.type_of(set),
        tenant: 7,
        filter,
        orderby,
        select,
        computed: &[],
        key: &[],
        min_date_key: None,
        after,
        offset: 0,
        limit: Some(11),
        now_micros: 0,
        expand: &[],
    }
}

fn entity(name: &str) -> &'static odata::edm::EntityType {
    let model = Warehouse::get().edm(ApiVersion::V1);
    model.type_of(model.entity_set(name).unwrap())
}

#[test]
fn user_text_only_reaches_sql_as_parameters() {
    let ty = entity("devices");
    let f = bind_filter(
        &parse_filter("deviceName eq 'x'' OR 1=1; DROP TABLE devices; --'").unwrap(),
        ty,
    )
    .unwrap();
    let q = query("devices", Some(&f), &[], &[2], None);
    let p = plan(&q, &SqliteDialect).unwrap();
    assert!(!p.rows.sql.contains("DROP"), "{}", p.rows.sql);
    assert!(p
        .rows
        .params
        .contains(&SqlValue::Text("x' OR 1=1; DROP TABLE devices; --".into())));
    assert!(
        p.rows.sql.starts_with(
            "SELECT \"deviceName\", \"deviceKey\" FROM \"devices\" WHERE \"_tenant\" = ?1"
        ),
        "{}",
        p.rows.sql
    );
    assert_eq!(
        p.rows.params[0],
        SqlValue::Integer(7),
        "tenant comes from the principal"
    );
    assert!(p
        .count
        .sql
        .starts_with("SELECT COUNT(*) FROM \"devices\" WHERE \"_tenant\" = ?1"));
}

#[test]
fn keyset_uses_row_values_on_the_key_and_expands_for_nullable_orders() {
    let after = KeysetPosition(vec![SqlValue::Integer(20261101), SqlValue::Integer(5)]);
    let q = query("devicePropertyHistories", None, &[], &[0, 1], Some(&after));
    let p = plan(&q, &SqliteDialect).unwrap();
    assert!(
        p.rows
            .sql
            .contains("((\"dateKey\", \"deviceKey\") > (?2, ?3))"),
        "{}",
        p.rows.sql
    );
    assert!(
        p.rows
            .sql
            .ends_with("ORDER BY \"dateKey\" ASC, \"deviceKey\" ASC LIMIT ?4"),
        "{}",
        p.rows.sql
    );
    assert_eq!(p.cursor.key_columns, vec![2, 3]);

    let ty = entity("devices");
    let order = bind_orderby(&parse_orderby("osVersion desc").unwrap(), ty).unwrap();
    let after = KeysetPosition(vec![SqlValue::Null, SqlValue::Integer(9)]);
    let q = query("devices", None, &order, &[1], Some(&after));
    let p = plan(&q, &SqliteDialect).unwrap();
    // after a null in a descending nullable column only rows with null and a greater key follow
    assert!(
        p.rows
            .sql
            .contains("((0) OR (\"osVersion\" IS NULL AND (\"deviceKey\" > ?2)))"),
        "{}",
        p.rows.sql
    );
}

#[test]
fn comparisons_are_two_valued() {
    let ty = entity("devices");
    let f = bind_filter(
        &parse_filter("not (osVersion gt '1') and deviceName ne null and deviceKey eq 3").unwrap(),
        ty,
    )
    .unwrap();
    let q = query("devices", Some(&f), &[], &[0], None);
    let sql = plan(&q, &SqliteDialect).unwrap().rows.sql;
    assert!(
        sql.contains("(NOT (\"osVersion\" > ?2 AND \"osVersion\" IS NOT NULL))"),
        "{sql}"
    );
    assert!(sql.contains("(\"deviceName\" IS NOT NULL)"), "{sql}");
    assert!(sql.contains("(\"deviceKey\" = ?3)"), "{sql}");
}

/// The statements the planner writes for the selective queries clients send at a large tenant
/// are answered from an index on SQLite, not by reading the tenant's whole table: checked with
/// `EXPLAIN QUERY PLAN` on a generated store (whose first publication gathered statistics).
#[test]
fn selective_queries_are_answered_from_indexes() {
    use demo::{generate, GenerateOptions};
    use warehouse::SqliteStore;
    let dir = testkit::TempDir::new("plan-index-test");
    let path = dir.join("store.db");
    let store = SqliteStore::open(&path).unwrap();
    let options = GenerateOptions {
        tenant: "big".into(),
        devices: 400,
        users: 500,
        days: 3,
        seed: 3,
        end_date: time::macros::date!(2026 - 03 - 01),
    };
    let (tenant, _) = generate(&store, &options, &warehouse::progress::NoProgress).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let cases = [
        (
            "devices",
            "deviceId eq '4c715b39-c7a9-4705-9879-b3cddfa80c20'",
            "",
            "devices_deviceId",
        ),
        (
            "devices",
            "azureADDeviceId eq 'x'",
            "",
            "devices_azureADDeviceId",
        ),
        (
            "devices",
            "deviceName eq 'DESKTOP-1'",
            "",
            "devices_deviceName",
        ),
        (
            "devices",
            "startswith(deviceName,'DESKTOP-1')",
            "",
            "devices_deviceName",
        ),
        (
            "devices",
            "complianceStateKey eq 3 and isDeleted eq false",
            "",
            "devices_complianceStateKey_isDeleted",
        ),
        (
            "devices",
            "deviceTypeKey eq 8 and isDeleted eq false",
            "",
            "devices_deviceTypeKey_isDeleted",
        ),
        (
            "devices",
            "lastSyncDateTime lt 2026-01-01T00:00:00Z",
            "",
            "devices_lastSyncDateTime",
        ),
        (
            "devices",
            "",
            "lastSyncDateTime desc",
            "devices_lastSyncDateTime",
        ),
        (
            "users",
            "userPrincipalName eq 'a@b.c'",
            "",
            "users_userPrincipalName",
        ),
        (
            "users",
            "startswith(userPrincipalName,'adele')",
            "",
            "users_userPrincipalName",
        ),
        (
            "devicePropertyHistories",
            "deviceKey eq 42",
            "",
            "devicePropertyHistories_deviceKey",
        ),
    ];
    for (collection, filter, orderby, index) in cases {
        let ty = entity(collection);
        let f =
            (!filter.is_empty()).then(|| bind_filter(&parse_filter(filter).unwrap(), ty).unwrap());
        let o = if orderby.is_empty() {
            Vec::new()
        } else {
            bind_orderby(&parse_orderby(orderby).unwrap(), ty).unwrap()
        };
        let mut q = query(collection, f.as_ref(), &o, &[0], None);
        q.tenant = tenant.id;
        let p = plan(&q, &SqliteDialect).unwrap();
        for statement in [&p.rows, &p.count] {
            let mut explain = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", statement.sql))
                .unwrap();
            let details: Vec<String> = explain
                .query_map(rusqlite::params_from_iter(statement.params.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            if orderby.is_empty() || std::ptr::eq(statement, &p.rows) {
                assert!(
                    details
                        .iter()
                        .any(|d| d.contains(&format!("INDEX {index} "))),
                    "{collection}?$filter={filter}&$orderby={orderby}: {details:?}\n{}",
                    statement.sql
                );
            }
        }
    }
}
