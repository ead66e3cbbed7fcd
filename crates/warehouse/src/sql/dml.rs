//! Statements that change or read whole rows of one tenant, for ingestion. Identifiers come from
//! the model; values are parameters.

use super::dialect::Dialect;
use super::query::{PlannedQuery, TENANT_COLUMN as TENANT_COLUMN_NAME};
use super::value::SqlValue;

struct Builder<'a> {
    dialect: &'a dyn Dialect,
    params: Vec<SqlValue>,
}

impl<'a> Builder<'a> {
    fn new(dialect: &'a dyn Dialect) -> Self {
        Self {
            dialect,
            params: Vec::new(),
        }
    }

    /// The statement `sql` with the parameters bound so far, on `tenant`'s rows.
    fn statement(self, sql: String, tenant: i64) -> PlannedQuery {
        PlannedQuery {
            sql,
            params: self.params,
            tenant: Some(tenant),
            planning: std::time::Duration::ZERO,
            client: None,
        }
    }

    fn param(&mut self, v: SqlValue) -> String {
        // a null has no type to bind with: write it as SQL
        if v.is_null() {
            return "NULL".into();
        }
        let p = self.dialect.placeholder(self.params.len() + 1, &v);
        self.params.push(v);
        p
    }
}

/// A condition on the rows [`select`] reads.
pub enum Condition<'a> {
    /// The property holds this value.
    Equals(&'a str, SqlValue),
    /// The property holds one of these values (at most a few thousand).
    Among(&'a str, &'a [SqlValue]),
}

/// `SELECT columns FROM collection WHERE tenant AND conditions ORDER BY order_by`.
pub fn select(
    dialect: &dyn Dialect,
    tenant: i64,
    collection: &str,
    columns: &[&str],
    conditions: &[Condition<'_>],
    order_by: &str,
) -> PlannedQuery {
    let mut b = Builder::new(dialect);
    let q = |c: &str| dialect.quote(c);
    let mut filter = format!(
        "{} = {}",
        q(TENANT_COLUMN_NAME),
        b.param(SqlValue::Integer(tenant))
    );
    for c in conditions {
        match c {
            Condition::Equals(column, value) => {
                let v = b.param(value.clone());
                filter.push_str(&format!(" AND {} = {v}", q(column)));
            }
            Condition::Among(column, values) => {
                let list: Vec<String> = values.iter().map(|v| b.param(v.clone())).collect();
                filter.push_str(&format!(" AND {} IN ({})", q(column), list.join(", ")));
            }
        }
    }
    let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
    b.statement(
        format!(
            "SELECT {} FROM {} WHERE {filter} ORDER BY {}",
            cols.join(", "),
            q(collection),
            q(order_by)
        ),
        tenant,
    )
}

/// `SELECT MAX(column) FROM collection WHERE tenant`.
pub fn max(dialect: &dyn Dialect, tenant: i64, collection: &str, column: &str) -> PlannedQuery {
    let mut b = Builder::new(dialect);
    let t = b.param(SqlValue::Integer(tenant));
    b.statement(
        format!(
            "SELECT MAX({}) FROM {} WHERE {} = {t}",
            dialect.quote(column),
            dialect.quote(collection),
            dialect.quote(TENANT_COLUMN_NAME),
        ),
        tenant,
    )
}

/// `DELETE FROM collection WHERE tenant AND column <op> value` (`op` is `=` or `<`).
pub fn delete(
    dialect: &dyn Dialect,
    tenant: i64,
    collection: &str,
    column: &str,
    op: &str,
    value: SqlValue,
) -> PlannedQuery {
    assert!(op == "=" || op == "<", "delete supports = and <");
    let mut b = Builder::new(dialect);
    let t = b.param(SqlValue::Integer(tenant));
    let v = b.param(value);
    b.statement(
        format!(
            "DELETE FROM {} WHERE {} = {t} AND {} {op} {v}",
            dialect.quote(collection),
            dialect.quote(TENANT_COLUMN_NAME),
            dialect.quote(column)
        ),
        tenant,
    )
}

/// `DELETE FROM collection WHERE tenant`: every row of the tenant.
pub fn delete_all(dialect: &dyn Dialect, tenant: i64, collection: &str) -> PlannedQuery {
    let mut b = Builder::new(dialect);
    let t = b.param(SqlValue::Integer(tenant));
    b.statement(
        format!(
            "DELETE FROM {} WHERE {} = {t}",
            dialect.quote(collection),
            dialect.quote(TENANT_COLUMN_NAME)
        ),
        tenant,
    )
}

/// `DELETE` the tenant's rows of `collection` whose `column` is one of `values`.
pub fn delete_in(
    dialect: &dyn Dialect,
    tenant: i64,
    collection: &str,
    column: &str,
    values: &[i64],
) -> PlannedQuery {
    let mut b = Builder::new(dialect);
    let t = b.param(SqlValue::Integer(tenant));
    let list: Vec<String> = values
        .iter()
        .map(|v| b.param(SqlValue::Integer(*v)))
        .collect();
    b.statement(
        format!(
            "DELETE FROM {} WHERE {} = {t} AND {} IN ({})",
            dialect.quote(collection),
            dialect.quote(TENANT_COLUMN_NAME),
            dialect.quote(column),
            list.join(", ")
        ),
        tenant,
    )
}

/// Which of a tenant's rows [`set_column`] writes: those whose integer `key` is `From` a value
/// on, or one `Of` the values.
pub enum KeyRange<'k> {
    /// The key is this or larger.
    From(i64),
    /// The key is one of these.
    Of(&'k [i64]),
}

/// `UPDATE` setting `column` to `value` on the tenant's rows of `collection` whose `key` is in
/// `range`.
pub fn set_column(
    dialect: &dyn Dialect,
    tenant: i64,
    collection: &str,
    (column, value): (&str, SqlValue),
    (key, range): (&str, KeyRange<'_>),
) -> PlannedQuery {
    let mut b = Builder::new(dialect);
    let v = b.param(value);
    let t = b.param(SqlValue::Integer(tenant));
    let keys = match range {
        KeyRange::From(first) => format!(">= {}", b.param(SqlValue::Integer(first))),
        KeyRange::Of(keys) => {
            let list: Vec<String> = keys
                .iter()
                .map(|k| b.param(SqlValue::Integer(*k)))
                .collect();
            format!("IN ({})", list.join(", "))
        }
    };
    b.statement(
        format!(
            "UPDATE {} SET {} = {v} WHERE {} = {t} AND {} {keys}",
            dialect.quote(collection),
            dialect.quote(column),
            dialect.quote(TENANT_COLUMN_NAME),
            dialect.quote(key),
        ),
        tenant,
    )
}

/// Copies into `view` the tenant's live rows of `source` (`live` holds `false`) whose `key` is
/// `from` or larger, with the view's `columns`. Keys only grow, so rows from `from` on are rows
/// the view has never had: no anti-join (which PostgreSQL may plan as a scan of the view per
/// row while its statistics still describe another day). The copies record publication
/// `generation` as the one that wrote them.
pub fn show_live_rows(
    dialect: &dyn Dialect,
    tenant: i64,
    (source, view): (&str, &str),
    (key, from): (&str, i64),
    columns: &[&str],
    live: &str,
    generation: i64,
) -> PlannedQuery {
    let mut b = Builder::new(dialect);
    let q = |c: &str| dialect.quote(c);
    let t = b.param(SqlValue::Integer(tenant));
    let first = b.param(SqlValue::Integer(from));
    let not_deleted = b.param(SqlValue::Boolean(false));
    let written = b.param(SqlValue::Integer(generation));
    let names: Vec<String> = std::iter::once(TENANT_COLUMN_NAME)
        .chain(columns.iter().copied())
        .map(q)
        .collect();
    b.statement(
        format!(
            "INSERT INTO {} ({names}, {}) SELECT {names}, {written} FROM {} WHERE {} = {t} AND {} >= {first} AND {} = {not_deleted}",
            q(view),
            q(super::changes::CHANGED_COLUMN),
            q(source),
            q(TENANT_COLUMN_NAME),
            q(key),
            q(live),
            names = names.join(", "),
        ),
        tenant,
    )
}
