//! The rows a statement reads: the collection's table for one tenant, aliased when the
//! statement names tables, left-joined to the collections its expressions and expansions
//! reach, and the conditions every one of its rows meets.

use super::changes::CHANGED_COLUMN;
use super::exprs::Scope;
use super::joins::{any_related, joins};
use super::query::{Changed, CollectionQuery, Expansion, TENANT_COLUMN};
use super::tree::{Column, Join, Select, Source, SqlExpr};
use super::validity::valid_during;
use super::value::SqlValue;
use crate::model::{Collection, DailyStates};
use odata::bind::{ArithOp, CompareOp};
use odata::bind::{Recursion, Typed, TypedKind};
use odata::edm::PrimitiveType;

/// The scope of the collection's rows, joined to the collections the query reaches, aliased
/// `t0` when the statement names tables.
pub(super) fn row_scope<'a>(q: &CollectionQuery<'a>) -> Scope<'a> {
    let joins = joins(q);
    let alias = (!joins.is_empty() || correlates(q)).then(|| "t0".to_string());
    Scope::new(q.entity, (q.now_micros, q.tenant), alias, joins)
}

/// The collection's table (aliased when the statement names tables) and its `LEFT JOIN`s.
pub(super) fn from(
    q: &CollectionQuery<'_>,
    scope: &mut Scope<'_>,
) -> (Source, Vec<super::tree::Join>) {
    let source = match (q.as_of_day, q.collection.daily_states()) {
        (Some(day), Some(states)) => as_of_day(
            (q.collection, q.tenant),
            states,
            day,
            scope
                .alias
                .clone()
                .unwrap_or_else(|| q.collection.name.clone()),
        ),
        _ => Source::Table {
            name: q.collection.name.clone(),
            alias: scope.alias.clone(),
        },
    };
    let joins = match scope.alias.clone() {
        Some(alias) => left_joins(scope, &alias),
        None => Vec::new(),
    };
    (source, joins)
}

/// The conditions of the rows publications after `changed.since` wrote: of a daily fact, on the
/// days from the earliest they wrote (its key's order) and then by the row's publication; with
/// expansions, or whose expanded entities they wrote ([`related_written`]); every row when they
/// deleted expanded entities.
fn changed_since(q: &CollectionQuery<'_>, scope: &mut Scope<'_>, changed: Changed) -> Vec<SqlExpr> {
    if changed.every_row {
        return Vec::new();
    }
    let own = written_since(q, scope, changed);
    if q.expand.is_empty() {
        return own;
    }
    let row = scope
        .alias
        .clone()
        .unwrap_or_else(|| q.collection.name.clone());
    let own = own
        .into_iter()
        .reduce(SqlExpr::and)
        .expect("a condition on the publication");
    let told = q.expand.iter().enumerate().fold(own, |told, (i, e)| {
        SqlExpr::Or(
            Box::new(told),
            Box::new(related_written(q, (&row, i), e, changed.since)),
        )
    });
    vec![told]
}

/// Whether publications after `since` wrote an entity expansion `e` (the `i`th) of the row
/// (`row`, the alias of its table) reads: `EXISTS` a row of the related collection that
/// references it (or that it references) written since.
fn related_written(
    q: &CollectionQuery<'_>,
    (row, i): (&str, usize),
    e: &Expansion<'_>,
    since: i64,
) -> SqlExpr {
    let related = format!("written{i}");
    let column = |table: &str, name: &str| SqlExpr::column(Some(table), name);
    let equal = |a, b| SqlExpr::compare(CompareOp::Eq, a, b);
    let referenced = &q.entity.navigation[e.navigation].referenced_property;
    let mut select = Select::new(
        vec![Column::from(column(&related, TENANT_COLUMN))],
        Source::Table {
            name: e.target.name.clone(),
            alias: Some(related.clone()),
        },
    );
    select.conditions = vec![
        equal(column(&related, TENANT_COLUMN), column(row, TENANT_COLUMN)),
        equal(column(&related, referenced), column(row, &e.reference)),
        SqlExpr::compare(
            CompareOp::Gt,
            column(&related, CHANGED_COLUMN),
            SqlExpr::Param(SqlValue::Integer(since)),
        ),
    ];
    SqlExpr::Exists {
        select: Box::new(select),
        negated: false,
    }
}

/// The conditions of the rows publications after `changed.since` wrote themselves.
fn written_since(q: &CollectionQuery<'_>, scope: &mut Scope<'_>, changed: Changed) -> Vec<SqlExpr> {
    let mut conditions = Vec::new();
    if let (Some(i), Some(day)) = (q.entity.property_index("dateKey"), changed.from_day) {
        conditions.push(SqlExpr::compare(
            CompareOp::Ge,
            scope.column(i),
            SqlExpr::Param(SqlValue::Integer(day)),
        ));
    }
    let mut written = SqlExpr::column(scope.alias.as_deref(), CHANGED_COLUMN);
    if changed.by_key {
        // an expression, which no index answers: the rows are read in key order
        written = SqlExpr::Arith(
            ArithOp::Add,
            Box::new(written),
            Box::new(SqlExpr::Param(SqlValue::Integer(0))),
            PrimitiveType::Int64,
        );
    }
    conditions.push(SqlExpr::compare(
        CompareOp::Gt,
        written,
        SqlExpr::Param(SqlValue::Integer(changed.since)),
    ));
    conditions
}

/// The collection's rows as of `day` (`$at` on a dimension with daily states): the day's rows of
/// the fact that records them, each with the properties it records and the dimension's current
/// others, under the collection's name (or `alias`) so that the statement reads them as it
/// reads the table. Entities the day has no row of did not exist that day. A current property
/// is a lookup of the entity's row by key, which the database drops when the statement does not
/// read it (a count of that day's compliance reads the fact's index alone).
fn as_of_day(
    (collection, tenant): (&Collection, i64),
    states: &DailyStates,
    day: i64,
    alias: String,
) -> Source {
    const STATE: &str = "h";
    const CURRENT: &str = "d";
    let key = &collection.key[0];
    let mut columns = vec![Column {
        expr: SqlExpr::column(Some(STATE), TENANT_COLUMN),
        alias: Some(TENANT_COLUMN.to_string()),
    }];
    let current = |name: &str| {
        let mut lookup = Select::new(
            vec![Column::from(SqlExpr::column(Some(CURRENT), name))],
            Source::Table {
                name: collection.name.clone(),
                alias: Some(CURRENT.into()),
            },
        );
        lookup.conditions = [TENANT_COLUMN, key.as_str()]
            .into_iter()
            .map(|c| {
                SqlExpr::compare(
                    CompareOp::Eq,
                    SqlExpr::column(Some(CURRENT), c),
                    SqlExpr::column(Some(STATE), c),
                )
            })
            .collect();
        SqlExpr::Subquery(Box::new(lookup))
    };
    columns.extend(collection.properties.iter().map(|p| {
        let expr = if *key == p.name || states.properties.contains(&p.name) {
            SqlExpr::column(Some(STATE), &p.name)
        } else {
            current(&p.name)
        };
        Column {
            expr,
            alias: Some(p.name.clone()),
        }
    }));
    let mut select = Select::new(
        columns,
        Source::Table {
            name: states.collection.clone(),
            alias: Some(STATE.into()),
        },
    );
    select.conditions = vec![
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(Some(STATE), TENANT_COLUMN),
            SqlExpr::Param(SqlValue::Integer(tenant)),
        ),
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(Some(STATE), "dateKey"),
            SqlExpr::Param(SqlValue::Integer(day)),
        ),
    ];
    Source::Derived {
        select: Box::new(select),
        alias,
    }
}

/// Whether the query's expressions read collections related to each row (lambdas, counts of a
/// navigation property), whose subqueries name the row's table by its alias.
fn correlates(q: &CollectionQuery<'_>) -> bool {
    let mut exprs: Vec<&Typed> = q.filter.into_iter().collect();
    exprs.extend(q.orderby.iter().map(|o| &o.expr));
    exprs.extend(q.computed.iter().map(|c| &c.expr));
    if let Some(apply) = q.apply {
        exprs.extend(&apply.filters);
        if let Some(a) = &apply.aggregation {
            exprs.extend(&a.group_by);
            exprs.extend(a.aggregates.iter().filter_map(|v| v.value.as_ref()));
        }
    }
    let correlated = |t: &Typed| match t.kind {
        TypedKind::Lambda { .. } | TypedKind::NavigationCount(_) => Recursion::Stop,
        _ => Recursion::Continue,
    };
    any_related(q.expand)
        || exprs
            .into_iter()
            .any(|e| e.apply(&mut correlated.clone()) == Recursion::Stop)
}

/// The statement's conditions on the collection's rows: the tenant, `$apply`'s filters,
/// `$filter` (unless it is on aggregated rows), the history window, the key.
pub(super) fn conditions(q: &CollectionQuery<'_>, scope: &mut Scope<'_>) -> Vec<SqlExpr> {
    let mut conditions = vec![SqlExpr::compare(
        CompareOp::Eq,
        SqlExpr::column(scope.alias.as_deref(), TENANT_COLUMN),
        SqlExpr::Param(SqlValue::Integer(q.tenant)),
    )];
    if let Some(apply) = q.apply {
        for f in &apply.filters {
            conditions.push(scope.expr(f));
        }
    }
    if let Some(f) = q
        .filter
        .filter(|_| q.apply.is_none_or(|a| a.aggregation.is_none()))
    {
        conditions.push(scope.expr(f));
    }
    if let Some(i) = q.entity.property_index("dateKey") {
        for (op, day) in q.date_key_bounds() {
            conditions.push(SqlExpr::compare(
                op,
                scope.column(i),
                SqlExpr::Param(SqlValue::Integer(day)),
            ));
        }
    }
    if let (Some(period), Some(valid)) = (q.valid_during, q.collection.validity()) {
        conditions.extend(valid_during(scope, valid, period));
    }
    if let Some(changed) = q.changed {
        conditions.extend(changed_since(q, scope, changed));
    }
    for (i, v) in q.key {
        conditions.push(SqlExpr::compare(
            CompareOp::Eq,
            scope.column(*i),
            SqlExpr::Param(v.clone()),
        ));
    }
    conditions
}

/// The `LEFT JOIN`s of `scope.joins` to the rows of `alias` (the main rows' joins hang from
/// them by the navigation property's reference, nested ones from their parent join): on the
/// tenant, the key, and for a filtered expansion its condition.
pub(super) fn left_joins<'a>(scope: &mut Scope<'a>, alias: &str) -> Vec<Join> {
    let mut out = Vec::with_capacity(scope.joins.len());
    for i in 0..scope.joins.len() {
        let j = &scope.joins[i];
        let reference = match &j.parent {
            Some((parent, property)) => SqlExpr::column(Some(parent), property),
            None => scope.column(
                scope
                    .entity
                    .property_index(&scope.entity.navigation[j.navigation].property)
                    .expect("navigation properties name a property"),
            ),
        };
        let owner = j.parent.as_ref().map_or(alias, |(parent, _)| parent);
        let mut on = vec![
            SqlExpr::compare(
                CompareOp::Eq,
                SqlExpr::column(Some(&j.alias), TENANT_COLUMN),
                SqlExpr::column(Some(owner), TENANT_COLUMN),
            ),
            SqlExpr::compare(
                CompareOp::Eq,
                SqlExpr::column(Some(&j.alias), &j.target.key[0]),
                reference,
            ),
        ];
        let (target, own, filter) = (j.target, j.alias.clone(), j.filter);
        let source = match (j.as_of_day, target.daily_states()) {
            (Some(day), Some(states)) => {
                as_of_day((target, scope.tenant), states, day, own.clone())
            }
            _ => Source::Table {
                name: target.name.clone(),
                alias: Some(own.clone()),
            },
        };
        if let Some((entity, filter)) = filter {
            let mut sub = scope.subquery(entity, own.clone(), Vec::new());
            let condition = sub.expr(filter);
            scope.resume(sub);
            on.push(if filter.nullable {
                SqlExpr::FalseWhenNull(Box::new(condition))
            } else {
                condition
            });
        }
        out.push(Join { source, on });
    }
    out
}
