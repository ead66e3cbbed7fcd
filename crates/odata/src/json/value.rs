//! The vocabulary of payloads (metadata levels, the cells of a row) and the writers of single
//! values: strings, numbers, date-times, key literals.

use crate::edm::PrimitiveType;
use row::Cell;

/// How much control information payloads carry (`odata.metadata=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataLevel {
    /// No control information except paging.
    None,
    /// Context URL, count and next link (the default).
    Minimal,
    /// Also entity ids, edit links and type annotations.
    Full,
}

/// Appends `s` as a JSON string literal.
pub fn write_string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                buf.extend_from_slice(&bytes[start..i]);
                buf.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(esc);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

fn push_digits(buf: &mut Vec<u8>, v: u32, width: usize) {
    let mut tmp = [b'0'; 10];
    let mut v = v;
    for i in (0..width).rev() {
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf.extend_from_slice(&tmp[..width]);
}

/// Appends an ISO 8601 UTC timestamp for `micros` since the Unix epoch, without quotes:
/// `2026-11-01T10:00:00Z`, with fractional seconds only when they are not zero.
pub fn write_timestamp(buf: &mut Vec<u8>, micros: i64) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    // civil_from_days (H. Hinnant), valid for the whole i64 day range we store
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    push_digits(buf, y.clamp(0, 9999) as u32, 4);
    buf.push(b'-');
    push_digits(buf, m, 2);
    buf.push(b'-');
    push_digits(buf, d, 2);
    buf.push(b'T');
    push_digits(buf, sod / 3600, 2);
    buf.push(b':');
    push_digits(buf, sod / 60 % 60, 2);
    buf.push(b':');
    push_digits(buf, sod % 60, 2);
    if frac != 0 {
        buf.push(b'.');
        let mut f = frac;
        let mut width = 6;
        while f.is_multiple_of(10) {
            f /= 10;
            width -= 1;
        }
        push_digits(buf, f, width);
    }
    buf.push(b'Z');
}

/// Appends an integer.
pub fn write_integer(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends a double as JSON; non-finite values are written as the OData strings
/// `"INF"`, `"-INF"` and `"NaN"`.
pub fn write_double(buf: &mut Vec<u8>, v: f64, quoted: bool) {
    if v.is_nan() {
        buf.extend_from_slice(b"\"NaN\"");
    } else if v.is_infinite() {
        buf.extend_from_slice(if v > 0.0 { b"\"INF\"" } else { b"\"-INF\"" });
    } else {
        if quoted {
            buf.push(b'"');
        }
        buf.extend_from_slice(format!("{v:?}").as_bytes());
        if quoted {
            buf.push(b'"');
        }
    }
}

/// Writes a primitive value of EDM type `ty` from a cell.
pub fn write_value(buf: &mut Vec<u8>, ty: PrimitiveType, cell: Cell<'_>, ieee754_compatible: bool) {
    use PrimitiveType as P;
    match (cell, ty) {
        (Cell::Null, _) => buf.extend_from_slice(b"null"),
        (Cell::Integer(v), P::Boolean) => {
            buf.extend_from_slice(if v != 0 { b"true" } else { b"false" })
        }
        (Cell::Integer(v), P::DateTimeOffset) => {
            buf.push(b'"');
            write_timestamp(buf, v);
            buf.push(b'"');
        }
        (Cell::Integer(v), P::Int64 | P::Decimal) if ieee754_compatible => {
            buf.push(b'"');
            write_integer(buf, v);
            buf.push(b'"');
        }
        (Cell::Integer(v), P::String) => {
            buf.push(b'"');
            write_integer(buf, v);
            buf.push(b'"');
        }
        (Cell::Integer(v), _) => write_integer(buf, v),
        (Cell::Real(v), P::Decimal) => write_double(buf, v, ieee754_compatible),
        (Cell::Real(v), _) => write_double(buf, v, false),
        (Cell::Text(s), _) => write_string(buf, s),
    }
}
/// `"name":`, escaped.
pub(super) fn quoted_name(name: &str) -> Vec<u8> {
    let mut quoted = Vec::new();
    write_string(&mut quoted, name);
    quoted.push(b':');
    quoted
}

/// Types whose JSON representation does not reveal them, annotated in full metadata.
pub(super) fn annotated_type(ty: PrimitiveType) -> Option<&'static str> {
    match ty {
        PrimitiveType::String | PrimitiveType::Boolean | PrimitiveType::Double => None,
        PrimitiveType::Int32 => Some("Int32"),
        PrimitiveType::Int64 => Some("Int64"),
        PrimitiveType::DateTimeOffset => Some("DateTimeOffset"),
        other => Some(&other.name()[4..]),
    }
}

/// Appends a key value in URL literal form (`42`, `'text'`, `2026-11-01T00:00:00Z`).
pub fn key_literal(out: &mut String, ty: PrimitiveType, cell: Cell<'_>) {
    match cell {
        Cell::Null => out.push_str("null"),
        Cell::Integer(v) if ty == PrimitiveType::DateTimeOffset => {
            let mut b = Vec::new();
            write_timestamp(&mut b, v);
            out.push_str(std::str::from_utf8(&b).expect("ascii"));
        }
        Cell::Integer(v) => out.push_str(&v.to_string()),
        Cell::Real(v) => out.push_str(&v.to_string()),
        Cell::Text(s) => {
            out.push('\'');
            for ch in s.chars() {
                if ch == '\'' {
                    out.push('\'');
                }
                out.push(ch);
            }
            out.push('\'');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_times() {
        let mut b = Vec::new();
        write_string(&mut b, "a\"b\\c\n\u{1}é");
        assert_eq!(String::from_utf8(b).unwrap(), "\"a\\\"b\\\\c\\n\\u0001é\"");
        let mut b = Vec::new();
        write_timestamp(&mut b, 1_762_000_000_500_000);
        assert_eq!(String::from_utf8(b).unwrap(), "2025-11-01T12:26:40.5Z");
        let mut b = Vec::new();
        write_timestamp(&mut b, 0);
        assert_eq!(String::from_utf8(b).unwrap(), "1970-01-01T00:00:00Z");
        let mut b = Vec::new();
        write_integer(&mut b, i64::MIN);
        assert_eq!(String::from_utf8(b).unwrap(), i64::MIN.to_string());
    }
}
