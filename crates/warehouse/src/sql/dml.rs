//! Statements that change or read whole rows of one tenant, for ingestion. Identifiers come from
//! the model; values are parameters.

use super::{Dialect, PlannedQuery, SqlValue, TENANT_COLUMN_NAME};

struct Builder<'a> {
    dialect: &'a dyn Dialect,
    params: Vec<SqlValue>,
}

impl Builder<'_> {
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

/// `SELECT columns FROM collection WHERE tenant ORDER BY order_by`.
pub fn select(
    dialect: &dyn Dialect,
    tenant: i64,
    collection: &str,
    columns: &[&str],
    order_by: &str,
) -> PlannedQuery {
    let mut b = Builder {
        dialect,
        params: Vec::new(),
    };
    let t = b.param(SqlValue::Integer(tenant));
    let cols: Vec<String> = columns.iter().map(|c| dialect.quote(c)).collect();
    PlannedQuery {
        sql: format!(
            "SELECT {} FROM {} WHERE {} = {t} ORDER BY {}",
            cols.join(", "),
            dialect.quote(collection),
            dialect.quote(TENANT_COLUMN_NAME),
            dialect.quote(order_by)
        ),
        params: b.params,
        tenant: Some(tenant),
    }
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
    let mut b = Builder {
        dialect,
        params: Vec::new(),
    };
    let t = b.param(SqlValue::Integer(tenant));
    let v = b.param(value);
    PlannedQuery {
        sql: format!(
            "DELETE FROM {} WHERE {} = {t} AND {} {op} {v}",
            dialect.quote(collection),
            dialect.quote(TENANT_COLUMN_NAME),
            dialect.quote(column)
        ),
        params: b.params,
        tenant: Some(tenant),
    }
}

/// `DELETE FROM collection WHERE tenant`: every row of the tenant.
pub fn delete_all(dialect: &dyn Dialect, tenant: i64, collection: &str) -> PlannedQuery {
    let mut b = Builder {
        dialect,
        params: Vec::new(),
    };
    let t = b.param(SqlValue::Integer(tenant));
    PlannedQuery {
        sql: format!(
            "DELETE FROM {} WHERE {} = {t}",
            dialect.quote(collection),
            dialect.quote(TENANT_COLUMN_NAME)
        ),
        params: b.params,
        tenant: Some(tenant),
    }
}

/// `DELETE` the tenant's rows of `collection` whose `column` is one of `values`.
pub fn delete_in(
    dialect: &dyn Dialect,
    tenant: i64,
    collection: &str,
    column: &str,
    values: &[i64],
) -> PlannedQuery {
    let mut b = Builder {
        dialect,
        params: Vec::new(),
    };
    let t = b.param(SqlValue::Integer(tenant));
    let list: Vec<String> = values
        .iter()
        .map(|v| b.param(SqlValue::Integer(*v)))
        .collect();
    PlannedQuery {
        sql: format!(
            "DELETE FROM {} WHERE {} = {t} AND {} IN ({})",
            dialect.quote(collection),
            dialect.quote(TENANT_COLUMN_NAME),
            dialect.quote(column),
            list.join(", ")
        ),
        params: b.params,
        tenant: Some(tenant),
    }
}

/// Ends the active user-device associations of `devices` (a device has at most one):
/// `isDeleted` and `endedDateTimeUTC`.
pub fn end_associations(
    dialect: &dyn Dialect,
    tenant: i64,
    devices: &[i64],
    ended: SqlValue,
) -> PlannedQuery {
    let mut b = Builder {
        dialect,
        params: Vec::new(),
    };
    let q = |c: &str| dialect.quote(c);
    let set = format!(
        "{} = {}, {} = {}",
        q("isDeleted"),
        b.param(SqlValue::Boolean(true)),
        q("endedDateTimeUTC"),
        b.param(ended)
    );
    let tenant_param = b.param(SqlValue::Integer(tenant));
    let active = b.param(SqlValue::Boolean(false));
    let list: Vec<String> = devices
        .iter()
        .map(|d| b.param(SqlValue::Integer(*d)))
        .collect();
    let sql = format!(
        "UPDATE {} SET {set} WHERE {} = {tenant_param} AND {} = {active} AND {} IN ({})",
        q("userDeviceAssociations"),
        q(TENANT_COLUMN_NAME),
        q("isDeleted"),
        q("deviceKey"),
        list.join(", ")
    );
    PlannedQuery {
        sql,
        params: b.params,
        tenant: Some(tenant),
    }
}

/// Makes the ended association of `user` and `device` that started at `created` active again
/// (re-running a day that had ended it).
pub fn reopen_association(
    dialect: &dyn Dialect,
    tenant: i64,
    user: i64,
    device: i64,
    created: SqlValue,
) -> PlannedQuery {
    let mut b = Builder {
        dialect,
        params: Vec::new(),
    };
    let q = |c: &str| dialect.quote(c);
    let set = format!(
        "{} = {}, {} = NULL",
        q("isDeleted"),
        b.param(SqlValue::Boolean(false)),
        q("endedDateTimeUTC"),
    );
    let sql = format!(
        "UPDATE {} SET {set} WHERE {} = {} AND {} = {} AND {} = {} AND {} = {}",
        q("userDeviceAssociations"),
        q(TENANT_COLUMN_NAME),
        b.param(SqlValue::Integer(tenant)),
        q("userKey"),
        b.param(SqlValue::Integer(user)),
        q("deviceKey"),
        b.param(SqlValue::Integer(device)),
        q("createdDateTimeUTC"),
        b.param(created),
    );
    PlannedQuery {
        sql,
        params: b.params,
        tenant: Some(tenant),
    }
}
