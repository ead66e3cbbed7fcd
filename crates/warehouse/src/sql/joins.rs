//! Joins: the related collections a statement joins (navigation paths of `$filter`,
//! `$orderby`, `$compute` and `$apply`, and single-valued expansions, nested ones hanging from
//! their parents).

use super::query::{CollectionQuery, Expansion};
use crate::model::Collection;
use odata::bind::Typed;
use odata::edm::EntityType;

/// A related collection joined to the main one (for `$expand`, or a navigation path in
/// `$filter`/`$orderby`), or to another joined one (a nested `$expand`).
pub(super) struct Joined<'a> {
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
    /// The day the joined collection is read as of ([`Expansion::as_of_day`]; a navigation path
    /// of `$filter` or `$orderby` through the same property reads the same rows).
    pub(super) as_of_day: Option<i64>,
}

impl Joined<'_> {
    /// Whether this is the join of top-level expansion `e`.
    pub(super) fn expands(&self, e: &Expansion<'_>) -> bool {
        self.parent.is_none()
            && self.navigation == e.navigation
            && self.filter.is_some() == e.filter.is_some()
    }
}

/// The navigation properties an expression reaches through.
pub(super) fn navigations(t: &Typed, out: &mut Vec<usize>) {
    t.walk(&mut |e| {
        if let odata::bind::TypedKind::Related { navigation, .. } = &e.kind {
            if !out.contains(navigation) {
                out.push(*navigation);
            }
        }
    });
}

/// The collection of the entity type a navigation property leads to.
pub(super) fn target_collection(entity: &EntityType, navigation: usize) -> &'static Collection {
    let target = &entity.navigation[navigation].target_type;
    crate::model::Warehouse::get()
        .collections
        .iter()
        .find(|c| &crate::model::entity_type_name(&c.name) == target)
        .expect("navigation targets are collections")
}

/// Whether any of `expand` (or their own) is an expanded collection.
pub(super) fn any_related(expand: &[Expansion<'_>]) -> bool {
    expand
        .iter()
        .any(|e| e.related.is_some() || any_related(&e.expand))
}

/// The collections to join: those `$apply`, `$filter` and `$orderby` reach through (on the
/// collection's rows), and the expanded ones.
pub(super) fn joins<'a>(q: &CollectionQuery<'a>) -> Vec<Joined<'a>> {
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
    let mut joins: Vec<Joined<'a>> = reached
        .iter()
        .enumerate()
        .map(|(n, &navigation)| Joined {
            navigation,
            alias: format!("t{}", n + 1),
            target: q
                .expand
                .iter()
                .find(|e| e.navigation == navigation)
                .map_or_else(|| target_collection(q.entity, navigation), |e| e.target),
            parent: None,
            filter: None,
            as_of_day: single()
                .find(|e| e.navigation == navigation && e.filter.is_none())
                .and_then(|e| e.as_of_day),
        })
        .collect();
    for e in single() {
        if let Some(f) = &e.filter {
            joins.push(Joined {
                navigation: e.navigation,
                alias: format!("t{}", joins.len() + 1),
                target: e.target,
                parent: None,
                filter: Some((e.entity, f)),
                as_of_day: e.as_of_day,
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
    joins: &mut Vec<Joined<'a>>,
) {
    for e in expand.iter().filter(|e| e.related.is_none()) {
        let own = format!("t{}", joins.len() + 1);
        joins.push(Joined {
            navigation: e.navigation,
            alias: own.clone(),
            target: e.target,
            parent: Some((alias.to_string(), e.reference.clone())),
            filter: e.filter.as_ref().map(|f| (e.entity, f)),
            as_of_day: e.as_of_day,
        });
        nested_joins(&own, &e.expand, joins);
    }
}
