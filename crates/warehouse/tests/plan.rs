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
        entity: model.type_of(set),
        tenant: 7,
        filter,
        orderby,
        select,
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
    let p = plan(&q, &SqliteDialect);
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
    let p = plan(&q, &SqliteDialect);
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
    let p = plan(&q, &SqliteDialect);
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
    let sql = plan(&q, &SqliteDialect).rows.sql;
    assert!(
        sql.contains("(NOT COALESCE((\"osVersion\" > ?2), 0))"),
        "{sql}"
    );
    assert!(sql.contains("(\"deviceName\" IS NOT NULL)"), "{sql}");
    assert!(sql.contains("(\"deviceKey\" = ?3)"), "{sql}");
}
