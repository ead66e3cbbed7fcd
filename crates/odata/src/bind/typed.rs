//! The bound expression tree ([`Typed`]) and its parts: values, operators, canonical
//! functions, `$orderby` items.

use crate::edm::PrimitiveType;
use crate::syntax::Direction;
use crate::value::Value;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
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
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `add`
    Add,
    /// `sub`
    Sub,
    /// `mul`
    Mul,
    /// `div` (integer division for integer operands)
    Div,
    /// `divby` (always fractional)
    DivBy,
    /// `mod`
    Mod,
}

/// Canonical functions the binder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `contains(s, t)`
    Contains,
    /// `startswith(s, t)`
    StartsWith,
    /// `endswith(s, t)`
    EndsWith,
    /// `length(s)`
    Length,
    /// `indexof(s, t)` (0-based, -1 when absent)
    IndexOf,
    /// `substring(s, start[, length])`
    Substring,
    /// `tolower(s)`
    ToLower,
    /// `toupper(s)`
    ToUpper,
    /// `trim(s)`
    Trim,
    /// `concat(s, t)`
    Concat,
    /// `year(d)`
    Year,
    /// `month(d)`
    Month,
    /// `day(d)`
    Day,
    /// `hour(d)`
    Hour,
    /// `minute(d)`
    Minute,
    /// `second(d)`
    Second,
    /// `fractionalseconds(d)`
    FractionalSeconds,
    /// `date(dt)`
    Date,
    /// `time(dt)`
    Time,
    /// `totaloffsetminutes(dt)`
    TotalOffsetMinutes,
    /// `round(n)`
    Round,
    /// `floor(n)`
    Floor,
    /// `ceiling(n)`
    Ceiling,
    /// Not a canonical function: the `$search` test of a string (first argument) against a
    /// `LIKE` pattern (second, `\` escaping), ignoring the case of ASCII letters at least;
    /// produced by [`bind_search`], never parsed.
    SearchLike,
}

/// A bound, typed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    /// What it computes.
    pub kind: TypedKind,
    /// Result type; `None` only for the `null` literal.
    pub ty: Option<PrimitiveType>,
    /// Whether the result can be null.
    pub nullable: bool,
}

/// The kinds of typed expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedKind {
    /// A constant (already converted to the type it is compared with, where relevant).
    Literal(Value),
    /// A structural property by index in the entity type.
    Property(usize),
    /// Boolean negation (three-valued).
    Not(Box<Typed>),
    /// Numeric negation.
    Negate(Box<Typed>),
    /// `and` (three-valued).
    And(Box<Typed>, Box<Typed>),
    /// `or` (three-valued).
    Or(Box<Typed>, Box<Typed>),
    /// A two-valued comparison.
    Compare(CompareOp, Box<Typed>, Box<Typed>),
    /// Arithmetic.
    Arith(ArithOp, Box<Typed>, Box<Typed>),
    /// Membership in a list of constants (two-valued).
    In(Box<Typed>, Vec<Typed>),
    /// A canonical function.
    Call(Function, Vec<Typed>),
    /// `cast(x, T)`.
    Cast(Box<Typed>, PrimitiveType),
    /// `now()`, `maxdatetime()`, `mindatetime()`: constants fixed at bind time.
    Now,
    /// A property of the entity a single-valued navigation property leads to
    /// (`deviceType/deviceTypeName`); null when there is no such entity.
    Related {
        /// The navigation property (index into the entity type's `navigation`).
        navigation: usize,
        /// The property (index into the target type's properties).
        property: usize,
    },
    /// `navigation/any(v: predicate)`, `navigation/all(v: predicate)` or `navigation/any()`:
    /// whether some (every) entity of a collection-valued navigation property meets the
    /// predicate (two-valued: an entity for which it is null does not meet it).
    Lambda {
        /// The collection-valued navigation property (index into the entity type's
        /// `navigation`).
        navigation: usize,
        /// `all` rather than `any`.
        all: bool,
        /// The predicate: [`TypedKind::Element`] for the variable's properties, other paths
        /// for the entity's own (none for `any()`).
        predicate: Option<Box<Typed>>,
    },
    /// A property of the lambda variable's entity (index into the navigation target's
    /// properties), inside a [`TypedKind::Lambda`] predicate.
    Element(usize),
    /// `navigation/$count`: how many entities a collection-valued navigation property leads to.
    NavigationCount(usize),
}

/// A bound `$orderby` item.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundOrder {
    /// The sort key.
    pub expr: Typed,
    /// Direction.
    pub direction: Direction,
}

/// A typed node of `kind` with type `ty`.
pub(super) fn typed(kind: TypedKind, ty: PrimitiveType, nullable: bool) -> Typed {
    Typed {
        kind,
        ty: Some(ty),
        nullable,
    }
}

/// A type's name in messages (`null` for the null literal's).
pub(super) fn tn(t: Option<PrimitiveType>) -> &'static str {
    t.map(PrimitiveType::name).unwrap_or("null")
}
