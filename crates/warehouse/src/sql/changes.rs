//! What each publication records so that a client can be told what changed since it last read
//! (OData delta links): the publication that last wrote each row ([`CHANGED_COLUMN`]), the rows
//! a publication deleted ([`REMOVED_TABLE`], the entity's key as a JSON row), the earliest day
//! of a daily fact each publication wrote ([`PUBLICATIONS_TABLE`]), and how far back changes
//! can be told (the tenant's `changes_since`). [`crate::schema`] creates them (migration 9).

use super::dialect::Dialect;
use super::query::{PlannedQuery, TENANTS_TABLE, TENANT_COLUMN};
use super::render::Render;
use super::tree::{Column, Select, Source, SqlExpr};
use super::value::SqlValue;
use crate::model::Warehouse;
use odata::bind::CompareOp;

/// The column of every collection's table holding the generation of the publication that last
/// wrote the row (null: before changes were recorded).
pub const CHANGED_COLUMN: &str = "_dw_changed";

/// Rows publications deleted: an id (the order they are told in), tenant, collection, the
/// publication's generation and the deleted entities' keys, a row per statement, day and
/// thousand of the first integer key (a JSON array of [`Dialect::json_row`]s of their key
/// properties): a day that retention retires is a hundred rows at 100 000 devices, not one per
/// entity, and a page of a delta reads rows of bounded size.
pub const REMOVED_TABLE: &str = "_dw_removed";

/// The most deleted entities one row of [`REMOVED_TABLE`] holds (of an integer key's range).
const REMOVED_PER_ROW: i64 = 1000;

/// One row per publication: tenant, generation, and the earliest `dateKey` it wrote of a daily
/// fact (null: none), so that the changes of daily facts since a publication are read from the
/// days it and the later ones wrote.
pub const PUBLICATIONS_TABLE: &str = "_dw_publications";

/// How many publications back changes can be told: older delta links answer 410 Gone. At one
/// publication a day, a month: what it keeps is the keys of every row deleted, mostly the days
/// retention retires (some 4 MB a day at 100 000 devices).
pub const KEPT_PUBLICATIONS: i64 = 31;

fn statement(sql: String, params: Vec<SqlValue>, tenant: i64) -> PlannedQuery {
    PlannedQuery {
        sql,
        params,
        tenant: Some(tenant),
        planning: std::time::Duration::ZERO,
        client: None,
    }
}

/// The statement recording as deleted by publication `generation` the rows of `collection`
/// whose `column` compares to `value` with `op` (`=` or `<`): run before the `DELETE` with the
/// same condition ([`super::dml::delete`]).
pub fn record_removed(
    dialect: &dyn Dialect,
    (tenant, generation): (i64, i64),
    collection: &str,
    (column, op, value): (&str, &str, SqlValue),
) -> PlannedQuery {
    let op = if op == "<" {
        CompareOp::Lt
    } else {
        CompareOp::Eq
    };
    record_removed_where(
        dialect,
        (tenant, generation),
        collection,
        vec![SqlExpr::compare(
            op,
            SqlExpr::column(None, column),
            SqlExpr::Param(value),
        )],
    )
}

/// As [`record_removed`], for the rows whose `column` holds one of `values`.
pub fn record_removed_among(
    dialect: &dyn Dialect,
    (tenant, generation): (i64, i64),
    collection: &str,
    (column, values): (&str, &[i64]),
) -> PlannedQuery {
    record_removed_where(
        dialect,
        (tenant, generation),
        collection,
        vec![SqlExpr::In(
            Box::new(SqlExpr::column(None, column)),
            values
                .iter()
                .map(|v| SqlExpr::Param(SqlValue::Integer(*v)))
                .collect(),
        )],
    )
}

fn record_removed_where(
    dialect: &dyn Dialect,
    (tenant, generation): (i64, i64),
    collection: &str,
    mut conditions: Vec<SqlExpr>,
) -> PlannedQuery {
    let c = Warehouse::get()
        .collection(collection)
        .expect("a collection of the model");
    let key: Vec<(SqlExpr, odata::edm::PrimitiveType)> = c
        .key
        .iter()
        .map(|k| {
            let p = &c.properties[c.property_index(k).expect("key properties exist")];
            let ty = odata::edm::PrimitiveType::from_name(&p.ty).expect("model types are checked");
            (SqlExpr::column(None, k), ty)
        })
        .collect();
    let order = key
        .iter()
        .map(|(k, _)| super::tree::OrderItem {
            expr: k.clone(),
            descending: false,
            nullable: false,
        })
        .collect();
    let mut select = Select::new(
        vec![
            Column::from(SqlExpr::column(None, TENANT_COLUMN)),
            Column::from(SqlExpr::Param(SqlValue::Text(collection.to_string()))),
            Column::from(SqlExpr::Param(SqlValue::Integer(generation))),
            Column::from(SqlExpr::JsonRows(
                Box::new(SqlExpr::JsonRow(key.clone())),
                order,
            )),
        ],
        Source::Table {
            name: collection.to_string(),
            alias: None,
        },
    );
    // a row per day and thousand of the entity's first integer key (none when nothing is
    // deleted), so that a page of a delta reads a bounded row of keys, whatever the day held
    select.group_by = std::iter::once(SqlExpr::column(None, TENANT_COLUMN))
        .chain(c.date_key_index().map(|_| SqlExpr::column(None, "dateKey")))
        .chain(
            key.iter()
                .find(|(k, ty)| {
                    matches!(
                        ty,
                        odata::edm::PrimitiveType::Int32 | odata::edm::PrimitiveType::Int64
                    ) && *k != SqlExpr::column(None, "dateKey")
                })
                .map(|(k, ty)| {
                    SqlExpr::Arith(
                        odata::bind::ArithOp::Div,
                        Box::new(k.clone()),
                        Box::new(SqlExpr::Integer(REMOVED_PER_ROW)),
                        *ty,
                    )
                }),
        )
        .collect();
    conditions.insert(
        0,
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(None, TENANT_COLUMN),
            SqlExpr::Param(SqlValue::Integer(tenant)),
        ),
    );
    select.conditions = conditions;
    let (sql, params) = Render::statement(dialect, &select);
    let q = |s: &str| dialect.quote(s);
    statement(
        format!(
            "INSERT INTO {} ({}, collection, generation, entities) {sql}",
            q(REMOVED_TABLE),
            q(TENANT_COLUMN)
        ),
        params,
        tenant,
    )
}

/// The statements a publication runs before it commits, as generation `generation` of
/// `tenant`: its row in [`PUBLICATIONS_TABLE`] (with the earliest day it wrote, `changed_from`,
/// when one), and what falls out of [`KEPT_PUBLICATIONS`]: older deletions and publications are
/// forgotten and the tenant's `changes_since` moves up to the oldest publication kept.
pub fn record_publication(
    dialect: &dyn Dialect,
    (tenant, generation): (i64, i64),
    changed_from: Option<i64>,
) -> Vec<PlannedQuery> {
    let q = |s: &str| dialect.quote(s);
    let p = |n: usize, v: &SqlValue| dialect.placeholder(n, v);
    let t = SqlValue::Integer(tenant);
    let g = SqlValue::Integer(generation);
    let oldest = SqlValue::Integer(generation - KEPT_PUBLICATIONS);
    let day = changed_from.map_or(SqlValue::Null, SqlValue::Integer);
    let day_sql = if day.is_null() {
        "NULL".to_string()
    } else {
        p(3, &day)
    };
    let mut insert_params = vec![t.clone(), g.clone()];
    if !day.is_null() {
        insert_params.push(day);
    }
    // what falls out of the kept publications
    let forgotten = [REMOVED_TABLE, PUBLICATIONS_TABLE].map(|table| {
        statement(
            format!(
                "DELETE FROM {} WHERE {} = {} AND generation <= {}",
                q(table),
                q(TENANT_COLUMN),
                p(1, &t),
                p(2, &oldest)
            ),
            vec![t.clone(), oldest.clone()],
            tenant,
        )
    });
    let [forget_removed, forget_publications] = forgotten;
    vec![
        statement(
            format!(
                "INSERT INTO {} ({}, generation, changed_from) VALUES ({}, {}, {day_sql})",
                q(PUBLICATIONS_TABLE),
                q(TENANT_COLUMN),
                p(1, &t),
                p(2, &g),
            ),
            insert_params,
            tenant,
        ),
        forget_removed,
        forget_publications,
        statement(
            format!(
                "UPDATE {} SET changes_since = {} WHERE id = {} AND (changes_since IS NULL OR changes_since < {})",
                q(TENANTS_TABLE),
                p(1, &oldest),
                p(2, &t),
                p(3, &oldest)
            ),
            vec![oldest.clone(), t.clone(), oldest],
            tenant,
        ),
    ]
}

/// The statements that forget every change recorded of `tenant` when a publication replaces all
/// its rows (generation `generation`): deltas can be told from it on only.
pub fn forget_changes(
    dialect: &dyn Dialect,
    (tenant, generation): (i64, i64),
) -> Vec<PlannedQuery> {
    let q = |s: &str| dialect.quote(s);
    let p = |n: usize, v: &SqlValue| dialect.placeholder(n, v);
    let t = SqlValue::Integer(tenant);
    let g = SqlValue::Integer(generation);
    let mut out: Vec<PlannedQuery> = [REMOVED_TABLE, PUBLICATIONS_TABLE]
        .iter()
        .map(|table| {
            statement(
                format!(
                    "DELETE FROM {} WHERE {} = {}",
                    q(table),
                    q(TENANT_COLUMN),
                    p(1, &t)
                ),
                vec![t.clone()],
                tenant,
            )
        })
        .collect();
    out.push(statement(
        format!(
            "UPDATE {} SET changes_since = {} WHERE id = {}",
            q(TENANTS_TABLE),
            p(1, &g),
            p(2, &t)
        ),
        vec![g, t.clone()],
        tenant,
    ));
    out
}

/// What the publications after generation `since` deleted of `collection`, in the order they
/// are told, after the row `after` (an id), at most `limit` rows: each row its id and the
/// deleted entities' keys (a JSON array of JSON rows).
pub fn removed_since(
    dialect: &dyn Dialect,
    (tenant, collection): (i64, &str),
    since: i64,
    after: Option<i64>,
    limit: u64,
) -> PlannedQuery {
    let column = |name: &str| SqlExpr::column(None, name);
    let int = |v: i64| SqlExpr::Param(SqlValue::Integer(v));
    let mut select = Select::new(
        vec![Column::from(column("id")), Column::from(column("entities"))],
        Source::Table {
            name: REMOVED_TABLE.into(),
            alias: None,
        },
    );
    select.conditions = vec![
        SqlExpr::compare(CompareOp::Eq, column(TENANT_COLUMN), int(tenant)),
        SqlExpr::compare(
            CompareOp::Eq,
            column("collection"),
            SqlExpr::Param(SqlValue::Text(collection.to_string())),
        ),
        SqlExpr::compare(CompareOp::Gt, column("generation"), int(since)),
    ];
    if let Some(id) = after {
        select
            .conditions
            .push(SqlExpr::compare(CompareOp::Gt, column("id"), int(id)));
    }
    select.order_by = vec![super::tree::OrderItem {
        expr: column("id"),
        descending: false,
        nullable: false,
    }];
    select.limit = Some(SqlValue::Integer(limit as i64));
    let (sql, params) = Render::statement(dialect, &select);
    statement(sql, params, tenant)
}

/// The earliest day (`dateKey`) of a daily fact the publications after generation `since`
/// wrote: one row, null when none wrote one.
pub fn days_written_since(dialect: &dyn Dialect, tenant: i64, since: i64) -> PlannedQuery {
    let q = |s: &str| dialect.quote(s);
    let t = SqlValue::Integer(tenant);
    let g = SqlValue::Integer(since);
    statement(
        format!(
            "SELECT MIN(changed_from) FROM {} WHERE {} = {} AND generation > {}",
            q(PUBLICATIONS_TABLE),
            q(TENANT_COLUMN),
            dialect.placeholder(1, &t),
            dialect.placeholder(2, &g)
        ),
        vec![t, g],
        tenant,
    )
}
