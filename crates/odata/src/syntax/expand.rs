//! `$expand`: navigation properties to include inline, each with its own options
//! (`deviceType($select=deviceTypeName)`).

use super::cursor::Cursor;
use super::{limits, parse_select, SelectItem, Span, SyntaxError};

/// One `$expand` item.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandItem {
    /// The navigation path as written; `["*"]` for every navigation property.
    pub path: Vec<String>,
    /// Where the path was written.
    pub span: Span,
    /// The nested `$select`, if any.
    pub select: Option<Vec<SelectItem>>,
    /// Other nested options by name (`$filter`, `$expand`, ...), with where each was written.
    pub options: Vec<(String, Span)>,
}

/// Parses a `$expand` value.
pub fn parse_expand(text: &str) -> Result<Vec<ExpandItem>, SyntaxError> {
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
        if c.eat('*') {
            path.push("*".to_string());
        } else {
            loop {
                let segment = c
                    .qualified_identifier()
                    .ok_or_else(|| c.error("expected a navigation property"))?;
                path.push(segment.to_string());
                if !c.eat('/') {
                    break;
                }
                if c.peek() == Some('$') {
                    return Err(c.error("$ref and $count in $expand are not supported"));
                }
            }
        }
        let span = Span { start, end: c.pos };
        let (mut select, mut options) = (None, Vec::new());
        if c.eat('(') {
            for (name, value, at) in nested_options(&mut c)? {
                if name.eq_ignore_ascii_case("$select") {
                    let parsed = parse_select(value).map_err(|e| SyntaxError {
                        offset: at + e.offset,
                        message: e.message,
                    })?;
                    let shift = |item: SelectItem| match item {
                        SelectItem::Path(p, s) => SelectItem::Path(
                            p,
                            Span {
                                start: s.start + at,
                                end: s.end + at,
                            },
                        ),
                        star => star,
                    };
                    select = Some(parsed.into_iter().map(shift).collect());
                } else {
                    options.push((
                        name.to_string(),
                        Span {
                            start: at - name.len() - 1,
                            end: at + value.len(),
                        },
                    ));
                }
            }
        }
        items.push(ExpandItem {
            path,
            span,
            select,
            options,
        });
        c.skip_ws();
        if c.at_end() {
            return Ok(items);
        }
        if !c.eat(',') {
            return Err(c.error("expected ',' or the end of $expand"));
        }
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
                Some(')' | ';') if !quoted => break,
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
        assert_eq!(
            items[1].options,
            [("$filter".to_string(), Span { start: 47, end: 63 })]
        );
        assert_eq!(parse_expand("*").unwrap()[0].path, ["*"]);
        for (bad, at) in [
            ("", 0),
            ("a,", 2),
            ("a(", 2),
            ("a($select=x", 11),
            ("a/$ref", 2),
            ("a b", 2),
        ] {
            assert_eq!(parse_expand(bad).unwrap_err().offset, at, "{bad}");
        }
        assert_eq!(
            parse_expand("a($select=x,)").unwrap_err().offset,
            12,
            "errors in the nested $select point into the whole text"
        );
    }
}
