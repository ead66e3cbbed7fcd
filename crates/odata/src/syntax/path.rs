//! Resource paths and URLs without a model: `Categories(1)/Products/$count`, `$metadata`,
//! `People('O''Neil')/Addresses`, `Products/$filter(Price gt 5)/$each`, and the relative URL
//! with its query options. Names are kept as written; what they name (an entity set, a
//! navigation property, a function, a type) is for a router to decide against its model.
//!
//! Paths are read as they arrive, percent-encoded: a `/` separates segments (inside a string a
//! `/` must be written `%2F`), and each segment is decoded before its grammar is checked.

use super::cursor::Cursor;
use super::literal::literal;
use super::{parse_filter, parse_query_options, Expr, QueryOptions, Span, SyntaxError};

/// The longest identifier OData allows (`odataIdentifier`: 1 to 128 characters).
const MAX_IDENTIFIER: usize = 128;

/// The most segments [`parse_uri`] takes for a service root before the resource path (each is
/// one more attempt at parsing the rest).
const MAX_ROOT_SEGMENTS: usize = 16;

/// One segment of a resource path, with its span in the encoded path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathSegment {
    /// What the segment is.
    pub kind: Segment,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of path segments.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// `$metadata`
    Metadata,
    /// `$batch`
    Batch,
    /// `$entity` (an entity by its id, `$id`)
    Entity,
    /// `$all`
    All,
    /// `$crossjoin(A,B)`, with the entity sets named.
    CrossJoin(Vec<String>),
    /// `$count`
    Count,
    /// `$value`
    Value,
    /// `$ref`
    Ref,
    /// `$each`
    Each,
    /// `$query`
    Query,
    /// `$filter(expression)`
    Filter(Expr),
    /// A name (`Products`, `Model.Customer`) and what follows it in parentheses (a key
    /// predicate or a function's parameters; `Function(p=1)(2)` has two).
    Name {
        /// The name as written.
        name: String,
        /// The decoded text inside each pair of parentheses, checked against the grammar of key
        /// predicates and function parameters.
        groups: Vec<String>,
    },
    /// A value on its own (a key as a segment, `Customers/1`, or an ordinal index,
    /// `Addresses/0`), decoded.
    Literal(String),
}

/// A relative URL: a resource path, its query options, and a fragment (`$metadata#...`).
#[derive(Debug, Clone, PartialEq)]
pub struct RelativeUri {
    /// The path's segments.
    pub segments: Vec<PathSegment>,
    /// The query options, split and decoded (system options checked against their grammar by
    /// [`parse_relative_uri`]).
    pub options: QueryOptions,
    /// The fragment after `#`, if any.
    pub fragment: Option<String>,
}

/// Parses an `odataIdentifier`: a letter or `_`, then up to 127 letters, digits or `_`.
pub fn parse_identifier(text: &str) -> Result<(), SyntaxError> {
    let mut c = Cursor::new(text);
    let id = c
        .identifier()
        .ok_or_else(|| c.error("expected an identifier"))?;
    if id.len() > MAX_IDENTIFIER {
        return Err(SyntaxError::new(
            MAX_IDENTIFIER,
            "an identifier has at most 128 characters",
        ));
    }
    if !c.at_end() {
        return Err(c.error("expected the end of the identifier"));
    }
    Ok(())
}

/// Parses a resource path below the service root, as written in the URL (percent-encoded, no
/// leading `/`; an empty path is the service document).
pub fn parse_resource_path(raw: &str) -> Result<Vec<PathSegment>, SyntaxError> {
    let mut segments = Vec::new();
    for (start, text) in split_segments(raw)? {
        let decoded = decode(text, start)?;
        let kind = segment(&decoded, segments.is_empty()).map_err(|e| SyntaxError {
            offset: start + e.offset.min(text.len()),
            message: e.message,
        })?;
        let span = Span {
            start,
            end: start + text.len(),
        };
        check_after(&segments, &kind, span)?;
        segments.push(PathSegment { kind, span });
    }
    Ok(segments)
}

/// Parses a relative URL (`Categories(1)/Products?$top=2&$orderby=Name`): the resource path,
/// then the query options, each system option checked against its grammar and each parameter
/// alias's value as an expression; `$entity` needs `$id`, and `$select`/`$expand` only with a
/// type cast after it.
pub fn parse_relative_uri(raw: &str) -> Result<RelativeUri, SyntaxError> {
    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, Some(f.to_string())),
        None => (raw, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let segments = parse_resource_path(path)?;
    let query_start = path.len() + 1;
    let options = match query {
        Some(q) => parse_query_options(q).map_err(|e| SyntaxError {
            offset: query_start + e.offset,
            message: e.message,
        })?,
        None => QueryOptions::default(),
    };
    let at = |name: &str| {
        query
            .and_then(|q| q.find(name.trim_start_matches('$')))
            .map_or(query_start, |i| query_start + i)
    };
    for o in &options.system {
        check_option(&o.name, &o.value).map_err(|e| SyntaxError {
            offset: at(&o.name),
            message: format!("{}: {}", o.name, e.message),
        })?;
    }
    for o in options.custom.iter().filter(|o| o.name.starts_with('@')) {
        // an expression, or a complex or collection value written as JSON
        let checked = if o.value.starts_with(['{', '[']) {
            serde_json::from_str::<serde_json::Value>(&o.value)
                .map(|_| ())
                .map_err(|e| SyntaxError::new(e.column().saturating_sub(1), e.to_string()))
                // an array of expressions (`[$root/Customers(1),$root/Customers(2)]`)
                .or_else(|e| parse_filter(&o.value).map(|_| ()).map_err(|_| e))
        } else {
            parse_filter(&o.value).map(|_| ())
        };
        checked.map_err(|e| SyntaxError {
            offset: at(&o.name),
            message: format!("{}: {}", o.name, e.message),
        })?;
    }
    if segments.first().is_some_and(|s| s.kind == Segment::Entity) {
        let cast = segments.len() > 1;
        if options.get("$id").is_none() {
            return Err(SyntaxError::new(raw.len(), "$entity needs $id"));
        }
        if let Some(o) = ["$select", "$expand"]
            .into_iter()
            .find(|o| options.get(o).is_some() && !cast)
        {
            return Err(SyntaxError::new(
                at(o) - 1,
                format!("{o} with $entity needs the entity's type: $entity/Namespace.Type"),
            ));
        }
    }
    Ok(RelativeUri {
        segments,
        options,
        fragment,
    })
}

/// Parses an absolute URL of a service (`http://host:8080/service/Products(1)?$select=Name`):
/// scheme, authority, then a path whose last segments are a resource path below a service
/// root the model-free parser cannot tell (the longest valid one is taken; the root has at most
/// 16 segments).
pub fn parse_uri(raw: &str) -> Result<RelativeUri, SyntaxError> {
    let mut c = Cursor::new(raw);
    let scheme = c.identifier().ok_or_else(|| c.error("expected a scheme"))?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(SyntaxError::new(0, "the scheme is http or https"));
    }
    if !c.rest().starts_with("://") {
        return Err(c.error("expected '://'"));
    }
    c.pos += 3;
    authority(&mut c)?;
    let after_host = c.pos;
    let rest = c.rest();
    if rest.is_empty() {
        return parse_relative_uri("");
    }
    let rest = rest
        .strip_prefix('/')
        .ok_or_else(|| c.error("expected '/' after the host"))?;
    let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
    // try each split between the service root and the resource path, longest path first
    let mut first_error = None;
    let mut root_end = 0;
    for _ in 0..=MAX_ROOT_SEGMENTS {
        match parse_relative_uri(&rest[root_end..]) {
            Ok(uri) => return Ok(uri),
            Err(e) => {
                first_error.get_or_insert(SyntaxError {
                    offset: after_host + 1 + root_end + e.offset,
                    message: e.message,
                });
            }
        }
        match rest[root_end..path_end].find('/') {
            Some(i) => root_end += i + 1,
            None => break,
        }
    }
    Err(first_error.expect("one attempt at least"))
}

/// Reads a URL's authority: a host name, an IPv4 address or a bracketed IP literal, then an
/// optional port.
fn authority(c: &mut Cursor<'_>) -> Result<(), SyntaxError> {
    if c.eat('[') {
        let end = c
            .rest()
            .find(']')
            .ok_or_else(|| c.error("expected ']' closing the IP literal"))?;
        let literal = &c.rest()[..end];
        let valid = !literal.is_empty()
            && literal
                .chars()
                .all(|ch| ch.is_ascii_hexdigit() || matches!(ch, ':' | '.' | 'v' | 'V'));
        if !valid {
            return Err(c.error("expected an IP literal"));
        }
        c.pos += end + 1;
    } else {
        let start = c.pos;
        while c
            .peek()
            .is_some_and(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '.' | '_' | '~'))
        {
            c.pos += 1;
        }
        if c.pos == start {
            return Err(c.error("expected a host"));
        }
    }
    if c.eat(':') {
        while c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
            c.pos += 1;
        }
    }
    Ok(())
}

/// The segments of an encoded path with their offsets: split at each `/` outside parentheses
/// (a `$filter(...)` segment's expression has its own), where a `/` inside a string literal is
/// an error (it must be encoded).
fn split_segments(raw: &str) -> Result<Vec<(usize, &str)>, SyntaxError> {
    let mut out = Vec::new();
    if raw.is_empty() {
        return Ok(out);
    }
    let (mut depth, mut quoted, mut start) = (0usize, false, 0);
    for (i, b) in raw.bytes().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'/' if quoted => {
                return Err(SyntaxError::new(
                    i,
                    "a '/' inside a string in a path must be percent-encoded (%2F)",
                ))
            }
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth = depth.saturating_sub(1),
            b'/' if depth == 0 => {
                out.push((start, &raw[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, &raw[start..]));
    Ok(out)
}

/// Percent-decodes a segment (errors at their offset in the whole path).
fn decode(text: &str, start: usize) -> Result<String, SyntaxError> {
    super::options::percent_decode(text).map_err(|(offset, message)| {
        SyntaxError::new(start + offset, format!("{message} in the path"))
    })
}

/// One decoded segment; `first` for the path's first.
fn segment(text: &str, first: bool) -> Result<Segment, SyntaxError> {
    if text.is_empty() {
        return Err(SyntaxError::new(0, "a path segment is empty"));
    }
    if let Some(keyword) = text.strip_prefix('$') {
        return dollar_segment(keyword, text, first);
    }
    let mut c = Cursor::new(text);
    if let Some(name) = c.qualified_identifier() {
        if first && name.contains('.') {
            return Err(SyntaxError::new(
                name.find('.').expect("qualified"),
                "a path starts with an entity set, a singleton or an operation import, not a qualified name",
            ));
        }
        if name.split('.').any(|part| part.len() > MAX_IDENTIFIER) {
            return Err(SyntaxError::new(
                0,
                "an identifier has at most 128 characters",
            ));
        }
        let mut groups = Vec::new();
        while c.eat('(') {
            groups.push(group(&mut c)?.to_string());
        }
        if c.at_end() {
            return Ok(Segment::Name {
                name: name.to_string(),
                groups,
            });
        }
        if !groups.is_empty() || text.contains('(') || c.peek() == Some('.') {
            return Err(c.error("expected '(' or the end of the segment"));
        }
    } else if first || text.contains(['(', ')']) {
        return Err(c.error("expected a name"));
    }
    // a key as a segment, or an ordinal index
    Ok(Segment::Literal(text.to_string()))
}

/// A segment starting with `$` (`keyword` after it).
fn dollar_segment(keyword: &str, text: &str, first: bool) -> Result<Segment, SyntaxError> {
    let simple = match keyword {
        "metadata" if first => Some(Segment::Metadata),
        "batch" if first => Some(Segment::Batch),
        "entity" if first => Some(Segment::Entity),
        "all" if first => Some(Segment::All),
        "count" if !first => Some(Segment::Count),
        "value" if !first => Some(Segment::Value),
        "ref" if !first => Some(Segment::Ref),
        "each" if !first => Some(Segment::Each),
        "query" => Some(Segment::Query),
        _ => None,
    };
    if let Some(s) = simple {
        return Ok(s);
    }
    let mut c = Cursor::new(text);
    c.pos = 1;
    let name = c.identifier().unwrap_or_default();
    let inner = |c: &mut Cursor<'_>| -> Result<String, SyntaxError> {
        c.expect('(')?;
        let start = c.pos;
        let end = start + matching_close(&text[start..]).ok_or_else(|| c.error("expected ')'"))?;
        c.pos = end + 1;
        if !c.at_end() {
            return Err(c.error("expected the end of the segment"));
        }
        Ok(text[start..end].to_string())
    };
    match name {
        "crossjoin" if first => {
            let inside = inner(&mut c)?;
            let sets: Vec<String> = inside.split(',').map(|s| s.trim().to_string()).collect();
            for (i, set) in sets.iter().enumerate() {
                parse_identifier(set).map_err(|e| SyntaxError {
                    offset: 11 + sets[..i].iter().map(|s| s.len() + 1).sum::<usize>() + e.offset,
                    message: e.message,
                })?;
            }
            Ok(Segment::CrossJoin(sets))
        }
        "filter" if !first => {
            let inside = inner(&mut c)?;
            let expr = parse_filter(&inside).map_err(|e| SyntaxError {
                offset: 8 + e.offset,
                message: e.message,
            })?;
            Ok(Segment::Filter(expr))
        }
        _ => Err(SyntaxError::new(
            0,
            format!("'{text}' is not a path segment here"),
        )),
    }
}

/// The offset of the `)` closing an opening parenthesis just before `text` (quotes respected).
fn matching_close(text: &str) -> Option<usize> {
    let (mut depth, mut quoted) = (0usize, false);
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted && depth == 0 => return Some(i),
            b')' if !quoted => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Reads the inside of one pair of parentheses after a name, and its `)`: nothing, or values
/// separated by `,`, each a primitive literal or a parameter alias, named (`ID=1`,
/// `color=@c`) or not (a single key value).
fn group<'a>(c: &mut Cursor<'a>) -> Result<&'a str, SyntaxError> {
    let start = c.pos;
    if c.eat(')') {
        return Ok("");
    }
    loop {
        let save = c.pos;
        if c.identifier().is_some() && !c.eat('=') {
            c.pos = save;
        }
        if c.eat('@') {
            c.identifier()
                .ok_or_else(|| c.error("expected a parameter alias's name"))?;
        } else if literal(c)?.is_none() {
            return Err(c.error("expected a key value, a parameter value or an alias"));
        }
        if c.eat(')') {
            return Ok(&c.src[start..c.pos - 1]);
        }
        if !c.eat(',') {
            return Err(c.error("expected ',' or ')'"));
        }
    }
}

/// What may follow what: nothing follows `$metadata`, `$batch`, `$count`, `$ref`, `$value` or
/// `$query`; after `$entity` or `$all` only a type cast; `$crossjoin` only `$query`.
fn check_after(before: &[PathSegment], next: &Segment, span: Span) -> Result<(), SyntaxError> {
    let Some(last) = before.last() else {
        return Ok(());
    };
    let ends = matches!(
        last.kind,
        Segment::Metadata
            | Segment::Batch
            | Segment::Count
            | Segment::Ref
            | Segment::Value
            | Segment::Query
    );
    let cast =
        matches!(next, Segment::Name { name, groups } if name.contains('.') && groups.is_empty());
    let allowed = match &last.kind {
        _ if ends => false,
        Segment::Entity | Segment::All => cast && before.len() == 1,
        Segment::CrossJoin(_) => *next == Segment::Query,
        _ => true,
    };
    if allowed {
        Ok(())
    } else {
        Err(SyntaxError::new(
            span.start,
            "nothing of this kind may follow the segment before it",
        ))
    }
}

/// Checks a system query option's value against its grammar.
fn check_option(name: &str, value: &str) -> Result<(), SyntaxError> {
    match name {
        "$filter" => parse_filter(value).map(|_| ()),
        "$orderby" => super::parse_orderby(value).map(|_| ()),
        "$select" => super::parse_select(value).map(|_| ()),
        "$expand" => super::parse_expand(value).map(|_| ()),
        "$top" | "$skip" | "$index" => super::parse_top_skip(value).map(|_| ()),
        "$count" => super::parse_count(value).map(|_| ()),
        "$search" => super::parse_search(value).map(|_| ()),
        "$compute" => super::parse_compute(value).map(|_| ()),
        "$apply" => super::parse_apply(value).map(|_| ()),
        "$at" | "$from" | "$to" | "$toinclusive" => super::parse_temporal(value).map(|_| ()),
        "$levels" if value == "max" || value.parse::<u64>().is_ok_and(|n| n > 0) => Ok(()),
        "$levels" => Err(SyntaxError::new(0, "$levels is a positive integer or max")),
        _ if value.is_empty() => Err(SyntaxError::new(0, "the option has no value")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(path: &str) -> Vec<Segment> {
        parse_resource_path(path)
            .unwrap()
            .into_iter()
            .map(|s| s.kind)
            .collect()
    }

    fn name(n: &str, groups: &[&str]) -> Segment {
        Segment::Name {
            name: n.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn segments_of_paths() {
        assert_eq!(kinds(""), []);
        assert_eq!(kinds("$metadata"), [Segment::Metadata]);
        assert_eq!(
            kinds("devices(1)/deviceName/$value"),
            [
                name("devices", &["1"]),
                name("deviceName", &[]),
                Segment::Value
            ]
        );
        assert_eq!(kinds("users(%27a%27%27b%27)"), [name("users", &["'a''b'"])]);
        assert_eq!(
            kinds("F(p=@a)(2)/Model.Cast/$count"),
            [
                name("F", &["p=@a", "2"]),
                name("Model.Cast", &[]),
                Segment::Count
            ]
        );
        assert_eq!(
            kinds("People/O%27Neil/Addresses/0"),
            [
                name("People", &[]),
                Segment::Literal("O'Neil".into()),
                name("Addresses", &[]),
                Segment::Literal("0".into())
            ]
        );
        assert!(matches!(
            kinds("Products/$filter(Address/City eq 'x')/$each")[1],
            Segment::Filter(_)
        ));
        for (bad, at) in [
            ("Categories('Smartphone/Tablet')", 22),
            ("OrderItems(OrderID=1;ItemID='a')", 20),
            ("Products.('foo')", 8),
            (".Products('foo')", 0),
            ("Model.Rejection", 5),
            ("Products/$count/foo", 16),
            ("devices(1", 9),
            ("a//b", 2),
        ] {
            assert_eq!(parse_resource_path(bad).unwrap_err().offset, at, "{bad}");
        }
    }

    #[test]
    fn relative_and_absolute_urls() {
        let uri = parse_relative_uri("Categories(1)/Products?$top=2&$orderby=Name").unwrap();
        assert_eq!(uri.segments.len(), 2);
        assert_eq!(uri.options.get("$top"), Some("2"));
        assert!(parse_relative_uri("Products?$top=x").is_err());
        assert!(parse_relative_uri("$entity?$id=urn:x").is_ok());
        assert!(parse_relative_uri("$entity?$format=json").is_err());
        assert!(parse_relative_uri("$entity?$id=urn:x&$select=a").is_err());
        assert!(parse_relative_uri("$entity/M.T?$id=urn:x&$select=a").is_ok());
        assert!(parse_relative_uri("F(c=@c)?@c={\"Name\":[1,2]}").is_ok());
        assert!(parse_relative_uri("F(c=@c)?@c={\"Name\":").is_err());
        assert!(parse_uri("https://[2001:db8::1]:8080/MyService/").is_ok());
        assert!(parse_uri("http://h/service/$metadata?$format=json").is_ok());
        assert_eq!(parse_uri("http//My.Org/").unwrap_err().offset, 4);
        assert!(parse_identifier("__ID").is_ok());
        assert_eq!(parse_identifier("0time").unwrap_err().offset, 0);
        assert_eq!(parse_identifier("No.Dot").unwrap_err().offset, 2);
    }
}
