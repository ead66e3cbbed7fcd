//! Keyset paging: a statement's sort keys, and the condition that continues after the sort
//! values of the previous page's last row.

use super::query::clamp;
use super::tree::{OrderItem, Select, SqlExpr};
use super::value::SqlValue;
use odata::bind::CompareOp;
use odata::edm::PrimitiveType;

/// One expression of a statement's order.
#[derive(Debug, Clone)]
pub(super) struct SortKey {
    pub(super) expr: SqlExpr,
    pub(super) ty: Option<PrimitiveType>,
    pub(super) nullable: bool,
    pub(super) descending: bool,
}

impl SortKey {
    /// This key as an `ORDER BY` item.
    pub(super) fn order_item(&self) -> OrderItem {
        OrderItem {
            expr: self.expr.clone(),
            descending: self.descending,
            nullable: self.nullable,
        }
    }
}

/// A sort-key value read back from a row (integers, reals, text) bound as its key's type.
fn typed(v: &SqlValue, ty: Option<PrimitiveType>) -> SqlValue {
    match (v, ty) {
        (SqlValue::Integer(i), Some(PrimitiveType::DateTimeOffset)) => SqlValue::Timestamp(*i),
        (SqlValue::Integer(i), Some(PrimitiveType::Boolean)) => SqlValue::Boolean(*i != 0),
        (SqlValue::Text(s), Some(PrimitiveType::Date)) => SqlValue::Date(s.clone()),
        (SqlValue::Text(s), Some(PrimitiveType::TimeOfDay)) => SqlValue::Time(s.clone()),
        (other, _) => other.clone(),
    }
}

/// Rows strictly after `values` in the sort order. Uses a row-value comparison (which both
/// stores answer from the index) when every key is non-null and sorted the same way, and the
/// expanded form `a > x OR (a = x AND (...))` with null handling otherwise.
pub(super) fn keyset_predicate(sort: &[SortKey], values: &[SqlValue]) -> SqlExpr {
    let uniform = sort
        .iter()
        .all(|s| !s.nullable && s.descending == sort[0].descending)
        && values.iter().all(|v| !v.is_null());
    if uniform {
        let params = values
            .iter()
            .zip(sort)
            .map(|(v, s)| SqlExpr::Param(typed(v, s.ty)))
            .collect();
        let keys = sort.iter().map(|s| s.expr.clone()).collect();
        let op = if sort[0].descending {
            CompareOp::Lt
        } else {
            CompareOp::Gt
        };
        return SqlExpr::compare(op, SqlExpr::Row(keys), SqlExpr::Row(params));
    }
    let mut acc: Option<SqlExpr> = None;
    for (s, v) in sort.iter().zip(values).rev() {
        let (after, equal) = if v.is_null() {
            let after = if s.descending {
                SqlExpr::Bool(false)
            } else {
                SqlExpr::is_null(s.expr.clone(), true)
            };
            (after, SqlExpr::is_null(s.expr.clone(), false))
        } else {
            let p = SqlExpr::Param(typed(v, s.ty));
            let after = match (s.descending, s.nullable) {
                (false, _) => SqlExpr::compare(CompareOp::Gt, s.expr.clone(), p.clone()),
                (true, false) => SqlExpr::compare(CompareOp::Lt, s.expr.clone(), p.clone()),
                (true, true) => SqlExpr::Or(
                    Box::new(SqlExpr::compare(CompareOp::Lt, s.expr.clone(), p.clone())),
                    Box::new(SqlExpr::is_null(s.expr.clone(), false)),
                ),
            };
            (after, SqlExpr::compare(CompareOp::Eq, s.expr.clone(), p))
        };
        acc = Some(match acc {
            None => after,
            Some(rest) => SqlExpr::Or(Box::new(after), Box::new(SqlExpr::and(equal, rest))),
        });
    }
    acc.unwrap_or(SqlExpr::Bool(true))
}

/// Orders `rows` by `keys` and keeps the page: at most `limit` rows after `offset`.
pub(super) fn page(rows: &mut Select, keys: &[SortKey], limit: Option<u64>, offset: u64) {
    rows.order_by = keys.iter().map(SortKey::order_item).collect();
    rows.limit = limit.map(|l| SqlValue::Integer(clamp(l)));
    rows.offset = (offset > 0).then(|| SqlValue::Integer(clamp(offset)));
}
