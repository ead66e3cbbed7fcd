//! The statements of a request for entities: the selected and computed properties, the sort
//! keys and the expansions' columns of a page in keyset order, and its count (from the counts
//! each publication keeps when nothing filters).

use super::expansion::expanded_columns;
use super::exprs::Scope;
use super::keyset::{keyset_predicate, page, SortKey};
use super::query::{CollectionQuery, Cursor, Statements, TENANT_COLUMN};
use super::rows::{conditions, from, row_scope};
use super::tree::{Column, Select, Source, SqlExpr};
use super::value::SqlValue;
use odata::bind::CompareOp;
use odata::bind::TypedKind;
use odata::syntax::Direction;

/// The statements of a request for entities (no aggregation), as trees.
pub(super) fn build_entities(q: &CollectionQuery<'_>) -> Statements {
    let mut scope = row_scope(q);
    let (source, joins) = from(q, &mut scope);
    let mut conditions = conditions(q, &mut scope);
    let unfiltered = q.filter.is_none()
        && q.apply.is_none_or(|a| a.filters.is_empty())
        && q.valid_during.is_none()
        && q.as_of_day.is_none()
        && q.changed.is_none();
    let count = if unfiltered && q.key.is_empty() {
        kept_count(q)
    } else {
        let mut count = Select::new(vec![Column::from(SqlExpr::CountRows)], source.clone());
        count.joins = joins.clone();
        count.conditions = conditions.clone();
        count
    };
    let order = sort_order(q, &mut scope);
    if let Some(after) = q.after {
        conditions.push(keyset_predicate(&order.keys, &after.0));
    }
    let mut columns: Vec<SqlExpr> = q.select.iter().map(|&i| scope.column(i)).collect();
    for c in q.computed {
        columns.push(scope.expr(&c.expr));
    }
    let selected = columns.len();
    columns.extend(order.keys.iter().map(|s| s.expr.clone()));
    let (expanded, related) = expanded_columns(q, &mut scope, &mut columns);
    let mut rows = Select::new(columns.into_iter().map(Column::from).collect(), source);
    rows.joins = joins;
    rows.conditions = conditions;
    page(&mut rows, &order.keys, q.limit, q.offset);
    Statements {
        rows,
        count,
        cursor: Cursor {
            selected,
            sort_keys: order.keys.len(),
            key_columns: order
                .key_positions
                .into_iter()
                .map(|i| selected + i.expect("every key is a sort key"))
                .collect(),
            expanded,
            related,
        },
    }
}

/// The rows' order: the sort keys, and where each key property is among them.
struct SortOrder {
    /// `$orderby`, then the key properties not already ordered by.
    keys: Vec<SortKey>,
    /// The position in `keys` of each key property, in key order.
    key_positions: Vec<Option<usize>>,
}

/// Sort keys: `$orderby`, then key properties not already ordered by, so the order is total.
fn sort_order(q: &CollectionQuery<'_>, scope: &mut Scope<'_>) -> SortOrder {
    let mut keys: Vec<SortKey> = Vec::new();
    let mut key_positions = vec![None; q.entity.key.len()];
    for o in q.orderby {
        if let TypedKind::Property(p) = o.expr.kind {
            if let Some(k) = q.entity.key_indices().iter().position(|&ki| ki == p) {
                key_positions[k].get_or_insert(keys.len());
            }
        }
        keys.push(SortKey {
            expr: scope.expr(&o.expr),
            ty: o.expr.ty,
            nullable: o.expr.nullable,
            descending: o.direction == Direction::Desc,
        });
    }
    for (k, p) in q.entity.key_indices().into_iter().enumerate() {
        if key_positions[k].is_none() {
            key_positions[k] = Some(keys.len());
            keys.push(SortKey {
                expr: scope.column(p),
                ty: Some(q.entity.properties[p].ty),
                nullable: q.entity.properties[p].nullable,
                descending: false,
            });
        }
    }
    SortOrder {
        keys,
        key_positions,
    }
}

/// An unfiltered count from the counts each publication keeps ([`super::counts::COUNTS_TABLE`])
/// instead of a scan of the collection: the days from `maxhistorydays` on, or all of them.
fn kept_count(q: &CollectionQuery<'_>) -> Select {
    let mut count = Select::new(
        vec![Column::from(SqlExpr::SumOfCounts(Box::new(
            SqlExpr::column(None, "row_count"),
        )))],
        Source::Table {
            name: super::counts::COUNTS_TABLE.into(),
            alias: None,
        },
    );
    count.conditions = vec![
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(None, TENANT_COLUMN),
            SqlExpr::Param(SqlValue::Integer(q.tenant)),
        ),
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(None, "collection"),
            SqlExpr::Param(SqlValue::Text(q.collection.name.clone())),
        ),
    ];
    if q.entity.property_index("dateKey").is_some() {
        for (op, day) in q.date_key_bounds() {
            count.conditions.push(SqlExpr::compare(
                op,
                SqlExpr::column(None, "date_key"),
                SqlExpr::Param(SqlValue::Integer(day)),
            ));
        }
    }
    count
}
