//! Binding calls of the canonical functions: each family checks its arguments' count and types
//! and gives its result type.

use super::expr::coerce;
use super::names::{bad, unsupported};
use super::scope::Binder;
use super::typed::*;
use crate::edm::PrimitiveType;
use crate::syntax::{Expr, ExprKind, Span};
use crate::value::Value;
use crate::ODataError;

use PrimitiveType as P;

/// The argument types a function accepts, per argument (the first is the one an argument is
/// converted to).
type Parameters = &'static [&'static [P]];

/// Functions whose arguments are each of a fixed set of types: the function, its parameters,
/// its result type.
fn signature(name: &str) -> Option<(Function, Parameters, P)> {
    const TEXT: &[P] = &[P::String];
    const INSTANT: &[P] = &[P::DateTimeOffset, P::Date];
    const CLOCK: &[P] = &[P::DateTimeOffset, P::TimeOfDay];
    const OFFSET: &[P] = &[P::DateTimeOffset];
    Some(match name {
        "contains" => (Function::Contains, &[TEXT, TEXT], P::Boolean),
        "startswith" => (Function::StartsWith, &[TEXT, TEXT], P::Boolean),
        "endswith" => (Function::EndsWith, &[TEXT, TEXT], P::Boolean),
        "length" => (Function::Length, &[TEXT], P::Int32),
        "indexof" => (Function::IndexOf, &[TEXT, TEXT], P::Int32),
        "tolower" => (Function::ToLower, &[TEXT], P::String),
        "toupper" => (Function::ToUpper, &[TEXT], P::String),
        "trim" => (Function::Trim, &[TEXT], P::String),
        "concat" => (Function::Concat, &[TEXT, TEXT], P::String),
        "year" => (Function::Year, &[INSTANT], P::Int32),
        "month" => (Function::Month, &[INSTANT], P::Int32),
        "day" => (Function::Day, &[INSTANT], P::Int32),
        "hour" => (Function::Hour, &[CLOCK], P::Int32),
        "minute" => (Function::Minute, &[CLOCK], P::Int32),
        "second" => (Function::Second, &[CLOCK], P::Int32),
        "fractionalseconds" => (Function::FractionalSeconds, &[CLOCK], P::Decimal),
        "date" => (Function::Date, &[OFFSET], P::Date),
        "time" => (Function::Time, &[OFFSET], P::TimeOfDay),
        "totaloffsetminutes" => (Function::TotalOffsetMinutes, &[OFFSET], P::Int32),
        _ => return None,
    })
}

/// Checks that `name` was called with a number of arguments in `range`.
fn arity(
    name: &str,
    args: &[Expr],
    span: Span,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(), ODataError> {
    if range.contains(&args.len()) {
        return Ok(());
    }
    let expected = if range.start() == range.end() {
        range.start().to_string()
    } else {
        format!("{} to {}", range.start(), range.end())
    };
    Err(bad(
        span,
        format!("{name} takes {expected} argument(s), {} given", args.len()),
    ))
}

impl Binder<'_, '_> {
    /// Binds a call of the canonical function `name`.
    pub(super) fn call(&self, name: &str, args: &[Expr], span: Span) -> Result<Typed, ODataError> {
        if let Some((f, params, result)) = signature(name) {
            return self.call_typed(name, f, params, result, args, span);
        }
        match name {
            "substring" => self.substring(args, span),
            "round" | "floor" | "ceiling" => self.rounding(name, args, span),
            "now" | "maxdatetime" | "mindatetime" => {
                arity(name, args, span, 0..=0)?;
                Ok(time_constant(name))
            }
            "cast" | "isof" => self.cast_or_isof(name, args, span),
            "matchespattern" | "hassubset" | "hassubsequence" | "totalseconds" | "case"
            | "$array" => Err(unsupported(span, format!("{name} is not supported yet"))),
            _ => Err(unsupported(
                span,
                format!("the function '{name}' is not available in this service"),
            )),
        }
    }

    /// A function of [`signature`]: each argument of one of its parameter's types.
    fn call_typed(
        &self,
        name: &str,
        f: Function,
        params: Parameters,
        result: P,
        args: &[Expr],
        span: Span,
    ) -> Result<Typed, ODataError> {
        arity(name, args, span, params.len()..=params.len())?;
        let mut bound = Vec::with_capacity(args.len());
        for (arg, allowed) in args.iter().zip(params) {
            let t = self.bind(arg)?;
            match t.ty {
                Some(ty) if allowed.contains(&ty) => {}
                Some(P::Guid) if allowed.contains(&P::String) => {}
                None => {}
                Some(ty) => return Err(bad(arg.span, format!("{name} does not accept {ty}"))),
            }
            bound.push(coerce(t, Some(allowed[0])));
        }
        let nullable = bound.iter().any(|t| t.nullable);
        Ok(typed(TypedKind::Call(f, bound), result, nullable))
    }

    /// `substring(text, start[, length])`.
    fn substring(&self, args: &[Expr], span: Span) -> Result<Typed, ODataError> {
        arity("substring", args, span, 2..=3)?;
        let mut bound = vec![self.bind(&args[0])?];
        self.expect(&bound[0], P::String, args[0].span, "substring")?;
        for a in &args[1..] {
            let t = self.bind(a)?;
            if t.ty.is_some_and(|ty| !ty.is_integer()) {
                return Err(bad(a.span, "substring positions must be integers"));
            }
            bound.push(t);
        }
        let nullable = bound.iter().any(|t| t.nullable);
        Ok(typed(
            TypedKind::Call(Function::Substring, bound),
            P::String,
            nullable,
        ))
    }

    /// `round`, `floor`, `ceiling`: a number, as a Double for floating-point arguments and a
    /// Decimal otherwise.
    fn rounding(&self, name: &str, args: &[Expr], span: Span) -> Result<Typed, ODataError> {
        arity(name, args, span, 1..=1)?;
        let t = self.bind(&args[0])?;
        let ty = match t.ty {
            Some(P::Double | P::Single) => P::Double,
            Some(ty) if ty.is_numeric() => P::Decimal,
            None => P::Decimal,
            Some(ty) => {
                return Err(bad(
                    args[0].span,
                    format!("{name} needs a number, found {ty}"),
                ))
            }
        };
        let f = match name {
            "round" => Function::Round,
            "floor" => Function::Floor,
            _ => Function::Ceiling,
        };
        let n = t.nullable;
        Ok(typed(TypedKind::Call(f, vec![t]), ty, n))
    }

    /// `cast(x, Edm.T)` and `isof(x, Edm.T)`.
    fn cast_or_isof(&self, name: &str, args: &[Expr], span: Span) -> Result<Typed, ODataError> {
        arity(name, args, span, 1..=2)?;
        let type_arg = args.last().expect("arity checked");
        let type_name = match &type_arg.kind {
            ExprKind::Path(p) if p.len() == 1 && p[0].contains('.') => p[0].as_str(),
            _ => {
                return Err(bad(
                    type_arg.span,
                    format!("the last argument of {name} must be a type name"),
                ))
            }
        };
        if args.len() == 1 {
            return Err(unsupported(
                span,
                format!("{name} on the entity itself is not supported; give a property as first argument"),
            ));
        }
        let Some(target) = PrimitiveType::from_name(type_name) else {
            return Err(bad(
                type_arg.span,
                format!("'{type_name}' is not a primitive type"),
            ));
        };
        let x = self.bind(&args[0])?;
        if name == "isof" {
            return Ok(is_of(x, target));
        }
        let ok = match (x.ty, target) {
            (None, _) => true,
            (Some(a), b) if a == b => true,
            (Some(a), b) if a.is_numeric() && b.is_numeric() => true,
            (Some(_), P::String) => true,
            (Some(P::String), b) if b.is_numeric() || b == P::Boolean => true,
            (Some(P::DateTimeOffset), P::Date) => true,
            _ => false,
        };
        if !ok {
            return Err(bad(
                args[0].span,
                format!("cannot cast {} to {target}", tn(x.ty)),
            ));
        }
        if let (TypedKind::Literal(Value::Double(v)), true) = (&x.kind, target.is_integer()) {
            if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v.trunc()) {
                return Err(bad(
                    args[0].span,
                    format!("{v:e} is beyond the range of {target}"),
                ));
            }
        }
        let n = x.nullable;
        Ok(typed(TypedKind::Cast(Box::new(x), target), target, n))
    }
}

/// `now()` (fixed when the statement is planned), `maxdatetime()`, `mindatetime()`.
fn time_constant(name: &str) -> Typed {
    if name == "now" {
        return typed(TypedKind::Now, P::DateTimeOffset, false);
    }
    let v = if name == "maxdatetime" {
        time::macros::datetime!(9999-12-31 23:59:59.999999 UTC)
    } else {
        time::macros::datetime!(0001-01-01 00:00:00 UTC)
    };
    typed(
        TypedKind::Literal(Value::DateTimeOffset(v)),
        P::DateTimeOffset,
        false,
    )
}

/// `isof(x, target)`: a value is of a type when its declared type is that type (null is of no
/// type).
fn is_of(x: Typed, target: P) -> Typed {
    match x.ty {
        Some(t) if t == target => typed(
            TypedKind::Not(Box::new(typed(
                TypedKind::Compare(
                    CompareOp::Eq,
                    Box::new(x),
                    Box::new(Typed {
                        kind: TypedKind::Literal(Value::Null),
                        ty: None,
                        nullable: true,
                    }),
                ),
                P::Boolean,
                false,
            ))),
            P::Boolean,
            false,
        ),
        _ => typed(TypedKind::Literal(Value::Boolean(false)), P::Boolean, false),
    }
}
