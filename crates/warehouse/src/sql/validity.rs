//! When each row of a history dimension held: the conditions of the rows whose state held during
//! a period (`$at`, `$from`/`$to`), and, for a dimension whose properties do not say when a
//! state began (`users`: a change ends the live row, `isDeleted` with the time in
//! `rowLastModifiedDateTimeUTC`, and adds a new one), the columns that record when each state
//! began and ended ([`VALID_FROM_COLUMN`], [`VALID_UNTIL_COLUMN`]), which ingestion fills for
//! the states it adds and ends, and each publication for rows written without them.

use super::changes::CHANGED_COLUMN;
use super::dialect::Dialect;
use super::dml::{set_column, KeyRange};
use super::exprs::Scope;
use super::query::{PlannedQuery, TENANT_COLUMN};
use super::tree::SqlExpr;
use super::value::SqlValue;
use crate::model::{ValidFrom, ValidUntil, Validity, Warehouse};
use odata::bind::CompareOp;

/// The column of a dimension with recorded states ([`ValidFrom::Recorded`]) holding when each
/// row's state began: the midnight starting the day of the snapshot that first held it (null:
/// before the warehouse recorded its start).
pub const VALID_FROM_COLUMN: &str = "_dw_valid_from";

/// The column of a dimension with recorded states holding when an ended row's state ended: the
/// midnight starting the day of the first snapshot without it (null: ended before the warehouse
/// recorded ends, at its `rowLastModifiedDateTimeUTC`).
pub const VALID_UNTIL_COLUMN: &str = "_dw_valid_until";

/// The conditions of rows of `scope` whose validity (`valid`) overlaps the closed-open period
/// `(start, end)`: begun before the period ended, and not ended when it began.
pub(super) fn valid_during(
    scope: &mut Scope<'_>,
    valid: Validity,
    (start, end): (i64, Option<i64>),
) -> Vec<SqlExpr> {
    let at = |t: i64| SqlExpr::Param(SqlValue::Timestamp(t));
    let mut conditions = Vec::new();
    if let Some(end) = end {
        conditions.push(match valid.start {
            ValidFrom::Property(i) => SqlExpr::compare(CompareOp::Lt, scope.column(i), at(end)),
            // a start not recorded: before the warehouse recorded starts
            ValidFrom::Recorded => {
                let began = SqlExpr::column(scope.alias.as_deref(), VALID_FROM_COLUMN);
                SqlExpr::Or(
                    Box::new(SqlExpr::is_null(began.clone(), false)),
                    Box::new(SqlExpr::compare(CompareOp::Lt, began, at(end))),
                )
            }
        });
    }
    let (lasting, ended) = match valid.end {
        ValidUntil::Property(i) => (SqlExpr::is_null(scope.column(i), false), scope.column(i)),
        ValidUntil::WhenDeleted { deleted, at } => (
            SqlExpr::compare(
                CompareOp::Eq,
                scope.column(deleted),
                SqlExpr::Param(SqlValue::Boolean(false)),
            ),
            SqlExpr::Coalesce(
                Box::new(SqlExpr::column(scope.alias.as_deref(), VALID_UNTIL_COLUMN)),
                Box::new(scope.column(at)),
            ),
        ),
    };
    conditions.push(SqlExpr::Or(
        Box::new(lasting),
        Box::new(SqlExpr::compare(CompareOp::Gt, ended, at(start))),
    ));
    conditions
}

/// The statements giving the rows of `tenant` that publication `generation` wrote (none: every
/// row, once, when [`VALID_FROM_COLUMN`] arrives) in a dimension with recorded states their
/// start, when they have none ([`start_of_states`]).
pub fn record_state_starts(
    dialect: &dyn Dialect,
    tenant: i64,
    generation: Option<i64>,
) -> Vec<PlannedQuery> {
    recorded_dimensions()
        .map(|name| {
            let t = SqlValue::Integer(tenant);
            let mut condition = format!(
                "{} = {}",
                dialect.quote(TENANT_COLUMN),
                dialect.placeholder(1, &t)
            );
            let mut params = vec![t];
            if let Some(generation) = generation {
                let g = SqlValue::Integer(generation);
                condition.push_str(&format!(
                    " AND {} = {}",
                    dialect.quote(CHANGED_COLUMN),
                    dialect.placeholder(2, &g)
                ));
                params.push(g);
            }
            PlannedQuery {
                sql: start_of_states(dialect, name, &condition),
                params,
                tenant: Some(tenant),
                planning: std::time::Duration::ZERO,
                client: None,
            }
        })
        .collect()
}

/// The dimensions whose rows' starts [`VALID_FROM_COLUMN`] records.
pub fn recorded_dimensions() -> impl Iterator<Item = &'static str> {
    Warehouse::get()
        .collections
        .iter()
        .filter(|c| {
            matches!(
                c.validity(),
                Some(Validity {
                    start: ValidFrom::Recorded,
                    ..
                })
            )
        })
        .map(|c| c.name.as_str())
}

/// `UPDATE` of the rows of dimension `name` meeting `condition` that have no start yet (rows a
/// bulk load wrote, or written before starts were recorded; an ingestion records the starts of
/// the states it adds, [`record_new_and_ended_states`]): a live row began when it was written
/// (`rowLastModifiedDateTimeUTC`: a live row is never rewritten); an ended one when the state
/// before it (the entity's row with the next lower key) ended,
/// which is exact for states that follow one another (a change of state) and, for a row whose
/// start was not recorded, the earliest the warehouse can tell (an entity that was missing for a
/// while and came back reads as present during its absence); the first state of an entity that
/// has ended has no known start (null: before the warehouse recorded it).
fn start_of_states(dialect: &dyn Dialect, name: &str, condition: &str) -> String {
    let collection = Warehouse::get()
        .collection(name)
        .expect("a dimension of the model");
    let Some(Validity {
        end: ValidUntil::WhenDeleted { deleted, at },
        ..
    }) = collection.validity()
    else {
        unreachable!("recorded states end by being deleted")
    };
    let q = |s: &str| dialect.quote(s);
    let property = |i: usize| q(&collection.properties[i].name);
    let key = q(&collection.key[0]);
    let id = property(
        collection
            .natural_id()
            .expect("a dimension with a natural id"),
    );
    let (deleted, at) = (property(deleted), property(at));
    let (table, tenant) = (q(name), q(TENANT_COLUMN));
    format!(
        "UPDATE {table} SET {from} = CASE WHEN {deleted} THEN (SELECT COALESCE(p.{until}, p.{at}) FROM {table} p \
         WHERE p.{tenant} = {table}.{tenant} AND p.{id} = {table}.{id} AND p.{key} < {table}.{key} \
         ORDER BY p.{key} DESC LIMIT 1) ELSE {at} END WHERE {condition} AND {from} IS NULL",
        from = q(VALID_FROM_COLUMN),
        until = q(VALID_UNTIL_COLUMN),
    )
}

/// The statements an ingestion runs after merging dimension `name` with recorded states: the
/// rows it added (keys from `first_new_key` on) began at `snapshot`, the rows it ended
/// (`ended_keys`) ended then.
pub fn record_new_and_ended_states(
    dialect: &dyn Dialect,
    (tenant, name): (i64, &str),
    (first_new_key, ended_keys): (i64, &[i64]),
    snapshot: i64,
) -> Vec<PlannedQuery> {
    let key = Warehouse::get()
        .collection(name)
        .map(|c| c.key[0].as_str())
        .expect("a dimension of the model");
    let at = SqlValue::Timestamp(snapshot);
    let mut statements = vec![set_column(
        dialect,
        tenant,
        name,
        (VALID_FROM_COLUMN, at.clone()),
        (key, KeyRange::From(first_new_key)),
    )];
    statements.extend(ended_keys.chunks(1000).map(|chunk| {
        set_column(
            dialect,
            tenant,
            name,
            (VALID_UNTIL_COLUMN, at.clone()),
            (key, KeyRange::Of(chunk)),
        )
    }));
    statements
}
