//! The counts each publication keeps (written by the store's publication, [`crate::schema`]
//! creates their tables) and the planner reads instead of scanning a collection.

use super::dialect::Dialect;
use super::query::{PlannedQuery, TENANT_COLUMN};
use super::render::Render;
use super::tree::{Column, Select, Source, SqlExpr};
use super::value::SqlValue;
use crate::model::Collection;
use odata::bind::{AggregateMethod, CompareOp};
use odata::edm::PrimitiveType;

/// Rows per tenant, collection and day (`dateKey`, 0 for collections without one), written by
/// each publication in its own transaction, so an unfiltered `$count` reads a few rows instead
/// of a whole table and always agrees with the published data (migration 5).
pub const COUNTS_TABLE: &str = "_dw_counts";
/// Rows per tenant, collection, property, day and value of the properties in [`VALUE_COUNTS`],
/// kept by each publication like [`COUNTS_TABLE`]: reports that count rows by day and one of
/// them (`$apply=groupby((dateKey,complianceStateKey),aggregate($count as n))`) read a few
/// hundred of these instead of millions of rows. The day's column is named as the collections
/// name it (`dateKey`), so that conditions on it are written the same way.
pub const VALUE_COUNTS_TABLE: &str = "_dw_value_counts";

/// The (collection, property) pairs counted by day and value in [`VALUE_COUNTS_TABLE`]: the
/// compliance state of device histories, which the compliance reports group by (a handful of
/// values, so 30 days are some 200 rows).
pub const VALUE_COUNTS: &[(&str, &str)] = &[("devicePropertyHistories", "complianceStateKey")];

/// The statement that reads the first and last day (`dateKey`) of `collection` a tenant's
/// publications hold, from [`COUNTS_TABLE`]: one row of two values, null when there are none.
/// A request for a day outside them is told the range kept.
pub fn kept_days(collection: &Collection, tenant: i64, dialect: &dyn Dialect) -> PlannedQuery {
    let day = || Some(Box::new(SqlExpr::column(None, "date_key")));
    let mut select = Select::new(
        vec![
            Column::from(SqlExpr::Aggregate(
                AggregateMethod::Min,
                day(),
                PrimitiveType::Int32,
            )),
            Column::from(SqlExpr::Aggregate(
                AggregateMethod::Max,
                day(),
                PrimitiveType::Int32,
            )),
        ],
        Source::Table {
            name: COUNTS_TABLE.into(),
            alias: None,
        },
    );
    select.conditions = vec![
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(None, TENANT_COLUMN),
            SqlExpr::Param(SqlValue::Integer(tenant)),
        ),
        SqlExpr::compare(
            CompareOp::Eq,
            SqlExpr::column(None, "collection"),
            SqlExpr::Param(SqlValue::Text(collection.name.clone())),
        ),
    ];
    let (sql, params) = Render::statement(dialect, &select);
    PlannedQuery {
        sql,
        params,
        tenant: Some(tenant),
        planning: std::time::Duration::ZERO,
        client: None,
    }
}
