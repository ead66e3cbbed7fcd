//! The SQL syntax tree the planner builds: statements ([`Select`]) with their sources, joins,
//! conditions, groups, order and limits, and expressions ([`SqlExpr`]) whose database-specific
//! forms (functions, casts, arithmetic, null-safe comparisons, JSON) stay nodes until a
//! [`super::Dialect`] renders the whole tree ([`super::render`]). Values are parameters in the
//! tree and become numbered placeholders only when rendered, so a tree can be inspected (and
//! tested) as a structure.

use super::value::SqlValue;
use odata::bind::{AggregateMethod, ArithOp, CompareOp, Function};
use odata::edm::PrimitiveType;

/// A `SELECT` statement (or subquery).
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// The select list.
    pub columns: Vec<Column>,
    /// Where the rows come from.
    pub from: Source,
    /// `LEFT JOIN`s, in order.
    pub joins: Vec<Join>,
    /// `WHERE`: all must hold.
    pub conditions: Vec<SqlExpr>,
    /// `GROUP BY`.
    pub group_by: Vec<SqlExpr>,
    /// `ORDER BY`.
    pub order_by: Vec<OrderItem>,
    /// `LIMIT`, a parameter.
    pub limit: Option<SqlValue>,
    /// `OFFSET`, a parameter.
    pub offset: Option<SqlValue>,
}

impl Select {
    /// `SELECT columns FROM from`, nothing else yet.
    pub fn new(columns: Vec<Column>, from: Source) -> Self {
        Select {
            columns,
            from,
            joins: Vec::new(),
            conditions: Vec::new(),
            group_by: Vec::new(),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        }
    }
}

/// An item of a select list: an expression, named when `alias` is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its value.
    pub expr: SqlExpr,
    /// `AS alias`.
    pub alias: Option<String>,
}

impl From<SqlExpr> for Column {
    fn from(expr: SqlExpr) -> Self {
        Column { expr, alias: None }
    }
}

/// What a statement reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A table of the model, perhaps aliased.
    Table {
        /// Its name.
        name: String,
        /// `AS alias`.
        alias: Option<String>,
    },
    /// A derived table: `(SELECT ...) AS alias`.
    Derived {
        /// The subquery.
        select: Box<Select>,
        /// Its alias.
        alias: String,
    },
}

/// `LEFT JOIN table AS alias ON conditions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// The joined rows: a table, or a statement's rows (a collection as of a day), aliased.
    pub source: Source,
    /// The join conditions, all of which must hold.
    pub on: Vec<SqlExpr>,
}

/// An `ORDER BY` item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// What is ordered by.
    pub expr: SqlExpr,
    /// Descending.
    pub descending: bool,
    /// Whether the value may be null (some dialects then say where nulls go).
    pub nullable: bool,
}

/// An SQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlExpr {
    /// A column: `table.name`, or `name` alone.
    Column {
        /// The alias of its table, when the statement names tables.
        table: Option<String>,
        /// The column.
        name: String,
    },
    /// A bound parameter.
    Param(SqlValue),
    /// `NULL`.
    Null,
    /// An integer the planner writes itself (never a client's value).
    Integer(i64),
    /// `*`: every column of the source.
    AllColumns,
    /// A row value: `(a, b, ...)`.
    Row(Vec<SqlExpr>),
    /// A Boolean constant.
    Bool(bool),
    /// `(NOT x)`.
    Not(Box<SqlExpr>),
    /// `(- x)`.
    Negate(Box<SqlExpr>),
    /// `(a AND b)`.
    And(Box<SqlExpr>, Box<SqlExpr>),
    /// `(a OR b)`.
    Or(Box<SqlExpr>, Box<SqlExpr>),
    /// `(a op b)`.
    Compare(CompareOp, Box<SqlExpr>, Box<SqlExpr>),
    /// `(x IS NULL)`, or `(x IS NOT NULL)` when `negated`.
    IsNull {
        /// The value.
        expr: Box<SqlExpr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// Equality where null equals null (inequality when `negated`), as the dialect writes it.
    NullSafeEqual {
        /// One side.
        a: Box<SqlExpr>,
        /// The other.
        b: Box<SqlExpr>,
        /// Inequality.
        negated: bool,
    },
    /// A condition that is false where it would be null, as the dialect writes it.
    FalseWhenNull(Box<SqlExpr>),
    /// `COALESCE(a, b)`.
    Coalesce(Box<SqlExpr>, Box<SqlExpr>),
    /// `(x IN (items))`.
    In(Box<SqlExpr>, Vec<SqlExpr>),
    /// A canonical function on its arguments (with their types), as the dialect writes it.
    Function(Function, Vec<(SqlExpr, Option<PrimitiveType>)>),
    /// Arithmetic whose result type the binder decided, as the dialect writes it.
    Arith(ArithOp, Box<SqlExpr>, Box<SqlExpr>, PrimitiveType),
    /// A cast between primitive types, as the dialect writes it.
    Cast(Box<SqlExpr>, Option<PrimitiveType>, PrimitiveType),
    /// A range on a column implied by a string prefix (`low` up to `high`), which an index
    /// answers, as the dialect writes it.
    PrefixRange {
        /// The column.
        column: Box<SqlExpr>,
        /// The prefix.
        low: Box<SqlExpr>,
        /// The least string above every string with the prefix, when there is one.
        high: Option<Box<SqlExpr>>,
    },
    /// An aggregate of a value (none: the rows), as the dialect writes it.
    Aggregate(AggregateMethod, Option<Box<SqlExpr>>, PrimitiveType),
    /// `COUNT(*)`.
    CountRows,
    /// `CAST(COALESCE(SUM(x), 0) AS BIGINT)`: a sum of counts, zero over no rows.
    SumOfCounts(Box<SqlExpr>),
    /// `SUM(x) OVER (ORDER BY ... ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)`: the sum
    /// of the rows before this one in the order.
    SumBefore(Box<SqlExpr>, Vec<OrderItem>),
    /// `SUM(x) OVER ()`: the sum over all rows.
    SumOfAll(Box<SqlExpr>),
    /// A JSON array of one row's cells (with their types), as the dialect writes it.
    JsonRow(Vec<(SqlExpr, PrimitiveType)>),
    /// The JSON array of `row` over the rows of a statement, in `order`, as the dialect writes
    /// it.
    JsonRows(Box<SqlExpr>, Vec<OrderItem>),
    /// `(SELECT ...)`, a scalar subquery.
    Subquery(Box<Select>),
    /// `EXISTS (SELECT ...)`, or `NOT EXISTS` when `negated`.
    Exists {
        /// The subquery.
        select: Box<Select>,
        /// `NOT EXISTS`.
        negated: bool,
    },
    /// `a * b / 100.0`: `a` percent of `b`.
    Percent(Box<SqlExpr>, Box<SqlExpr>),
}

impl SqlExpr {
    /// `table.name`.
    pub fn column(table: Option<&str>, name: &str) -> Self {
        SqlExpr::Column {
            table: table.map(str::to_string),
            name: name.to_string(),
        }
    }

    /// `(a op b)`.
    pub fn compare(op: CompareOp, a: SqlExpr, b: SqlExpr) -> Self {
        SqlExpr::Compare(op, Box::new(a), Box::new(b))
    }

    /// `(a AND b)`.
    pub fn and(a: SqlExpr, b: SqlExpr) -> Self {
        SqlExpr::And(Box::new(a), Box::new(b))
    }

    /// `(x IS NULL)` or `(x IS NOT NULL)`.
    pub fn is_null(x: SqlExpr, negated: bool) -> Self {
        SqlExpr::IsNull {
            expr: Box::new(x),
            negated,
        }
    }
}
