//! Expanded collections (`devices?$expand=devicePropertyHistories($filter=...;$top=5)`): each
//! row's related entities are read by a correlated subquery in the same statement, which returns
//! them as one JSON text (an array of rows, each an array of cells as the store's rows hold
//! them), so a page stays one row per entity and pauses, resumes and pages exactly as without
//! them. The subquery reads the nested options' entities in their order, at most one more than
//! the response holds ([`MAX_EXPANDED_ENTITIES`]): the server writes a next link when that one
//! is there.

use super::joins::{expansion_columns, left_join, nested_joins, Layout};
use super::plan::{clamp, Renderer, TENANT_COLUMN};
use super::{Cursor, Expansion, SqlValue};
use odata::bind::MAX_EXPANDED_ENTITIES;
use odata::edm::PrimitiveType;
use odata::syntax::Direction;

/// Entities an expanded collection reads for `top` (none: all): all of them up to the bound,
/// one more past it.
fn entities_to_read(top: Option<u64>) -> u64 {
    top.unwrap_or(u64::MAX).min(MAX_EXPANDED_ENTITIES + 1)
}

/// Appends the columns of expanded collection `e` of the rows aliased `parent`: the JSON text
/// of its entities (unless only counted), then their count (when counted). Returns the layout
/// of each entity's JSON row: its selected properties, its key, then its own expansions'
/// columns.
pub(super) fn columns<'a>(
    r: &mut Renderer<'a>,
    e: &'a Expansion<'a>,
    parent: &str,
    columns: &mut Vec<String>,
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
        let (sql, rows) = entities(r, e, parent);
        columns.push(sql);
        layout = rows;
    }
    if related.rows.count {
        let (sub, from, conditions) = scope(r, e, parent, false);
        r.resume(sub);
        columns.push(format!(
            "(SELECT COUNT(*) FROM {from} WHERE {})",
            conditions.join(" AND ")
        ));
    }
    layout
}

/// A renderer for a subquery over the related collection of `e` (its parameters numbered after
/// `r`'s; give them back with [`Renderer::resume`]), its `FROM` (joined to the entities of
/// `e`'s nested expansions when `joined`) and conditions: the same tenant, the reference
/// holding the parent row's key, the nested `$filter` and the history window.
fn scope<'a>(
    r: &mut Renderer<'a>,
    e: &'a Expansion<'a>,
    parent: &str,
    joined: bool,
) -> (Renderer<'a>, String, Vec<String>) {
    let related = e.related.as_ref().expect("an expanded collection");
    let dialect = r.dialect;
    r.subqueries += 1;
    let alias = format!("r{}", r.subqueries);
    let tenant = dialect.quote(TENANT_COLUMN);
    let mut from = format!("{} AS {alias}", dialect.quote(&e.target.name));
    let mut joins = Vec::new();
    if joined {
        nested_joins(&alias, &e.expand, &mut joins);
    }
    let mut conditions = vec![format!(
        "{alias}.{tenant} = {parent}.{tenant} AND {alias}.{} = {parent}.{}",
        dialect.quote(&related.referenced),
        dialect.quote(&e.reference),
    )];
    let mut sub = r.subquery(e.entity, alias, joins);
    for i in 0..sub.joins.len() {
        let (owner, property) = sub.joins[i]
            .parent
            .clone()
            .expect("nested joins hang from a parent");
        let reference = format!("{owner}.{}", dialect.quote(&property));
        let join = left_join(&mut sub, i, &owner, &reference);
        from.push_str(&join);
    }
    if let Some(f) = &e.filter {
        conditions.push(sub.expr(f));
    }
    if let (Some(min), Some(i)) = (related.min_date_key, e.entity.property_index("dateKey")) {
        let p = sub.param(SqlValue::Integer(min));
        conditions.push(format!("{} >= {p}", sub.column(i)));
    }
    (sub, from, conditions)
}

/// The subquery of `e`'s entities as one JSON text, and the layout of each entity's row.
fn entities<'a>(r: &mut Renderer<'a>, e: &'a Expansion<'a>, parent: &str) -> (String, Cursor) {
    let related = e.related.as_ref().expect("an expanded collection");
    let (mut sub, from, conditions) = scope(r, e, parent, true);
    let entity = e.entity;
    // the row: selected and computed properties, key, nested expansions
    let mut cells: Vec<String> = e.select.iter().map(|&p| sub.column(p)).collect();
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
    let dialect = sub.dialect;
    let row = dialect.json_row(&cells.into_iter().zip(types).collect::<Vec<_>>());
    // order: the nested $orderby, then the key
    let mut order: Vec<(String, bool, bool)> = related
        .rows
        .orderby
        .iter()
        .map(|o| {
            (
                sub.expr(&o.expr),
                o.direction == Direction::Desc,
                o.expr.nullable,
            )
        })
        .collect();
    order.extend(
        key_indices
            .iter()
            .map(|&p| (sub.column(p), false, entity.properties[p].nullable)),
    );
    let sort = |i: usize| dialect.quote(&format!("o{i}"));
    let inner_order: Vec<String> = order
        .iter()
        .map(|(sql, desc, nullable)| format!("{sql} {}", dialect.order(*desc, *nullable)))
        .collect();
    let sort_columns: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, (sql, _, _))| format!("{sql} AS {}", sort(i)))
        .collect();
    let outer_order: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, (_, desc, nullable))| {
            format!("s.{} {}", sort(i), dialect.order(*desc, *nullable))
        })
        .collect();
    let limit = sub.param(SqlValue::Integer(clamp(entities_to_read(related.rows.top))));
    let offset =
        (related.rows.skip > 0).then(|| sub.param(SqlValue::Integer(clamp(related.rows.skip))));
    let inner = format!(
        "SELECT {row} AS {}, {} FROM {from} WHERE {} ORDER BY {}{}",
        dialect.quote("row"),
        sort_columns.join(", "),
        conditions.join(" AND "),
        inner_order.join(", "),
        dialect.limit_offset(Some(&limit), offset.as_deref()),
    );
    let aggregate = dialect.json_rows(&format!("s.{}", dialect.quote("row")), &outer_order);
    r.resume(sub);
    (
        format!("(SELECT {aggregate} FROM ({inner}) AS s)"),
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
