//! The planner's statements: parameterized, tenant-scoped, keyset-paged.

use odata::bind::{bind_filter, bind_orderby, CompareOp};
use odata::syntax::{parse_filter, parse_orderby};
use warehouse::sql::tree::{Source, SqlExpr};
use warehouse::sql::{build, plan, CollectionQuery, KeysetPosition, SqlValue};
use warehouse::SqliteDialect;
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
        max_date_key: None,
        valid_during: None,
        as_of_day: None,
        changed: None,
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

/// `table.name` in the planner's tree.
fn column(table: Option<&str>, name: &str) -> SqlExpr {
    SqlExpr::column(table, name)
}

fn param(v: SqlValue) -> SqlExpr {
    SqlExpr::Param(v)
}

fn compare(op: CompareOp, a: SqlExpr, b: SqlExpr) -> SqlExpr {
    SqlExpr::compare(op, a, b)
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
    let tree = build(&q);
    let columns: Vec<&SqlExpr> = tree.rows.columns.iter().map(|c| &c.expr).collect();
    assert_eq!(
        columns,
        [&column(None, "deviceName"), &column(None, "deviceKey")]
    );
    assert_eq!(
        tree.rows.from,
        Source::Table {
            name: "devices".into(),
            alias: None
        }
    );
    // the tenant comes from the principal, first of the conditions
    let tenant = compare(
        CompareOp::Eq,
        column(None, "_tenant"),
        param(SqlValue::Integer(7)),
    );
    assert_eq!(tree.rows.conditions[0], tenant);
    assert_eq!(tree.count.conditions[0], tenant);
    assert_eq!(tree.count.columns[0].expr, SqlExpr::CountRows);
    // the client's text is a parameter of the condition (deviceName is nullable: two-valued)
    let text = param(SqlValue::Text("x' OR 1=1; DROP TABLE devices; --".into()));
    assert_eq!(
        tree.rows.conditions[1],
        SqlExpr::and(
            compare(CompareOp::Eq, column(None, "deviceName"), text.clone()),
            SqlExpr::is_null(column(None, "deviceName"), true)
        )
    );
    let p = plan(&q, &SqliteDialect).unwrap();
    assert!(!p.rows.sql.contains("DROP"), "{}", p.rows.sql);
    assert!(p
        .rows
        .params
        .contains(&SqlValue::Text("x' OR 1=1; DROP TABLE devices; --".into())));
    assert_eq!(p.rows.params[0], SqlValue::Integer(7));
}

#[test]
fn keyset_uses_row_values_on_the_key_and_expands_for_nullable_orders() {
    let after = KeysetPosition(vec![SqlValue::Integer(20261101), SqlValue::Integer(5)]);
    let q = query("devicePropertyHistories", None, &[], &[0, 1], Some(&after));
    let tree = build(&q);
    let keys = || vec![column(None, "dateKey"), column(None, "deviceKey")];
    assert_eq!(
        tree.rows.conditions.last(),
        Some(&compare(
            CompareOp::Gt,
            SqlExpr::Row(keys()),
            SqlExpr::Row(vec![
                param(SqlValue::Integer(20261101)),
                param(SqlValue::Integer(5))
            ])
        ))
    );
    let order: Vec<(&SqlExpr, bool)> = tree
        .rows
        .order_by
        .iter()
        .map(|o| (&o.expr, o.descending))
        .collect();
    assert_eq!(order, [(&keys()[0], false), (&keys()[1], false)]);
    assert_eq!(tree.rows.limit, Some(SqlValue::Integer(11)));
    assert_eq!(tree.cursor.key_columns, vec![2, 3]);
    let sql = plan(&q, &SqliteDialect).unwrap().rows.sql;
    assert!(
        sql.contains("((\"dateKey\", \"deviceKey\") > (?2, ?3))"),
        "{sql}"
    );

    let ty = entity("devices");
    let order = bind_orderby(&parse_orderby("osVersion desc").unwrap(), ty).unwrap();
    let after = KeysetPosition(vec![SqlValue::Null, SqlValue::Integer(9)]);
    let q = query("devices", None, &order, &[1], Some(&after));
    // after a null in a descending nullable column only rows with null and a greater key follow
    assert_eq!(
        build(&q).rows.conditions.last(),
        Some(&SqlExpr::Or(
            Box::new(SqlExpr::Bool(false)),
            Box::new(SqlExpr::and(
                SqlExpr::is_null(column(None, "osVersion"), false),
                compare(
                    CompareOp::Gt,
                    column(None, "deviceKey"),
                    param(SqlValue::Integer(9))
                )
            ))
        ))
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
    let condition = build(&q).rows.conditions[1].clone();
    let os = || column(None, "osVersion");
    assert_eq!(
        condition,
        SqlExpr::and(
            SqlExpr::and(
                SqlExpr::Not(Box::new(SqlExpr::and(
                    compare(CompareOp::Gt, os(), param(SqlValue::Text("1".into()))),
                    SqlExpr::is_null(os(), true)
                ))),
                SqlExpr::is_null(column(None, "deviceName"), true)
            ),
            compare(
                CompareOp::Eq,
                column(None, "deviceKey"),
                param(SqlValue::Integer(3))
            )
        )
    );
}

/// In the cases of [`selective_queries_are_answered_from_indexes`]: a search by day (of the
/// facts' key, which starts with `dateKey`, or of an index led by it).
const BY_DAY: &str = "a search by dateKey";

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
        // an incremental refresh's partition of a dimension (README, "Refreshing only what
        // changed")
        (
            "devices",
            "rowLastModifiedDateTimeUTC ge 2026-11-01T00:00:00Z and rowLastModifiedDateTimeUTC lt 2026-11-02T00:00:00Z",
            "",
            "devices_rowLastModifiedDateTimeUTC",
        ),
        (
            "users",
            "rowLastModifiedDateTimeUTC ge 2026-11-01T00:00:00Z and rowLastModifiedDateTimeUTC lt 2026-11-02T00:00:00Z",
            "",
            "users_rowLastModifiedDateTimeUTC",
        ),
        (
            "devicePropertyHistories",
            "dateKey ge 20260228 and dateKey lt 20260301",
            "",
            BY_DAY,
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
                        .any(|d| d.contains(&format!("INDEX {index} "))
                            || (index == BY_DAY
                                && d.starts_with("SEARCH")
                                && d.contains("(_tenant=? AND dateKey>? AND dateKey<?)"))),
                    "{collection}?$filter={filter}&$orderby={orderby}: {details:?}\n{}",
                    statement.sql
                );
            }
        }
    }
}

#[test]
fn as_of_a_day_reads_the_rows_valid_then_and_that_days_facts() {
    // a dimension: begun before the period ended and not ended when it began; its count scans
    // the rows, since the counts a publication keeps are of every row
    let at = 1_761_955_200_000_000;
    let q = CollectionQuery {
        valid_during: Some((at - 1, Some(at))),
        ..query("policies", None, &[], &[0], None)
    };
    let tree = build(&q);
    let conditions = &tree.rows.conditions;
    assert!(conditions.contains(&compare(
        CompareOp::Lt,
        column(None, "startDateInclusiveUTC"),
        param(SqlValue::Timestamp(at))
    )));
    assert!(conditions.contains(&SqlExpr::Or(
        Box::new(SqlExpr::is_null(column(None, "deletedDateUTC"), false)),
        Box::new(compare(
            CompareOp::Gt,
            column(None, "deletedDateUTC"),
            param(SqlValue::Timestamp(at - 1))
        ))
    )));
    assert_eq!(
        tree.count.from,
        Source::Table {
            name: "policies".into(),
            alias: None
        }
    );
    // a fact: one day, and its unfiltered count from the kept counts of that day
    let q = CollectionQuery {
        min_date_key: Some(20261010),
        max_date_key: Some(20261010),
        ..query("devicePropertyHistories", None, &[], &[0], None)
    };
    let tree = build(&q);
    for op in [CompareOp::Ge, CompareOp::Le] {
        let day = param(SqlValue::Integer(20261010));
        assert!(tree
            .rows
            .conditions
            .contains(&compare(op, column(None, "dateKey"), day.clone())));
        assert!(tree
            .count
            .conditions
            .contains(&compare(op, column(None, "date_key"), day)));
    }
}

/// A delta of a dimension whose rows were mostly written
/// ([`warehouse::sql::Changed::by_key`]) reads them in key order, whatever the statistics of the
/// index of publications say (through it, the rows found would be sorted by key).
#[test]
fn a_delta_of_mostly_written_rows_reads_in_key_order() {
    use demo::{generate, GenerateOptions};
    use warehouse::SqliteStore;
    let dir = testkit::TempDir::new("plan-delta-test");
    let path = dir.join("store.db");
    let store = SqliteStore::open(&path).unwrap();
    let options = GenerateOptions {
        tenant: "delta".into(),
        devices: 300,
        users: 300,
        days: 2,
        seed: 5,
        end_date: time::macros::date!(2026 - 03 - 01),
    };
    let (tenant, _) = generate(&store, &options, &warehouse::progress::NoProgress).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut q = query("devices", None, &[], &[0, 1], None);
    q.tenant = tenant.id;
    q.limit = None;
    q.changed = Some(warehouse::sql::Changed {
        since: tenant.generation - 1,
        from_day: None,
        every_row: false,
        by_key: true,
    });
    let p = plan(&q, &SqliteDialect).unwrap();
    let mut explain = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", p.rows.sql))
        .unwrap();
    let details: Vec<String> = explain
        .query_map(rusqlite::params_from_iter(p.rows.params.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        details.iter().any(|d| d.contains("USING PRIMARY KEY")),
        "{details:?}\n{}",
        p.rows.sql
    );
    assert!(
        !details
            .iter()
            .any(|d| d.contains("_dw_changed") || d.contains("TEMP B-TREE")),
        "{details:?}"
    );
}
