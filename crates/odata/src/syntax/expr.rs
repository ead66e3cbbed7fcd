//! Expressions: `$filter`, `$orderby` items, and the recursive-descent parser they share with
//! `$apply`, `$compute` and lambda operators.

use super::cursor::Cursor;
use super::literal::literal;
use super::*;
use crate::value::Value;

/// Canonical functions callable without a namespace.
const CANONICAL_FUNCTIONS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "length",
    "indexof",
    "substring",
    "tolower",
    "toupper",
    "trim",
    "concat",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "fractionalseconds",
    "totalseconds",
    "date",
    "time",
    "now",
    "maxdatetime",
    "mindatetime",
    "totaloffsetminutes",
    "round",
    "floor",
    "ceiling",
    "cast",
    "isof",
    "matchespattern",
    "hassubset",
    "hassubsequence",
    "case",
];

/// Parses a `$filter` value (or any common expression). The tree is bounded by
/// [`limits::MAX_EXPRESSION_NODES`] and [`limits::MAX_EXPRESSION_DEPTH`]; chains of `and` and of
/// `or` are built balanced (both are associative, also with OData's null rules), so
/// `a or b or c or d` is `(a or b) or (c or d)` and long lists of alternatives stay shallow.
pub fn parse_filter(text: &str) -> Result<Expr, SyntaxError> {
    let mut p = Parser::new(text);
    if p.c.at_end() {
        return Err(p.c.error("expected an expression"));
    }
    let e = p.or_expr()?;
    p.c.skip_ws();
    if !p.c.at_end() {
        return Err(p.c.error("unexpected text after the expression"));
    }
    limits::check_expressions([&e])?;
    Ok(e)
}

/// Parses a `$orderby` value: comma-separated expressions, each optionally `asc` or `desc`;
/// at most [`limits::MAX_ORDERBY_ITEMS`] items, bounded together like one `$filter`.
pub fn parse_orderby(text: &str) -> Result<Vec<OrderByItem>, SyntaxError> {
    let mut p = Parser::new(text);
    let mut items = Vec::new();
    loop {
        p.c.skip_ws();
        if items.len() == limits::MAX_ORDERBY_ITEMS {
            return Err(limits::too_many_items(
                "$orderby",
                limits::MAX_ORDERBY_ITEMS,
                p.c.pos,
            ));
        }
        items.push(p.order_item()?);
        p.c.skip_ws();
        if p.c.at_end() {
            limits::check_expressions(items.iter().map(|i| &i.expr))?;
            return Ok(items);
        }
        if !p.c.eat(',') {
            return Err(p.c.error("expected ',' or the end of $orderby"));
        }
    }
}

pub(super) struct Parser<'a> {
    pub(super) c: Cursor<'a>,
    /// Nesting of the recursive descent (parentheses, unary operators, calls, nested
    /// `$apply` transformations).
    pub(super) depth: usize,
    /// Nodes built so far, so that parsing stops as soon as the node budget is spent.
    nodes: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            c: Cursor::new(text),
            depth: 0,
            nodes: 0,
        }
    }

    /// Counts one more node; an error at the current position once the budget is spent.
    pub(super) fn count_node(&mut self) -> Result<(), SyntaxError> {
        self.nodes += 1;
        if self.nodes > limits::MAX_EXPRESSION_NODES {
            return Err(limits::too_many_nodes(self.c.pos));
        }
        Ok(())
    }

    /// Tries to read ` op ` (whitespace, one of `ops`, whitespace) and returns the operator.
    fn binary_operator(&mut self, ops: &[BinaryOp]) -> Option<BinaryOp> {
        let save = self.c.pos;
        if self.c.skip_ws() == 0 {
            return None;
        }
        for op in ops {
            let before = self.c.pos;
            if self.c.eat_keyword(op.keyword()) {
                if self.c.skip_ws() > 0 {
                    return Some(*op);
                }
                self.c.pos = before;
            }
        }
        self.c.pos = save;
        None
    }

    fn binary_level(
        &mut self,
        ops: &[BinaryOp],
        next: fn(&mut Self) -> Result<Expr, SyntaxError>,
    ) -> Result<Expr, SyntaxError> {
        let mut left = next(self)?;
        while let Some(op) = self.binary_operator(ops) {
            self.count_node()?;
            let right = next(self)?;
            left = binary(op, left, right);
        }
        Ok(left)
    }

    /// A chain of one associative operator (`and`, `or`), built as a balanced tree.
    fn associative_level(
        &mut self,
        op: BinaryOp,
        next: fn(&mut Self) -> Result<Expr, SyntaxError>,
    ) -> Result<Expr, SyntaxError> {
        let mut operands = vec![next(self)?];
        while self.binary_operator(&[op]).is_some() {
            self.count_node()?;
            operands.push(next(self)?);
        }
        // Combine neighbours pairwise, left to right, until one tree is left: three operands
        // give ((a op b) op c) as a left-to-right parse would, n give a height of log2(n).
        while operands.len() > 1 {
            let mut paired = Vec::with_capacity(operands.len().div_ceil(2));
            let mut rest = operands.into_iter();
            while let Some(left) = rest.next() {
                paired.push(match rest.next() {
                    Some(right) => binary(op, left, right),
                    None => left,
                });
            }
            operands = paired;
        }
        Ok(operands.pop().expect("a chain has at least one operand"))
    }

    /// One `$orderby` item: an expression and an optional ` asc` or ` desc`.
    pub(super) fn order_item(&mut self) -> Result<OrderByItem, SyntaxError> {
        let expr = self.or_expr()?;
        let save = self.c.pos;
        let mut direction = Direction::Asc;
        if self.c.skip_ws() > 0 {
            if self.c.eat_keyword("asc") {
            } else if self.c.eat_keyword("desc") {
                direction = Direction::Desc;
            } else {
                self.c.pos = save;
            }
        }
        Ok(OrderByItem { expr, direction })
    }

    pub(super) fn or_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > limits::MAX_EXPRESSION_DEPTH {
            return Err(limits::too_deep(self.c.pos));
        }
        let e = self.associative_level(BinaryOp::Or, Self::and_expr);
        self.depth -= 1;
        e
    }

    fn and_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.associative_level(BinaryOp::And, Self::eq_expr)
    }

    fn eq_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(&[BinaryOp::Eq, BinaryOp::Ne], Self::rel_expr)
    }

    fn rel_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(
            &[BinaryOp::Gt, BinaryOp::Ge, BinaryOp::Lt, BinaryOp::Le],
            Self::add_expr,
        )
    }

    fn add_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(&[BinaryOp::Add, BinaryOp::Sub], Self::mul_expr)
    }

    fn mul_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary_level(
            &[BinaryOp::Mul, BinaryOp::DivBy, BinaryOp::Div, BinaryOp::Mod],
            Self::unary_expr,
        )
    }

    fn unary_expr(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.c.pos;
        if self.c.peek() == Some('-')
            && !self.c.peek_at(1).is_some_and(|b| b.is_ascii_digit())
            && !self.c.rest().starts_with("-INF")
        {
            self.c.pos += 1;
            self.c.skip_ws();
            let operand = self.nested(Self::unary_expr)?;
            return Ok(Expr {
                span: Span {
                    start,
                    end: operand.span.end,
                },
                kind: ExprKind::Unary(UnaryOp::Negate, Box::new(operand)),
            });
        }
        let save = self.c.pos;
        if self.c.eat_keyword("not") {
            if self.c.skip_ws() > 0 || self.c.peek() == Some('(') {
                let operand = self.nested(Self::unary_expr)?;
                return Ok(Expr {
                    span: Span {
                        start,
                        end: operand.span.end,
                    },
                    kind: ExprKind::Unary(UnaryOp::Not, Box::new(operand)),
                });
            }
            self.c.pos = save;
        }
        self.postfix_expr()
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Expr, SyntaxError>,
    ) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > limits::MAX_EXPRESSION_DEPTH {
            return Err(limits::too_deep(self.c.pos));
        }
        self.count_node()?;
        let e = f(self);
        self.depth -= 1;
        e
    }

    /// A primary expression optionally followed by `has` or `in`.
    fn postfix_expr(&mut self) -> Result<Expr, SyntaxError> {
        let left = self.primary()?;
        if let Some(op) = self.binary_operator(&[BinaryOp::Has]) {
            let right = self.primary()?;
            let span = Span {
                start: left.span.start,
                end: right.span.end,
            };
            return Ok(Expr {
                kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
                span,
            });
        }
        let save = self.c.pos;
        if self.c.skip_ws() > 0 && self.c.eat_keyword("in") {
            self.c.skip_ws();
            let (list, end) = self.in_list()?;
            let span = Span {
                start: left.span.start,
                end,
            };
            return Ok(Expr {
                kind: ExprKind::In(Box::new(left), list),
                span,
            });
        }
        self.c.pos = save;
        Ok(left)
    }

    /// `( literal, ... )`, `[ literal, ... ]`, or a parenthesized expression or path.
    fn in_list(&mut self) -> Result<(Vec<Expr>, usize), SyntaxError> {
        let close = match self.c.peek() {
            Some('(') => ')',
            Some('[') => ']',
            _ => {
                let e = self.primary()?;
                let end = e.span.end;
                return Ok((vec![e], end));
            }
        };
        self.c.pos += 1;
        self.c.skip_ws();
        let mut items = Vec::new();
        if self.c.eat(close) {
            return Ok((items, self.c.pos));
        }
        let first = if close == ']' {
            self.json_value()?
        } else {
            self.or_expr()?
        };
        let first_is_literal = matches!(first.kind, ExprKind::Literal(_));
        items.push(first);
        loop {
            self.c.skip_ws();
            if self.c.eat(close) {
                return Ok((items, self.c.pos));
            }
            if !first_is_literal {
                return Err(self.c.error(format!("expected '{close}'")));
            }
            self.c.expect(',')?;
            self.c.skip_ws();
            self.count_node()?;
            let item = if close == ']' {
                self.json_value()?
            } else {
                let start = self.c.pos;
                let lit = literal(&mut self.c)?
                    .ok_or_else(|| self.c.error("expected a literal in the list"))?;
                Expr {
                    kind: ExprKind::Literal(lit),
                    span: Span {
                        start,
                        end: self.c.pos,
                    },
                }
            };
            items.push(item);
        }
    }

    /// A JSON value inside `[...]`: double-quoted strings, numbers, `true`, `false`, `null`,
    /// or single-quoted URL literals.
    fn json_value(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.c.pos;
        if self.c.eat('"') {
            let mut out = String::new();
            loop {
                match self.c.peek() {
                    None => return Err(self.c.error("unterminated JSON string")),
                    Some('"') => {
                        self.c.pos += 1;
                        break;
                    }
                    Some('\\') => {
                        self.c.pos += 1;
                        let esc = self.c.peek().ok_or_else(|| self.c.error("bad escape"))?;
                        self.c.pos += esc.len_utf8();
                        out.push(match esc {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                    }
                    Some(ch) => {
                        out.push(ch);
                        self.c.pos += ch.len_utf8();
                    }
                }
            }
            return Ok(Expr {
                kind: ExprKind::Literal(Literal::Value(Value::String(out))),
                span: Span {
                    start,
                    end: self.c.pos,
                },
            });
        }
        let lit = literal(&mut self.c)?.ok_or_else(|| self.c.error("expected a JSON value"))?;
        Ok(Expr {
            kind: ExprKind::Literal(lit),
            span: Span {
                start,
                end: self.c.pos,
            },
        })
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        self.count_node()?;
        let start = self.c.pos;
        let span = |end| Span { start, end };
        match self.c.peek() {
            Some('(') => {
                self.c.pos += 1;
                self.c.skip_ws();
                let inner = self.or_expr()?;
                self.c.skip_ws();
                self.c.expect(')')?;
                return Ok(Expr {
                    kind: inner.kind,
                    span: span(self.c.pos),
                });
            }
            Some('@') => {
                self.c.pos += 1;
                let name = self
                    .c
                    .qualified_identifier()
                    .ok_or_else(|| self.c.error("expected an alias name"))?;
                return Ok(Expr {
                    kind: ExprKind::Alias(name.to_string()),
                    span: span(self.c.pos),
                });
            }
            Some('$') if self.c.rest().starts_with("$root/") => {
                self.c.pos += "$root/".len();
                let path = self.root_path()?;
                return Ok(Expr {
                    kind: ExprKind::Root(path.to_string()),
                    span: span(self.c.pos),
                });
            }
            Some('$') => {
                if self.c.eat_keyword("$it") || self.c.eat_keyword("$this") {
                    // `$it/deviceName` is the current instance's property: the path alone
                    if self.c.peek() == Some('/')
                        && self
                            .c
                            .peek_at(1)
                            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                    {
                        self.c.pos += 1;
                    } else {
                        return Ok(Expr {
                            kind: ExprKind::It,
                            span: span(self.c.pos),
                        });
                    }
                } else {
                    return Err(self.c.error("expected an expression"));
                }
            }
            Some('[') => {
                let (items, end) = self.in_list()?;
                return Ok(Expr {
                    kind: ExprKind::Call("$array".into(), items),
                    span: span(end),
                });
            }
            _ => {}
        }
        if let Some(lit) = literal(&mut self.c)? {
            return Ok(Expr {
                kind: ExprKind::Literal(lit),
                span: span(self.c.pos),
            });
        }
        let name = self
            .c
            .qualified_identifier()
            .ok_or_else(|| self.c.error("expected an expression"))?;
        if self.c.peek() == Some('(') {
            let lower = name.to_ascii_lowercase();
            if !name.contains('.') && !CANONICAL_FUNCTIONS.contains(&lower.as_str()) {
                return Err(self.c.error(format!("'{name}' is not a function")));
            }
            let args = self.arguments()?;
            return Ok(Expr {
                kind: ExprKind::Call(
                    if name.contains('.') {
                        name.to_string()
                    } else {
                        lower
                    },
                    args,
                ),
                span: span(self.c.pos),
            });
        }
        self.member_path(name, start)
    }

    /// The path after `$root/`: names separated by `/`, each followed by any number of key
    /// predicates or parameter lists (`Employees('A1245')`, `Special.Best(Where=ZipCode)`), whose
    /// values are expressions, named or not.
    #[inline(never)]
    fn root_path(&mut self) -> Result<&'a str, SyntaxError> {
        let start = self.c.pos;
        loop {
            self.c
                .qualified_identifier()
                .ok_or_else(|| self.c.error("expected a name after $root/"))?;
            while self.c.eat('(') {
                self.c.skip_ws();
                if self.c.eat(')') {
                    continue;
                }
                loop {
                    self.c.skip_ws();
                    let save = self.c.pos;
                    let named = self.c.identifier().is_some() && {
                        self.c.skip_ws();
                        self.c.eat('=')
                    };
                    if !named {
                        self.c.pos = save;
                    }
                    self.c.skip_ws();
                    self.or_expr()?;
                    self.c.skip_ws();
                    if self.c.eat(')') {
                        break;
                    }
                    self.c.expect(',')?;
                }
            }
            let more = self.c.peek() == Some('/')
                && self
                    .c
                    .peek_at(1)
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
            if !more {
                return Ok(&self.c.src[start..self.c.pos]);
            }
            self.c.pos += 1;
        }
    }

    /// A member path after its first segment `name` (which starts at `start`): more segments,
    /// or a lambda (`/any(...)`, `/all(...)`) or a count (`/$count`) that ends it.
    #[inline(never)]
    fn member_path(&mut self, name: &str, start: usize) -> Result<Expr, SyntaxError> {
        let span = |end| Span { start, end };
        let mut segments = vec![name.to_string()];
        while self.c.peek() == Some('/') {
            self.c.pos += 1;
            let seg_start = self.c.pos;
            if self.c.rest().starts_with("$count")
                && !self.c.rest()[6..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            {
                self.c.pos += "$count".len();
                return Ok(Expr {
                    kind: ExprKind::Count(segments),
                    span: span(self.c.pos),
                });
            }
            let seg = self
                .c
                .qualified_identifier()
                .ok_or_else(|| self.c.error("expected a property name after '/'"))?;
            let lower = seg.to_ascii_lowercase();
            if (lower == "any" || lower == "all") && self.c.peek() == Some('(') {
                let predicate = self.lambda_predicate(&lower)?;
                return Ok(Expr {
                    kind: ExprKind::Lambda {
                        path: segments,
                        operator: lower,
                        predicate,
                    },
                    span: span(self.c.pos),
                });
            }
            if self.c.peek() == Some('(') {
                return Err(crate::syntax::SyntaxError::new(
                    self.c.pos,
                    format!(
                        "'{}' cannot be called here",
                        &self.c.src[seg_start..self.c.pos]
                    ),
                ));
            }
            segments.push(seg.to_string());
        }
        if segments.len() == 1 && name.contains('.') {
            return Err(self
                .c
                .error("a qualified name must be followed by '(' or a literal"));
        }
        Ok(Expr {
            kind: ExprKind::Path(segments),
            span: span(self.c.pos),
        })
    }

    fn arguments(&mut self) -> Result<Vec<Expr>, SyntaxError> {
        self.c.expect('(')?;
        self.c.skip_ws();
        let mut args = Vec::new();
        if self.c.eat(')') {
            return Ok(args);
        }
        loop {
            self.c.skip_ws();
            let start = self.c.pos;
            // type names (cast, isof) are qualified identifiers on their own
            let save = self.c.pos;
            if let Some(q) = self.c.qualified_identifier() {
                let after = self.c.pos;
                self.c.skip_ws();
                if q.contains('.') && matches!(self.c.peek(), Some(',' | ')')) {
                    args.push(Expr {
                        kind: ExprKind::Path(vec![q.to_string()]),
                        span: Span { start, end: after },
                    });
                    if self.c.eat(')') {
                        return Ok(args);
                    }
                    self.c.expect(',')?;
                    continue;
                }
            }
            self.c.pos = save;
            args.push(self.or_expr()?);
            self.c.skip_ws();
            if self.c.eat(')') {
                return Ok(args);
            }
            if !self.c.eat(',') {
                return Err(self.c.error("expected ',' or ')'"));
            }
        }
    }

    /// Skips a parenthesized lambda body; lambdas are recognized but not bound.
    /// `( [ variable ":" predicate ] )` after `any` or `all` (only `any` may be empty). Kept out
    /// of `primary`, whose frame is on the stack once per nesting level.
    #[inline(never)]
    fn lambda_predicate(
        &mut self,
        operator: &str,
    ) -> Result<Option<Box<(String, Expr)>>, SyntaxError> {
        self.c.expect('(')?;
        self.c.skip_ws();
        if operator == "any" && self.c.eat(')') {
            return Ok(None);
        }
        let variable = self
            .c
            .identifier()
            .ok_or_else(|| self.c.error("expected a lambda variable"))?
            .to_string();
        self.c.skip_ws();
        self.c.expect(':')?;
        self.c.skip_ws();
        let body = self.or_expr()?;
        self.c.skip_ws();
        self.c.expect(')')?;
        Ok(Some(Box::new((variable, body))))
    }
}

/// `left op right`, spanning both.
fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    let span = Span {
        start: left.span.start,
        end: right.span.end,
    };
    Expr {
        kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Literal(Literal::Value(v)) => format!("{v:?}"),
            ExprKind::Literal(l) => format!("{l:?}"),
            ExprKind::Path(p) => p.join("/"),
            ExprKind::It => "$it".into(),
            ExprKind::Alias(a) => format!("@{a}"),
            ExprKind::Unary(op, x) => format!("({op:?} {})", show(x)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", show(a), op.keyword(), show(b)),
            ExprKind::In(a, l) => format!(
                "({} in [{}])",
                show(a),
                l.iter().map(show).collect::<Vec<_>>().join(",")
            ),
            ExprKind::Call(f, a) => {
                format!("{f}({})", a.iter().map(show).collect::<Vec<_>>().join(","))
            }
            ExprKind::Lambda { path, operator, .. } => format!("{}/{operator}", path.join("/")),
            ExprKind::Count(path) => format!("{}/$count", path.join("/")),
            ExprKind::Root(path) => format!("$root/{path}"),
        }
    }

    #[test]
    fn root_paths() {
        let e = parse_filter("LastName eq $root/Employees('A1245')/LastName").unwrap();
        assert_eq!(show(&e), "(LastName eq $root/Employees('A1245')/LastName)");
        assert!(parse_filter("$root/Sales/Special.Best(Where=ZipCode,n=1) eq 'Food'").is_ok());
        assert!(parse_filter("$root/").is_err());
        assert!(parse_filter("$root/a(b=)").is_err());
        // nested parameter lists count against the nesting limit
        let deep = format!("{}1{}", "$root/a(".repeat(5000), ")".repeat(5000));
        assert!(parse_filter(&deep).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn an_expression_stays_small() {
        // every nesting level of the parser holds a few of them on the stack
        assert!(
            std::mem::size_of::<Expr>() <= 80,
            "{}",
            std::mem::size_of::<Expr>()
        );
    }

    #[test]
    fn lambdas_and_counts_of_paths() {
        let e = parse_filter("h/any(x: x/b eq 1 and c) or h/$count gt 2").unwrap();
        let ExprKind::Binary(BinaryOp::Or, l, r) = e.kind else {
            panic!("{e:?}")
        };
        let ExprKind::Lambda {
            path,
            operator,
            predicate: Some(predicate),
        } = l.kind
        else {
            panic!("{l:?}")
        };
        let (variable, body) = *predicate;
        assert_eq!(
            (path, operator, variable),
            (vec!["h".to_string()], "any".to_string(), "x".to_string())
        );
        assert!(matches!(body.kind, ExprKind::Binary(BinaryOp::And, _, _)));
        let ExprKind::Binary(BinaryOp::Gt, count, _) = r.kind else {
            panic!("{r:?}")
        };
        assert_eq!(count.kind, ExprKind::Count(vec!["h".to_string()]));
        assert!(matches!(
            parse_filter("h/any()").unwrap().kind,
            ExprKind::Lambda {
                predicate: None,
                ..
            }
        ));
        assert_eq!(parse_filter("h/all()").unwrap_err().offset, 6);
        assert_eq!(parse_filter("h/any(x x/b)").unwrap_err().offset, 8);
        assert_eq!(parse_filter("h/any(x: x/b eq 1").unwrap_err().offset, 17);
    }

    #[test]
    fn precedence() {
        let e = parse_filter("a eq 1 or b add 2 mul 3 gt 4 and not c").unwrap();
        assert_eq!(
            show(&e),
            "((a eq Integer(1)) or (((b add (Integer(2) mul Integer(3))) gt Integer(4)) and (Not c)))"
        );
        let e = parse_filter("-x sub -5 eq 3").unwrap();
        assert_eq!(show(&e), "(((Negate x) sub Integer(-5)) eq Integer(3))");
        let e = parse_filter("Name in ('a', 'b') and x EQ null").unwrap();
        assert_eq!(
            show(&e),
            "((Name in [String(\"a\"),String(\"b\")]) and (x eq Null))"
        );
        let e = parse_filter("cast(x, Edm.String) eq 'a'").unwrap();
        assert_eq!(show(&e), "(cast(x,Edm.String) eq String(\"a\"))");
    }

    #[test]
    fn errors_have_offsets() {
        assert_eq!(parse_filter("a eq").unwrap_err().offset, 2);
        assert_eq!(parse_filter("a eq 'x").unwrap_err().offset, 7);
        assert_eq!(parse_filter("any()").unwrap_err().offset, 3);
        assert_eq!(parse_filter("(a eq 1").unwrap_err().offset, 7);
        assert_eq!(
            parse_filter("FirstName in (FirstName,LastName)")
                .unwrap_err()
                .offset,
            23
        );
        let deep = "(".repeat(500) + "1" + &")".repeat(500);
        assert!(parse_filter(&deep).is_err());
    }

    fn height(e: &Expr) -> usize {
        1 + limits::children_for_tests(e).map(height).max().unwrap_or(0)
    }

    #[test]
    fn and_or_chains_are_balanced_and_other_chains_bounded() {
        let e = parse_filter("a or b or c or d").unwrap();
        assert_eq!(show(&e), "((a or b) or (c or d))");
        let e = parse_filter("a and b and c").unwrap();
        assert_eq!(
            show(&e),
            "((a and b) and c)",
            "three operands read left to right"
        );
        // Power Query's "is one of" lists: 300 alternatives are fine and shallow
        let many = vec!["deviceKey eq 1"; 300].join(" or ");
        let e = parse_filter(&many).unwrap();
        assert!(height(&e) <= 12, "{}", height(&e));
        // ... but no option may hold more than the node budget, whatever its shape
        for text in [
            vec!["true"; 5000].join(" or "),
            vec!["x"; 5000].join(" and "),
            format!("x in ({})", vec!["1"; 4500].join(",")),
        ] {
            let err = parse_filter(&text).unwrap_err();
            assert!(err.message.contains("more than 4000"), "{err}");
        }
        // non-associative chains are as deep as they are long
        let chain = format!("deviceKey{} eq 1", " add 1".repeat(150));
        let err = parse_filter(&chain).unwrap_err();
        assert!(err.message.contains("nested more than 100"), "{err}");
        let err = parse_orderby(&format!("deviceKey{}", " add 1".repeat(5000))).unwrap_err();
        assert!(err.message.contains("more than 4000"), "{err}");
        let unary = format!("{}true", "not ".repeat(150));
        assert!(parse_filter(&unary).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn list_options_are_bounded() {
        let err = parse_orderby(&vec!["a"; 40].join(",")).unwrap_err();
        assert_eq!(err.offset, 64, "{err}");
        assert!(err.message.contains("$orderby has more than 32"), "{err}");
        assert!(parse_select(&vec!["a"; 300].join(",")).is_err());
        assert_eq!(parse_select(&vec!["a"; 256].join(",")).unwrap().len(), 256);
    }

    #[test]
    fn orderby_and_select() {
        let o = parse_orderby("Name asc,Rating,ReleaseDate desc").unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(o[2].direction, Direction::Desc);
        assert_eq!(parse_select("a, b,*").unwrap().len(), 3);
        assert_eq!(parse_select("a,,b").unwrap_err().offset, 2);
    }
}
