//! Parameter aliases: `$filter=dateKey ge @from&@from=20261101`. Each alias's value is a common
//! expression; a reference is replaced by it before binding (so it is typed where it is used). An
//! alias the request does not give a value is null, as OData says.

use super::{parse_filter, Expr, ExprKind, QueryOptions, Span, SyntaxError};
use std::collections::BTreeMap;

/// Nesting limit for aliases whose values name other aliases.
const MAX_DEPTH: usize = 16;

/// The parameter aliases of a request, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aliases {
    values: BTreeMap<String, (String, Expr)>,
}

impl Aliases {
    /// Parses the `@name=value` options of a request. An error names the option at fault.
    pub fn parse(options: &QueryOptions) -> Result<Self, (String, SyntaxError)> {
        let mut values = BTreeMap::new();
        for o in options.custom.iter().filter(|o| o.name.starts_with('@')) {
            let expr = parse_filter(&o.value).map_err(|e| (o.name.clone(), e))?;
            values.insert(o.name[1..].to_string(), (o.value.clone(), expr));
        }
        Ok(Self { values })
    }

    /// Every alias and its text, sorted by name (what a paging token must pin).
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .map(|(name, (text, _))| (name.as_str(), text.as_str()))
    }

    /// `expr` with every alias replaced by its value (null when the request gives none); the
    /// value takes the span of its reference, so errors point at `@name`.
    pub fn resolve(&self, expr: &Expr) -> Result<Expr, SyntaxError> {
        self.substitute(expr, None, 0)
    }

    fn substitute(&self, expr: &Expr, at: Option<Span>, depth: usize) -> Result<Expr, SyntaxError> {
        let span = at.unwrap_or(expr.span);
        let each = |e: &Expr| self.substitute(e, at, depth);
        let kind = match &expr.kind {
            ExprKind::Alias(name) => {
                if depth >= MAX_DEPTH {
                    return Err(SyntaxError::new(
                        span.start,
                        format!("parameter alias @{name} refers to itself"),
                    ));
                }
                return match self.values.get(name) {
                    Some((_, value)) => self.substitute(value, Some(span), depth + 1),
                    None => Ok(Expr {
                        kind: ExprKind::Literal(super::Literal::Null),
                        span,
                    }),
                };
            }
            ExprKind::Unary(op, x) => ExprKind::Unary(*op, Box::new(each(x)?)),
            ExprKind::Binary(op, l, r) => {
                ExprKind::Binary(*op, Box::new(each(l)?), Box::new(each(r)?))
            }
            ExprKind::In(x, list) => ExprKind::In(
                Box::new(each(x)?),
                list.iter().map(each).collect::<Result<_, _>>()?,
            ),
            ExprKind::Call(name, args) => ExprKind::Call(
                name.clone(),
                args.iter().map(each).collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        };
        Ok(Expr { kind, span })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_query_options, BinaryOp, Literal};
    use super::*;

    fn aliases(query: &str) -> Aliases {
        Aliases::parse(&parse_query_options(query).unwrap()).unwrap()
    }

    #[test]
    fn references_take_the_alias_value_or_null() {
        let a = aliases("$filter=x&@from=20261101&@name='PC'");
        let e = a
            .resolve(&parse_filter("dateKey ge @from and deviceName eq @name").unwrap())
            .unwrap();
        let ExprKind::Binary(BinaryOp::And, l, r) = e.kind else {
            panic!("{e:?}")
        };
        let ExprKind::Binary(BinaryOp::Ge, _, from) = l.kind else {
            panic!("{l:?}")
        };
        assert!(
            matches!(from.kind, ExprKind::Literal(Literal::Integer(20261101))),
            "{from:?}"
        );
        assert_eq!(
            from.span,
            Span { start: 11, end: 16 },
            "the value is placed at @from"
        );
        let ExprKind::Binary(BinaryOp::Eq, _, name) = r.kind else {
            panic!("{r:?}")
        };
        assert!(matches!(name.kind, ExprKind::Literal(Literal::String(ref s)) if s == "PC"));
        let missing = a.resolve(&parse_filter("x eq @nothing").unwrap()).unwrap();
        let ExprKind::Binary(_, _, n) = missing.kind else {
            panic!()
        };
        assert_eq!(n.kind, ExprKind::Literal(Literal::Null));
    }

    #[test]
    fn aliases_may_name_aliases_but_not_themselves() {
        let a = aliases("@a=@b&@b=3");
        let e = a.resolve(&parse_filter("x eq @a").unwrap()).unwrap();
        let ExprKind::Binary(_, _, v) = e.kind else {
            panic!()
        };
        assert!(matches!(v.kind, ExprKind::Literal(Literal::Integer(3))));
        let looped = aliases("@a=@b&@b=@a");
        let err = looped
            .resolve(&parse_filter("x eq @a").unwrap())
            .unwrap_err();
        assert_eq!(err.offset, 5);
        assert!(err.message.contains("refers to itself"), "{err}");
        let bad = Aliases::parse(&parse_query_options("@a=1 eq").unwrap()).unwrap_err();
        assert_eq!(bad.0, "@a");
    }
}
