//! Planning `$apply` with an aggregation: one statement of nested queries.
//!
//! The innermost query groups and aggregates the collection's rows (tenant, history window and
//! `$apply`'s filters in its `WHERE`, navigation paths joined) into columns `c0`, `c1`, ...: the
//! grouping values, then the aggregates. Each stage after the aggregation wraps it in a query
//! that filters, orders and slices; the outermost applies `$filter`, `$orderby` and paging.
//! Groups are unique by their grouping values, so ordering by `$orderby` and then by every
//! grouping value is total, and pages continue after the last row's sort values as for entities.

use super::counts::{VALUE_COUNTS, VALUE_COUNTS_TABLE};
use super::exprs::Scope;
use super::keyset::{keyset_predicate, page, SortKey};
use super::query::{clamp, CollectionQuery, Cursor, Statements, TENANT_COLUMN};
use super::rows::{conditions, from, row_scope};
use super::tree::{Column, Select, Source, SqlExpr};
use super::value::SqlValue;
use odata::bind::CompareOp;
use odata::bind::{
    AggregateMethod, AggregatedType, Aggregation, BoundOrder, Recursion, Share, Stage, Typed,
    TypedKind,
};
use odata::syntax::Direction;

/// The statements of a request whose `$apply` aggregates.
pub(super) fn build_aggregated(q: &CollectionQuery<'_>, a: &Aggregation) -> Statements {
    let mut scope = row_scope(q);
    let mut source = match counted(q, a, &mut scope) {
        Some(counts) => counts,
        None => grouped(q, a, &mut scope),
    };
    scope.aggregated = Some(&a.result);
    scope.alias = None;
    for (n, stage) in a.stages.iter().enumerate() {
        if let Some(share) = &stage.share {
            source = shared(&mut scope, a, stage, share, source, n);
            continue;
        }
        let mut wrapped = Select::new(
            vec![Column::from(SqlExpr::AllColumns)],
            derived(source, format!("s{n}")),
        );
        wrapped.conditions = stage.filters.iter().map(|f| scope.expr(f)).collect();
        wrapped.order_by = sort_keys(&mut scope, a, &stage.orderby)
            .iter()
            .map(SortKey::order_item)
            .collect();
        wrapped.limit = stage.top.map(|n| SqlValue::Integer(clamp(n)));
        wrapped.offset = stage.skip.map(|n| SqlValue::Integer(clamp(n)));
        source = wrapped;
    }
    let mut conditions: Vec<SqlExpr> = q.filter.iter().map(|f| scope.expr(f)).collect();
    let mut count = Select::new(
        vec![Column::from(SqlExpr::CountRows)],
        derived(source.clone(), "g".into()),
    );
    count.conditions = conditions.clone();
    let last_order = a.stages.iter().rev().find(|s| !s.orderby.is_empty());
    let requested = match (q.orderby, last_order) {
        ([], Some(stage)) => &stage.orderby[..],
        (orderby, _) => orderby,
    };
    let order = sort_keys(&mut scope, a, requested);
    if let (Some(after), false) = (q.after, order.is_empty()) {
        conditions.push(keyset_predicate(&order, &after.0));
    }
    let mut columns = output_columns(&a.output);
    let selected = columns.len();
    columns.extend(order.iter().map(|k| k.expr.clone()));
    let mut rows = Select::new(
        columns.into_iter().map(Column::from).collect(),
        derived(source, "g".into()),
    );
    rows.conditions = conditions;
    page(&mut rows, &order, q.limit, q.offset);
    Statements {
        rows,
        count,
        cursor: Cursor {
            selected,
            sort_keys: order.len(),
            key_columns: Vec::new(),
            expanded: Vec::new(),
            related: Vec::new(),
        },
    }
}

/// `(select) AS alias`.
fn derived(select: Select, alias: String) -> Source {
    Source::Derived {
        select: Box::new(select),
        alias,
    }
}

/// `topsum`, `bottomsum`, `toppercent`, `bottompercent` over `source`: the rows in ranking
/// order while the sum of the values before them is under the amount (so the last one reaches
/// it), from a running sum and the total as window functions.
fn shared(
    scope: &mut Scope<'_>,
    a: &Aggregation,
    stage: &Stage,
    share: &Share,
    source: Select,
    n: usize,
) -> Select {
    let value = scope.expr(&share.value);
    let order = sort_keys(scope, a, &stage.orderby);
    let amount = SqlExpr::Param(SqlValue::Real(share.amount));
    let (before, total) = (
        SqlExpr::column(None, "_before"),
        SqlExpr::column(None, "_total"),
    );
    let bound = if share.percent {
        SqlExpr::Percent(Box::new(amount), Box::new(total))
    } else {
        amount
    };
    let mut windows = Select::new(
        vec![
            Column::from(SqlExpr::AllColumns),
            Column {
                expr: SqlExpr::SumBefore(
                    Box::new(value.clone()),
                    order.iter().map(SortKey::order_item).collect(),
                ),
                alias: Some("_before".into()),
            },
            Column {
                expr: SqlExpr::SumOfAll(Box::new(value.clone())),
                alias: Some("_total".into()),
            },
        ],
        derived(source, format!("s{n}")),
    );
    windows.conditions = vec![SqlExpr::is_null(value, true)];
    let mut kept = Select::new(
        vec![Column::from(SqlExpr::AllColumns)],
        derived(windows, format!("w{n}")),
    );
    kept.conditions = vec![SqlExpr::compare(
        CompareOp::Lt,
        SqlExpr::Coalesce(Box::new(before), Box::new(SqlExpr::Integer(0))),
        bound,
    )];
    kept
}

/// The innermost query from the counts each publication keeps by day and value
/// ([`VALUE_COUNTS_TABLE`]), when they answer it: rows counted (`$count` only), grouped by the
/// day, the counted property or both, the rows chosen by conditions on the day alone (`$apply`'s
/// filters and the history window). The compliance report over 30 days then sums some 200 rows
/// instead of counting 2.7 M.
fn counted<'a>(q: &CollectionQuery<'a>, a: &Aggregation, scope: &mut Scope<'a>) -> Option<Select> {
    let apply = q.apply?;
    if !q.key.is_empty() {
        return None;
    }
    let day = q.entity.property_index("dateKey")?;
    let (_, property) = VALUE_COUNTS
        .iter()
        .find(|(collection, _)| *collection == q.collection.name)?;
    let value = q.entity.property_index(property)?;
    let counts_only = a
        .aggregates
        .iter()
        .all(|x| x.method == AggregateMethod::Count && x.value.is_none());
    let on_day_only = |t: &Typed| {
        let other = t.apply(&mut |e| match e.kind {
            TypedKind::Property(i) if i == day => Recursion::Continue,
            TypedKind::Property(_)
            | TypedKind::Related { .. }
            | TypedKind::Lambda { .. }
            | TypedKind::NavigationCount(_)
            | TypedKind::Element(_) => Recursion::Stop,
            _ => Recursion::Continue,
        });
        other == Recursion::Continue
    };
    if !counts_only || !apply.filters.iter().all(on_day_only) {
        return None;
    }
    let mut groups = Vec::new();
    for g in &a.group_by {
        groups.push(match g.kind {
            TypedKind::Property(i) if i == day => SqlExpr::column(Some("v"), "dateKey"),
            TypedKind::Property(i) if i == value => SqlExpr::column(Some("v"), "value"),
            _ => return None,
        });
    }
    let mut columns = groups.clone();
    let count = SqlExpr::SumOfCounts(Box::new(SqlExpr::column(Some("v"), "row_count")));
    columns.extend(a.aggregates.iter().map(|_| count.clone()));
    let mut sub = scope.subquery(q.entity, "v".into(), Vec::new());
    let mut conditions = vec![
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(Some("v"), TENANT_COLUMN),
            SqlExpr::Param(SqlValue::Integer(q.tenant)),
        ),
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(Some("v"), "collection"),
            SqlExpr::Param(SqlValue::Text(q.collection.name.clone())),
        ),
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(Some("v"), "property"),
            SqlExpr::Param(SqlValue::Text(property.to_string())),
        ),
    ];
    conditions.extend(apply.filters.iter().map(|f| sub.expr(f)));
    for (op, bound) in q.date_key_bounds() {
        conditions.push(SqlExpr::compare(
            op,
            sub.column(day),
            SqlExpr::Param(SqlValue::Integer(bound)),
        ));
    }
    scope.resume(sub);
    let mut select = Select::new(
        value_columns(columns),
        Source::Table {
            name: VALUE_COUNTS_TABLE.into(),
            alias: Some("v".into()),
        },
    );
    select.conditions = conditions;
    select.group_by = groups;
    Some(select)
}

/// The innermost query: the grouping values and aggregates of the collection's rows.
fn grouped<'a>(q: &CollectionQuery<'a>, a: &Aggregation, scope: &mut Scope<'a>) -> Select {
    let groups: Vec<SqlExpr> = a.group_by.iter().map(|g| scope.expr(g)).collect();
    let mut columns = groups.clone();
    for aggregate in &a.aggregates {
        let value = aggregate.value.as_ref().map(|v| Box::new(scope.expr(v)));
        columns.push(SqlExpr::Aggregate(aggregate.method, value, aggregate.ty));
    }
    let (source, joins) = from(q, scope);
    let mut select = Select::new(value_columns(columns), source);
    select.joins = joins;
    select.conditions = conditions(q, scope);
    // by position: the grouping values are the first columns (an expression written twice
    // would hold two parameters, which PostgreSQL would not take for the same expression)
    select.group_by = (1..=groups.len() as i64).map(SqlExpr::Integer).collect();
    select
}

/// `columns` named `c0`, `c1`, ...: the columns of an aggregated row.
fn value_columns(columns: Vec<SqlExpr>) -> Vec<Column> {
    columns
        .into_iter()
        .enumerate()
        .map(|(v, expr)| Column {
            expr,
            alias: Some(format!("c{v}")),
        })
        .collect()
}

/// The order of aggregated rows: `orderby`, then every grouping value (groups are unique by
/// them, so the order is total).
fn sort_keys(scope: &mut Scope<'_>, a: &Aggregation, orderby: &[BoundOrder]) -> Vec<SortKey> {
    let mut keys: Vec<SortKey> = orderby
        .iter()
        .map(|o| SortKey {
            expr: scope.expr(&o.expr),
            ty: o.expr.ty,
            nullable: o.expr.nullable,
            descending: o.direction == Direction::Desc,
        })
        .collect();
    for (v, g) in a.group_by.iter().enumerate() {
        keys.push(SortKey {
            expr: Scope::value_column(v),
            ty: g.ty,
            nullable: g.nullable,
            descending: false,
        });
    }
    keys
}

/// The columns of an aggregated row as written: the top-level properties, then each nested
/// object's properties.
fn output_columns(result: &AggregatedType) -> Vec<SqlExpr> {
    result
        .values
        .iter()
        .chain(result.nested_values.iter().flatten())
        .map(|&v| Scope::value_column(v))
        .collect()
}
