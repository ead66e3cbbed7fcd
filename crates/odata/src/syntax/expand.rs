//! `$expand`: navigation properties to include inline, each with its own options
//! (`deviceType($select=deviceTypeName)`).

use super::cursor::Cursor;
use super::{limits, parse_select, Expr, ExprKind, OrderByItem, SelectItem, Span, SyntaxError};

/// One `$expand` item.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandItem {
    /// The navigation path as written; `["*"]` for every navigation property.
    pub path: Vec<String>,
    /// Where the path was written.
    pub span: Span,
    /// The nested `$select`, if any.
    pub select: Option<Vec<SelectItem>>,
    /// The nested `$expand`'s items (of the navigation property's target).
    pub expand: Vec<ExpandItem>,
    /// The nested `$filter` (its spans in the whole `$expand` text, as every span here).
    pub filter: Option<Expr>,
    /// The nested `$orderby`.
    pub orderby: Vec<OrderByItem>,
    /// The nested `$top`, with where the option was written.
    pub top: Option<(u64, Span)>,
    /// The nested `$skip`.
    pub skip: Option<(u64, Span)>,
    /// The nested `$count`.
    pub count: Option<(bool, Span)>,
    /// The nested `$compute`: each expression and its alias.
    pub compute: Vec<(Expr, String)>,
    /// The nested `$search`, with where the option was written.
    pub search: Option<(super::SearchExpr, Span)>,
    /// Other nested options by name (`$apply`), each checked against its grammar, with where it
    /// was written.
    pub options: Vec<(String, Span)>,
    /// The nested temporal options (`$at`, `$from`, `$to`, `$toInclusive`): the name in lower
    /// case with its `$`, the value as written (checked against its grammar) and where it was
    /// written.
    pub temporal: Vec<(String, String, Span)>,
    /// Every nested option as written: its name and the span of its value.
    pub written: Vec<(String, Span)>,
}

/// Parses a `$expand` value. Every nested option is checked against its grammar (`$filter`,
/// `$orderby`, `$top`, `$skip`, `$count`, `$levels`, `$search`, `$compute`, `$apply` and a nested
/// `$expand`, at most [`limits::MAX_EXPAND_DEPTH`] levels deep, each option once); `$select`,
/// `$expand`, `$filter`, `$orderby`, `$top`, `$skip`, `$count`, `$compute` and `$search` are parsed
/// into the item,
/// `$levels` is checked only (no navigation property of a model without recursive navigation
/// reaches further than one level), and the others are kept by name and position, for binders
/// to accept or refuse.
pub fn parse_expand(text: &str) -> Result<Vec<ExpandItem>, SyntaxError> {
    expand_at_depth(text, 1, 0)
}

/// `$expand` items of `text`, nested `depth` levels, whose spans start at `base` in the whole
/// option (errors are relative to `text`).
fn expand_at_depth(text: &str, depth: usize, base: usize) -> Result<Vec<ExpandItem>, SyntaxError> {
    if depth > limits::MAX_EXPAND_DEPTH {
        return Err(SyntaxError::new(
            0,
            format!(
                "$expand is nested more than {} levels deep",
                limits::MAX_EXPAND_DEPTH
            ),
        ));
    }
    let mut c = Cursor::new(text);
    let mut items = Vec::new();
    loop {
        c.skip_ws();
        let start = c.pos;
        if items.len() == limits::MAX_EXPAND_ITEMS {
            return Err(limits::too_many_items(
                "$expand",
                limits::MAX_EXPAND_ITEMS,
                start,
            ));
        }
        let mut path = Vec::new();
        loop {
            // `*` (every navigation property) ends the path, but for `/$ref`
            let segment = if c.eat('*') {
                "*"
            } else {
                c.qualified_identifier()
                    .ok_or_else(|| c.error("expected a navigation property"))?
            };
            path.push(segment.to_string());
            if !c.eat('/') {
                break;
            }
            if segment == "*" && !c.rest().starts_with("$ref") {
                return Err(c.error("only $ref may follow *"));
            }
            // `$ref` and `$count` end a path (kept as segments for binders to refuse)
            if let Some(suffix) = ["$ref", "$count"]
                .into_iter()
                .find(|s| c.rest().starts_with(s))
            {
                c.pos += suffix.len();
                path.push(suffix.to_string());
                break;
            }
        }
        let reference = path.last().is_some_and(|s| s == "$ref");
        let counted = path.last().is_some_and(|s| s == "$count");
        let span = Span {
            start: base + start,
            end: base + c.pos,
        };
        let mut item = ExpandItem {
            path,
            span,
            select: None,
            expand: Vec::new(),
            filter: None,
            orderby: Vec::new(),
            top: None,
            skip: None,
            count: None,
            compute: Vec::new(),
            search: None,
            options: Vec::new(),
            temporal: Vec::new(),
            written: Vec::new(),
        };
        if c.eat('(') {
            let mut seen: Vec<String> = Vec::new();
            for (name, value, at) in nested_options(&mut c)? {
                let lower = name.to_ascii_lowercase();
                let bare = lower.trim_start_matches('$').to_string();
                let shaping = ["select", "expand", "levels", "compute", "apply"];
                if reference && shaping.contains(&bare.as_str()) {
                    return Err(SyntaxError::new(
                        at - name.len() - 1,
                        format!("{name} cannot follow $ref (references have no properties)"),
                    ));
                }
                if counted && !["filter", "search"].contains(&bare.as_str()) {
                    return Err(SyntaxError::new(
                        at - name.len() - 1,
                        format!("{name} cannot follow $count (only $filter and $search can)"),
                    ));
                }
                if seen.contains(&bare) {
                    return Err(SyntaxError::new(
                        at - name.len() - 1,
                        format!("{name} is given twice in the same expanded item"),
                    ));
                }
                seen.push(bare);
                nested_option(&mut item, name, value, at, depth, base)?;
            }
        }
        items.push(item);
        c.skip_ws();
        if c.at_end() {
            return Ok(items);
        }
        if !c.eat(',') {
            return Err(c.error("expected ',' or the end of $expand"));
        }
    }
}

/// Parses the nested option `name=value` (the value written at `at` in `text` of the
/// enclosing level, whose spans start at `base`) into `item`.
fn nested_option(
    item: &mut ExpandItem,
    name: &str,
    value: &str,
    at: usize,
    depth: usize,
    base: usize,
) -> Result<(), SyntaxError> {
    let in_text = |e: SyntaxError| SyntaxError {
        offset: at + e.offset,
        message: e.message,
    };
    let option_span = Span {
        start: base + at - name.len() - 1,
        end: base + at + value.len(),
    };
    let value_span = Span {
        start: base + at,
        end: base + at + value.len(),
    };
    item.written.push((name.to_string(), value_span));
    match name.to_ascii_lowercase().trim_start_matches('$') {
        "select" => {
            let parsed = parse_select(value).map_err(in_text)?;
            let shift = |item: SelectItem| match item {
                SelectItem::Path(p, s) => SelectItem::Path(p, shifted(s, base + at)),
                star => star,
            };
            item.select = Some(parsed.into_iter().map(shift).collect());
        }
        "expand" => item.expand = expand_at_depth(value, depth + 1, base + at).map_err(in_text)?,
        "filter" => {
            let mut filter = super::parse_filter(value).map_err(in_text)?;
            shift_expr(&mut filter, base + at);
            item.filter = Some(filter);
        }
        "orderby" => {
            let mut orderby = super::parse_orderby(value).map_err(in_text)?;
            orderby
                .iter_mut()
                .for_each(|o| shift_expr(&mut o.expr, base + at));
            item.orderby = orderby;
        }
        "top" => item.top = Some((super::parse_top_skip(value).map_err(in_text)?, option_span)),
        "skip" => item.skip = Some((super::parse_top_skip(value).map_err(in_text)?, option_span)),
        "count" => item.count = Some((super::parse_count(value).map_err(in_text)?, option_span)),
        "search" => {
            item.search = Some((super::parse_search(value).map_err(in_text)?, option_span));
        }
        "compute" => {
            let mut compute = super::parse_compute(value).map_err(in_text)?;
            compute
                .iter_mut()
                .for_each(|(e, _)| shift_expr(e, base + at));
            item.compute = compute;
        }
        lower @ ("at" | "from" | "to" | "toinclusive") => {
            super::parse_temporal(value).map_err(in_text)?;
            item.temporal
                .push((format!("${lower}"), value.to_string(), option_span));
        }
        _ => {
            check_nested(name, value).map_err(in_text)?;
            if !name.eq_ignore_ascii_case("$levels") && !name.eq_ignore_ascii_case("levels") {
                item.options.push((name.to_string(), option_span));
            }
        }
    }
    Ok(())
}

/// `span` moved `by` bytes on.
fn shifted(span: Span, by: usize) -> Span {
    Span {
        start: span.start + by,
        end: span.end + by,
    }
}

/// Moves every span of `e` `by` bytes on (a nested option's expression, parsed on its own,
/// placed in the whole option's text).
fn shift_expr(e: &mut Expr, by: usize) {
    e.span = shifted(e.span, by);
    match &mut e.kind {
        ExprKind::Unary(_, x) => shift_expr(x, by),
        ExprKind::Binary(_, l, r) => {
            shift_expr(l, by);
            shift_expr(r, by);
        }
        ExprKind::In(x, list) => {
            shift_expr(x, by);
            list.iter_mut().for_each(|i| shift_expr(i, by));
        }
        ExprKind::Call(_, args) => args.iter_mut().for_each(|a| shift_expr(a, by)),
        ExprKind::Lambda {
            predicate: Some(p), ..
        } => shift_expr(&mut p.1, by),
        ExprKind::Literal(_)
        | ExprKind::Path(_)
        | ExprKind::It
        | ExprKind::Alias(_)
        | ExprKind::Lambda { .. }
        | ExprKind::Count(_)
        | ExprKind::Root(_) => {}
    }
}

/// Checks the value of the nested option `name` against its grammar.
fn check_nested(name: &str, value: &str) -> Result<(), SyntaxError> {
    let lower = name.to_ascii_lowercase();
    match lower.trim_start_matches('$') {
        "apply" => super::parse_apply(value).map(|_| ()),
        "levels" => {
            let positive = value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0');
            if value == "max" || (!value.is_empty() && positive) {
                Ok(())
            } else {
                Err(SyntaxError::new(0, "$levels is a positive integer or max"))
            }
        }
        _ => Err(SyntaxError::new(
            0,
            format!("'{name}' is not an option of an expanded navigation property"),
        )),
    }
}

/// Reads `name=value;name=value)` after an opening parenthesis: (name, value, value offset).
fn nested_options<'a>(c: &mut Cursor<'a>) -> Result<Vec<(&'a str, &'a str, usize)>, SyntaxError> {
    let mut out = Vec::new();
    loop {
        let name_start = c.pos;
        while c
            .peek()
            .is_some_and(|ch| ch == '$' || ch.is_ascii_alphanumeric())
        {
            c.pos += 1;
        }
        let name = &c.src[name_start..c.pos];
        if name.is_empty() {
            return Err(c.error("expected a query option"));
        }
        c.expect('=')?;
        let value_start = c.pos;
        // the value runs to the next ';' or ')' outside parentheses and string literals
        let (mut depth, mut quoted) = (0usize, false);
        loop {
            match c.peek() {
                None => return Err(c.error("expected ')' closing the nested options")),
                Some('\'') => quoted = !quoted,
                Some('(') if !quoted => depth += 1,
                Some(')') if !quoted && depth > 0 => depth -= 1,
                Some(')' | ';') if !quoted && depth == 0 => break,
                _ => {}
            }
            c.pos += c.peek().map_or(1, char::len_utf8);
        }
        out.push((name, &c.src[value_start..c.pos], value_start));
        if c.eat(')') {
            return Ok(out);
        }
        c.expect(';')?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_with_nested_select_and_other_options() {
        let items =
            parse_expand("deviceType,user($select=userEmail, displayName;$filter=x eq ';')")
                .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].path, ["deviceType"]);
        assert_eq!(items[0].select, None);
        assert_eq!(items[1].path, ["user"]);
        assert_eq!(
            items[1].select,
            Some(vec![
                SelectItem::Path(vec!["userEmail".into()], Span { start: 24, end: 33 }),
                SelectItem::Path(vec!["displayName".into()], Span { start: 35, end: 46 }),
            ])
        );
        assert_eq!(items[1].options, []);
        assert_eq!(
            items[1].filter.as_ref().unwrap().span,
            Span { start: 55, end: 63 }
        );
        assert_eq!(
            items[1].written,
            [
                ("$select".to_string(), Span { start: 24, end: 46 }),
                ("$filter".to_string(), Span { start: 55, end: 63 })
            ]
        );
        let items =
            parse_expand("h($top=2;$skip=1;$count=true;$orderby=a desc;$levels=max;$search=x)")
                .unwrap();
        assert_eq!(items[0].top, Some((2, Span { start: 2, end: 8 })));
        assert_eq!(items[0].skip.unwrap().0, 1);
        assert!(items[0].count.unwrap().0);
        assert_eq!(items[0].orderby.len(), 1);
        assert_eq!(items[0].orderby[0].expr.span, Span { start: 38, end: 39 });
        assert_eq!(
            items[0].search.as_ref().unwrap().1,
            Span { start: 57, end: 66 }
        );
        assert_eq!(items[0].options, []);
        assert_eq!(
            parse_expand("h($top=2;$top=3)").unwrap_err().offset,
            9,
            "an option given twice"
        );
        assert_eq!(parse_expand("*").unwrap()[0].path, ["*"]);
        for (bad, at) in [
            ("", 0),
            ("a,", 2),
            ("a(", 2),
            ("a($select=x", 11),
            ("a b", 2),
        ] {
            assert_eq!(parse_expand(bad).unwrap_err().offset, at, "{bad}");
        }
        assert_eq!(
            parse_expand("a($select=x,)").unwrap_err().offset,
            12,
            "errors in the nested $select point into the whole text"
        );
        // nested options are checked; $ref and $count end a path
        assert_eq!(
            parse_expand("a($filter=x eq)").unwrap_err().offset,
            10 + crate::syntax::parse_filter("x eq").unwrap_err().offset
        );
        assert_eq!(parse_expand("a($top=x)").unwrap_err().offset, 7);
        assert_eq!(parse_expand("a($levels=0x)").unwrap_err().offset, 10);
        assert_eq!(parse_expand("a($nope=1)").unwrap_err().offset, 8);
        assert!(
            parse_expand("a($expand=b($expand=c($levels=max;$top=2));$orderby=x desc)").is_ok()
        );
        assert_eq!(parse_expand("a/$ref").unwrap()[0].path, ["a", "$ref"]);
        assert_eq!(parse_expand("a/$count($count=true)").unwrap_err().offset, 9);
        assert!(parse_expand("a/$count($filter=x eq 1;$search=y)").is_ok());
        let deep = format!("{}x{}", "a($expand=".repeat(20), ")".repeat(20));
        assert!(parse_expand(&deep)
            .unwrap_err()
            .message
            .contains("levels deep"));
    }
}
