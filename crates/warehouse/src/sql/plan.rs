//! The planner: a collection query for one tenant and page becomes the SQL tree of its page and
//! count statements ([`build`]: of entities in [`super::entities`], of aggregated rows in
//! [`super::aggregate`]), which its dialect renders once ([`plan`]).
//!
//! Paging is keyset-based: rows are ordered by the `$orderby` expressions followed by the key, and
//! the next page starts strictly after the last row's sort values, so page 300 costs what page 1
//! costs. Tenant scoping is added here, from the principal, never from client text.

use super::dialect::Dialect;
use super::query::{
    CollectionQuery, Plan, PlannedQuery, StatementTooLarge, Statements, MAX_STATEMENT_BYTES,
};
use super::render::Render;
use std::time::Instant;

/// Plans the page and count statements of a collection request; refused when either would be
/// longer than [`MAX_STATEMENT_BYTES`]. The time spent is recorded in each statement.
pub fn plan(q: &CollectionQuery<'_>, dialect: &dyn Dialect) -> Result<Plan, StatementTooLarge> {
    let started = Instant::now();
    let statements = build(q);
    let (rows_sql, rows_params) = Render::statement(dialect, &statements.rows);
    let (count_sql, count_params) = Render::statement(dialect, &statements.count);
    let bytes = rows_sql.len().max(count_sql.len());
    if bytes > MAX_STATEMENT_BYTES {
        return Err(StatementTooLarge { bytes });
    }
    let planning = started.elapsed();
    let statement = |sql, params| PlannedQuery {
        sql,
        params,
        tenant: Some(q.tenant),
        planning,
        client: None,
    };
    Ok(Plan {
        rows: statement(rows_sql, rows_params),
        count: statement(count_sql, count_params),
        cursor: statements.cursor,
    })
}

/// The statements of a collection request, as trees.
pub fn build(q: &CollectionQuery<'_>) -> Statements {
    match q.apply.and_then(|a| a.aggregation.as_ref()) {
        Some(aggregation) => super::aggregate::build_aggregated(q, aggregation),
        None => super::entities::build_entities(q),
    }
}
