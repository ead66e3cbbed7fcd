//! `$expand`: the navigation properties to include inline, each with the related entities'
//! properties, their own expansions and, for collections, which entities, in what order and how
//! many.

use super::catalog::Catalog;
use super::names::{bad, navigation, unsupported};
use super::scope::{Computed, Scope};
use super::select::bind_select_with_computed;
use super::temporal::{bind_temporal, Temporal};
use super::typed::{BoundOrder, Typed};
use crate::edm::{EntityType, Lookup};
use crate::syntax::{ExpandItem, Span};
use crate::{ErrorKind, ODataError};

/// The most related entities an expanded collection holds in a response; past them it carries
/// a next link to the rest (`devicePropertyHistories@odata.nextLink`).
pub const MAX_EXPANDED_ENTITIES: u64 = 1000;

/// A bound `$expand` item.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundExpand {
    /// The navigation property (index into the entity type's `navigation`).
    pub navigation: usize,
    /// The target's properties to return (indices into the target type), in declaration order.
    pub select: Vec<usize>,
    /// The target's own expansions (a nested `$expand`).
    pub expand: Vec<BoundExpand>,
    /// The target's computed properties to return after its properties (a nested `$compute`,
    /// those `$select` names, or all without a `$select`).
    pub computed: Vec<Computed>,
    /// The nested `$filter` (and `$search`), bound against the target: an expanded collection
    /// holds the entities that meet it, a single related entity that fails it is `null`.
    pub filter: Option<Typed>,
    /// `name/$ref`: references to the related entities (their ids), not the entities.
    pub reference: bool,
    /// For a collection-valued navigation property: which related entities it holds.
    pub related: Option<RelatedRows>,
    /// The nested temporal options (`$at`, `$from`, `$to`), which take the place of the
    /// request's for this expansion and those under it; none: the request's apply.
    pub temporal: Option<Temporal>,
}

/// The related entities of an expanded collection: the nested `$orderby`, `$skip`, `$top` and
/// `$count` (its `$filter` is the expansion's).
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedRows {
    /// Bound against the target type; the target's key follows, so the order is total.
    pub orderby: Vec<BoundOrder>,
    /// Entities to skip.
    pub skip: u64,
    /// Most entities to return (none: all), of which a response holds at most
    /// [`MAX_EXPANDED_ENTITIES`].
    pub top: Option<u64>,
    /// Whether to write the number of matching entities (`name@odata.count`).
    pub count: bool,
    /// `name/$count`: only the number, no entities.
    pub count_only: bool,
    /// The nested options that choose and shape the entities (all but `$top`, `$skip`, `$count`
    /// and `$levels`), by name and the span of their value in the `$expand` text: what a next
    /// link to the rest carries.
    pub link_options: Vec<(String, Span)>,
}

/// How an expansion entered the list: named by the request, or implied by `*` or by a longer
/// path through it (`device/deviceType` implies `device`), which a named one replaces.
#[derive(PartialEq)]
enum Origin {
    Named,
    Implied,
}

/// Binds `$expand` items of `ty`: navigation properties, each with a nested `$select`,
/// `$compute`, `$filter` and `$expand`, and for collection-valued ones `$search`, `$orderby`,
/// `$skip`, `$top` and `$count` (and `/$count`), each also as references (`/$ref`). A path of
/// several navigation properties
/// (`device/deviceType`) expands each step. `catalog` finds the entity type a navigation
/// property leads to.
pub fn bind_expand(
    items: &[ExpandItem],
    ty: &EntityType,
    catalog: &dyn Catalog,
) -> Result<Vec<BoundExpand>, ODataError> {
    expand_level(items, ty, catalog, false)
}

/// [`bind_expand`] for the items of one level; `in_collection` when they are the expansions of
/// an expanded collection's entities.
fn expand_level(
    items: &[ExpandItem],
    ty: &EntityType,
    catalog: &dyn Catalog,
    in_collection: bool,
) -> Result<Vec<BoundExpand>, ODataError> {
    let mut out: Vec<(BoundExpand, Origin)> = Vec::new();
    for item in items {
        if item.path[0] == "*" {
            // `*` or `*/$ref`
            let reference = item.path.len() == 2;
            for n in 0..ty.navigation.len() {
                let target = target_of(ty, n, catalog)?;
                let implied = BoundExpand {
                    navigation: n,
                    select: if reference {
                        Vec::new()
                    } else {
                        (0..target.properties.len()).collect()
                    },
                    expand: Vec::new(),
                    computed: Vec::new(),
                    filter: None,
                    reference,
                    related: ty.navigation[n].collection.then(RelatedRows::all),
                    temporal: None,
                };
                check_nesting(&implied, ty, item.span, in_collection)?;
                add(&mut out, implied, Origin::Implied, item.span)?;
            }
            continue;
        }
        let n = navigation_named(ty, &item.path[0], item.span)?;
        let target = target_of(ty, n, catalog)?;
        let rest = &item.path[1..];
        let (bound, origin) = if rest.is_empty() || rest == ["$count"] || rest == ["$ref"] {
            let bound = bind_item(item, ty, n, (target, catalog), in_collection)?;
            (bound, Origin::Named)
        } else {
            // `a/b(options)` is `a($expand=b(options))`
            let step = ExpandItem {
                path: rest.to_vec(),
                ..item.clone()
            };
            let collection = ty.navigation[n].collection;
            let implied = BoundExpand {
                navigation: n,
                select: (0..target.properties.len()).collect(),
                expand: expand_level(&[step], target, catalog, in_collection || collection)?,
                computed: Vec::new(),
                filter: None,
                reference: false,
                related: collection.then(RelatedRows::all),
                temporal: None,
            };
            (implied, Origin::Implied)
        };
        check_nesting(&bound, ty, item.span, in_collection)?;
        add(&mut out, bound, origin, item.span)?;
    }
    Ok(out.into_iter().map(|(b, _)| b).collect())
}

/// Adds `expansion` to `out`: a second expansion of the same navigation property merges with
/// an implied one (their nested expansions together), and is an error beside a named one.
fn add(
    out: &mut Vec<(BoundExpand, Origin)>,
    expansion: BoundExpand,
    origin: Origin,
    span: Span,
) -> Result<(), ODataError> {
    let Some(existing) = out
        .iter_mut()
        .find(|(e, _)| e.navigation == expansion.navigation)
    else {
        out.push((expansion, origin));
        return Ok(());
    };
    let (kept, other) =
        match (&existing.1, &origin) {
            (Origin::Named, Origin::Named) => return Err(bad(
                span,
                "this navigation property is expanded twice; expand it once with all its options",
            )),
            (Origin::Implied, Origin::Named) => {
                let implied = std::mem::replace(&mut existing.0, expansion);
                existing.1 = Origin::Named;
                (&mut existing.0, implied)
            }
            _ => (&mut existing.0, expansion),
        };
    // the nested expansions of both (named twice at this level is caught by their own binding)
    let mut merged = Vec::new();
    for nested in kept.expand.drain(..).chain(other.expand) {
        add(&mut merged, nested, Origin::Implied, span)?;
    }
    kept.expand = merged.into_iter().map(|(b, _)| b).collect();
    Ok(())
}

/// A collection expanded inside an expanded collection is refused (501): each would be a
/// subquery of a subquery.
fn check_nesting(
    b: &BoundExpand,
    ty: &EntityType,
    span: Span,
    in_collection: bool,
) -> Result<(), ODataError> {
    if in_collection && b.related.is_some() {
        return Err(unsupported(
            span,
            format!(
                "expanding the collection '{}' inside an expanded collection is not supported yet",
                ty.navigation[b.navigation].name
            ),
        ));
    }
    Ok(())
}

/// The navigation property `name` of `ty` (400 when it is a structural property or missing).
fn navigation_named(ty: &EntityType, name: &str, span: Span) -> Result<usize, ODataError> {
    if let Some(n) = navigation(ty, name, span)? {
        return Ok(n);
    }
    let message = if !matches!(ty.find_property(name), Lookup::Missing) {
        format!(
            "'{name}' is a property of {}, not a navigation property",
            ty.name
        )
    } else {
        format!("{} has no navigation property '{name}'", ty.name)
    };
    Err(bad(span, message))
}

/// The entity type navigation property `n` of `ty` leads to.
fn target_of<'a>(
    ty: &EntityType,
    n: usize,
    catalog: &'a dyn Catalog,
) -> Result<&'a EntityType, ODataError> {
    catalog
        .entity_type(&ty.navigation[n].target_type)
        .ok_or_else(|| {
            ODataError::new(
                ErrorKind::Internal,
                format!(
                    "navigation target {} is missing",
                    ty.navigation[n].target_type
                ),
            )
        })
}

/// An expanded item's own temporal options, bound against the set of `target`; an error
/// points at the first of them. A single related entity (not `collection`) of a timeline is the
/// state its reference names, which no temporal option chooses: only a snapshot set's entity
/// is read at a point.
fn bind_nested_temporal(
    item: &ExpandItem,
    target: &EntityType,
    catalog: &dyn Catalog,
    collection: bool,
) -> Result<Option<Temporal>, ODataError> {
    let Some((_, _, span)) = item.temporal.first() else {
        return Ok(None);
    };
    let set = catalog.entity_set_of(&target.name).unwrap_or(&target.name);
    if !collection && catalog.temporal(set).is_some_and(|t| t.is_timeline()) {
        return Err(bad(
            *span,
            format!(
                "'{}' is the state of {set} its reference names; temporal options choose \
                 among the states of an expanded collection or read a snapshot set at a point.",
                item.path[0]
            ),
        ));
    }
    let get = |name: &str| {
        item.temporal
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    };
    bind_temporal(&get, set, catalog).map_err(|e| e.at(span.start))
}

/// One item naming navigation property `n` of `ty` (perhaps followed by `/$count`), with its
/// options; `target` is the type it leads to.
fn bind_item<'a>(
    item: &ExpandItem,
    ty: &EntityType,
    n: usize,
    (target, catalog): (&'a EntityType, &'a dyn Catalog),
    in_collection: bool,
) -> Result<BoundExpand, ODataError> {
    if let Some((name, span)) = item.options.first() {
        return Err(unsupported(
            *span,
            format!("{name} inside $expand is not supported yet"),
        ));
    }
    let collection = ty.navigation[n].collection;
    let count_only = item.path.get(1).is_some_and(|s| s == "$count");
    let reference = item.path.get(1).is_some_and(|s| s == "$ref");
    if count_only && !collection {
        return Err(bad(
            item.span,
            format!(
                "/$count follows a collection; '{}' is a single entity",
                item.path[0]
            ),
        ));
    }
    let all_computed = Scope::new(target, None).compute(&item.compute)?;
    let (select, computed) = match &item.select {
        Some(select) => bind_select_with_computed(select, target, all_computed.clone())?,
        None if reference => (Vec::new(), Vec::new()),
        None => ((0..target.properties.len()).collect(), all_computed.clone()),
    };
    let expand = expand_level(&item.expand, target, catalog, in_collection || collection)?;
    let scope = Scope::new(target, None).with_computed(&all_computed);
    let filter = item.filter.as_ref().map(|f| scope.filter(f)).transpose()?;
    let related = if collection {
        Some(related_rows(item, scope, count_only)?)
    } else {
        single_valued_options(item)?;
        None
    };
    let search = item
        .search
        .as_ref()
        .map(|(s, _)| super::bind_search(s, target));
    let filter = match (filter, search) {
        (Some(f), Some(s)) => Some(Typed {
            kind: super::TypedKind::And(Box::new(f), Box::new(s)),
            ty: Some(crate::edm::PrimitiveType::Boolean),
            nullable: false,
        }),
        (f, s) => f.or(s),
    };
    Ok(BoundExpand {
        navigation: n,
        select,
        expand,
        computed,
        filter,
        reference,
        related,
        temporal: bind_nested_temporal(item, target, catalog, collection)?,
    })
}

impl RelatedRows {
    /// Every related entity, in key order, without a count.
    fn all() -> Self {
        RelatedRows {
            orderby: Vec::new(),
            skip: 0,
            top: None,
            count: false,
            count_only: false,
            link_options: Vec::new(),
        }
    }
}

/// The nested options of an expanded collection, bound in `scope` (its entity type and computed
/// properties).
fn related_rows(
    item: &ExpandItem,
    scope: Scope<'_, '_>,
    count_only: bool,
) -> Result<RelatedRows, ODataError> {
    Ok(RelatedRows {
        orderby: scope.orderby(&item.orderby)?,
        skip: item.skip.map_or(0, |(n, _)| n),
        top: item.top.map(|(n, _)| n),
        count: count_only || item.count.is_some_and(|(c, _)| c),
        count_only,
        link_options: item
            .written
            .iter()
            .filter(|(name, _)| {
                let name = name.to_ascii_lowercase();
                !["top", "skip", "count", "levels"].contains(&name.trim_start_matches('$'))
            })
            .cloned()
            .collect(),
    })
}

/// A single related entity has no order, no page, no count and no search (400).
fn single_valued_options(item: &ExpandItem) -> Result<(), ODataError> {
    let misplaced = [
        item.search.as_ref().map(|(_, s)| ("$search", *s)),
        item.orderby.first().map(|o| ("$orderby", o.expr.span)),
        item.top.map(|(_, s)| ("$top", s)),
        item.skip.map(|(_, s)| ("$skip", s)),
        item.count.map(|(_, s)| ("$count", s)),
    ];
    if let Some((name, span)) = misplaced.into_iter().flatten().next() {
        return Err(bad(
            span,
            format!(
                "{name} applies to collections; '{}' is a single entity",
                item.path[0]
            ),
        ));
    }
    Ok(())
}
