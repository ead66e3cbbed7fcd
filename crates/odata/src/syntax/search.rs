//! `$search` (and `search(...)` in `$apply`): words and "phrases" combined with `NOT`, `AND`
//! (also implied between adjacent terms) and `OR`, with parentheses; `NOT` binds tightest, then
//! `AND`, then `OR`, as in the OData 4.01 ABNF.

use super::cursor::Cursor;
use super::limits::{self, MAX_EXPRESSION_DEPTH, MAX_SEARCH_TERMS};
use super::SyntaxError;

/// A search expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchExpr {
    /// A word or a phrase (quotes removed, `\"` and `\\` unescaped).
    Term(String),
    /// `NOT x`
    Not(Box<SearchExpr>),
    /// `x AND y`, or `x y`
    And(Box<SearchExpr>, Box<SearchExpr>),
    /// `x OR y`
    Or(Box<SearchExpr>, Box<SearchExpr>),
}

/// Parses a `$search` value (at most [`MAX_SEARCH_TERMS`] terms).
///
/// A value in single quotes is the "incomplete" form clients send while a user types: its
/// content (`''` for a quote) is parsed as a search expression, or taken as one phrase when it
/// is not one.
pub fn parse_search(text: &str) -> Result<SearchExpr, SyntaxError> {
    let trimmed = text.trim();
    if let Some(inner) = trimmed
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .filter(|_| trimmed.len() >= 2)
    {
        let inner = inner.replace("''", "'");
        return match parse_complete(&inner) {
            Ok(e) => Ok(e),
            Err(_) if !inner.trim().is_empty() => Ok(SearchExpr::Term(inner)),
            Err(_) => Err(SyntaxError::new(
                1,
                "expected a search expression inside the quotes",
            )),
        };
    }
    parse_complete(text)
}

/// A search expression without the single-quoted form.
fn parse_complete(text: &str) -> Result<SearchExpr, SyntaxError> {
    let mut p = SearchParser {
        c: Cursor::new(text),
        depth: 0,
        terms: 0,
        too_deep: None,
    };
    p.c.skip_ws();
    let e = p.or();
    // past the depth limit, even where a failed operator would otherwise be read as a word
    if let Some(at) = p.too_deep {
        return Err(limits::too_deep(at));
    }
    let e = e?;
    p.c.skip_ws();
    if !p.c.at_end() {
        return Err(p.c.error("expected a search term, AND, OR or the end"));
    }
    Ok(e)
}

struct SearchParser<'a> {
    c: Cursor<'a>,
    /// Nesting of `or` and `NOT` (each a recursion).
    depth: usize,
    terms: usize,
    /// Where the nesting first went past [`MAX_EXPRESSION_DEPTH`].
    too_deep: Option<usize>,
}

impl SearchParser<'_> {
    /// `and *( "OR" and )`; an `OR` with no term after it is a word.
    fn or(&mut self) -> Result<SearchExpr, SyntaxError> {
        self.deeper()?;
        let mut left = self.and()?;
        while let Some(right) = self.operand_after("OR", Self::and) {
            left = SearchExpr::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    /// `term *( ["AND"] term )`; an `AND` with no term after it is a word.
    fn and(&mut self) -> Result<SearchExpr, SyntaxError> {
        let mut left = self.unary()?;
        loop {
            if let Some(right) = self.operand_after("AND", Self::unary) {
                left = SearchExpr::And(Box::new(left), Box::new(right));
                continue;
            }
            // an adjacent term, unless what follows is an OR operator or ends this level
            if self.is_operator("OR") {
                break;
            }
            let save = self.c.pos;
            if self.c.skip_ws() == 0 || matches!(self.c.peek(), None | Some(')')) {
                self.c.pos = save;
                break;
            }
            let right = self.unary()?;
            left = SearchExpr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// One more level of recursion, refused past [`MAX_EXPRESSION_DEPTH`].
    fn deeper(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            self.too_deep.get_or_insert(self.c.pos);
            return Err(limits::too_deep(self.c.pos));
        }
        Ok(())
    }

    /// Whether ` KEYWORD term` follows (without consuming it).
    fn is_operator(&mut self, keyword: &str) -> bool {
        let (pos, terms) = (self.c.pos, self.terms);
        let found = self.operand_after(keyword, Self::unary).is_some();
        (self.c.pos, self.terms) = (pos, terms);
        found
    }

    /// ` KEYWORD operand`: the operand, or nothing (and the position unchanged) when the keyword
    /// is not there or no operand follows it (the keyword is then a word).
    fn operand_after(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<SearchExpr, SyntaxError>,
    ) -> Option<SearchExpr> {
        let (pos, terms, depth) = (self.c.pos, self.terms, self.depth);
        if self.c.skip_ws() > 0 && self.at_word(keyword) {
            self.c.pos += keyword.len();
            if self.c.skip_ws() > 0 {
                if let Ok(e) = operand(self) {
                    return Some(e);
                }
            }
        }
        (self.c.pos, self.terms, self.depth) = (pos, terms, depth);
        None
    }

    /// `["NOT"] ( "(" or ")" / phrase / word )`; a `NOT` with no term after it is a word.
    fn unary(&mut self) -> Result<SearchExpr, SyntaxError> {
        if self.at_word("NOT") {
            let (pos, terms, depth) = (self.c.pos, self.terms, self.depth);
            self.deeper()?;
            self.c.pos += 3;
            if self.c.skip_ws() > 0 {
                if let Ok(e) = self.unary() {
                    self.depth -= 1;
                    return Ok(SearchExpr::Not(Box::new(e)));
                }
            }
            (self.c.pos, self.terms, self.depth) = (pos, terms, depth);
        }
        if self.c.eat('(') {
            self.c.skip_ws();
            let e = self.or()?;
            self.c.skip_ws();
            self.c.expect(')')?;
            return Ok(e);
        }
        self.terms += 1;
        if self.terms > MAX_SEARCH_TERMS {
            return Err(self
                .c
                .error(format!("$search has more than {MAX_SEARCH_TERMS} terms")));
        }
        if self.c.eat('"') {
            return self.phrase();
        }
        let start = self.c.pos;
        while let Some(ch) = self.c.peek() {
            if ch.is_whitespace() || matches!(ch, '(' | ')' | '"') {
                break;
            }
            self.c.pos += ch.len_utf8();
        }
        if self.c.pos == start {
            return Err(self.c.error("expected a search word or a \"phrase\""));
        }
        Ok(SearchExpr::Term(self.c.src[start..self.c.pos].to_string()))
    }

    /// The rest of a phrase after its opening quote.
    fn phrase(&mut self) -> Result<SearchExpr, SyntaxError> {
        let mut text = String::new();
        loop {
            match self.c.peek() {
                None => return Err(self.c.error("unterminated phrase")),
                Some('"') => {
                    self.c.pos += 1;
                    break;
                }
                Some('\\') => {
                    self.c.pos += 1;
                    match self.c.peek() {
                        Some(ch @ ('"' | '\\')) => {
                            text.push(ch);
                            self.c.pos += 1;
                        }
                        _ => return Err(self.c.error("expected \\\" or \\\\ after \\")),
                    }
                }
                Some(ch) => {
                    text.push(ch);
                    self.c.pos += ch.len_utf8();
                }
            }
        }
        if text.is_empty() {
            return Err(self.c.error("a phrase cannot be empty"));
        }
        Ok(SearchExpr::Term(text))
    }

    /// Whether `word` (a keyword) starts here, followed by a blank, a parenthesis or the end.
    fn at_word(&self, word: &str) -> bool {
        let rest = self.c.rest();
        rest.starts_with(word)
            && rest[word.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == '(')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Box<SearchExpr> {
        Box::new(SearchExpr::Term(s.into()))
    }

    #[test]
    fn precedence_phrases_and_implied_and() {
        use SearchExpr::*;
        assert_eq!(
            parse_search("a b OR NOT c").unwrap(),
            Or(Box::new(And(t("a"), t("b"))), Box::new(Not(t("c"))))
        );
        assert_eq!(
            parse_search("(a OR b) AND \"x \\\" y\"").unwrap(),
            And(Box::new(Or(t("a"), t("b"))), t("x \" y"))
        );
        assert_eq!(
            parse_search("  DESKTOP-1 ").unwrap(),
            Term("DESKTOP-1".into())
        );
        assert_eq!(
            parse_search("ORACLE ANDROID").unwrap(),
            And(t("ORACLE"), t("ANDROID"))
        );
        // keywords without operands are words; the single-quoted form
        assert_eq!(parse_search("a AND").unwrap(), And(t("a"), t("AND")));
        assert_eq!(parse_search("NOT").unwrap(), Term("NOT".into()));
        assert_eq!(parse_search("OR AND").unwrap(), And(t("OR"), t("AND")));
        assert_eq!(
            parse_search("'it''s NOT x'").unwrap(),
            And(t("it's"), Box::new(Not(t("x"))))
        );
        assert_eq!(parse_search("'\"blue'").unwrap(), Term("\"blue".into()));
    }

    #[test]
    fn errors_and_bounds() {
        assert_eq!(parse_search("\"open").unwrap_err().offset, 5);
        assert_eq!(parse_search("(a").unwrap_err().offset, 2);
        assert_eq!(parse_search("a)").unwrap_err().offset, 1);
        assert!(parse_search("").is_err());
        assert!(parse_search(&vec!["w"; 40].join(" ")).is_err());
        let deep = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(parse_search(&deep).is_err());
        // NOT recurses too: bounded, and refused even where a NOT could be read as a word
        assert!(parse_search(&"NOT ".repeat(3000))
            .unwrap_err()
            .message
            .contains("nested"));
        assert!(parse_search(&format!("{}x", "NOT ".repeat(99))).is_ok());
    }
}
