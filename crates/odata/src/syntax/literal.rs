//! Primitive literals in URL form (OData ABNF `primitiveLiteral`).

use super::cursor::Cursor;
use super::{Literal, SyntaxError};
use crate::value::Value;
use base64::Engine;

/// Parses a whole string as one primitive literal (`'text'`, `42`, `2026-11-01`, `null`, ...).
pub fn parse_literal(text: &str) -> Result<Literal, SyntaxError> {
    let mut c = Cursor::new(text);
    let lit = literal(&mut c)?.ok_or_else(|| c.error("expected a literal"))?;
    if !c.at_end() {
        return Err(c.error("unexpected text after the literal"));
    }
    Ok(lit)
}

/// Parses an ISO 8601 duration value as OData restricts it (`[-]PnDTnHnMn.nS`, no years or
/// months), returning microseconds.
pub fn parse_duration(text: &str) -> Result<i64, SyntaxError> {
    let mut c = Cursor::new(text);
    let v = duration_value(&mut c)?;
    if !c.at_end() {
        return Err(c.error("unexpected text after the duration"));
    }
    Ok(v)
}

/// Tries to read a literal at the cursor. Returns `Ok(None)` (cursor unmoved) when the text
/// there does not start a literal, so callers can try other rules.
pub(crate) fn literal(c: &mut Cursor<'_>) -> Result<Option<Literal>, SyntaxError> {
    let start = c.pos;
    match c.peek() {
        Some('\'') => return string(c).map(|s| Some(Literal::Value(Value::String(s)))),
        Some(ch)
            if ch.is_ascii_digit()
                || ch == '-'
                || (ch == '+' && c.peek_at(1).is_some_and(|b| b.is_ascii_digit())) =>
        {
            if let Some(l) = guid(c) {
                return Ok(Some(l));
            }
            if ch == '-' && c.rest().starts_with("-INF") && !followed_by_ident(c, 4) {
                c.pos += 4;
                return Ok(Some(Literal::Value(Value::Double(f64::NEG_INFINITY))));
            }
            if ch == '-' && !c.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
                return Ok(None);
            }
            if ch == '+' {
                return number(c).map(Some);
            }
            if looks_like_date(c) {
                return date_or_datetime(c).map(Some);
            }
            if looks_like_time(c) {
                return time_of_day(c).map(|t| Some(Literal::Value(Value::TimeOfDay(t))));
            }
            return number(c).map(Some);
        }
        Some(ch) if ch.is_ascii_hexdigit() => {
            if let Some(l) = guid(c) {
                return Ok(Some(l));
            }
        }
        _ => {}
    }
    for (word, lit) in [
        ("null", Literal::Value(Value::Null)),
        ("true", Literal::Value(Value::Boolean(true))),
        ("false", Literal::Value(Value::Boolean(false))),
    ] {
        if c.eat_keyword(word) {
            return Ok(Some(lit));
        }
    }
    if c.rest().starts_with("INF") && !followed_by_ident(c, 3) {
        c.pos += 3;
        return Ok(Some(Literal::Value(Value::Double(f64::INFINITY))));
    }
    if c.rest().starts_with("NaN") && !followed_by_ident(c, 3) {
        c.pos += 3;
        return Ok(Some(Literal::Value(Value::Double(f64::NAN))));
    }
    // prefix'...' literals: binary, duration, spatial, enum
    if let Some(prefix) = c.qualified_identifier() {
        if c.peek() == Some('\'') {
            let body_start = c.pos + 1;
            let body = string(c)?;
            let lower = prefix.to_ascii_lowercase();
            return match lower.as_str() {
                "binary" => {
                    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(body.trim_end_matches('='))
                        .or_else(|_| {
                            base64::engine::general_purpose::STANDARD_NO_PAD
                                .decode(body.trim_end_matches('='))
                        })
                        .map_err(|_| {
                            SyntaxError::new(body_start, "invalid base64 in binary literal")
                        })?;
                    Ok(Some(Literal::Binary(bytes)))
                }
                "duration" => {
                    let mut inner = Cursor::new(&body);
                    let micros = duration_value(&mut inner)
                        .map_err(|e| SyntaxError::new(body_start + e.offset, e.message))?;
                    if !inner.at_end() {
                        return Err(SyntaxError::new(
                            body_start + inner.pos,
                            "unexpected text in duration",
                        ));
                    }
                    Ok(Some(Literal::Value(Value::Duration(micros))))
                }
                "geography" | "geometry" => Ok(Some(Literal::Spatial(body))),
                _ if prefix.contains('.') => Ok(Some(Literal::Enum {
                    type_name: prefix.to_string(),
                    value: body,
                })),
                _ => Err(SyntaxError::new(
                    start,
                    format!("unknown literal prefix '{prefix}'"),
                )),
            };
        }
    }
    c.pos = start;
    Ok(None)
}

fn followed_by_ident(c: &Cursor<'_>, n: usize) -> bool {
    c.peek_at(n)
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `'...'` with `''` as an escaped quote.
pub(crate) fn string(c: &mut Cursor<'_>) -> Result<String, SyntaxError> {
    c.expect('\'')?;
    let mut out = String::new();
    loop {
        let rest = c.rest();
        match rest.find('\'') {
            None => {
                c.pos = c.src.len();
                return Err(c.error("unterminated string literal"));
            }
            Some(i) => {
                out.push_str(&rest[..i]);
                c.pos += i + 1;
                if c.peek() == Some('\'') {
                    out.push('\'');
                    c.pos += 1;
                } else {
                    return Ok(out);
                }
            }
        }
    }
}

fn guid(c: &mut Cursor<'_>) -> Option<Literal> {
    let b = c.rest().as_bytes();
    if b.len() < 36 {
        return None;
    }
    for (i, ch) in b[..36].iter().enumerate() {
        let ok = if matches!(i, 8 | 13 | 18 | 23) {
            *ch == b'-'
        } else {
            ch.is_ascii_hexdigit()
        };
        if !ok {
            return None;
        }
    }
    if b.get(36)
        .is_some_and(|ch| ch.is_ascii_alphanumeric() || *ch == b'_' || *ch == b'-')
    {
        return None;
    }
    let text = c.rest()[..36].to_string();
    c.pos += 36;
    Some(Literal::Value(Value::Guid(text)))
}

fn looks_like_date(c: &Cursor<'_>) -> bool {
    let b = c.rest().as_bytes();
    let b = if b.first() == Some(&b'-') { &b[1..] } else { b };
    b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

fn looks_like_time(c: &Cursor<'_>) -> bool {
    let b = c.rest().as_bytes();
    b.len() >= 3 && b[..2].iter().all(u8::is_ascii_digit) && b[2] == b':'
}

fn date_value(c: &mut Cursor<'_>) -> Result<time::Date, SyntaxError> {
    let start = c.pos;
    let negative = c.eat('-');
    let year = c
        .digits(4)
        .ok_or_else(|| c.error("expected a 4-digit year"))?;
    if negative {
        return Err(SyntaxError::new(
            start,
            "years before 0000 are not supported",
        ));
    }
    c.expect('-')?;
    let month_pos = c.pos;
    let month = c
        .digits(2)
        .ok_or_else(|| c.error("expected a 2-digit month"))?;
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| SyntaxError::new(month_pos, "month must be 01..12"))?;
    c.expect('-')?;
    let day_pos = c.pos;
    let day = c
        .digits(2)
        .ok_or_else(|| c.error("expected a 2-digit day"))?;
    time::Date::from_calendar_date(year as i32, month, day as u8)
        .map_err(|_| SyntaxError::new(day_pos, "day out of range for the month"))
}

/// `HH:MM[:SS[.fffffff]]`
fn time_of_day(c: &mut Cursor<'_>) -> Result<time::Time, SyntaxError> {
    let hour_pos = c.pos;
    let first = c.peek_at(0);
    let hour = c
        .digits(2)
        .ok_or_else(|| c.error("expected a 2-digit hour"))?;
    if hour > 23 {
        let bad = if first == Some(b'2') {
            hour_pos + 1
        } else {
            hour_pos
        };
        return Err(SyntaxError::new(bad, "hour must be 00..23"));
    }
    c.expect(':')?;
    let minute_pos = c.pos;
    let minute = c
        .digits(2)
        .ok_or_else(|| c.error("expected 2-digit minutes"))?;
    if minute > 59 {
        return Err(SyntaxError::new(minute_pos + 1, "minutes must be 00..59"));
    }
    let (mut second, mut micros) = (0u32, 0u32);
    if c.eat(':') {
        let second_pos = c.pos;
        second = c
            .digits(2)
            .ok_or_else(|| c.error("expected 2-digit seconds"))?;
        if second > 60 {
            return Err(SyntaxError::new(second_pos + 1, "seconds must be 00..59"));
        }
        // A leap second (60) is valid syntax; it is stored as the last microsecond of the minute.
        if second == 60 {
            second = 59;
            micros = 999_999;
        }
        if c.eat('.') {
            let frac_start = c.pos;
            let mut scale = 100_000u32;
            while let Some(d) = c.peek().filter(char::is_ascii_digit) {
                micros += (d as u32 - '0' as u32) * scale;
                scale /= 10;
                c.pos += 1;
            }
            if c.pos == frac_start {
                return Err(c.error("expected fractional seconds"));
            }
            micros = micros.min(999_999);
        }
    }
    time::Time::from_hms_micro(hour as u8, minute as u8, second as u8, micros)
        .map_err(|_| SyntaxError::new(hour_pos, "invalid time of day"))
}

fn date_or_datetime(c: &mut Cursor<'_>) -> Result<Literal, SyntaxError> {
    let date = date_value(c)?;
    if !c.eat('T') {
        return Ok(Literal::Value(Value::Date(date)));
    }
    let time = time_of_day(c)?;
    let offset = if c.eat('Z') || c.eat('z') {
        time::UtcOffset::UTC
    } else if matches!(c.peek(), Some('+' | '-')) {
        let sign = if c.eat('-') {
            -1
        } else {
            c.pos += 1;
            1
        };
        let h_pos = c.pos;
        let h = c
            .digits(2)
            .ok_or_else(|| c.error("expected offset hours"))?;
        c.expect(':')?;
        let m = c
            .digits(2)
            .ok_or_else(|| c.error("expected offset minutes"))?;
        time::UtcOffset::from_hms(sign * h as i8, sign * m as i8, 0)
            .map_err(|_| SyntaxError::new(h_pos, "invalid time zone offset"))?
    } else {
        return Err(c.error("expected 'Z' or a time zone offset"));
    };
    Ok(Literal::Value(Value::DateTimeOffset(
        time::PrimitiveDateTime::new(date, time).assume_offset(offset),
    )))
}

fn number(c: &mut Cursor<'_>) -> Result<Literal, SyntaxError> {
    let start = c.pos;
    if !c.eat('-') {
        c.eat('+');
    }
    let int_start = c.pos;
    while c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
        c.pos += 1;
    }
    if c.pos == int_start {
        return Err(c.error("expected digits"));
    }
    let mut is_double = false;
    if c.peek() == Some('.') {
        let dot = c.pos;
        c.pos += 1;
        let frac = c.pos;
        while c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
            c.pos += 1;
        }
        if c.pos == frac {
            return Err(SyntaxError::new(dot, "expected digits after '.'"));
        }
    }
    if matches!(c.peek(), Some('e' | 'E')) {
        let save = c.pos;
        c.pos += 1;
        if !c.eat('-') {
            c.eat('+');
        }
        let exp = c.pos;
        while c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
            c.pos += 1;
        }
        if c.pos == exp {
            c.pos = save;
        } else {
            is_double = true;
        }
    }
    let text = &c.src[start..c.pos];
    if let Ok(v) = text.parse::<i64>() {
        return Ok(Literal::Value(Value::Integer(v)));
    }
    // numbers are stored and compared as doubles: one that overflows them (a number written
    // with digits, not INF) would silently become infinity
    let value = text
        .parse::<f64>()
        .map_err(|_| SyntaxError::new(start, "invalid number"))?;
    if value.is_infinite() {
        return Err(SyntaxError::new(
            start,
            format!("the number {text} is beyond the range of Edm.Double (about 1.8e308)"),
        ));
    }
    Ok(if is_double {
        Literal::Value(Value::Double(value))
    } else {
        Literal::Value(Value::Decimal(text.to_string()))
    })
}

/// `[-]P[nD][T[nH][nM][n[.n]S]]`
fn duration_value(c: &mut Cursor<'_>) -> Result<i64, SyntaxError> {
    let negative = c.eat('-');
    if !c.eat('P') {
        return Err(c.error("expected 'P'"));
    }
    let mut total: i128 = 0;
    let mut any = false;
    let mut in_time = false;
    loop {
        if !in_time && c.eat('T') {
            in_time = true;
            continue;
        }
        let num_start = c.pos;
        while c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
            c.pos += 1;
        }
        if c.pos == num_start {
            break;
        }
        let whole: i128 = c.src[num_start..c.pos]
            .parse()
            .map_err(|_| SyntaxError::new(num_start, "number too large"))?;
        let mut frac_micros: i128 = 0;
        if c.peek() == Some('.') {
            c.pos += 1;
            let mut scale = 100_000i128;
            let f = c.pos;
            while let Some(d) = c.peek().filter(char::is_ascii_digit) {
                frac_micros += (d as i128 - '0' as i128) * scale;
                scale /= 10;
                c.pos += 1;
            }
            if c.pos == f || c.peek() != Some('S') {
                return Err(c.error("fractions are allowed only on seconds"));
            }
        }
        let unit = match (in_time, c.peek()) {
            (false, Some('D')) => 86_400_000_000i128,
            (true, Some('H')) => 3_600_000_000,
            (true, Some('M')) => 60_000_000,
            (true, Some('S')) => 1_000_000,
            _ => return Err(c.error("expected a duration designator (D, H, M, S)")),
        };
        c.pos += 1;
        total += whole * unit + frac_micros;
        any = true;
    }
    if !any {
        return Err(c.error("expected a duration component"));
    }
    let total = if negative { -total } else { total };
    i64::try_from(total).map_err(|_| SyntaxError::new(0, "duration out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(
            parse_literal("'it''s'").unwrap(),
            Literal::Value(Value::String("it's".into()))
        );
        assert_eq!(
            parse_literal("42").unwrap(),
            Literal::Value(Value::Integer(42))
        );
        assert_eq!(
            parse_literal("+42").unwrap(),
            Literal::Value(Value::Integer(42))
        );
        assert_eq!(
            parse_literal("-4.5").unwrap(),
            Literal::Value(Value::Decimal("-4.5".into()))
        );
        assert_eq!(
            parse_literal("1e3").unwrap(),
            Literal::Value(Value::Double(1000.0))
        );
        for overflow in ["1e309", "-2.5E400", &"9".repeat(400)] {
            let e = parse_literal(overflow).unwrap_err();
            assert!(
                e.message.contains("beyond the range of Edm.Double"),
                "{overflow}"
            );
        }
        assert_eq!(
            parse_literal("-INF").unwrap(),
            Literal::Value(Value::Double(f64::NEG_INFINITY))
        );
        assert_eq!(
            parse_literal("tRUe").unwrap(),
            Literal::Value(Value::Boolean(true))
        );
        assert!(matches!(
            parse_literal("2026-11-01").unwrap(),
            Literal::Value(Value::Date(_))
        ));
        let Literal::Value(Value::DateTimeOffset(d)) =
            parse_literal("2012-09-03T14:53+02:00").unwrap()
        else {
            panic!()
        };
        assert_eq!(d.to_offset(time::UtcOffset::UTC).hour(), 12);
        assert_eq!(
            parse_literal("duration'P1DT1H'").unwrap(),
            Literal::Value(Value::Duration(90_000_000_000))
        );
        assert_eq!(
            parse_duration("-P6DT23H59M59.9999S").unwrap(),
            -(6 * 86_400 + 86_399) * 1_000_000 - 999_900
        );
        assert_eq!(parse_duration("P1Y").unwrap_err().offset, 2);
        assert_eq!(parse_literal("2011-12-31T24:00Z").unwrap_err().offset, 12);
        assert!(matches!(
            parse_literal("01234567-89ab-cdef-0123-456789ABCDEF").unwrap(),
            Literal::Value(Value::Guid(g)) if g == "01234567-89ab-cdef-0123-456789ABCDEF"
        ));
        assert_eq!(
            parse_literal("binary'Zm9v'").unwrap(),
            Literal::Binary(b"foo".to_vec())
        );
        assert!(parse_literal("'open").is_err());
    }
}
