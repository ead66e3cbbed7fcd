//! `$apply` (OData Data Aggregation Extension 4.0): a sequence of transformations separated by
//! `/`, each applied to the result of the one before.

use super::expr::Parser;
use super::*;

/// One transformation of `$apply`, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformation {
    /// What it does.
    pub kind: TransformationKind,
    /// Its text (name through closing parenthesis).
    pub span: Span,
}

/// The transformations of `$apply`.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformationKind {
    /// `aggregate(...)`: one row of aggregated values.
    Aggregate(Vec<Aggregate>),
    /// `groupby((paths)[, transformations])`: a row per distinct combination of the paths'
    /// values, each group transformed by `then` (usually an `aggregate`).
    GroupBy {
        /// The grouping properties, as paths (`deviceType/deviceTypeName`).
        paths: Vec<Vec<String>>,
        /// What is applied to each group.
        then: Vec<Transformation>,
    },
    /// `filter(expr)`.
    Filter(Expr),
    /// `compute(expr as alias, ...)`.
    Compute(Vec<(Expr, String)>),
    /// `orderby(items)`.
    OrderBy(Vec<OrderByItem>),
    /// `top(n)`.
    Top(u64),
    /// `skip(n)`.
    Skip(u64),
    /// `search(text)`, kept as written.
    Search(String),
    /// `identity`.
    Identity,
    /// `concat(seq, seq, ...)`: the results of several sequences, one after the other.
    Concat(Vec<Vec<Transformation>>),
    /// `topcount`, `bottomcount`, `topsum`, `bottomsum`, `toppercent`, `bottompercent`.
    Rank {
        /// Which of the six.
        kind: TopKind,
        /// How many (a count, a sum or a percentage).
        amount: Expr,
        /// The value ranked.
        value: Expr,
    },
}

/// The ranking transformations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKind {
    /// `topcount(n, value)`.
    TopCount,
    /// `bottomcount(n, value)`.
    BottomCount,
    /// `topsum(sum, value)`.
    TopSum,
    /// `bottomsum(sum, value)`.
    BottomSum,
    /// `toppercent(p, value)`.
    TopPercent,
    /// `bottompercent(p, value)`.
    BottomPercent,
}

/// One aggregated value: what is aggregated, and its alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// What is aggregated.
    pub what: AggregateExpr,
    /// The name of the value in the result.
    pub alias: String,
}

/// What an aggregate computes.
#[derive(Debug, Clone, PartialEq)]
pub enum AggregateExpr {
    /// `$count`: the number of rows.
    Count,
    /// `expr with method`: `sum`, `min`, `max`, `average`, `countdistinct` or a custom method.
    With {
        /// The aggregated expression.
        expr: Expr,
        /// The aggregation method as written.
        method: String,
    },
}

/// Parses a `$apply` value.
pub fn parse_apply(text: &str) -> Result<Vec<Transformation>, SyntaxError> {
    let mut p = Parser::new(text);
    let seq = sequence(&mut p)?;
    p.c.skip_ws();
    if !p.c.at_end() {
        return Err(p.c.error("unexpected text after the transformations"));
    }
    Ok(seq)
}

/// Parses a `$compute` value: `expr as alias` items separated by commas.
pub fn parse_compute(text: &str) -> Result<Vec<(Expr, String)>, SyntaxError> {
    let mut p = Parser::new(text);
    let items = compute_items(&mut p)?;
    p.c.skip_ws();
    if !p.c.at_end() {
        return Err(p.c.error("unexpected text after the computed properties"));
    }
    super::limits::check_expressions(items.iter().map(|(e, _)| e))?;
    Ok(items)
}

/// `expr as alias *( "," expr as alias )`.
fn compute_items(p: &mut Parser<'_>) -> Result<Vec<(Expr, String)>, SyntaxError> {
    list(p, |p| {
        let e = p.or_expr()?;
        Ok((e, alias(p)?))
    })
}

/// `trafo *( "/" trafo )`. Transformations count against the expression node budget and
/// nested sequences against the depth limit ([`super::limits`]), like the expressions in them.
fn sequence(p: &mut Parser<'_>) -> Result<Vec<Transformation>, SyntaxError> {
    p.depth += 1;
    if p.depth > super::limits::MAX_EXPRESSION_DEPTH {
        return Err(super::limits::too_deep(p.c.pos));
    }
    p.count_node()?;
    let mut seq = vec![transformation(p)?];
    while p.c.eat('/') {
        p.count_node()?;
        seq.push(transformation(p)?);
    }
    p.depth -= 1;
    Ok(seq)
}

/// Reads `name(` of a transformation; `identity` takes no parentheses.
fn transformation(p: &mut Parser<'_>) -> Result<Transformation, SyntaxError> {
    let start = p.c.pos;
    let Some(name) = p.c.identifier() else {
        return Err(p.c.error("expected a transformation"));
    };
    if name == "identity" {
        return Ok(Transformation {
            kind: TransformationKind::Identity,
            span: Span {
                start,
                end: p.c.pos,
            },
        });
    }
    if !p.c.eat('(') {
        p.c.pos = start;
        return Err(p.c.error(format!("expected '(' after {name}")));
    }
    let t = match name {
        "aggregate" => TransformationKind::Aggregate(list(p, aggregate)?),
        "groupby" => group_by(p)?,
        "filter" => TransformationKind::Filter(p.or_expr()?),
        "compute" => TransformationKind::Compute(compute_items(p)?),
        "orderby" => TransformationKind::OrderBy(order_items(p)?),
        "top" => TransformationKind::Top(count(p)?),
        "skip" => TransformationKind::Skip(count(p)?),
        "search" => TransformationKind::Search(search_text(p)?),
        "concat" => TransformationKind::Concat(list(p, sequence)?),
        "topcount" | "bottomcount" | "topsum" | "bottomsum" | "toppercent" | "bottompercent" => {
            let kind = match name {
                "topcount" => TopKind::TopCount,
                "bottomcount" => TopKind::BottomCount,
                "topsum" => TopKind::TopSum,
                "bottomsum" => TopKind::BottomSum,
                "toppercent" => TopKind::TopPercent,
                _ => TopKind::BottomPercent,
            };
            let amount = p.or_expr()?;
            p.c.expect(',')?;
            let value = p.or_expr()?;
            TransformationKind::Rank {
                kind,
                amount,
                value,
            }
        }
        _ => {
            p.c.pos = start;
            return Err(p.c.error(format!("'{name}' is not a transformation")));
        }
    };
    p.c.expect(')')?;
    Ok(Transformation {
        kind: t,
        span: Span {
            start,
            end: p.c.pos,
        },
    })
}

/// `item *( "," item )`.
fn list<T>(
    p: &mut Parser<'_>,
    mut item: impl FnMut(&mut Parser<'_>) -> Result<T, SyntaxError>,
) -> Result<Vec<T>, SyntaxError> {
    let mut items = vec![item(p)?];
    while p.c.eat(',') {
        // blanks after a comma, as the aggregation extension's examples write them
        p.c.skip_ws();
        items.push(item(p)?);
    }
    Ok(items)
}

/// ` as alias`.
fn alias(p: &mut Parser<'_>) -> Result<String, SyntaxError> {
    if p.c.skip_ws() == 0 || !p.c.eat_keyword("as") || p.c.skip_ws() == 0 {
        return Err(p.c.error("expected ' as ' and an alias"));
    }
    p.c.identifier()
        .map(str::to_string)
        .ok_or_else(|| p.c.error("expected an alias"))
}

/// `$count as alias` or `expr with method as alias`.
fn aggregate(p: &mut Parser<'_>) -> Result<Aggregate, SyntaxError> {
    if p.c.rest().starts_with("$count") {
        p.c.pos += "$count".len();
        return Ok(Aggregate {
            what: AggregateExpr::Count,
            alias: alias(p)?,
        });
    }
    let expr = p.or_expr()?;
    if p.c.skip_ws() == 0 || !p.c.eat_keyword("with") || p.c.skip_ws() == 0 {
        return Err(p.c.error("expected ' with ' and an aggregation method"));
    }
    let method =
        p.c.qualified_identifier()
            .ok_or_else(|| p.c.error("expected an aggregation method"))?
            .to_string();
    Ok(Aggregate {
        what: AggregateExpr::With { expr, method },
        alias: alias(p)?,
    })
}

/// `(path, ...)[, transformations]` after `groupby(`.
fn group_by(p: &mut Parser<'_>) -> Result<TransformationKind, SyntaxError> {
    p.c.expect('(')?;
    let paths = list(p, path)?;
    p.c.expect(')')?;
    let then = if p.c.eat(',') {
        p.c.skip_ws();
        sequence(p)?
    } else {
        Vec::new()
    };
    Ok(TransformationKind::GroupBy { paths, then })
}

/// A property path: `a/b/c`.
fn path(p: &mut Parser<'_>) -> Result<Vec<String>, SyntaxError> {
    let mut segments = Vec::new();
    loop {
        let segment =
            p.c.identifier()
                .ok_or_else(|| p.c.error("expected a property"))?;
        segments.push(segment.to_string());
        let save = p.c.pos;
        if !p.c.eat('/') {
            return Ok(segments);
        }
        if p.c.peek().is_none_or(|c| !(c.is_alphabetic() || c == '_')) {
            p.c.pos = save;
            return Ok(segments);
        }
    }
}

/// `$orderby`-style items up to the closing parenthesis.
fn order_items(p: &mut Parser<'_>) -> Result<Vec<OrderByItem>, SyntaxError> {
    list(p, |p| p.order_item())
}

/// A non-negative integer.
fn count(p: &mut Parser<'_>) -> Result<u64, SyntaxError> {
    let start = p.c.pos;
    while p.c.peek().is_some_and(|c| c.is_ascii_digit()) {
        p.c.pos += 1;
    }
    let text = &p.c.src[start..p.c.pos];
    text.parse()
        .map_err(|_| SyntaxError::new(start, "expected a non-negative integer"))
}

/// The text of `search(...)` up to the matching parenthesis (quoted text may hold any).
fn search_text(p: &mut Parser<'_>) -> Result<String, SyntaxError> {
    let start = p.c.pos;
    let mut depth = 0usize;
    let mut quote = None;
    while let Some(c) = p.c.peek() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => break,
            (None, ')') => depth -= 1,
            _ => {}
        }
        p.c.pos += c.len_utf8();
    }
    let text = p.c.src[start..p.c.pos].trim().to_string();
    if text.is_empty() {
        return Err(SyntaxError::new(start, "expected a search expression"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groupby_with_aggregates_and_chains() {
        let t = parse_apply(
            "filter(dateKey ge 20261101)/groupby((dateKey,deviceType/deviceTypeName),aggregate($count as n,totalStorageSpaceInBytes with sum as total))",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert!(matches!(t[0].kind, TransformationKind::Filter(_)));
        let TransformationKind::GroupBy { paths, then } = &t[1].kind else {
            panic!("{t:?}")
        };
        assert_eq!(
            paths,
            &vec![
                vec!["dateKey".to_string()],
                vec!["deviceType".to_string(), "deviceTypeName".to_string()]
            ]
        );
        let TransformationKind::Aggregate(items) = &then[0].kind else {
            panic!("{then:?}")
        };
        assert_eq!(items[0].what, AggregateExpr::Count);
        assert_eq!(items[1].alias, "total");
        assert!(matches!(&items[1].what, AggregateExpr::With { method, .. } if method == "sum"));
        assert_eq!(
            parse_apply("aggregate($count as n)/top(5)/skip(2)/identity")
                .unwrap()
                .into_iter()
                .skip(1)
                .map(|t| (t.kind, t.span.start))
                .collect::<Vec<_>>(),
            [
                (TransformationKind::Top(5), 23),
                (TransformationKind::Skip(2), 30),
                (TransformationKind::Identity, 38)
            ]
        );
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        let deep = format!("{}identity{}", "concat(".repeat(5000), ")".repeat(5000));
        assert!(parse_apply(&deep).unwrap_err().message.contains("nested"));
        let long = vec!["identity"; 5000].join("/");
        assert!(parse_apply(&long).is_err());
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(parse_apply("groupby(dateKey)").unwrap_err().offset, 8);
        assert_eq!(parse_apply("aggregate($count)").unwrap_err().offset, 16);
        assert_eq!(parse_apply("nonsense(x)").unwrap_err().offset, 0);
        assert!(parse_apply("aggregate($count as n)/").is_err());
    }
}
