//! `$select` lists.

use super::cursor::Cursor;
use super::*;

/// Parses a `$select` value: `*` or comma-separated property paths, at most
/// [`limits::MAX_SELECT_ITEMS`].
pub fn parse_select(text: &str) -> Result<Vec<SelectItem>, SyntaxError> {
    let mut c = Cursor::new(text);
    let mut items = Vec::new();
    loop {
        c.skip_ws();
        if items.len() == limits::MAX_SELECT_ITEMS {
            return Err(limits::too_many_items(
                "$select",
                limits::MAX_SELECT_ITEMS,
                c.pos,
            ));
        }
        if c.eat('*') {
            items.push(SelectItem::Star);
        } else {
            let start = c.pos;
            let mut segments = Vec::new();
            loop {
                let seg = if c.peek() == Some('@') {
                    return Err(c.error("annotations in $select are not supported"));
                } else {
                    c.qualified_identifier()
                        .ok_or_else(|| c.error("expected a property name"))?
                };
                segments.push(seg.to_string());
                if c.peek() == Some('/') {
                    c.pos += 1;
                    if c.eat('*') {
                        segments.push("*".into());
                        break;
                    }
                    continue;
                }
                break;
            }
            if c.peek() == Some('(') {
                return Err(c.error("nested select options are not supported"));
            }
            items.push(SelectItem::Path(segments, Span { start, end: c.pos }));
        }
        c.skip_ws();
        if c.at_end() {
            return Ok(items);
        }
        if !c.eat(',') {
            return Err(c.error("expected ',' or the end of $select"));
        }
    }
}
