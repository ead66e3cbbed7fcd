//! Binding: resolves a syntax tree against an entity type and checks its types, producing a
//! [`Typed`] tree that planners consume without any further checks.
//!
//! Semantics follow OData 4.01: numeric operands are promoted (Int32 < Int64 < Decimal < Double),
//! an `Edm.Date` literal compared with a date-time is taken as midnight UTC, and every comparison
//! is two-valued (`null eq null` is true, `null gt 1` is false) while functions of null are null.
//! Errors are 400s pointing at the offending sub-expression; valid OData the service does not
//! implement (spatial values, lambdas inside lambdas, paths of more than one navigation step) is
//! 501. Parameter aliases are replaced by their values ([`crate::syntax::Aliases::resolve`])
//! before binding. Paths through navigation properties (a related entity's property, lambdas and
//! `$count` over collections) bind in `navigation`, `$search` in `search`, `$apply` in `apply`.

mod apply;
mod catalog;
mod expand;
mod functions;
mod navigation;
mod scope;
mod search;
mod visit;

pub use apply::{
    bind_apply, AggregateMethod, AggregatedType, Aggregation, BoundAggregate, BoundApply, Share,
    Stage, APPLY_TRANSFORMATIONS,
};
pub use catalog::Catalog;
pub use expand::{bind_expand, BoundExpand, RelatedRows, MAX_EXPANDED_ENTITIES};
use scope::Binder;
pub use scope::{bind_select_with_computed, Computed, Scope};
pub use search::bind_search;
pub use visit::Recursion;

use crate::edm::{EntityType, Lookup, PrimitiveType};
use crate::syntax::{
    BinaryOp, Direction, Expr, ExprKind, Literal, OrderByItem, SelectItem, Span, UnaryOp,
};
use crate::{ErrorKind, ODataError};

/// A literal value after binding.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// null
    Null,
    /// Boolean
    Boolean(bool),
    /// Any integer type
    Integer(i64),
    /// Decimal, exact text
    Decimal(String),
    /// Double (including INF and NaN)
    Double(f64),
    /// String
    String(String),
    /// Date-time, normalized to UTC
    DateTimeOffset(time::OffsetDateTime),
    /// Date
    Date(time::Date),
    /// Time of day
    TimeOfDay(time::Time),
    /// Duration in microseconds
    Duration(i64),
    /// GUID text as written
    Guid(String),
}

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

impl Typed {
    /// Whether this expression reads property `index` of the entity (stops at the first).
    pub fn mentions_property(&self, index: usize) -> bool {
        let mut found = false;
        self.apply(&mut |e| match e.kind {
            TypedKind::Property(i) if i == index => {
                found = true;
                Recursion::Stop
            }
            _ => Recursion::Continue,
        });
        found
    }

    /// How many nodes the expression has.
    pub fn node_count(&self) -> usize {
        let mut n = 0;
        self.walk(&mut |_| n += 1);
        n
    }
}

/// A bound `$orderby` item.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundOrder {
    /// The sort key.
    pub expr: Typed,
    /// Direction.
    pub direction: Direction,
}

fn err(span: Span, kind: ErrorKind, message: impl Into<String>) -> ODataError {
    ODataError::new(kind, message).at(span.start)
}

fn bad(span: Span, message: impl Into<String>) -> ODataError {
    err(span, ErrorKind::BadRequest, message)
}

fn unsupported(span: Span, message: impl Into<String>) -> ODataError {
    err(span, ErrorKind::NotImplemented, message)
}

/// Binds a `$filter` expression; the result must be Boolean.
pub fn bind_filter(expr: &Expr, ty: &EntityType) -> Result<Typed, ODataError> {
    filter(expr, Binder::new(ty, None))
}

fn filter(expr: &Expr, binder: Binder<'_, '_>) -> Result<Typed, ODataError> {
    let t = binder.bind(expr)?;
    match t.ty {
        Some(PrimitiveType::Boolean) => Ok(t),
        None => Ok(Typed {
            kind: TypedKind::Literal(Value::Boolean(false)),
            ty: Some(PrimitiveType::Boolean),
            nullable: false,
        }),
        Some(other) => Err(bad(
            expr.span,
            format!("a filter must be a Boolean expression, this one is {other}"),
        )),
    }
}

/// Binds `$orderby` items; each must be a primitive value.
pub fn bind_orderby(items: &[OrderByItem], ty: &EntityType) -> Result<Vec<BoundOrder>, ODataError> {
    orderby(items, &Binder::new(ty, None))
}

fn orderby(items: &[OrderByItem], binder: &Binder<'_, '_>) -> Result<Vec<BoundOrder>, ODataError> {
    items
        .iter()
        .map(|item| {
            let expr = binder.bind(&item.expr)?;
            if expr.ty.is_none() {
                return Err(bad(item.expr.span, "cannot order by null"));
            }
            Ok(BoundOrder {
                expr,
                direction: item.direction,
            })
        })
        .collect()
}

/// Binds `$select` items to property indices in declaration order, without duplicates. A
/// navigation property may be selected (clients such as Power Query name the ones they expand);
/// it adds no structural property.
pub fn bind_select(items: &[SelectItem], ty: &EntityType) -> Result<Vec<usize>, ODataError> {
    let mut chosen = vec![false; ty.properties.len()];
    for item in items {
        match item {
            SelectItem::Star => chosen.iter_mut().for_each(|c| *c = true),
            SelectItem::Path(segments, span) => {
                let navigation = navigation(ty, &segments[0], *span)?.is_some();
                if navigation && segments.len() == 1 {
                    continue;
                }
                if segments.len() > 1 || navigation {
                    return Err(unsupported(
                        *span,
                        "selecting through navigation properties is not supported yet; expand them with $select inside $expand",
                    ));
                }
                let index = property(ty, &segments[0], *span)?;
                chosen[index] = true;
            }
        }
    }
    Ok(chosen
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.then_some(i))
        .collect())
}

/// Binds a parsed key predicate to `(key property index, value)` pairs in key order.
pub fn bind_key(
    values: &[crate::syntax::KeyValue],
    ty: &EntityType,
) -> Result<Vec<(usize, Value)>, ODataError> {
    let keys = ty.key_indices();
    let at = |offset| Span {
        start: offset,
        end: offset,
    };
    if values.len() != keys.len() {
        return Err(bad(
            at(0),
            format!(
                "{} has a key of {} part(s) ({}), {} given",
                ty.name,
                keys.len(),
                ty.key.join(", "),
                values.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(keys.len());
    for kv in values {
        let index = match (&kv.name, keys.len()) {
            (None, 1) => keys[0],
            (None, _) => {
                return Err(bad(
                    at(kv.offset),
                    "a key with several parts needs names: (a=1,b=2)",
                ))
            }
            (Some(n), _) => {
                let p = property(ty, n, at(kv.offset))?;
                if !keys.contains(&p) {
                    return Err(bad(
                        at(kv.offset),
                        format!("'{n}' is not part of the key of {}", ty.name),
                    ));
                }
                if out.iter().any(|(q, _)| *q == p) {
                    return Err(bad(at(kv.offset), format!("'{n}' is given twice")));
                }
                p
            }
        };
        let (value, vt) = literal_value(&kv.value, at(kv.offset))?;
        let want = ty.properties[index].ty;
        let ok = match vt {
            Some(t) if t == want => true,
            Some(t) if t.is_integer() && want.is_integer() => true,
            Some(PrimitiveType::Guid) if want == PrimitiveType::String => true,
            _ => false,
        };
        if !ok {
            return Err(bad(
                at(kv.offset),
                format!(
                    "key '{}' needs a value of type {want}",
                    ty.properties[index].name
                ),
            ));
        }
        let value = match value {
            Value::Guid(g) => Value::String(g),
            v => v,
        };
        out.push((index, value));
    }
    out.sort_by_key(|(p, _)| keys.iter().position(|k| k == p));
    Ok(out)
}

fn property(ty: &EntityType, name: &str, span: Span) -> Result<usize, ODataError> {
    match ty.find_property(name) {
        Lookup::Found(i) => Ok(i),
        Lookup::Missing => Err(bad(
            span,
            format!("'{name}' is not a property of {}", ty.name),
        )),
        Lookup::Ambiguous(candidates) => Err(ambiguous(span, name, &candidates)),
    }
}

/// The navigation property `name` of `ty`, if it names one (an ambiguous name is an error).
fn navigation(ty: &EntityType, name: &str, span: Span) -> Result<Option<usize>, ODataError> {
    match ty.find_navigation(name) {
        Lookup::Found(i) => Ok(Some(i)),
        Lookup::Missing => Ok(None),
        Lookup::Ambiguous(candidates) => Err(ambiguous(span, name, &candidates)),
    }
}

/// The error for a name that matches several, ignoring case.
fn ambiguous(span: Span, name: &str, candidates: &[&str]) -> ODataError {
    bad(
        span,
        format!(
            "'{name}' matches {} when case is ignored; write one of them exactly",
            candidates
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    )
}

fn typed(kind: TypedKind, ty: PrimitiveType, nullable: bool) -> Typed {
    Typed {
        kind,
        ty: Some(ty),
        nullable,
    }
}

fn literal_value(lit: &Literal, span: Span) -> Result<(Value, Option<PrimitiveType>), ODataError> {
    use PrimitiveType as P;
    Ok(match lit {
        Literal::Null => (Value::Null, None),
        Literal::Boolean(b) => (Value::Boolean(*b), Some(P::Boolean)),
        Literal::Integer(i) => (
            Value::Integer(*i),
            Some(if i32::try_from(*i).is_ok() {
                P::Int32
            } else {
                P::Int64
            }),
        ),
        Literal::Decimal(d) => (Value::Decimal(d.clone()), Some(P::Decimal)),
        Literal::Double(d) => (Value::Double(*d), Some(P::Double)),
        Literal::String(s) => (Value::String(s.clone()), Some(P::String)),
        Literal::Date(d) => (Value::Date(*d), Some(P::Date)),
        Literal::DateTimeOffset(d) => (
            Value::DateTimeOffset(d.to_offset(time::UtcOffset::UTC)),
            Some(P::DateTimeOffset),
        ),
        Literal::TimeOfDay(t) => (Value::TimeOfDay(*t), Some(P::TimeOfDay)),
        Literal::Duration(d) => (Value::Duration(*d), Some(P::Duration)),
        Literal::Guid(g) => (Value::Guid(g.clone()), Some(P::Guid)),
        Literal::Binary(_) => return Err(bad(span, "no property of this service is binary")),
        Literal::Enum { type_name, .. } => {
            return Err(bad(span, format!("unknown enumeration type '{type_name}'")))
        }
        Literal::Spatial(_) => return Err(unsupported(span, "spatial values are not supported")),
    })
}

/// The common type two operands are compared or combined in, if any.
fn common_type(
    a: Option<PrimitiveType>,
    b: Option<PrimitiveType>,
) -> Option<Option<PrimitiveType>> {
    use PrimitiveType as P;
    match (a, b) {
        (None, x) | (x, None) => Some(x),
        (Some(x), Some(y)) if x == y => Some(Some(x)),
        (Some(x), Some(y)) if x.is_numeric() && y.is_numeric() => {
            let r = if x.numeric_rank() >= y.numeric_rank() {
                x
            } else {
                y
            };
            Some(Some(r))
        }
        (Some(P::Date), Some(P::DateTimeOffset)) | (Some(P::DateTimeOffset), Some(P::Date)) => {
            Some(Some(P::DateTimeOffset))
        }
        // GUIDs are stored as strings in this model; a GUID literal compares with a string.
        (Some(P::Guid), Some(P::String)) | (Some(P::String), Some(P::Guid)) => {
            Some(Some(P::String))
        }
        _ => None,
    }
}

/// Converts a constant operand to the comparison type (dates become midnight UTC, GUIDs text).
fn coerce(t: Typed, to: Option<PrimitiveType>) -> Typed {
    use PrimitiveType as P;
    match (&t.kind, to) {
        (TypedKind::Literal(Value::Date(d)), Some(P::DateTimeOffset)) => typed(
            TypedKind::Literal(Value::DateTimeOffset(d.midnight().assume_utc())),
            P::DateTimeOffset,
            false,
        ),
        (TypedKind::Literal(Value::Guid(g)), Some(P::String)) => typed(
            TypedKind::Literal(Value::String(g.clone())),
            P::String,
            false,
        ),
        _ => t,
    }
}

impl Binder<'_, '_> {
    fn bind(&self, e: &Expr) -> Result<Typed, ODataError> {
        use PrimitiveType as P;
        match &e.kind {
            ExprKind::Literal(lit) => {
                let (v, ty) = literal_value(lit, e.span)?;
                Ok(Typed {
                    nullable: ty.is_none(),
                    kind: TypedKind::Literal(v),
                    ty,
                })
            }
            ExprKind::Path(segments) if self.lambda.is_some_and(|(v, _)| v == segments[0]) => {
                let (variable, element) = self.lambda.expect("checked");
                match &segments[1..] {
                    [] => Err(bad(
                        e.span,
                        format!("'{variable}' is an entity, not a primitive value"),
                    )),
                    [name] => {
                        let i = property(element, name, e.span)?;
                        let p = &element.properties[i];
                        Ok(typed(TypedKind::Element(i), p.ty, p.nullable))
                    }
                    _ => Err(unsupported(
                        e.span,
                        "paths through navigation properties inside a lambda are not supported",
                    )),
                }
            }
            ExprKind::Path(segments) => {
                if let [name] = &segments[..] {
                    if let Some(c) = self.computed.iter().find(|c| &c.name == name) {
                        return self.inline(c, e.span);
                    }
                }
                if let Some(n) = navigation(self.ty, &segments[0], e.span)? {
                    return self.related(n, segments, e.span);
                }
                if segments.len() > 1 {
                    return Err(bad(
                        e.span,
                        format!(
                            "'{}' is not a property path of {}",
                            segments.join("/"),
                            self.ty.name
                        ),
                    ));
                }
                let i = property(self.ty, &segments[0], e.span)?;
                let p = &self.ty.properties[i];
                Ok(typed(TypedKind::Property(i), p.ty, p.nullable))
            }
            ExprKind::It => Err(bad(e.span, "$it is an entity, not a primitive value")),
            ExprKind::Root(_) => Err(unsupported(
                e.span,
                "$root (a value read from another entity set) is not supported",
            )),
            ExprKind::Alias(name) => Err(bad(
                e.span,
                format!("parameter alias @{name} was not resolved (syntax::Aliases::resolve)"),
            )),
            ExprKind::Lambda {
                path,
                operator,
                predicate,
            } => self.lambda(path, operator == "all", predicate.as_deref(), e.span),
            ExprKind::Count(path) => {
                let (n, _) = self.collection_navigation(path, e.span)?;
                Ok(typed(TypedKind::NavigationCount(n), P::Int64, false))
            }
            ExprKind::Unary(UnaryOp::Not, x) => {
                let x = self.bind(x)?;
                self.expect(&x, P::Boolean, e.span, "not")?;
                let n = x.nullable;
                Ok(typed(TypedKind::Not(Box::new(x)), P::Boolean, n))
            }
            ExprKind::Unary(UnaryOp::Negate, x) => {
                let x = self.bind(x)?;
                match x.ty {
                    Some(t) if t.is_numeric() || t == P::Duration => {
                        let n = x.nullable;
                        Ok(typed(TypedKind::Negate(Box::new(x)), t, n))
                    }
                    None => Ok(x),
                    Some(t) => Err(bad(e.span, format!("cannot negate a value of type {t}"))),
                }
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, e.span),
            ExprKind::In(x, list) => {
                let x = self.bind(x)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    let t = self.bind(item)?;
                    if !matches!(t.kind, TypedKind::Literal(_)) {
                        return Err(unsupported(
                            item.span,
                            "'in' supports lists of literals only",
                        ));
                    }
                    let Some(common) = common_type(x.ty, t.ty) else {
                        return Err(bad(
                            item.span,
                            format!("cannot compare {} with {}", tn(x.ty), tn(t.ty)),
                        ));
                    };
                    items.push(coerce(t, common));
                }
                Ok(typed(TypedKind::In(Box::new(x), items), P::Boolean, false))
            }
            ExprKind::Call(name, args) => self.call(name, args, e.span),
        }
    }

    fn expect(
        &self,
        t: &Typed,
        want: PrimitiveType,
        span: Span,
        what: &str,
    ) -> Result<(), ODataError> {
        match t.ty {
            Some(ty) if ty == want => Ok(()),
            None => Ok(()),
            Some(ty) => Err(bad(span, format!("'{what}' needs {want}, found {ty}"))),
        }
    }

    fn binary(&self, op: BinaryOp, a: &Expr, b: &Expr, span: Span) -> Result<Typed, ODataError> {
        use PrimitiveType as P;
        let (ta, tb) = (self.bind(a)?, self.bind(b)?);
        let nullable = ta.nullable || tb.nullable;
        let compare = |cop| -> Result<Typed, ODataError> {
            let Some(common) = common_type(ta.ty, tb.ty) else {
                return Err(bad(
                    b.span,
                    format!(
                        "cannot compare {} with {} using '{}'",
                        tn(ta.ty),
                        tn(tb.ty),
                        op.keyword()
                    ),
                ));
            };
            Ok(typed(
                TypedKind::Compare(
                    cop,
                    Box::new(coerce(ta.clone(), common)),
                    Box::new(coerce(tb.clone(), common)),
                ),
                P::Boolean,
                false,
            ))
        };
        match op {
            BinaryOp::Eq => compare(CompareOp::Eq),
            BinaryOp::Ne => compare(CompareOp::Ne),
            BinaryOp::Gt => compare(CompareOp::Gt),
            BinaryOp::Ge => compare(CompareOp::Ge),
            BinaryOp::Lt => compare(CompareOp::Lt),
            BinaryOp::Le => compare(CompareOp::Le),
            BinaryOp::And | BinaryOp::Or => {
                self.expect(&ta, P::Boolean, a.span, op.keyword())?;
                self.expect(&tb, P::Boolean, b.span, op.keyword())?;
                let kind = if op == BinaryOp::And {
                    TypedKind::And(Box::new(ta), Box::new(tb))
                } else {
                    TypedKind::Or(Box::new(ta), Box::new(tb))
                };
                Ok(typed(kind, P::Boolean, nullable))
            }
            BinaryOp::Has => Err(bad(
                span,
                "'has' needs an enumeration value; this service has no enumeration types",
            )),
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::DivBy
            | BinaryOp::Mod => {
                let aop = match op {
                    BinaryOp::Add => ArithOp::Add,
                    BinaryOp::Sub => ArithOp::Sub,
                    BinaryOp::Mul => ArithOp::Mul,
                    BinaryOp::Div => ArithOp::Div,
                    BinaryOp::DivBy => ArithOp::DivBy,
                    _ => ArithOp::Mod,
                };
                for (t, e) in [(&ta, a), (&tb, b)] {
                    if let Some(ty) = t.ty {
                        if !ty.is_numeric() {
                            return Err(
                                if matches!(ty, P::DateTimeOffset | P::Date | P::Duration) {
                                    unsupported(
                                        e.span,
                                        "date and duration arithmetic is not supported yet",
                                    )
                                } else {
                                    bad(
                                        e.span,
                                        format!("'{}' needs numbers, found {ty}", op.keyword()),
                                    )
                                },
                            );
                        }
                    }
                }
                let result = match common_type(ta.ty, tb.ty).flatten() {
                    Some(t) if aop == ArithOp::DivBy && t.is_integer() => P::Decimal,
                    Some(t) => t,
                    None => P::Int32,
                };
                Ok(typed(
                    TypedKind::Arith(aop, Box::new(ta), Box::new(tb)),
                    result,
                    nullable,
                ))
            }
        }
    }
}

fn tn(t: Option<PrimitiveType>) -> &'static str {
    t.map(PrimitiveType::name).unwrap_or("null")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edm::Property;
    use crate::syntax::parse_filter;

    fn ty() -> EntityType {
        let p = |n: &str, t, nullable| Property {
            name: n.into(),
            ty: t,
            nullable,
        };
        EntityType {
            name: "device".into(),
            key: vec!["deviceKey".into()],
            properties: vec![
                p("deviceKey", PrimitiveType::Int32, false),
                p("deviceName", PrimitiveType::String, true),
                p("enrolledDateTime", PrimitiveType::DateTimeOffset, true),
                p("size", PrimitiveType::Int64, true),
            ],
            navigation: vec![],
        }
    }

    fn bind(s: &str) -> Result<Typed, ODataError> {
        bind_filter(&parse_filter(s).unwrap(), &ty())
    }

    #[test]
    fn binds_and_checks() {
        assert!(bind("deviceKey eq 5 and contains(deviceName, 'x')").is_ok());
        assert!(bind("enrolledDateTime ge 2026-01-01").is_ok());
        assert!(bind("size add 1 gt deviceKey mul 2.5").is_ok());
        let e = bind("deviceName eq 5").unwrap_err();
        assert_eq!((e.kind, e.position), (ErrorKind::BadRequest, Some(14)));
        // names are matched ignoring case when only one property fits, as Microsoft's
        // documentation writes them (DateKey, RowLastModifiedDateTimeUTC)
        assert_eq!(
            bind("DEVICENAME eq 'a'").unwrap(),
            bind("deviceName eq 'a'").unwrap()
        );
        let e = bind("nosuch eq 'a'").unwrap_err();
        assert!(
            e.message.contains("'nosuch' is not a property"),
            "{}",
            e.message
        );
        assert_eq!(bind("deviceKey").unwrap_err().kind, ErrorKind::BadRequest);
        assert_eq!(
            bind("x/any(a:true)").unwrap_err().kind,
            ErrorKind::NotImplemented
        );
        assert!(bind("cast(deviceKey, Edm.String) eq '5'").is_ok());
        assert_eq!(
            bind("cast(deviceName, Edm.Guid) eq 'x'").unwrap_err().kind,
            ErrorKind::BadRequest
        );
        assert_eq!(
            bind("length(deviceKey) eq 1").unwrap_err().position,
            Some(7)
        );
    }
}
