//! The columns `$expand` adds to a page's rows. A single related entity is read from its join:
//! its key (null when there is none), its selected and computed properties, its own
//! expansions'. An expanded collection
//! (`devices?$expand=devicePropertyHistories($filter=...;$top=5)`) is read by a correlated
//! subquery in the same statement, which returns each row's related entities as one JSON text
//! (an array of rows, each an array of cells as the store's rows hold them), so a page stays
//! one row per entity and pauses, resumes and pages exactly as without them. The subquery reads
//! the nested options' entities in their order, at most one more than the response holds
//! ([`MAX_EXPANDED_ENTITIES`]): the server writes a next link when that one is there.

use super::exprs::Scope;
use super::joins::nested_joins;
use super::query::{clamp, CollectionQuery, Cursor, Expansion, TENANT_COLUMN};
use super::rows::left_joins;
use super::tree::{Column, OrderItem, Select, Source, SqlExpr};
use super::value::SqlValue;
use odata::bind::CompareOp;
use odata::bind::MAX_EXPANDED_ENTITIES;
use odata::edm::PrimitiveType;
use odata::syntax::Direction;

/// Where expansions' columns start and how expanded collections' rows are laid out.
#[derive(Default)]
struct Layout {
    starts: Vec<usize>,
    related: Vec<Cursor>,
}

/// Appends each expanded entity's columns to `columns`. Returns where each expansion's columns
/// start, depth first, and the layout of each expanded collection's rows.
pub(super) fn expanded_columns<'a>(
    q: &CollectionQuery<'a>,
    scope: &mut Scope<'a>,
    columns: &mut Vec<SqlExpr>,
) -> (Vec<usize>, Vec<Cursor>) {
    let mut layout = Layout::default();
    let mut next_nested = scope.joins.iter().filter(|j| j.parent.is_none()).count();
    let row_alias = scope.alias.clone().unwrap_or_default();
    for e in q.expand {
        let alias = match e.related {
            Some(_) => row_alias.clone(),
            None => scope
                .joins
                .iter()
                .find(|j| j.expands(e))
                .expect("expanded navigations are joined")
                .alias
                .clone(),
        };
        expansion_columns(scope, e, &alias, &mut next_nested, columns, &mut layout);
    }
    (layout.starts, layout.related)
}

/// The columns of expansion `e`, joined as `alias` (for an expanded collection: the alias of
/// the rows it relates to), and of its nested expansions (joined in the order [`nested_joins`]
/// added them, from `next_nested` on).
fn expansion_columns<'a>(
    scope: &mut Scope<'a>,
    e: &'a Expansion<'a>,
    alias: &str,
    next_nested: &mut usize,
    columns: &mut Vec<SqlExpr>,
    layout: &mut Layout,
) {
    layout.starts.push(columns.len());
    if e.related.is_some() {
        let rows = collection_columns(scope, e, alias, columns);
        layout.related.push(rows);
        return;
    }
    columns.push(SqlExpr::column(Some(alias), &e.target.key[0]));
    columns.extend(
        e.select
            .iter()
            .map(|&p| SqlExpr::column(Some(alias), &e.target.properties[p].name)),
    );
    if !e.computed.is_empty() {
        let mut sub = scope.subquery(e.entity, alias.to_string(), Vec::new());
        columns.extend(e.computed.iter().map(|c| sub.expr(&c.expr)));
        scope.resume(sub);
    }
    for nested in &e.expand {
        let own = match nested.related {
            Some(_) => alias.to_string(),
            None => {
                let own = scope.joins[*next_nested].alias.clone();
                *next_nested += 1;
                own
            }
        };
        expansion_columns(scope, nested, &own, next_nested, columns, layout);
    }
}

/// Entities an expanded collection reads for `top` (none: all): all of them up to the bound,
/// one more past it.
fn entities_to_read(top: Option<u64>) -> u64 {
    top.unwrap_or(u64::MAX).min(MAX_EXPANDED_ENTITIES + 1)
}

/// Appends the columns of expanded collection `e` of the rows aliased `parent`: the JSON text
/// of its entities (unless only counted), then their count (when counted). Returns the layout
/// of each entity's JSON row: its selected properties, its key, then its own expansions'
/// columns.
fn collection_columns<'a>(
    scope: &mut Scope<'a>,
    e: &'a Expansion<'a>,
    parent: &str,
    columns: &mut Vec<SqlExpr>,
) -> Cursor {
    let related = e.related.as_ref().expect("an expanded collection");
    let mut layout = Cursor {
        selected: e.select.len() + e.computed.len(),
        sort_keys: 0,
        key_columns: Vec::new(),
        expanded: Vec::new(),
        related: Vec::new(),
    };
    if !related.rows.count_only {
        let (sql, rows) = entities(scope, e, parent);
        columns.push(sql);
        layout = rows;
    }
    if related.rows.count {
        let (sub, mut select) = related_rows(scope, e, parent, false);
        scope.resume(sub);
        select.columns = vec![Column::from(SqlExpr::CountRows)];
        columns.push(SqlExpr::Subquery(Box::new(select)));
    }
    layout
}

/// A scope for a subquery over the related collection of `e` (give its numbering back with
/// [`Scope::resume`]), and that subquery without its columns: its `FROM` (joined to the
/// entities of `e`'s nested expansions when `joined`) and conditions: the same tenant, the
/// reference holding the parent row's key, the nested `$filter` and the history window.
fn related_rows<'a>(
    scope: &mut Scope<'a>,
    e: &'a Expansion<'a>,
    parent: &str,
    joined: bool,
) -> (Scope<'a>, Select) {
    let related = e.related.as_ref().expect("an expanded collection");
    scope.subqueries += 1;
    let alias = format!("r{}", scope.subqueries);
    let mut joins = Vec::new();
    if joined {
        nested_joins(&alias, &e.expand, &mut joins);
    }
    let mut select = Select::new(
        Vec::new(),
        Source::Table {
            name: e.target.name.clone(),
            alias: Some(alias.clone()),
        },
    );
    select.conditions = vec![
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(Some(&alias), TENANT_COLUMN),
            SqlExpr::column(Some(parent), TENANT_COLUMN),
        ),
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(Some(&alias), &related.referenced),
            SqlExpr::column(Some(parent), &e.reference),
        ),
    ];
    let mut sub = scope.subquery(e.entity, alias.clone(), joins);
    select.joins = left_joins(&mut sub, &alias);
    if let Some(f) = &e.filter {
        select.conditions.push(sub.expr(f));
    }
    if let Some(i) = e.entity.property_index("dateKey") {
        for (op, day) in [
            (CompareOp::Ge, related.min_date_key),
            (CompareOp::Le, related.max_date_key),
        ] {
            if let Some(day) = day {
                select.conditions.push(SqlExpr::compare(
                    op,
                    sub.column(i),
                    SqlExpr::Param(SqlValue::Integer(day)),
                ));
            }
        }
    }
    if let (Some(period), Some(valid)) = (related.valid_during, e.target.validity()) {
        select
            .conditions
            .extend(super::validity::valid_during(&mut sub, valid, period));
    }
    (sub, select)
}

/// The subquery of `e`'s entities as one JSON text, and the layout of each entity's row.
fn entities<'a>(scope: &mut Scope<'a>, e: &'a Expansion<'a>, parent: &str) -> (SqlExpr, Cursor) {
    let related = e.related.as_ref().expect("an expanded collection");
    let (mut sub, mut inner) = related_rows(scope, e, parent, true);
    let entity = e.entity;
    // the row: selected and computed properties, key, nested expansions
    let mut cells: Vec<SqlExpr> = e.select.iter().map(|&p| sub.column(p)).collect();
    cells.extend(e.computed.iter().map(|c| sub.expr(&c.expr)));
    let key_indices = entity.key_indices();
    let key_columns: Vec<usize> = (cells.len()..cells.len() + key_indices.len()).collect();
    cells.extend(key_indices.iter().map(|&p| sub.column(p)));
    let mut layout = Layout::default();
    let mut next_nested = 0;
    for nested in &e.expand {
        let alias = sub.joins[next_nested].alias.clone();
        next_nested += 1;
        expansion_columns(
            &mut sub,
            nested,
            &alias,
            &mut next_nested,
            &mut cells,
            &mut layout,
        );
    }
    let mut types: Vec<PrimitiveType> = e.select.iter().map(|&p| entity.properties[p].ty).collect();
    types.extend(
        e.computed
            .iter()
            .map(|c| c.expr.ty.unwrap_or(PrimitiveType::String)),
    );
    types.extend(key_indices.iter().map(|&p| entity.properties[p].ty));
    types.extend(expansion_types(e));
    // order: the nested $orderby, then the key
    let mut order: Vec<OrderItem> = related
        .rows
        .orderby
        .iter()
        .map(|o| OrderItem {
            expr: sub.expr(&o.expr),
            descending: o.direction == Direction::Desc,
            nullable: o.expr.nullable,
        })
        .collect();
    order.extend(key_indices.iter().map(|&p| OrderItem {
        expr: sub.column(p),
        descending: false,
        nullable: entity.properties[p].nullable,
    }));
    scope.resume(sub);
    let sort = |i: usize| format!("o{i}");
    inner.columns = vec![Column {
        expr: SqlExpr::JsonRow(cells.into_iter().zip(types).collect()),
        alias: Some("row".into()),
    }];
    inner
        .columns
        .extend(order.iter().enumerate().map(|(i, o)| Column {
            expr: o.expr.clone(),
            alias: Some(sort(i)),
        }));
    let outer_order = order
        .iter()
        .enumerate()
        .map(|(i, o)| OrderItem {
            expr: SqlExpr::column(Some("s"), &sort(i)),
            ..o.clone()
        })
        .collect();
    inner.order_by = order;
    inner.limit = Some(SqlValue::Integer(clamp(entities_to_read(related.rows.top))));
    inner.offset = (related.rows.skip > 0).then(|| SqlValue::Integer(clamp(related.rows.skip)));
    let rows = Select::new(
        vec![Column::from(SqlExpr::JsonRows(
            Box::new(SqlExpr::column(Some("s"), "row")),
            outer_order,
        ))],
        Source::Derived {
            select: Box::new(inner),
            alias: "s".into(),
        },
    );
    (
        SqlExpr::Subquery(Box::new(rows)),
        Cursor {
            selected: e.select.len() + e.computed.len(),
            sort_keys: 0,
            key_columns,
            expanded: layout.starts,
            related: layout.related,
        },
    )
}

/// The types of the cells [`expansion_columns`] lays out for `e`'s nested expansions: each
/// related entity's key, then its selected and computed properties, then its own.
fn expansion_types(e: &Expansion<'_>) -> Vec<PrimitiveType> {
    let mut types = Vec::new();
    for nested in &e.expand {
        let target = nested.entity;
        let key = target
            .property_index(&target.key[0])
            .expect("a collection's key is a property");
        types.push(target.properties[key].ty);
        types.extend(nested.select.iter().map(|&p| target.properties[p].ty));
        types.extend(
            nested
                .computed
                .iter()
                .map(|c| c.expr.ty.unwrap_or(PrimitiveType::String)),
        );
        types.extend(expansion_types(nested));
    }
    types
}
