//! Joins: the related collections a statement joins (navigation paths of `$filter`,
//! `$orderby`, `$compute` and `$apply`, and single-valued expansions, nested ones hanging from
//! their parents), the `FROM` they make, and the columns expansions read.

use super::plan::{
    navigations, target_collection, CollectionQuery, Cursor, Renderer, TENANT_COLUMN,
};
use super::Expansion;
use crate::model::Collection;
use odata::bind::Typed;
use odata::edm::EntityType;

/// A related collection joined to the main one (for `$expand`, or a navigation path in
/// `$filter`/`$orderby`), or to another joined one (a nested `$expand`).
pub(super) struct Join<'a> {
    pub(super) navigation: usize,
    pub(super) alias: String,
    pub(super) target: &'a Collection,
    /// For a nested expansion: the alias of the joined collection it hangs from and the
    /// property there that holds the key.
    pub(super) parent: Option<(String, String)>,
    /// For an expansion with a nested `$filter`: its entity type and the condition the joined
    /// entity must meet (such a join is the expansion's own, never shared with navigation paths
    /// of `$filter` or `$orderby`).
    pub(super) filter: Option<(&'a EntityType, &'a Typed)>,
}

impl Join<'_> {
    /// Whether this is the join of top-level expansion `e`.
    fn expands(&self, e: &Expansion<'_>) -> bool {
        self.parent.is_none()
            && self.navigation == e.navigation
            && self.filter.is_some() == e.filter.is_some()
    }
}

/// Whether any of `expand` (or their own) is an expanded collection.
pub(super) fn any_related(expand: &[Expansion<'_>]) -> bool {
    expand
        .iter()
        .any(|e| e.related.is_some() || any_related(&e.expand))
}

/// The collections to join: those `$apply`, `$filter` and `$orderby` reach through (on the
/// collection's rows), and the expanded ones.
pub(super) fn joins<'a>(q: &CollectionQuery<'a>) -> Vec<Join<'a>> {
    let mut reached = Vec::new();
    if let Some(apply) = q.apply {
        apply
            .filters
            .iter()
            .for_each(|f| navigations(f, &mut reached));
        if let Some(a) = &apply.aggregation {
            a.group_by.iter().for_each(|g| navigations(g, &mut reached));
            a.aggregates
                .iter()
                .filter_map(|v| v.value.as_ref())
                .for_each(|v| navigations(v, &mut reached));
        }
    }
    q.computed
        .iter()
        .for_each(|c| navigations(&c.expr, &mut reached));
    let aggregated = q.apply.is_some_and(|a| a.aggregation.is_some());
    if let Some(f) = q.filter.filter(|_| !aggregated) {
        navigations(f, &mut reached);
    }
    for o in q.orderby.iter().filter(|_| !aggregated) {
        navigations(&o.expr, &mut reached);
    }
    let single = || q.expand.iter().filter(|e| e.related.is_none());
    for e in single().filter(|e| e.filter.is_none()) {
        if !reached.contains(&e.navigation) {
            reached.push(e.navigation);
        }
    }
    let mut joins: Vec<Join<'a>> = reached
        .iter()
        .enumerate()
        .map(|(n, &navigation)| Join {
            navigation,
            alias: format!("t{}", n + 1),
            target: q
                .expand
                .iter()
                .find(|e| e.navigation == navigation)
                .map_or_else(|| target_collection(q.entity, navigation), |e| e.target),
            parent: None,
            filter: None,
        })
        .collect();
    for e in single() {
        if let Some(f) = &e.filter {
            joins.push(Join {
                navigation: e.navigation,
                alias: format!("t{}", joins.len() + 1),
                target: e.target,
                parent: None,
                filter: Some((e.entity, f)),
            });
        }
    }
    for e in single() {
        let alias = joins
            .iter()
            .find(|j| j.expands(e))
            .expect("expanded navigations are joined")
            .alias
            .clone();
        nested_joins(&alias, &e.expand, &mut joins);
    }
    joins
}

/// Joins for nested expansions under the joined collection `alias`, depth first (expanded
/// collections are subqueries, not joins).
pub(super) fn nested_joins<'a>(
    alias: &str,
    expand: &'a [Expansion<'a>],
    joins: &mut Vec<Join<'a>>,
) {
    for e in expand.iter().filter(|e| e.related.is_none()) {
        let own = format!("t{}", joins.len() + 1);
        joins.push(Join {
            navigation: e.navigation,
            alias: own.clone(),
            target: e.target,
            parent: Some((alias.to_string(), e.reference.clone())),
            filter: e.filter.as_ref().map(|f| (e.entity, f)),
        });
        nested_joins(&own, &e.expand, joins);
    }
}

/// The statement's `FROM`: the collection's table, aliased and left-joined to the joined
/// collections by tenant and key when there are any.
pub(super) fn from_clause<'a>(q: &CollectionQuery<'a>, r: &mut Renderer<'a>) -> String {
    let dialect = r.dialect;
    let Some(alias) = r.alias.clone() else {
        return dialect.quote(&q.collection.name);
    };
    let mut table = format!("{} AS {alias}", dialect.quote(&q.collection.name));
    for i in 0..r.joins.len() {
        let j = &r.joins[i];
        let reference = match &j.parent {
            Some((parent, property)) => format!("{parent}.{}", dialect.quote(property)),
            None => r.column(
                q.entity
                    .property_index(&q.entity.navigation[j.navigation].property)
                    .expect("navigation properties name a property"),
            ),
        };
        let join = left_join(r, i, &alias, &reference);
        table.push_str(&join);
    }
    table
}

/// ` LEFT JOIN` of `r.joins[index]` to the rows of `alias`, on the tenant, the key held by
/// `reference` and, for a filtered expansion, its condition.
pub(super) fn left_join<'a>(
    r: &mut Renderer<'a>,
    index: usize,
    alias: &str,
    reference: &str,
) -> String {
    let dialect = r.dialect;
    let j = &r.joins[index];
    let mut sql = format!(
        " LEFT JOIN {} AS {a} ON {a}.{tenant} = {alias}.{tenant} AND {a}.{} = {reference}",
        dialect.quote(&j.target.name),
        dialect.quote(&j.target.key[0]),
        a = j.alias,
        tenant = dialect.quote(TENANT_COLUMN),
    );
    let (filter, own) = (j.filter, j.alias.clone());
    if let Some((entity, filter)) = filter {
        let mut sub = r.subquery(entity, own, Vec::new());
        let condition = sub.expr(filter);
        r.resume(sub);
        let condition = if filter.nullable {
            dialect.false_when_null(&condition)
        } else {
            condition
        };
        sql.push_str(&format!(" AND {condition}"));
    }
    sql
}

/// Appends each expanded entity's columns to `columns`: its key (null when there is none), then
/// its selected and computed properties, then its own expansions'; an expanded collection's entities and
/// count instead. Returns where each expansion's columns start, depth first, and the layout of
/// each expanded collection's rows.
pub(super) fn expanded_columns<'a>(
    q: &CollectionQuery<'a>,
    r: &mut Renderer<'a>,
    columns: &mut Vec<String>,
) -> (Vec<usize>, Vec<Cursor>) {
    let mut layout = Layout::default();
    let mut next_nested = r.joins.iter().filter(|j| j.parent.is_none()).count();
    let row_alias = r.alias.clone().unwrap_or_default();
    for e in q.expand {
        let alias = match e.related {
            Some(_) => row_alias.clone(),
            None => r
                .joins
                .iter()
                .find(|j| j.expands(e))
                .expect("expanded navigations are joined")
                .alias
                .clone(),
        };
        expansion_columns(r, e, &alias, &mut next_nested, columns, &mut layout);
    }
    (layout.starts, layout.related)
}

/// Where expansions' columns start and how expanded collections' rows are laid out.
#[derive(Default)]
pub(super) struct Layout {
    pub(super) starts: Vec<usize>,
    pub(super) related: Vec<Cursor>,
}

/// The columns of expansion `e`, joined as `alias` (for an expanded collection: the alias of
/// the rows it relates to), and of its nested expansions (joined in the order [`nested_joins`]
/// added them, from `next_nested` on).
pub(super) fn expansion_columns<'a>(
    r: &mut Renderer<'a>,
    e: &'a Expansion<'a>,
    alias: &str,
    next_nested: &mut usize,
    columns: &mut Vec<String>,
    layout: &mut Layout,
) {
    layout.starts.push(columns.len());
    if e.related.is_some() {
        let rows = super::related::columns(r, e, alias, columns);
        layout.related.push(rows);
        return;
    }
    columns.push(format!("{alias}.{}", r.dialect.quote(&e.target.key[0])));
    columns.extend(
        e.select
            .iter()
            .map(|&p| format!("{alias}.{}", r.dialect.quote(&e.target.properties[p].name))),
    );
    if !e.computed.is_empty() {
        let mut sub = r.subquery(e.entity, alias.to_string(), Vec::new());
        columns.extend(e.computed.iter().map(|c| sub.expr(&c.expr)));
        r.resume(sub);
    }
    for nested in &e.expand {
        let own = match nested.related {
            Some(_) => alias.to_string(),
            None => {
                let own = r.joins[*next_nested].alias.clone();
                *next_nested += 1;
                own
            }
        };
        expansion_columns(r, nested, &own, next_nested, columns, layout);
    }
}
