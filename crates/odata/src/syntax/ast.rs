//! Syntax trees produced by the parser. Names are kept as written; nothing is resolved here.

use crate::value::Value;

/// A byte range of the parsed text (all OData syntax is ASCII outside string literals, so byte
/// offsets equal character offsets everywhere an error can point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Start offset (inclusive).
    pub start: usize,
    /// End offset (exclusive).
    pub end: usize,
}

/// A primitive literal as written in a URL.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A primitive value (`null`, `true`, `42`, `'text'`, `2026-11-01T10:00:00+02:00`, ...);
    /// date-times keep the offset written.
    Value(Value),
    /// `binary'...'`, decoded.
    Binary(Vec<u8>),
    /// `Namespace.EnumType'Member'`.
    Enum {
        /// Qualified enum type name.
        type_name: String,
        /// Member name or value as written.
        value: String,
    },
    /// `geography'...'` / `geometry'...'`, kept as text (spatial types are not served).
    Spatial(String),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Negate,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `and`
    And,
    /// `or`
    Or,
    /// `add`
    Add,
    /// `sub`
    Sub,
    /// `mul`
    Mul,
    /// `div`
    Div,
    /// `divby`
    DivBy,
    /// `mod`
    Mod,
    /// `has`
    Has,
}

impl BinaryOp {
    /// The operator keyword as written in URLs.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::And => "and",
            Self::Or => "or",
            Self::Add => "add",
            Self::Sub => "sub",
            Self::Mul => "mul",
            Self::Div => "div",
            Self::DivBy => "divby",
            Self::Mod => "mod",
            Self::Has => "has",
        }
    }
}

/// An expression with the span it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal value.
    Literal(Literal),
    /// A member path such as `deviceName` or `Address/City` (segments as written; qualified
    /// segments are type casts).
    Path(Vec<String>),
    /// `$it` or `$this`: the current instance.
    It,
    /// `@name`: a parameter alias.
    Alias(String),
    /// A unary operation.
    Unary(UnaryOp, Box<Expr>),
    /// A binary operation.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x in (a, b, ...)` or `x in [a, b]`.
    In(Box<Expr>, Vec<Expr>),
    /// A function call: canonical (`contains`) or qualified (`Namespace.Function`).
    Call(String, Vec<Expr>),
    /// A lambda `path/any(v:expr)`, `path/all(v:expr)` or `path/any()`.
    Lambda {
        /// The collection path.
        path: Vec<String>,
        /// `any` or `all`.
        operator: String,
        /// The lambda variable and the predicate over it (none for `any()`); paths in the
        /// predicate that start with the variable name its element.
        predicate: Option<Box<(String, Expr)>>,
    },
    /// `path/$count`: the number of entities of a collection-valued path.
    Count(Vec<String>),
    /// `$root/Employees('A1245')/LastName`: a path from the service root (its text after
    /// `$root/`, checked against the grammar: names, key predicates and function parameters).
    Root(String),
}

/// Sort direction in `$orderby`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending (default).
    Asc,
    /// Descending.
    Desc,
}

/// One `$orderby` item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderByItem {
    /// The sort expression.
    pub expr: Expr,
    /// Its direction.
    pub direction: Direction,
}

/// One `$select` item.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`: every structural property.
    Star,
    /// A property path, with the span of its text.
    Path(Vec<String>, Span),
}
