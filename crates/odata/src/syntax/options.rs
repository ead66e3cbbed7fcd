//! The query string: system query options, custom options and parameter aliases.

use super::SyntaxError;

/// One query option as found in the URL (name and value percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOption {
    /// Name as written (decoded), e.g. `$filter` or `api-version`.
    pub name: String,
    /// Value (decoded); empty when the option had no `=`.
    pub value: String,
}

/// The options of a request, system options normalized to their lower-case `$` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// System query options (`$filter`, `$top`, ...) by canonical name, each at most once.
    pub system: Vec<QueryOption>,
    /// Every other option (custom options such as `api-version`, and parameter aliases).
    pub custom: Vec<QueryOption>,
}

impl QueryOptions {
    /// The value of a system option by canonical name (`"$filter"`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.system
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.value.as_str())
    }

    /// The value of a custom option by exact name.
    pub fn custom(&self, name: &str) -> Option<&str> {
        self.custom
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.value.as_str())
    }
}

const SYSTEM_OPTIONS: &[&str] = &[
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$skiptoken",
    "$format",
    "$expand",
    "$search",
    "$apply",
    "$compute",
    "$index",
    "$levels",
    "$deltatoken",
    "$schemaversion",
    "$id",
    "$at",
    "$from",
    "$to",
    "$toinclusive",
];

/// Splits and decodes a raw (still percent-encoded) query string. System options are matched
/// case-insensitively and with or without `$` (OData 4.01); a system option given twice, an
/// unknown `$` option, or invalid percent-encoding is an error whose offset points into the raw
/// query string. A `+` is kept as a plus sign, as RFC 3986 says (spaces must be `%20`).
pub fn parse_query_options(raw: &str) -> Result<QueryOptions, SyntaxError> {
    let mut out = QueryOptions::default();
    let mut offset = 0;
    for part in raw.split('&') {
        let part_offset = offset;
        offset += part.len() + 1;
        if part.is_empty() {
            continue;
        }
        let (name_raw, value_raw) = part.split_once('=').unwrap_or((part, ""));
        let name = decode(name_raw, part_offset)?;
        let value = decode(value_raw, part_offset + name_raw.len() + 1)?;
        let lower = name.to_ascii_lowercase();
        let canonical = if lower.starts_with('$') {
            lower.clone()
        } else {
            format!("${lower}")
        };
        if SYSTEM_OPTIONS.contains(&canonical.as_str()) {
            if out.system.iter().any(|o| o.name == canonical) {
                return Err(SyntaxError::new(
                    part_offset,
                    format!("the system query option '{canonical}' is given more than once"),
                ));
            }
            out.system.push(QueryOption {
                name: canonical,
                value,
            });
        } else if lower.starts_with('$') {
            return Err(SyntaxError::new(
                part_offset,
                format!("unknown system query option '{name}'"),
            ));
        } else {
            out.custom.push(QueryOption { name, value });
        }
    }
    Ok(out)
}

/// Percent-decodes one component; invalid escapes or UTF-8 are errors at their offset.
fn decode(raw: &str, base: usize) -> Result<String, SyntaxError> {
    percent_decode(raw).map_err(|(offset, message)| SyntaxError::new(base + offset, message))
}

/// `text` percent-decoded (hand-written where crates decode leniently: a bad escape is an error
/// at its offset, as every syntax error here is); the offset and reason otherwise.
pub(super) fn percent_decode(text: &str) -> Result<String, (usize, &'static str)> {
    if !text.contains('%') {
        return Ok(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or((i, "invalid percent-encoding"))?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| (0, "percent-encoding is not UTF-8"))
}

/// Parses `$top` or `$skip`: a non-negative integer. Blanks around it are ignored, as
/// community scripts send `$skip= 1000 ` (`%201000%20`).
pub fn parse_top_skip(text: &str) -> Result<u64, SyntaxError> {
    let start = text.len() - text.trim_start_matches([' ', '\t']).len();
    let digits = text.trim_matches([' ', '\t']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let bad = digits
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(0);
        return Err(SyntaxError::new(
            start + bad,
            "expected a non-negative integer",
        ));
    }
    digits
        .parse()
        .map_err(|_| SyntaxError::new(start, "number too large"))
}

/// Parses `$count`: `true` or `false`.
pub fn parse_count(text: &str) -> Result<bool, SyntaxError> {
    match text.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SyntaxError::new(0, "expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o =
            parse_query_options("$top=5&skip=10&api-version=v1.0&$filter=a%20eq%20'x+y'").unwrap();
        assert_eq!(o.get("$top"), Some("5"));
        assert_eq!(o.get("$skip"), Some("10"));
        assert_eq!(o.get("$filter"), Some("a eq 'x+y'"));
        assert_eq!(o.custom("api-version"), Some("v1.0"));
        assert_eq!(parse_query_options("$top=1&$TOP=2").unwrap_err().offset, 7);
        assert!(parse_query_options("$foo=1").is_err());
        assert_eq!(parse_query_options("$filter=%zz").unwrap_err().offset, 8);
        assert_eq!(parse_top_skip("12").unwrap(), 12);
        assert_eq!(parse_top_skip("1x").unwrap_err().offset, 1);
        assert!(parse_top_skip("-1").is_err());
        assert_eq!(parse_top_skip(" 1000 ").unwrap(), 1000);
        assert_eq!(parse_top_skip("\t7").unwrap(), 7);
        assert_eq!(parse_top_skip(" 1 2").unwrap_err().offset, 2);
        assert!(parse_top_skip("  ").is_err());
    }
}
