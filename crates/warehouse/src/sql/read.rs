//! From a bound request to the planner's input: a [`ReadQuery`] read for a tenant ([`Reading`])
//! becomes a [`CollectionQuery`], with the warehouse's own rules added: which collections
//! `maxhistorydays` limits (facts with a `dateKey`, unless the request names `dateKey` itself),
//! and which collection each expanded navigation property reads.

use super::dialect::Dialect;
use super::plan::plan;
use super::query::Changed;
use super::query::StatementTooLarge;
use super::query::{sql_value, CollectionQuery, Expansion, KeysetPosition, Plan, Related};
use crate::calendar::{
    date_key, date_of_key, date_of_micros, days_before, midnight_micros, DAY_MICROS,
};
use crate::Warehouse;
use odata::bind::{BoundExpand, Catalog};
use odata::edm::EntityType;
use odata::read::{ReadQuery, Temporal};
use time::Date;

/// One reading of a [`ReadQuery`]: for which tenant, as of which snapshot and clock, and which
/// page of its rows.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// The tenant, from the principal.
    pub tenant: i64,
    /// The `dateKey` of the tenant's latest published day, which `maxhistorydays` counts back
    /// from.
    pub snapshot_date_key: Option<i64>,
    /// Value of `now()`, in microseconds since the Unix epoch.
    pub now_micros: i64,
    /// Continue after this position.
    pub after: Option<&'a KeysetPosition>,
    /// Rows to skip (first page only).
    pub offset: u64,
    /// Most rows to return.
    pub limit: Option<u64>,
    /// Only the rows publications after a generation wrote ([`Changed`]): a delta.
    pub changed: Option<Changed>,
}

/// Plans the page and count statements of `read` ([`plan`]).
pub fn plan_read(
    read: &ReadQuery<'_>,
    reading: &Reading<'_>,
    dialect: &dyn Dialect,
) -> Result<Plan, StatementTooLarge> {
    let collection = Warehouse::get()
        .collection(&read.set)
        .expect("the catalog's entity sets are the warehouse's collections");
    let key: Vec<_> = read.scope.iter().map(|(p, v)| (*p, sql_value(v))).collect();
    let history = reading.snapshot_date_key.zip(read.history_days);
    let period = period(read.temporal, reading.snapshot_date_key);
    let (days, valid_during) = match period {
        Some(period) if collection.has_date_key() => (Some(fact_days(period)), None),
        Some(period) if collection.validity().is_some() => (None, Some(period)),
        _ => (None, None),
    };
    let as_of_day = period
        .filter(|_| collection.daily_states().is_some())
        .map(|period| fact_days(period).0);
    let max_date_key = days.and_then(|(_, last)| last);
    let min_date_key = match days {
        Some((first, _)) => Some(first),
        None => min_date_key(read, reading.snapshot_date_key),
    };
    let expand = expansions(
        read.catalog,
        read.entity,
        &read.expand,
        FromParent {
            history,
            period,
            snapshot: reading.snapshot_date_key,
        },
    );
    let q = CollectionQuery {
        collection,
        entity: read.entity,
        tenant: reading.tenant,
        apply: read.apply.as_ref(),
        filter: read.filter.as_ref(),
        orderby: &read.orderby,
        select: &read.select,
        computed: &read.computed,
        key: &key,
        min_date_key,
        max_date_key,
        valid_during,
        as_of_day,
        changed: reading.changed,
        after: reading.after,
        offset: reading.offset,
        limit: reading.limit,
        now_micros: reading.now_micros,
        expand: &expand,
    };
    plan(&q, dialect)
}

/// The period a read covers (`$at`, `$from`/`$to`; `max` is the end of the tenant's latest
/// published day, `snapshot`), in microseconds, closed-open.
fn period(temporal: Option<Temporal>, snapshot: Option<i64>) -> Option<(i64, Option<i64>)> {
    match temporal? {
        Temporal::Period { start, end, .. } => Some((start, end)),
        Temporal::Latest => {
            let day = snapshot.and_then(date_of_key).unwrap_or(Date::MIN);
            let end = midnight_micros(day) + DAY_MICROS;
            Some((end - 1, Some(end)))
        }
    }
}

/// What an expansion takes from the read (or expansion) it is in.
#[derive(Clone, Copy)]
struct FromParent {
    /// The tenant's latest day and `maxhistorydays`.
    history: Option<(i64, u32)>,
    /// The period read, in microseconds, closed-open (its temporal options).
    period: Option<(i64, Option<i64>)>,
    /// The tenant's latest published day (`dateKey`), which `max` names.
    snapshot: Option<i64>,
}

/// The first and last `dateKey` (none: no last) of the days a period touches, in UTC.
pub fn fact_days((start, end): (i64, Option<i64>)) -> (i64, Option<i64>) {
    let day = |micros: i64| date_key(date_of_micros(micros));
    (day(start), end.map(|end| day(end - 1)))
}

/// The lowest `dateKey` `read` returns: `maxhistorydays` counted back from `snapshot` (the
/// tenant's latest published day), on facts with a `dateKey`, unless the request names the day
/// itself, in a condition or in the key (an explicit day wins, as in Intune).
pub fn min_date_key(read: &ReadQuery<'_>, snapshot: Option<i64>) -> Option<i64> {
    let collection = Warehouse::get().collection(&read.set)?;
    let date_named = read.entity.property_index("dateKey").is_some_and(|day| {
        read.conditions_mention(day) || read.scope.iter().any(|(p, _)| *p == day)
    });
    snapshot
        .zip(read.history_days)
        .filter(|_| collection.has_date_key() && !date_named)
        .and_then(|(snapshot, days)| days_before(snapshot, days))
}

/// What the planner reads for `expand` of `entity`'s rows (nested expansions too).
/// `from_parent.history` (the tenant's snapshot date key and `maxhistorydays`) limits the
/// expanded facts as it limits facts read directly, unless the nested `$filter` names `dateKey`;
/// the period read (the request's, or an enclosing expansion's) reaches expanded collections of
/// facts (their days) and timelines (their validity) unless an expansion gives its own.
fn expansions<'m>(
    catalog: &'m dyn Catalog,
    entity: &EntityType,
    expand: &[BoundExpand],
    from_parent: FromParent,
) -> Vec<Expansion<'m>> {
    expand
        .iter()
        .map(|b| {
            let nav = &entity.navigation[b.navigation];
            let set = catalog
                .entity_set_of(&nav.target_type)
                .expect("navigation targets are entity sets of the catalog");
            let target = catalog
                .entity_type(&nav.target_type)
                .expect("navigation targets are types of the catalog");
            let collection = Warehouse::get()
                .collection(set)
                .expect("entity sets are collections");
            // its own temporal options, else the request's (OData Temporal's propagation)
            let FromParent {
                history, snapshot, ..
            } = from_parent;
            let period = match b.temporal {
                Some(own) => period(Some(own), snapshot),
                None => from_parent.period,
            };
            let related = b.related.as_ref().map(|rows| {
                let date_key = target.property_index("dateKey");
                let date_filtered = date_key
                    .is_some_and(|dk| b.filter.as_ref().is_some_and(|f| f.mentions_property(dk)));
                let days = period.filter(|_| collection.has_date_key()).map(fact_days);
                Related {
                    referenced: nav.referenced_property.clone(),
                    rows: rows.clone(),
                    min_date_key: days.map(|(first, _)| first).or_else(|| {
                        history
                            .filter(|_| date_key.is_some() && !date_filtered)
                            .and_then(|(snapshot, days)| days_before(snapshot, days))
                    }),
                    max_date_key: days.and_then(|(_, last)| last),
                    valid_during: period.filter(|_| collection.validity().is_some()),
                }
            });
            // a single entity of a snapshot set at a point: as of that day
            let as_of_day = period
                .filter(|(start, end)| b.related.is_none() && *end == Some(start + 1))
                .filter(|_| collection.daily_states().is_some())
                .map(|period| fact_days(period).0);
            Expansion {
                navigation: b.navigation,
                reference: nav.property.clone(),
                target: collection,
                as_of_day,
                entity: target,
                select: b.select.clone(),
                computed: b.computed.clone(),
                filter: b.filter.clone(),
                expand: expansions(
                    catalog,
                    target,
                    &b.expand,
                    FromParent {
                        period,
                        ..from_parent
                    },
                ),
                related,
            }
        })
        .collect()
}
