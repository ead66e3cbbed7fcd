//! Parameter aliases: `$filter=dateKey ge @from&@from=20261101`. Each alias's value is a common
//! expression; a reference is replaced by it before binding (so it is typed where it is used). An
//! alias the request does not give a value is null, as OData says.

use super::{
    limits, parse_filter, AggregateExpr, Expr, ExprKind, QueryOptions, Span, SyntaxError,
    Transformation, TransformationKind,
};
use crate::value::Value;
use std::collections::BTreeMap;

/// The parameter aliases of a request, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aliases {
    values: BTreeMap<String, (String, Expr)>,
}

/// What one substitution has spent: nodes produced, and the aliases being expanded (innermost
/// last), to tell a cycle from a long chain.
struct Expansion<'a> {
    nodes: usize,
    open: Vec<&'a str>,
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
    /// value takes the span of its reference, so errors point at `@name`. The result obeys the
    /// same bounds as a parsed expression ([`limits`]); expansion stops as soon as it would
    /// exceed them, so aliases that name each other several times cannot blow up.
    pub fn resolve(&self, expr: &Expr) -> Result<Expr, SyntaxError> {
        self.resolve_all([expr]).map(|mut all| all.remove(0))
    }

    /// [`Aliases::resolve`] for several expressions that count as one option (`$orderby`).
    pub fn resolve_all<'e>(
        &self,
        exprs: impl IntoIterator<Item = &'e Expr>,
    ) -> Result<Vec<Expr>, SyntaxError> {
        let mut spent = Expansion {
            nodes: 0,
            open: Vec::new(),
        };
        let resolved = exprs
            .into_iter()
            .map(|e| self.substitute(e, None, &mut spent))
            .collect::<Result<Vec<_>, _>>()?;
        limits::check_expressions(&resolved)?;
        Ok(resolved)
    }

    /// Replaces the aliases in every expression of `$apply`'s transformations (they count as one
    /// option against the bounds).
    pub fn resolve_apply(&self, transformations: &mut [Transformation]) -> Result<(), SyntaxError> {
        let mut slots = Vec::new();
        expressions(transformations, &mut slots);
        let resolved = self.resolve_all(slots.iter().map(|e| &**e))?;
        for (slot, value) in slots.into_iter().zip(resolved) {
            *slot = value;
        }
        Ok(())
    }

    fn substitute<'a>(
        &'a self,
        expr: &Expr,
        at: Option<Span>,
        spent: &mut Expansion<'a>,
    ) -> Result<Expr, SyntaxError> {
        let span = at.unwrap_or(expr.span);
        spent.nodes += 1;
        if spent.nodes > limits::MAX_EXPRESSION_NODES {
            return Err(limits::too_many_nodes(span.start));
        }
        let mut each = |e: &Expr| self.substitute(e, at, spent);
        let kind = match &expr.kind {
            ExprKind::Alias(name) => {
                let Some((key, (_, value))) = self.values.get_key_value(name) else {
                    return Ok(Expr {
                        kind: ExprKind::Literal(super::Literal::Value(Value::Null)),
                        span,
                    });
                };
                if spent.open.contains(&key.as_str()) {
                    return Err(SyntaxError::new(
                        span.start,
                        format!("parameter alias @{name} refers to itself"),
                    ));
                }
                if spent.open.len() == limits::MAX_ALIAS_CHAIN {
                    return Err(SyntaxError::new(
                        span.start,
                        format!(
                            "parameter alias @{name} is reached through more than {} other \
                             aliases (the limit)",
                            limits::MAX_ALIAS_CHAIN
                        ),
                    ));
                }
                spent.nodes -= 1; // the reference is replaced, not kept
                spent.open.push(key);
                let value = self.substitute(value, Some(span), spent);
                spent.open.pop();
                return value;
            }
            ExprKind::Unary(op, x) => ExprKind::Unary(*op, Box::new(each(x)?)),
            ExprKind::Binary(op, l, r) => {
                let l = each(l)?;
                ExprKind::Binary(*op, Box::new(l), Box::new(each(r)?))
            }
            ExprKind::In(x, list) => ExprKind::In(
                Box::new(each(x)?),
                list.iter().map(&mut each).collect::<Result<_, _>>()?,
            ),
            ExprKind::Call(name, args) => ExprKind::Call(
                name.clone(),
                args.iter().map(&mut each).collect::<Result<_, _>>()?,
            ),
            ExprKind::Lambda {
                path,
                operator,
                predicate: Some(predicate),
            } => ExprKind::Lambda {
                path: path.clone(),
                operator: operator.clone(),
                predicate: Some(Box::new((predicate.0.clone(), each(&predicate.1)?))),
            },
            other => other.clone(),
        };
        Ok(Expr { kind, span })
    }
}

/// Every expression of `transformations` (and of the ones nested in them), in order.
fn expressions<'t>(transformations: &'t mut [Transformation], out: &mut Vec<&'t mut Expr>) {
    for t in transformations {
        match &mut t.kind {
            TransformationKind::Filter(e) => out.push(e),
            TransformationKind::Compute(items) => out.extend(items.iter_mut().map(|(e, _)| e)),
            TransformationKind::OrderBy(items) => out.extend(items.iter_mut().map(|o| &mut o.expr)),
            TransformationKind::Rank { amount, value, .. } => {
                out.push(amount);
                out.push(value);
            }
            TransformationKind::Aggregate(aggregates) => {
                for a in aggregates {
                    if let AggregateExpr::With { expr, .. } = &mut a.what {
                        out.push(expr);
                    }
                }
            }
            TransformationKind::GroupBy { then, .. } => expressions(then, out),
            TransformationKind::Concat(branches) => {
                for branch in branches {
                    expressions(branch, out);
                }
            }
            TransformationKind::Top(_)
            | TransformationKind::Skip(_)
            | TransformationKind::Search(_)
            | TransformationKind::Identity => {}
        }
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
            matches!(
                from.kind,
                ExprKind::Literal(Literal::Value(Value::Integer(20261101)))
            ),
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
        assert!(
            matches!(name.kind, ExprKind::Literal(Literal::Value(Value::String(ref s))) if s == "PC")
        );
        let missing = a.resolve(&parse_filter("x eq @nothing").unwrap()).unwrap();
        let ExprKind::Binary(_, _, n) = missing.kind else {
            panic!()
        };
        assert_eq!(n.kind, ExprKind::Literal(Literal::Value(Value::Null)));
    }

    #[test]
    fn expansion_is_bounded_before_it_is_built() {
        // ten uses per alias, six levels: 10^6 nodes if expanded
        let mut query = String::from("$filter=@a0");
        for i in 0..6 {
            let uses = vec![format!("@a{}", i + 1); 10].join(" or ");
            query.push_str(&format!("&@a{i}={uses}"));
        }
        query.push_str("&@a6=true");
        let a = aliases(&query);
        let started = std::time::Instant::now();
        let err = a.resolve(&parse_filter("@a0").unwrap()).unwrap_err();
        assert!(err.message.contains("more than 4000"), "{err}");
        assert!(started.elapsed().as_secs() < 1);
        // doubling through a function: depth and size are bounded too
        let mut query = String::new();
        for i in 0..30 {
            query.push_str(&format!("&@a{i}=concat(@a{},@a{})", i + 1, i + 1));
        }
        let err = aliases(&query)
            .resolve(&parse_filter("length(@a0) eq 1").unwrap())
            .unwrap_err();
        assert!(err.message.contains("more than 4000"), "{err}");
    }

    #[test]
    fn aliases_may_name_aliases_but_not_themselves() {
        let a = aliases("@a=@b&@b=3");
        let e = a.resolve(&parse_filter("x eq @a").unwrap()).unwrap();
        let ExprKind::Binary(_, _, v) = e.kind else {
            panic!()
        };
        assert!(matches!(
            v.kind,
            ExprKind::Literal(Literal::Value(Value::Integer(3)))
        ));
        let looped = aliases("@a=@b&@b=@a");
        let err = looped
            .resolve(&parse_filter("x eq @a").unwrap())
            .unwrap_err();
        assert_eq!(err.offset, 5);
        assert!(err.message.contains("refers to itself"), "{err}");
        let chain: Vec<String> = (0..20).map(|i| format!("@a{i}=@a{}", i + 1)).collect();
        let chain = aliases(&format!("{}&@a20=7", chain.join("&")));
        assert!(chain.resolve(&parse_filter("x eq @a0").unwrap()).is_ok());
        let bad = Aliases::parse(&parse_query_options("@a=1 eq").unwrap()).unwrap_err();
        assert_eq!(bad.0, "@a");
    }
}
