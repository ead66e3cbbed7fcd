//! A character cursor over query text with the small helpers every grammar rule needs.

use super::SyntaxError;

pub(crate) struct Cursor<'a> {
    pub src: &'a str,
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    pub fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    pub fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub fn peek_at(&self, n: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + n).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, c: char) -> Result<(), SyntaxError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected '{c}'")))
        }
    }

    /// Skips optional whitespace (BWS); returns how much was skipped.
    pub fn skip_ws(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    pub fn error(&self, message: impl Into<String>) -> SyntaxError {
        let message = message.into();
        match self.peek() {
            Some(c) => SyntaxError::new(self.pos, format!("{message}, found '{c}'")),
            None => SyntaxError::new(self.pos, format!("{message}, found end of input")),
        }
    }

    /// Reads an identifier (`[A-Za-z_][A-Za-z0-9_]*`) without consuming anything else.
    pub fn identifier(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let mut chars = rest.char_indices();
        match chars.next() {
            Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => {}
            _ => return None,
        }
        let end = chars
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        self.pos += end;
        Some(&rest[..end])
    }

    /// Reads a possibly qualified identifier (`a.b.c`).
    pub fn qualified_identifier(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.identifier()?;
        loop {
            let save = self.pos;
            if self.eat('.') && self.identifier().is_some() {
                continue;
            }
            self.pos = save;
            break;
        }
        Some(&self.src[start..self.pos])
    }

    /// Consumes `word` case-insensitively when it is followed by a non-identifier character.
    pub fn eat_keyword(&mut self, word: &str) -> bool {
        let rest = self.rest();
        if rest.len() >= word.len()
            && rest.as_bytes()[..word.len()].eq_ignore_ascii_case(word.as_bytes())
            && !rest[word.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Reads exactly `n` ASCII digits.
    pub fn digits(&mut self, n: usize) -> Option<u32> {
        let rest = self.rest().as_bytes();
        if rest.len() < n || !rest[..n].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = rest[..n]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        self.pos += n;
        Some(v)
    }
}
