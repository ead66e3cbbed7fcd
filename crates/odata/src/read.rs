//! One read request bound whole: [`ReadQuery`], what a collection request asks for, bound
//! against a [`Catalog`] from its query options.
//!
//! A server parses the query string once ([`crate::syntax::parse_query_options`]), finds the
//! entity set its path names, and binds the rest here; what it hands to a planner is this one
//! owned description, with no query text left to read. The options a service answers with
//! something other than rows (`$format`, `$skiptoken`) are the caller's; the options this module
//! does not know are refused ([`ReadQuery::bind`]).

pub use crate::bind::Temporal;
use crate::bind::{
    bind_apply, bind_expand, bind_search, bind_select, bind_select_with_computed, bind_temporal,
    BoundApply, BoundExpand, BoundOrder, Catalog, Computed, Scope, Typed, TypedKind, Value,
};
use crate::edm::{EntityType, PrimitiveType};
use crate::syntax::{self, Aliases, ExpandItem, QueryOptions};
use crate::ODataError;

/// System query options a [`ReadQuery`] binds, and those its caller answers (`$format`,
/// `$skiptoken`); any other valid one is refused with 501.
pub const READ_OPTIONS: &[&str] = &[
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$skiptoken",
    "$format",
    "$expand",
    "$apply",
    "$compute",
    "$search",
    "$at",
    "$from",
    "$to",
    "$toinclusive",
    "$deltatoken",
];

/// Values properties must hold: (property index, value).
pub type PropertyValues = Vec<(usize, Value)>;

/// What a read of an entity set asks for, bound against its entity type: which rows
/// (`filter`, `$search` included, `scope`, `history_days`), how they are shaped (`apply`,
/// `computed`, `select`, `expand`), in which order and how many (`orderby`, `paging`).
#[derive(Clone)]
pub struct ReadQuery<'m> {
    /// The entity set read, as the catalog names it.
    pub set: String,
    /// Its entity type.
    pub entity: &'m EntityType,
    /// Where the types navigation properties lead to are found.
    pub catalog: &'m dyn Catalog,
    /// Values properties of the rows must hold: an entity's key, or the key of the entity whose
    /// collection-valued navigation property leads here (`devices(42)/devicePropertyHistories`).
    pub scope: PropertyValues,
    /// `$apply`; with an aggregation, `filter` and `orderby` are bound against the aggregated
    /// rows' type, and `select`, `computed` and `expand` are empty.
    pub apply: Option<BoundApply>,
    /// The computed properties (`$compute`) the rows carry, after the selected ones.
    pub computed: Vec<Computed>,
    /// `$filter`, and `$search` as a condition beside it.
    pub filter: Option<Typed>,
    /// `$orderby`.
    pub orderby: Vec<BoundOrder>,
    /// The properties returned (indices into `entity`'s properties, in declaration order).
    pub select: Vec<usize>,
    /// Whether `$select` was given (a context URL names the selection then).
    pub selected: bool,
    /// `$expand`.
    pub expand: Vec<BoundExpand>,
    /// `$top`, `$skip` and `$count` ([`ReadQuery::with_paging`]).
    pub paging: Paging,
    /// The most recent days of history to read, from the service's own option (Intune's
    /// `maxhistorydays`); a planner decides which rows it limits ([`ReadQuery::with_history_days`]).
    pub history_days: Option<u32>,
    /// The application time read (OData Temporal `$at`, `$from`, `$to`, `$toInclusive`), on a
    /// set the catalog says keeps its history ([`Catalog::temporal`]).
    pub temporal: Option<Temporal>,
}

impl std::fmt::Debug for ReadQuery<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadQuery")
            .field("set", &self.set)
            .field("scope", &self.scope)
            .field("apply", &self.apply)
            .field("computed", &self.computed)
            .field("filter", &self.filter)
            .field("orderby", &self.orderby)
            .field("select", &self.select)
            .field("expand", &self.expand)
            .field("paging", &self.paging)
            .field("history_days", &self.history_days)
            .finish_non_exhaustive()
    }
}

/// `$top`, `$skip` and `$count` of a collection request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paging {
    /// `$top`: the most rows to return, over all pages.
    pub top: Option<u64>,
    /// `$skip`: rows to pass over first.
    pub skip: Option<u64>,
    /// `$count=true`: the response says how many rows there are in all.
    pub count: bool,
}

impl Paging {
    /// Reads `$top`, `$skip` and `$count`; a syntax error names its option and position.
    pub fn bind(options: &QueryOptions) -> Result<Self, ODataError> {
        let number = |option: &str| {
            options
                .get(option)
                .map(syntax::parse_top_skip)
                .transpose()
                .map_err(|e| e.into_odata(option))
        };
        let count = options
            .get("$count")
            .map(syntax::parse_count)
            .transpose()
            .map_err(|e| e.into_odata("$count"))?
            .unwrap_or(false);
        Ok(Paging {
            top: number("$top")?,
            skip: number("$skip")?,
            count,
        })
    }
}

impl<'m> ReadQuery<'m> {
    /// Binds the options of a request of entity set `set` (whose entities are `entity`):
    /// `$apply`, `$compute`, `$filter`, `$search`, `$orderby`, `$select` and `$expand`, with
    /// parameter aliases resolved. Paging and history are bound apart ([`Self::with_paging`],
    /// [`Self::with_history_days`]). Errors name the option (`target`) and, for syntax, the
    /// position in it; a system option outside [`READ_OPTIONS`] is a 501.
    pub fn bind(
        options: &QueryOptions,
        set: &str,
        entity: &'m EntityType,
        catalog: &'m dyn Catalog,
    ) -> Result<Self, ODataError> {
        reject_unimplemented(options)?;
        let with_target = |name: &'static str| move |e: ODataError| e.with_target(name);
        let aliases = Aliases::parse(options).map_err(|(name, e)| e.into_odata(&name))?;
        let apply = bind_apply_option(options, &aliases, entity, catalog)?;
        let aggregated = apply
            .as_ref()
            .and_then(|a| a.aggregation.as_ref())
            .map(|a| &a.result);
        if aggregated.is_some() && options.get("$expand").is_some() {
            return Err(ODataError::not_implemented(
                "$expand on the aggregated rows of $apply is not supported yet.",
            )
            .with_target("$expand"));
        }
        let (rows, rows_catalog): (&EntityType, &dyn Catalog) = match aggregated {
            Some(a) => (&a.entity, a),
            None => (entity, catalog),
        };
        let computed = bind_compute_option(
            options,
            &aliases,
            Scope::new(entity, Some(catalog)),
            aggregated.is_some(),
        )?;
        let scope = Scope::new(rows, Some(rows_catalog)).with_computed(&computed);
        let filter = match options.get("$filter") {
            Some(text) => {
                let expr = syntax::parse_filter(text)
                    .and_then(|e| aliases.resolve(&e))
                    .map_err(|e| e.into_odata("$filter"))?;
                Some(scope.filter(&expr).map_err(with_target("$filter"))?)
            }
            None => None,
        };
        let filter = match (
            filter,
            bind_search_option(options, entity, aggregated.is_some())?,
        ) {
            (Some(f), Some(s)) => Some(Typed {
                kind: TypedKind::And(Box::new(f), Box::new(s)),
                ty: Some(PrimitiveType::Boolean),
                nullable: false,
            }),
            (f, s) => f.or(s),
        };
        let orderby = bind_orderby_option(options, &aliases, &scope)?;
        let apply = select_aggregated(options, apply)?;
        let (select, computed) = match options.get("$select") {
            Some(_) if apply.as_ref().is_some_and(|a| a.aggregation.is_some()) => {
                (Vec::new(), computed)
            }
            Some(text) => {
                let items = syntax::parse_select(text).map_err(|e| e.into_odata("$select"))?;
                bind_select_with_computed(&items, entity, computed)
                    .map_err(with_target("$select"))?
            }
            None => ((0..entity.properties.len()).collect(), computed),
        };
        Ok(ReadQuery {
            set: set.to_string(),
            entity,
            catalog,
            scope: Vec::new(),
            apply,
            computed,
            filter,
            orderby,
            select,
            selected: options.get("$select").is_some(),
            expand: bind_expand_option(options, &aliases, entity, catalog)?,
            paging: Paging::default(),
            history_days: None,
            temporal: bind_temporal(&|name| options.get(name), set, catalog)?,
        })
    }

    /// Every row of `set` (whose entities are `entity`) with all its properties, as is.
    pub fn all(set: &str, entity: &'m EntityType, catalog: &'m dyn Catalog) -> Self {
        ReadQuery {
            set: set.to_string(),
            entity,
            catalog,
            scope: Vec::new(),
            apply: None,
            computed: Vec::new(),
            filter: None,
            orderby: Vec::new(),
            select: (0..entity.properties.len()).collect(),
            selected: false,
            expand: Vec::new(),
            paging: Paging::default(),
            history_days: None,
            temporal: None,
        }
    }

    /// The read of one entity of `set` by its `key` (bound with [`crate::bind::bind_key`]), or of
    /// its property `property`: `$select` and `$expand` apply (neither to a property); `$compute`
    /// and `$apply` are refused, other options are not read.
    pub fn entity(
        options: &QueryOptions,
        (set, entity): (&str, &'m EntityType),
        catalog: &'m dyn Catalog,
        key: PropertyValues,
        property: Option<usize>,
    ) -> Result<Self, ODataError> {
        reject_unimplemented(options)?;
        if options.get("$compute").is_some() {
            return Err(ODataError::not_implemented(
                "$compute on one entity is not supported yet; request the collection with a filter on the key.",
            )
            .with_target("$compute"));
        }
        if options.get("$apply").is_some() {
            return Err(ODataError::bad_request(
                "$apply transforms collections; request the collection instead of one entity.",
            )
            .with_target("$apply"));
        }
        let select = match (property, options.get("$select")) {
            (Some(i), _) => vec![i],
            (None, Some(text)) => {
                let items = syntax::parse_select(text).map_err(|e| e.into_odata("$select"))?;
                bind_select(&items, entity).map_err(|e| e.with_target("$select"))?
            }
            (None, None) => (0..entity.properties.len()).collect(),
        };
        // a property or raw value has nothing to expand
        let expand = match property {
            Some(_) => Vec::new(),
            None => {
                let aliases = Aliases::parse(options).map_err(|(name, e)| e.into_odata(&name))?;
                bind_expand_option(options, &aliases, entity, catalog)?
            }
        };
        Ok(ReadQuery {
            scope: key,
            select,
            selected: options.get("$select").is_some(),
            expand,
            paging: Paging {
                top: Some(1),
                ..Paging::default()
            },
            temporal: bind_temporal(&|name| options.get(name), set, catalog)?,
            ..ReadQuery::all(set, entity, catalog)
        })
    }

    /// This query with `$top`, `$skip` and `$count` read from `options`.
    pub fn with_paging(self, options: &QueryOptions) -> Result<Self, ODataError> {
        Ok(ReadQuery {
            paging: Paging::bind(options)?,
            ..self
        })
    }

    /// This query limited to the `days` most recent days of history (where the planner finds
    /// history to limit).
    pub fn with_history_days(self, days: Option<u32>) -> Self {
        ReadQuery {
            history_days: days,
            ..self
        }
    }

    /// This query reading only rows whose properties hold `values`.
    pub fn within(self, values: PropertyValues) -> Self {
        ReadQuery {
            scope: values,
            ..self
        }
    }

    /// Whether the rows are aggregated (`$apply` with `groupby` or `aggregate`).
    pub fn aggregated(&self) -> bool {
        self.apply.as_ref().is_some_and(|a| a.aggregation.is_some())
    }

    /// Whether the request's own conditions name property `p` of the collection's rows: its
    /// `$filter` (unless the rows are aggregated) or a filter of `$apply` before the aggregation.
    pub fn conditions_mention(&self, p: usize) -> bool {
        let filter = self.filter.as_ref().filter(|_| !self.aggregated());
        let input_filters = self.apply.iter().flat_map(|a| &a.filters);
        filter
            .into_iter()
            .chain(input_filters)
            .any(|f| f.mentions_property(p))
    }

    /// Whether any expansion (or one of theirs) is an expanded collection.
    pub fn expands_collections(&self) -> bool {
        expands_collections(&self.expand)
    }
}

/// Whether any of `expand` (or their own) is an expanded collection.
fn expands_collections(expand: &[BoundExpand]) -> bool {
    expand
        .iter()
        .any(|b| b.related.is_some() || expands_collections(&b.expand))
}

fn reject_unimplemented(options: &QueryOptions) -> Result<(), ODataError> {
    for o in &options.system {
        if o.name == "$levels" {
            // OData's grammar has it among an $expand item's options only
            return Err(ODataError::bad_request(
                "$levels is an option of an $expand item ($expand=deviceType($levels=max)), not of the request.",
            )
            .with_target("$levels"));
        }
        if !READ_OPTIONS.contains(&o.name.as_str()) {
            return Err(
                ODataError::not_implemented(format!("{} is not supported yet.", o.name))
                    .with_target(o.name.clone()),
            );
        }
    }
    Ok(())
}

/// `$apply`, parsed with its aliases resolved and bound against `entity`.
fn bind_apply_option(
    options: &QueryOptions,
    aliases: &Aliases,
    entity: &EntityType,
    catalog: &dyn Catalog,
) -> Result<Option<BoundApply>, ODataError> {
    let Some(text) = options.get("$apply") else {
        return Ok(None);
    };
    let transformations = syntax::parse_apply(text)
        .and_then(|mut t| aliases.resolve_apply(&mut t).map(|()| t))
        .map_err(|e| e.into_odata("$apply"))?;
    bind_apply(&transformations, entity, catalog)
        .map(Some)
        .map_err(|e| e.with_target("$apply"))
}

/// `$orderby`, parsed with its aliases resolved and bound in `scope`.
fn bind_orderby_option(
    options: &QueryOptions,
    aliases: &Aliases,
    scope: &Scope<'_, '_>,
) -> Result<Vec<BoundOrder>, ODataError> {
    let Some(text) = options.get("$orderby") else {
        return Ok(Vec::new());
    };
    let items = syntax::parse_orderby(text)
        .and_then(|items| {
            let exprs = aliases.resolve_all(items.iter().map(|i| &i.expr))?;
            Ok(exprs
                .into_iter()
                .zip(items)
                .map(|(expr, item)| syntax::OrderByItem {
                    expr,
                    direction: item.direction,
                })
                .collect::<Vec<_>>())
        })
        .map_err(|e| e.into_odata("$orderby"))?;
    scope.orderby(&items).map_err(|e| e.with_target("$orderby"))
}

/// `$apply` with its aggregated rows' output narrowed to what `$select` chooses.
fn select_aggregated(
    options: &QueryOptions,
    apply: Option<BoundApply>,
) -> Result<Option<BoundApply>, ODataError> {
    let Some(text) = options.get("$select") else {
        return Ok(apply);
    };
    let Some(mut apply) = apply else {
        return Ok(None);
    };
    if let Some(aggregation) = &mut apply.aggregation {
        let items = syntax::parse_select(text).map_err(|e| e.into_odata("$select"))?;
        aggregation.output = aggregation
            .result
            .selected(&items)
            .map_err(|e| e.with_target("$select"))?;
    }
    Ok(Some(apply))
}

/// `$compute`'s computed properties, bound in `scope` (the collection's rows); 501 beside an
/// aggregating `$apply` (compute inside `$apply` instead).
fn bind_compute_option(
    options: &QueryOptions,
    aliases: &Aliases,
    scope: Scope<'_, '_>,
    aggregated: bool,
) -> Result<Vec<Computed>, ODataError> {
    let Some(text) = options.get("$compute") else {
        return Ok(Vec::new());
    };
    if aggregated {
        return Err(ODataError::not_implemented(
            "$compute beside an aggregating $apply is not supported; compute inside $apply instead.",
        )
        .with_target("$compute"));
    }
    let items = syntax::parse_compute(text)
        .and_then(|items| {
            items
                .into_iter()
                .map(|(e, name)| Ok((aliases.resolve(&e)?, name)))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| e.into_odata("$compute"))?;
    scope.compute(&items).map_err(|e| e.with_target("$compute"))
}

/// `$search` as a condition on the collection's string properties ([`bind_search`]); 501 beside
/// an aggregating `$apply` (search inside `$apply` instead).
fn bind_search_option(
    options: &QueryOptions,
    entity: &EntityType,
    aggregated: bool,
) -> Result<Option<Typed>, ODataError> {
    let Some(text) = options.get("$search") else {
        return Ok(None);
    };
    if aggregated {
        return Err(ODataError::not_implemented(
            "$search beside an aggregating $apply is not supported; use search(...) in $apply before the aggregation.",
        )
        .with_target("$search"));
    }
    let expr = syntax::parse_search(text).map_err(|e| e.into_odata("$search"))?;
    Ok(Some(bind_search(&expr, entity)))
}

/// `$expand`, parsed with the aliases of its nested options resolved and bound against `entity`.
fn bind_expand_option(
    options: &QueryOptions,
    aliases: &Aliases,
    entity: &EntityType,
    catalog: &dyn Catalog,
) -> Result<Vec<BoundExpand>, ODataError> {
    let Some(text) = options.get("$expand") else {
        return Ok(Vec::new());
    };
    let mut items = syntax::parse_expand(text).map_err(|e| e.into_odata("$expand"))?;
    resolve_expand_aliases(&mut items, aliases).map_err(|e| e.into_odata("$expand"))?;
    bind_expand(&items, entity, catalog).map_err(|e| e.with_target("$expand"))
}

/// Replaces parameter aliases in the nested `$filter` and `$orderby` of `items` (and theirs).
fn resolve_expand_aliases(
    items: &mut [ExpandItem],
    aliases: &Aliases,
) -> Result<(), syntax::SyntaxError> {
    for item in items {
        if let Some(f) = &item.filter {
            item.filter = Some(aliases.resolve(f)?);
        }
        let resolved = aliases.resolve_all(item.orderby.iter().map(|o| &o.expr))?;
        for (o, expr) in item.orderby.iter_mut().zip(resolved) {
            o.expr = expr;
        }
        resolve_expand_aliases(&mut item.expand, aliases)?;
    }
    Ok(())
}
