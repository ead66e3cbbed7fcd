//! The planner: a bound query plus tenant and paging state becomes one parameterized statement.
//!
//! Paging is keyset-based: rows are ordered by the `$orderby` expressions followed by the key, and
//! the next page starts strictly after the last row's sort values, so page 300 costs what page 1
//! costs. Tenant scoping is added here, from the principal, never from client text.

use super::joins::{any_related, expanded_columns, from_clause, joins, Join};
use super::{Dialect, SqlValue};
use crate::model::Collection;
use odata::bind::{
    AggregatedType, BoundApply, BoundOrder, CompareOp, Computed, Function, Recursion, RelatedRows,
    Typed, TypedKind, Value,
};
use odata::edm::{EntityType, PrimitiveType};
use odata::syntax::Direction;
use std::time::{Duration, Instant};

/// Column holding the tenant of every row.
pub const TENANT_COLUMN: &str = "_tenant";

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
    /// Lowest `dateKey` to return (`maxhistorydays`).
    pub min_date_key: Option<i64>,
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
}

/// Which related entities an expanded collection reads for each row ([`super::related`]).
#[derive(Debug, Clone)]
pub struct Related {
    /// The related entity type's property that holds the parent's key.
    pub referenced: String,
    /// The nested options.
    pub rows: RelatedRows,
    /// Lowest `dateKey` to read (`maxhistorydays`).
    pub min_date_key: Option<i64>,
}

/// The navigation properties an expression reaches through.
pub(super) fn navigations(t: &Typed, out: &mut Vec<usize>) {
    t.walk(&mut |e| {
        if let TypedKind::Related { navigation, .. } = &e.kind {
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

/// Renders bound expressions as SQL, collecting their parameters.
pub(super) struct Renderer<'a> {
    pub(super) dialect: &'a dyn Dialect,
    pub(super) entity: &'a EntityType,
    pub(super) params: Vec<SqlValue>,
    pub(super) now_micros: i64,
    /// The main table's alias when the statement joins others.
    pub(super) alias: Option<String>,
    /// The joined collections.
    pub(super) joins: Vec<Join<'a>>,
    /// Set while rendering expressions on aggregated rows: properties are their values' columns.
    pub(super) aggregated: Option<&'a AggregatedType>,
    /// Set while rendering a lambda predicate: the alias and collection of its variable.
    element: Option<(String, &'static Collection)>,
    /// Subqueries rendered so far (each gets its own alias).
    pub(super) subqueries: usize,
}

impl Renderer<'_> {
    pub(super) fn param(&mut self, v: SqlValue) -> String {
        let p = self.dialect.placeholder(self.params.len() + 1, &v);
        self.params.push(v);
        p
    }

    /// The column of an aggregated row holding value `v`.
    pub(super) fn value_column(&self, v: usize) -> String {
        self.dialect.quote(&format!("c{v}"))
    }

    pub(super) fn column(&self, index: usize) -> String {
        if let Some(a) = self.aggregated {
            return self.value_column(a.values[index]);
        }
        let name = self.dialect.quote(&self.entity.properties[index].name);
        match &self.alias {
            Some(a) => format!("{a}.{name}"),
            None => name,
        }
    }

    fn value(&mut self, v: &Value) -> String {
        match v {
            Value::Null => "NULL".into(),
            Value::Boolean(b) => self.dialect.boolean(*b).into(),
            other => self.param(sql_value(other)),
        }
    }

    pub(super) fn expr(&mut self, t: &Typed) -> String {
        match &t.kind {
            TypedKind::Literal(v) => self.value(v),
            TypedKind::Property(i) => self.column(*i),
            TypedKind::Related {
                navigation,
                property,
            } if self.aggregated.is_some() => {
                let a = self.aggregated.expect("checked");
                self.value_column(a.nested_values[*navigation][*property])
            }
            TypedKind::Related {
                navigation,
                property,
            } => {
                let join = self
                    .joins
                    .iter()
                    .find(|j| {
                        j.parent.is_none() && j.filter.is_none() && j.navigation == *navigation
                    })
                    .expect("every navigation reached is joined");
                format!(
                    "{}.{}",
                    join.alias,
                    self.dialect.quote(&join.target.properties[*property].name)
                )
            }
            TypedKind::Element(p) => {
                let (alias, collection) = self.element.as_ref().expect("inside a lambda");
                format!(
                    "{alias}.{}",
                    self.dialect.quote(&collection.properties[*p].name)
                )
            }
            TypedKind::Lambda {
                navigation,
                all,
                predicate,
            } => self.lambda(*navigation, *all, predicate.as_deref()),
            TypedKind::NavigationCount(navigation) => {
                let (from, correlation) = self.correlated(*navigation);
                format!("(SELECT COUNT(*) FROM {from} WHERE {correlation})")
            }
            TypedKind::Now => self.param(SqlValue::Timestamp(self.now_micros)),
            TypedKind::Not(x) => format!("(NOT {})", self.expr(x)),
            TypedKind::Negate(x) => format!("(- {})", self.expr(x)),
            TypedKind::And(a, b) => format!("({} AND {})", self.expr(a), self.expr(b)),
            TypedKind::Or(a, b) => format!("({} OR {})", self.expr(a), self.expr(b)),
            TypedKind::Compare(op, a, b) => self.compare(*op, a, b),
            TypedKind::Arith(op, a, b) => {
                let (sa, sb) = (self.expr(a), self.expr(b));
                self.dialect
                    .arithmetic(*op, &sa, &sb, t.ty.unwrap_or(PrimitiveType::Int32))
            }
            TypedKind::In(x, list) => {
                let sx = self.expr(x);
                let has_null = list.iter().any(|i| i.ty.is_none());
                let items: Vec<String> = list
                    .iter()
                    .filter(|i| i.ty.is_some())
                    .map(|i| self.expr(i))
                    .collect();
                let mut sql = if items.is_empty() {
                    self.dialect.boolean(false).to_string()
                } else {
                    format!("({sx} IN ({}))", items.join(", "))
                };
                if x.nullable && !repeatable(x) {
                    // two-valued with the operand named once: a null operand is in the list
                    // when the list has null
                    return match (items.is_empty(), has_null) {
                        (true, true) => format!("({sx} IS NULL)"),
                        (true, false) => sql,
                        (false, _) => {
                            format!("COALESCE({sql}, {})", self.dialect.boolean(has_null))
                        }
                    };
                }
                if x.nullable {
                    // two-valued, and still a condition an index answers
                    sql = format!("({sql} AND {sx} IS NOT NULL)");
                    if has_null {
                        sql = format!("({sql} OR {sx} IS NULL)");
                    }
                }
                sql
            }
            TypedKind::Call(f, args) => {
                let rendered: Vec<(String, Option<PrimitiveType>)> =
                    args.iter().map(|a| (self.expr(a), a.ty)).collect();
                let call = self.dialect.function(*f, &rendered);
                match (f, &args[..]) {
                    (Function::StartsWith, [column, prefix]) => {
                        self.with_prefix_range(call, column, prefix)
                    }
                    _ => call,
                }
            }
            TypedKind::Cast(x, to) => {
                let sx = self.expr(x);
                self.dialect.cast(&sx, x.ty, *to)
            }
        }
    }

    /// `EXISTS` (`any`) or `NOT EXISTS` of the entities of a collection-valued navigation
    /// property that meet (`any`) or fail (`all`) the predicate.
    fn lambda(&mut self, navigation: usize, all: bool, predicate: Option<&Typed>) -> String {
        let (from, correlation) = self.correlated(navigation);
        let alias = format!("l{}", self.subqueries);
        let outer = self
            .element
            .replace((alias, target_collection(self.entity, navigation)));
        let condition = predicate.map(|p| {
            let sql = self.expr(p);
            if p.nullable {
                self.dialect.false_when_null(&sql)
            } else {
                sql
            }
        });
        self.element = outer;
        match (all, condition) {
            (false, None) => format!("EXISTS (SELECT 1 FROM {from} WHERE {correlation})"),
            (false, Some(c)) => {
                format!("EXISTS (SELECT 1 FROM {from} WHERE {correlation} AND {c})")
            }
            (true, None) => self.dialect.boolean(true).to_string(),
            (true, Some(c)) => {
                format!("NOT EXISTS (SELECT 1 FROM {from} WHERE {correlation} AND NOT {c})")
            }
        }
    }

    /// The next subquery's `FROM` over the collection a collection-valued navigation property
    /// leads to, and its correlation with the current row (same tenant, reference = key).
    fn correlated(&mut self, navigation: usize) -> (String, String) {
        self.subqueries += 1;
        let alias = format!("l{}", self.subqueries);
        let nav = &self.entity.navigation[navigation];
        let target = target_collection(self.entity, navigation);
        let key = self
            .entity
            .property_index(&nav.property)
            .expect("collection navigation properties name the key");
        let outer_alias = self
            .alias
            .as_deref()
            .expect("correlated subqueries need the row's alias");
        let tenant = self.dialect.quote(TENANT_COLUMN);
        (
            format!("{} AS {alias}", self.dialect.quote(&target.name)),
            format!(
                "{alias}.{tenant} = {outer_alias}.{tenant} AND {alias}.{} = {}",
                self.dialect.quote(&nav.referenced_property),
                self.column(key)
            ),
        )
    }

    /// `startswith(column, 'literal')` with a range on the column beside it, which an index on
    /// the column answers (the call itself still decides).
    fn with_prefix_range(&mut self, call: String, column: &Typed, prefix: &Typed) -> String {
        let (TypedKind::Property(_), TypedKind::Literal(Value::String(p))) =
            (&column.kind, &prefix.kind)
        else {
            return call;
        };
        if p.is_empty() {
            return call;
        }
        let column_sql = self.expr(column);
        let low = self.param(SqlValue::Text(p.clone()));
        let high = prefix_successor(p).map(|h| self.param(SqlValue::Text(h)));
        let range = self
            .dialect
            .prefix_range(&column_sql, &low, high.as_deref());
        format!("({range} AND {call})")
    }

    fn compare(&mut self, op: CompareOp, a: &Typed, b: &Typed) -> String {
        let (a_null, b_null) = (a.ty.is_none(), b.ty.is_none());
        if a_null || b_null {
            let other = if a_null { b } else { a };
            return match (op, a_null && b_null) {
                (CompareOp::Eq, true) => self.dialect.boolean(true).into(),
                (CompareOp::Ne, true) => self.dialect.boolean(false).into(),
                (CompareOp::Eq, false) => format!("({} IS NULL)", self.expr(other)),
                (CompareOp::Ne, false) => format!("({} IS NOT NULL)", self.expr(other)),
                _ => self.dialect.boolean(false).into(),
            };
        }
        let (sa, sb) = (self.expr(a), self.expr(b));
        let nullable = a.nullable || b.nullable;
        // A nullable operand beside a constant: two-valued forms an index answers (`IS NOT
        // DISTINCT FROM` and `COALESCE(...)` hide the column from the planner).
        let constant = |t: &Typed| matches!(t.kind, TypedKind::Literal(_) | TypedKind::Now);
        let operand_repeatable = if constant(a) {
            repeatable(b)
        } else {
            repeatable(a)
        };
        if nullable && (constant(a) || constant(b)) && operand_repeatable {
            let operand = if constant(a) { &sb } else { &sa };
            let sym = match op {
                CompareOp::Eq => "=",
                CompareOp::Ne => return format!("({sa} <> {sb} OR {operand} IS NULL)"),
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
                CompareOp::Lt => "<",
                CompareOp::Le => "<=",
            };
            return format!("({sa} {sym} {sb} AND {operand} IS NOT NULL)");
        }
        let sym = match op {
            CompareOp::Eq | CompareOp::Ne if nullable => {
                return self.dialect.null_safe_equal(&sa, &sb, op == CompareOp::Ne)
            }
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        };
        let sql = format!("({sa} {sym} {sb})");
        if nullable {
            self.dialect.false_when_null(&sql)
        } else {
            sql
        }
    }
}

/// Whether `t` renders as a column or a parameter, which SQL may name more than once at a
/// constant cost. Anything else is named once: a form that repeated a nested expression would
/// multiply the statement's size at each level of nesting.
fn repeatable(t: &Typed) -> bool {
    matches!(
        t.kind,
        TypedKind::Literal(_)
            | TypedKind::Property(_)
            | TypedKind::Related { .. }
            | TypedKind::Element(_)
            | TypedKind::Now
    )
}

/// The least string, in code point order, above every string that starts with `prefix`: the
/// prefix with its last character replaced by the next one (dropping trailing characters that
/// have no next one); `None` when every character is the last code point.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
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

/// One expression of a statement's order.
pub(super) struct SortKey {
    pub(super) sql: String,
    pub(super) ty: Option<PrimitiveType>,
    pub(super) nullable: bool,
    pub(super) descending: bool,
}

/// A sort-key value read back from a row (integers, reals, text) bound as its key's type.
fn typed(v: &SqlValue, ty: Option<PrimitiveType>) -> SqlValue {
    match (v, ty) {
        (SqlValue::Integer(i), Some(PrimitiveType::DateTimeOffset)) => SqlValue::Timestamp(*i),
        (SqlValue::Integer(i), Some(PrimitiveType::Boolean)) => SqlValue::Boolean(*i != 0),
        (SqlValue::Text(s), Some(PrimitiveType::Date)) => SqlValue::Date(s.clone()),
        (SqlValue::Text(s), Some(PrimitiveType::TimeOfDay)) => SqlValue::Time(s.clone()),
        (other, _) => other.clone(),
    }
}

/// Plans the page and count statements of a collection request; refused when either would be
/// longer than [`MAX_STATEMENT_BYTES`]. The time spent is recorded in each statement.
pub fn plan(q: &CollectionQuery<'_>, dialect: &dyn Dialect) -> Result<Plan, StatementTooLarge> {
    let started = Instant::now();
    let mut plan = render(q, dialect);
    let bytes = plan.rows.sql.len().max(plan.count.sql.len());
    if bytes > MAX_STATEMENT_BYTES {
        return Err(StatementTooLarge { bytes });
    }
    let planning = started.elapsed();
    plan.rows.planning = planning;
    plan.count.planning = planning;
    Ok(plan)
}

/// The page and count statements of a collection request.
fn render(q: &CollectionQuery<'_>, dialect: &dyn Dialect) -> Plan {
    if let Some(aggregation) = q.apply.and_then(|a| a.aggregation.as_ref()) {
        return super::aggregate::plan_aggregated(q, aggregation, dialect);
    }
    let mut r = Renderer::new(q, dialect);
    let table = from_clause(q, &mut r);
    let mut conditions = conditions(q, &mut r);
    let unfiltered = q.filter.is_none() && q.apply.is_none_or(|a| a.filters.is_empty());
    let (count_sql, count_params) = if unfiltered && q.key.is_empty() {
        kept_count(dialect, q)
    } else {
        (
            format!(
                "SELECT COUNT(*) FROM {table} WHERE {}",
                conditions.join(" AND ")
            ),
            r.params.clone(),
        )
    };
    let order = sort_order(q, &mut r);
    if let Some(after) = q.after {
        conditions.push(keyset_predicate(&mut r, &order.keys, &after.0));
    }
    let mut columns: Vec<String> = q.select.iter().map(|&i| r.column(i)).collect();
    for c in q.computed {
        let sql = r.expr(&c.expr);
        columns.push(sql);
    }
    let selected = columns.len();
    columns.extend(order.keys.iter().map(|s| s.sql.clone()));
    let (expanded, related) = expanded_columns(q, &mut r, &mut columns);
    let order_by: Vec<String> = order
        .keys
        .iter()
        .map(|s| format!("{} {}", s.sql, dialect.order(s.descending, s.nullable)))
        .collect();
    let limit = q.limit.map(|l| r.param(SqlValue::Integer(clamp(l))));
    let offset = (q.offset > 0).then(|| r.param(SqlValue::Integer(clamp(q.offset))));
    let sql = format!(
        "SELECT {} FROM {table} WHERE {} ORDER BY {}{}",
        columns.join(", "),
        conditions.join(" AND "),
        order_by.join(", "),
        dialect.limit_offset(limit.as_deref(), offset.as_deref()),
    );
    Plan {
        rows: PlannedQuery {
            sql,
            params: r.params,
            tenant: Some(q.tenant),
            planning: Duration::ZERO,
            client: None,
        },
        count: PlannedQuery {
            sql: count_sql,
            params: count_params,
            tenant: Some(q.tenant),
            planning: Duration::ZERO,
            client: None,
        },
        cursor: Cursor {
            selected,
            sort_keys: order.keys.len(),
            key_columns: order
                .key_positions
                .into_iter()
                .map(|i| selected + i.expect("every key is a sort key"))
                .collect(),
            expanded,
            related,
        },
    }
}

impl<'a> Renderer<'a> {
    /// A renderer for a subquery over the rows of `entity` as `alias`, joined to `joins`, whose
    /// parameters follow this one's (take them back with [`Renderer::resume`]).
    pub(super) fn subquery(
        &mut self,
        entity: &'a EntityType,
        alias: String,
        joins: Vec<Join<'a>>,
    ) -> Renderer<'a> {
        Renderer {
            dialect: self.dialect,
            entity,
            params: std::mem::take(&mut self.params),
            now_micros: self.now_micros,
            alias: Some(alias),
            joins,
            aggregated: None,
            element: None,
            subqueries: self.subqueries,
        }
    }

    /// Takes back the parameters (and subquery numbering) of a finished [`Renderer::subquery`].
    pub(super) fn resume(&mut self, sub: Renderer<'a>) {
        self.params = sub.params;
        self.subqueries = sub.subqueries;
    }

    /// A renderer for the collection's rows, joined to the collections the query reaches.
    pub(super) fn new(q: &CollectionQuery<'a>, dialect: &'a dyn Dialect) -> Self {
        let joins = joins(q);
        Renderer {
            dialect,
            entity: q.entity,
            params: Vec::new(),
            now_micros: q.now_micros,
            alias: (!joins.is_empty() || correlates(q)).then(|| "t0".to_string()),
            joins,
            aggregated: None,
            element: None,
            subqueries: 0,
        }
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
pub(super) fn conditions(q: &CollectionQuery<'_>, r: &mut Renderer<'_>) -> Vec<String> {
    let tenant_column = match &r.alias {
        Some(a) => format!("{a}.{}", r.dialect.quote(TENANT_COLUMN)),
        None => r.dialect.quote(TENANT_COLUMN),
    };
    let tenant = r.param(SqlValue::Integer(q.tenant));
    let mut conditions = vec![format!("{tenant_column} = {tenant}")];
    if let Some(apply) = q.apply {
        for f in &apply.filters {
            conditions.push(r.expr(f));
        }
    }
    if let Some(f) = q
        .filter
        .filter(|_| q.apply.is_none_or(|a| a.aggregation.is_none()))
    {
        conditions.push(r.expr(f));
    }
    if let (Some(min), Some(i)) = (q.min_date_key, q.entity.property_index("dateKey")) {
        let p = r.param(SqlValue::Integer(min));
        conditions.push(format!("{} >= {p}", r.column(i)));
    }
    for (i, v) in q.key {
        let p = r.param(v.clone());
        conditions.push(format!("{} = {p}", r.column(*i)));
    }
    conditions
}

/// The rows' order: the sort keys, and where each key property is among them.
struct SortOrder {
    /// `$orderby`, then the key properties not already ordered by.
    keys: Vec<SortKey>,
    /// The position in `keys` of each key property, in key order.
    key_positions: Vec<Option<usize>>,
}

/// Sort keys: `$orderby`, then key properties not already ordered by, so the order is total.
fn sort_order(q: &CollectionQuery<'_>, r: &mut Renderer<'_>) -> SortOrder {
    let mut keys: Vec<SortKey> = Vec::new();
    let mut key_positions = vec![None; q.entity.key.len()];
    for o in q.orderby {
        if let TypedKind::Property(p) = o.expr.kind {
            if let Some(k) = q.entity.key_indices().iter().position(|&ki| ki == p) {
                key_positions[k].get_or_insert(keys.len());
            }
        }
        keys.push(SortKey {
            sql: r.expr(&o.expr),
            ty: o.expr.ty,
            nullable: o.expr.nullable,
            descending: o.direction == Direction::Desc,
        });
    }
    for (k, p) in q.entity.key_indices().into_iter().enumerate() {
        if key_positions[k].is_none() {
            key_positions[k] = Some(keys.len());
            keys.push(SortKey {
                sql: r.column(p),
                ty: Some(q.entity.properties[p].ty),
                nullable: q.entity.properties[p].nullable,
                descending: false,
            });
        }
    }
    SortOrder {
        keys,
        key_positions,
    }
}

/// An unfiltered count from the counts each publication keeps ([`crate::schema::COUNTS_TABLE`])
/// instead of a scan of the collection: the days from `maxhistorydays` on, or all of them.
fn kept_count(dialect: &dyn Dialect, q: &CollectionQuery<'_>) -> (String, Vec<SqlValue>) {
    let column = |c: &str| dialect.quote(c);
    let mut params = vec![
        SqlValue::Integer(q.tenant),
        SqlValue::Text(q.collection.name.clone()),
    ];
    let mut sql = format!(
        "SELECT CAST(COALESCE(SUM({}), 0) AS BIGINT) FROM {} WHERE {} = {} AND {} = {}",
        column("row_count"),
        column(crate::schema::COUNTS_TABLE),
        column(TENANT_COLUMN),
        dialect.placeholder(1, &params[0]),
        column("collection"),
        dialect.placeholder(2, &params[1]),
    );
    if let (Some(min), Some(_)) = (q.min_date_key, q.entity.property_index("dateKey")) {
        params.push(SqlValue::Integer(min));
        sql.push_str(&format!(
            " AND {} >= {}",
            column("date_key"),
            dialect.placeholder(3, &params[2])
        ));
    }
    (sql, params)
}

/// Rows strictly after `values` in the sort order. Uses a row-value comparison (which both
/// stores answer from the index) when every key is non-null and sorted the same way, and the
/// expanded form `a > x OR (a = x AND (...))` with null handling otherwise.
pub(super) fn keyset_predicate(
    r: &mut Renderer<'_>,
    sort: &[SortKey],
    values: &[SqlValue],
) -> String {
    let uniform = sort
        .iter()
        .all(|s| !s.nullable && s.descending == sort[0].descending)
        && values.iter().all(|v| !v.is_null());
    if uniform {
        let params: Vec<String> = values
            .iter()
            .zip(sort)
            .map(|(v, s)| r.param(typed(v, s.ty)))
            .collect();
        let keys: Vec<&str> = sort.iter().map(|s| s.sql.as_str()).collect();
        let op = if sort[0].descending { "<" } else { ">" };
        return format!("(({}) {op} ({}))", keys.join(", "), params.join(", "));
    }
    let mut acc: Option<String> = None;
    for (s, v) in sort.iter().zip(values).rev() {
        let (after, equal) = if v.is_null() {
            let after = if s.descending {
                r.dialect.boolean(false).to_string()
            } else {
                format!("{} IS NOT NULL", s.sql)
            };
            (after, format!("{} IS NULL", s.sql))
        } else {
            let p = r.param(typed(v, s.ty));
            let after = match (s.descending, s.nullable) {
                (false, _) => format!("{} > {p}", s.sql),
                (true, false) => format!("{} < {p}", s.sql),
                (true, true) => format!("({} < {p} OR {} IS NULL)", s.sql, s.sql),
            };
            (after, format!("{} = {p}", s.sql))
        };
        acc = Some(match acc {
            None => format!("({after})"),
            Some(rest) => format!("(({after}) OR ({equal} AND {rest}))"),
        });
    }
    acc.unwrap_or_else(|| r.dialect.boolean(true).to_string())
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn the_successor_of_a_prefix_bounds_every_string_that_starts_with_it() {
        assert_eq!(prefix_successor("DESKTOP-").as_deref(), Some("DESKTOP."));
        assert_eq!(prefix_successor("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_successor("é").as_deref(), Some("ê"));
        // surrogates are not characters: U+D7FF is followed by U+E000
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        for s in ["DESKTOP-1", "DESKTOP-\u{10FFFF}zz", "DESKTOP-"] {
            assert!(s < prefix_successor("DESKTOP-").unwrap().as_str(), "{s}");
        }
    }
}
