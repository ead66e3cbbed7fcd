//! Expressions bound against a [`Scope`]: `$filter`, `$orderby` items and `$compute` items,
//! with OData's type rules (numeric promotion, dates beside date-times, two-valued
//! comparisons).

use super::names::{bad, navigation, property, unsupported};
use super::scope::{Binder, Computed, Scope};
use super::typed::{tn, typed, ArithOp, BoundOrder, CompareOp, Typed, TypedKind};
use crate::edm::{EntityType, Lookup, PrimitiveType};
use crate::syntax::{BinaryOp, Expr, ExprKind, Literal, OrderByItem, Span, UnaryOp};
use crate::value::Value;
use crate::ODataError;

/// Binds a `$filter` expression; the result must be Boolean.
pub fn bind_filter(expr: &Expr, ty: &EntityType) -> Result<Typed, ODataError> {
    filter(expr, Binder::new(ty, None))
}

/// Binds `expr` with `binder`; the result must be Boolean.
pub(super) fn filter(expr: &Expr, binder: Binder<'_, '_>) -> Result<Typed, ODataError> {
    let t = binder.bind(expr)?;
    match t.ty {
        Some(PrimitiveType::Boolean) => Ok(t.simplified()),
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

/// Binds `$orderby` items with `binder`.
pub(super) fn orderby(
    items: &[OrderByItem],
    binder: &Binder<'_, '_>,
) -> Result<Vec<BoundOrder>, ODataError> {
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

impl<'a, 'c> Scope<'a, 'c> {
    /// Binds a `$filter` expression; the result must be Boolean.
    pub fn filter(&self, expr: &Expr) -> Result<Typed, ODataError> {
        filter(expr, self.clone())
    }

    /// Binds `$orderby` items; each must be a primitive value.
    pub fn orderby(&self, items: &[OrderByItem]) -> Result<Vec<BoundOrder>, ODataError> {
        orderby(items, self)
    }

    /// Binds `$compute` items (`expr as alias`). An alias must not name a property or
    /// navigation property of the type, nor another item (case ignored); an item cannot use
    /// another (they are computed side by side).
    pub fn compute(&self, items: &[(Expr, String)]) -> Result<Vec<Computed>, ODataError> {
        let mut out: Vec<Computed> = Vec::with_capacity(items.len());
        for (expr, name) in items {
            let clash = !matches!(self.ty.find_property(name), Lookup::Missing)
                || !matches!(self.ty.find_navigation(name), Lookup::Missing)
                || self
                    .computed
                    .iter()
                    .chain(&out)
                    .any(|c| c.name.eq_ignore_ascii_case(name));
            if clash {
                return Err(bad(
                    expr.span,
                    format!("'{name}' already names a property of {}", self.ty.name),
                ));
            }
            let bound = self.bind(expr)?;
            out.push(Computed {
                name: name.clone(),
                expr: bound,
            });
        }
        Ok(out)
    }
}

pub(super) fn literal_value(
    lit: &Literal,
    span: Span,
) -> Result<(Value, Option<PrimitiveType>), ODataError> {
    use PrimitiveType as P;
    let value = match lit {
        Literal::Value(v) => v,
        Literal::Binary(_) => return Err(bad(span, "no property of this service is binary")),
        Literal::Enum { type_name, .. } => {
            return Err(bad(span, format!("unknown enumeration type '{type_name}'")))
        }
        Literal::Spatial(_) => return Err(unsupported(span, "spatial values are not supported")),
    };
    let ty = match value {
        Value::Null => None,
        Value::Boolean(_) => Some(P::Boolean),
        Value::Integer(i) => Some(if i32::try_from(*i).is_ok() {
            P::Int32
        } else {
            P::Int64
        }),
        Value::Decimal(_) => Some(P::Decimal),
        Value::Double(_) => Some(P::Double),
        Value::String(_) => Some(P::String),
        Value::Date(_) => Some(P::Date),
        Value::DateTimeOffset(_) => Some(P::DateTimeOffset),
        Value::TimeOfDay(_) => Some(P::TimeOfDay),
        Value::Duration(_) => Some(P::Duration),
        Value::Guid(_) => Some(P::Guid),
    };
    let value = match value {
        Value::DateTimeOffset(d) => Value::DateTimeOffset(d.to_offset(time::UtcOffset::UTC)),
        other => other.clone(),
    };
    Ok((value, ty))
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
pub(super) fn coerce(t: Typed, to: Option<PrimitiveType>) -> Typed {
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
    pub(super) fn bind(&self, e: &Expr) -> Result<Typed, ODataError> {
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

    pub(super) fn expect(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edm::Property;
    use crate::syntax::parse_filter;
    use crate::ErrorKind;

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
