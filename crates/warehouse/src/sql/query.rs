//! What the planner reads and what it gives: a collection query resolved for one tenant
//! ([`CollectionQuery`], with its expansions), and the statements of its page and count with
//! the layout of their rows ([`Plan`]).

use super::tree::Select;
use super::value::SqlValue;
use crate::model::Collection;
use odata::bind::{BoundApply, BoundOrder, CompareOp, Computed, RelatedRows, Typed, Value};
use odata::edm::EntityType;
use std::time::Duration;

/// Column holding the tenant of every row.
pub const TENANT_COLUMN: &str = "_tenant";

/// The rows a delta reads: those written by the publications after generation `since`, of
/// daily facts only on the days from `from_day` (the earliest any of them wrote), where they
/// are; with expansions, also the rows whose expanded entities those publications wrote, and
/// every row when they deleted some of them (`every_row`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed {
    /// The generation the client's copy is current at.
    pub since: i64,
    /// The earliest `dateKey` the later publications wrote of a daily fact.
    pub from_day: Option<i64>,
    /// Whether the later publications deleted rows of an expanded collection (retention, a day
    /// ingested again): which rows' expansions lost them is not recorded, so every row is told.
    pub every_row: bool,
    /// Whether to read the rows in key order, checking each row's publication, rather than
    /// find them by the index of publications: when most rows were written.
    pub by_key: bool,
}

/// Table of tenants and their publication state.
pub const TENANTS_TABLE: &str = "_dw_tenants";

/// Where the previous page ended: the sort-key values of its last row.
#[derive(Debug, Clone, PartialEq)]
pub struct KeysetPosition(pub Vec<SqlValue>);

/// What to read from a collection.
#[derive(Debug, Clone)]
pub struct CollectionQuery<'a> {
    /// The collection (its name is the table name).
    pub collection: &'a Collection,
    /// Its entity type in the requested version.
    pub entity: &'a EntityType,
    /// Tenant id from the principal.
    pub tenant: i64,
    /// Bound `$apply`. With an aggregation, the rows are the aggregated rows, and `filter` and
    /// `orderby` are bound against their type ([`AggregatedType`]); `select` and `expand` are
    /// not used.
    pub apply: Option<&'a BoundApply>,
    /// Bound `$filter`.
    pub filter: Option<&'a Typed>,
    /// Bound `$orderby`.
    pub orderby: &'a [BoundOrder],
    /// Properties to return (indices into the entity type).
    pub select: &'a [usize],
    /// Computed properties to return after them (`$compute`).
    pub computed: &'a [Computed],
    /// Key values for single-entity reads (property index, value).
    pub key: &'a [(usize, SqlValue)],
    /// Lowest `dateKey` to return (`maxhistorydays`, `$at`).
    pub min_date_key: Option<i64>,
    /// Highest `dateKey` to return (`$at`).
    pub max_date_key: Option<i64>,
    /// The period (microseconds, closed-open: start, and end if any) a dimension's rows must
    /// have been valid during (`$at`: an instant; `$from`/`$to`): rows whose state began before
    /// it ended and had not ended before it began ([`crate::model::Collection::validity`]).
    pub valid_during: Option<(i64, Option<i64>)>,
    /// The day (`dateKey`) a dimension with daily states is read as of (`$at`): its rows joined
    /// to that day's rows of the fact that records them, the recorded properties from the fact
    /// ([`crate::model::Collection::daily_states`]).
    pub as_of_day: Option<i64>,
    /// Only the rows publications after a generation wrote (a delta).
    pub changed: Option<Changed>,
    /// Continue after this position.
    pub after: Option<&'a KeysetPosition>,
    /// Rows to skip (first page only).
    pub offset: u64,
    /// Most rows to return.
    pub limit: Option<u64>,
    /// Value of `now()`, in microseconds since the Unix epoch.
    pub now_micros: i64,
    /// Related entities to read with each row (`$expand`).
    pub expand: &'a [Expansion<'a>],
}

impl CollectionQuery<'_> {
    /// The bounds on `dateKey` ([`Self::min_date_key`], [`Self::max_date_key`]) as comparisons
    /// the day must pass.
    pub fn date_key_bounds(&self) -> impl Iterator<Item = (CompareOp, i64)> {
        [
            (CompareOp::Ge, self.min_date_key),
            (CompareOp::Le, self.max_date_key),
        ]
        .into_iter()
        .filter_map(|(op, day)| Some((op, day?)))
    }
}

/// A related entity read with each row (`$expand`), joined on the reference property of a
/// navigation property to the key of the related collection (a dimension: one row or none).
#[derive(Debug, Clone)]
pub struct Expansion<'a> {
    /// The navigation property (index into the parent entity type's `navigation`).
    pub navigation: usize,
    /// The parent's property that holds the related entity's key.
    pub reference: String,
    /// The related collection.
    pub target: &'a Collection,
    /// Its entity type, which computed properties and nested options are bound against.
    pub entity: &'a EntityType,
    /// Its properties to read (indices into its properties).
    pub select: Vec<usize>,
    /// Its computed properties to read after them (a nested `$compute`).
    pub computed: Vec<Computed>,
    /// The nested `$filter` (and `$search`): the related entities that meet it (a single one
    /// that fails it reads as none).
    pub filter: Option<Typed>,
    /// The related entity's own expansions.
    pub expand: Vec<Expansion<'a>>,
    /// For a collection-valued navigation property: which related entities (then `reference`
    /// is the parent's key property, and `select`, `computed` and `expand` apply to each
    /// entity).
    pub related: Option<Related>,
    /// For a single related entity of a dimension with daily states read at a point in time
    /// (`$at`, the request's or its own): the day (`dateKey`) it is read as of.
    pub as_of_day: Option<i64>,
}

/// Which related entities an expanded collection reads for each row ([`super::related`]).
#[derive(Debug, Clone)]
pub struct Related {
    /// The related entity type's property that holds the parent's key.
    pub referenced: String,
    /// The nested options.
    pub rows: RelatedRows,
    /// Lowest `dateKey` to read (`maxhistorydays`, the days of a temporal period).
    pub min_date_key: Option<i64>,
    /// Highest `dateKey` to read (the days of a temporal period).
    pub max_date_key: Option<i64>,
    /// The period (microseconds, closed-open) the related rows' validity must overlap
    /// ([`CollectionQuery::valid_during`]).
    pub valid_during: Option<(i64, Option<i64>)>,
}

/// Layout of the rows a planned query returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// Row columns `0..selected` are the selected properties, in `select` order, then the
    /// computed properties.
    pub selected: usize,
    /// Row columns `selected..selected + sort_keys` are the sort-key values (for the next
    /// page's position).
    pub sort_keys: usize,
    /// Row column of each key property, in key order.
    pub key_columns: Vec<usize>,
    /// Per expansion, depth first: the row column of the related entity's key (null when there
    /// is none), followed by its selected and computed properties; for an expanded collection, the column of
    /// its entities (unless only counted), then of their count (when counted).
    pub expanded: Vec<usize>,
    /// Per expanded collection, depth first: the layout of its entities' rows (no sort keys).
    pub related: Vec<Cursor>,
}

/// A statement with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedQuery {
    /// SQL text (identifiers from the model only).
    pub sql: String,
    /// Bound parameters.
    pub params: Vec<SqlValue>,
    /// Tenant the statement reads; stores with row-level security scope the transaction to it.
    pub tenant: Option<i64>,
    /// Time already spent writing the statement, which stores count against its time budget.
    pub planning: Duration,
    /// The client (or user) the statement runs for within its tenant, when known: a tenant's
    /// statements are shared between its clients ([`crate::TenantFair`]).
    pub client: Option<String>,
}

impl Plan {
    /// The plan, its statements run for `client` of their tenant ([`PlannedQuery::client`]).
    pub fn for_client(mut self, client: &str) -> Self {
        self.rows.client = Some(client.to_string());
        self.count.client = Some(client.to_string());
        self
    }
}

/// Most bytes of SQL in one planned statement. Statements grow linearly with the request's
/// expressions (every dialect names each argument once), so only requests near every other
/// limit at once come close; beyond it the request is refused before anything runs.
pub const MAX_STATEMENT_BYTES: usize = 4 << 20;

/// A request whose statement would be longer than [`MAX_STATEMENT_BYTES`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the query's SQL statement would be {bytes} bytes long, over the limit of {MAX_STATEMENT_BYTES} \
     bytes; use fewer or simpler expressions"
)]
pub struct StatementTooLarge {
    /// The statement's length.
    pub bytes: usize,
}

/// The statements of one collection request.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The page query.
    pub rows: PlannedQuery,
    /// The count of all matching rows (ignoring paging).
    pub count: PlannedQuery,
    /// Layout of the page query's rows.
    pub cursor: Cursor,
}

/// A count as a bound integer (counts beyond `i64::MAX` mean "all").
pub(super) fn clamp(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

/// The parameter value of a bound constant.
pub fn sql_value(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Boolean(b) => SqlValue::Boolean(*b),
        Value::Integer(i) => SqlValue::Integer(*i),
        Value::Decimal(d) => SqlValue::Real(d.parse().unwrap_or(f64::NAN)),
        Value::Double(d) => SqlValue::Real(*d),
        Value::String(s) | Value::Guid(s) => SqlValue::Text(s.clone()),
        Value::DateTimeOffset(d) => SqlValue::Timestamp((d.unix_timestamp_nanos() / 1000) as i64),
        Value::Date(d) => SqlValue::Date(format!(
            "{:04}-{:02}-{:02}",
            d.year(),
            d.month() as u8,
            d.day()
        )),
        Value::TimeOfDay(t) => {
            let mut s = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
            if t.microsecond() != 0 {
                s.push_str(&format!(".{:06}", t.microsecond()));
            }
            SqlValue::Time(s)
        }
        Value::Duration(d) => SqlValue::Integer(*d),
    }
}

/// The trees of a collection request's statements, before any dialect renders them.
#[derive(Debug, Clone, PartialEq)]
pub struct Statements {
    /// The page query.
    pub rows: Select,
    /// The count of all matching rows (ignoring paging).
    pub count: Select,
    /// Layout of the page query's rows.
    pub cursor: Cursor,
}
