//! Key predicates: the text between the parentheses of `devices(42)` or `(a=1,b='x')`.

use super::cursor::Cursor;
use super::literal::literal;
use super::*;

/// One value of a key predicate: `(42)` has one unnamed value, `(a=1,b='x')` named ones.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// Property name, for named key values.
    pub name: Option<String>,
    /// The value.
    pub value: Literal,
    /// Offset of the value in the predicate text.
    pub offset: usize,
}

/// Parses the text between the parentheses of a key predicate.
pub fn parse_key(text: &str) -> Result<Vec<KeyValue>, SyntaxError> {
    let mut c = Cursor::new(text);
    let mut out = Vec::new();
    loop {
        c.skip_ws();
        let save = c.pos;
        let mut name = None;
        if let Some(id) = c.identifier() {
            c.skip_ws();
            if c.eat('=') {
                name = Some(id.to_string());
                c.skip_ws();
            } else {
                c.pos = save;
            }
        }
        let offset = c.pos;
        let value = literal(&mut c)?.ok_or_else(|| c.error("expected a key value"))?;
        out.push(KeyValue {
            name,
            value,
            offset,
        });
        c.skip_ws();
        if c.at_end() {
            return Ok(out);
        }
        c.expect(',')?;
    }
}
