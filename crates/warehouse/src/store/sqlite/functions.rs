//! Scalar functions the SQLite store registers on each of its connections, for the OData
//! functions whose SQL form would otherwise name an argument more than once.
//!
//! Why: a template such as `CAST(x AS INTEGER) - (x < CAST(x AS INTEGER))` repeats its argument's
//! SQL text, so each level of nesting (`floor(floor(...))`) multiplies the statement's size:
//! 18 levels needed 8 GB to write. With these, every dialect names each argument once and a
//! statement grows linearly with its expression. (The bundled SQLite is built without its math
//! functions, so `floor` and `ceil` are not there to use.)

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

/// `dw_floor(x)`: the greatest integer not above `x`.
pub const FLOOR: &str = "dw_floor";
/// `dw_ceiling(x)`: the least integer not below `x`.
pub const CEILING: &str = "dw_ceiling";
/// `dw_ends_with(s, suffix)`: 1 when `s` ends with `suffix`, 0 when not, null when either is.
pub const ENDS_WITH: &str = "dw_ends_with";
/// `dw_text_to_integer(s)`: the integer `s` writes in JSON's grammar (blanks around it allowed,
/// at most 18 digits), else null.
pub const TEXT_TO_INTEGER: &str = "dw_text_to_integer";
/// `dw_text_to_real(s)`: the finite number `s` writes in JSON's grammar (blanks around it
/// allowed), else null.
pub const TEXT_TO_REAL: &str = "dw_text_to_real";
/// `dw_to_integer(x)`: `x` truncated to an integer; an error ([`OUT_OF_RANGE`]) when Int64
/// cannot hold it (a `CAST` gave Int64's maximum), as PostgreSQL's cast fails.
pub const TO_INTEGER: &str = "dw_to_integer";

/// The end of the message of [`TO_INTEGER`]'s error, which the store reports as the request's.
pub const OUT_OF_RANGE: &str = "is beyond the range of Edm.Int64";

/// Registers the functions on `conn` (deterministic and innocuous, so SQLite may use them in
/// indexes and views and may fold them).
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function(FLOOR, 1, flags, |ctx| Ok(round(ctx, f64::floor)))?;
    conn.create_scalar_function(CEILING, 1, flags, |ctx| Ok(round(ctx, f64::ceil)))?;
    conn.create_scalar_function(ENDS_WITH, 2, flags, |ctx| {
        Ok(match (text(ctx, 0), text(ctx, 1)) {
            (Some(s), Some(suffix)) => Value::Integer(s.ends_with(suffix.as_ref()) as i64),
            _ => Value::Null,
        })
    })?;
    conn.create_scalar_function(TEXT_TO_INTEGER, 1, flags, |ctx| {
        Ok(text(ctx, 0)
            .and_then(|s| json_integer(&s))
            .map_or(Value::Null, Value::Integer))
    })?;
    conn.create_scalar_function(TEXT_TO_REAL, 1, flags, |ctx| {
        Ok(text(ctx, 0)
            .and_then(|s| json_number(&s))
            .map_or(Value::Null, Value::Real))
    })?;
    conn.create_scalar_function(TO_INTEGER, 1, flags, |ctx| match ctx.get_raw(0) {
        ValueRef::Integer(i) => Ok(Value::Integer(i)),
        ValueRef::Real(r) => integer_of(r.trunc()).map(Value::Integer).ok_or_else(|| {
            rusqlite::Error::UserFunctionError(format!("{r} {OUT_OF_RANGE}").into())
        }),
        ValueRef::Text(_) | ValueRef::Blob(_) | ValueRef::Null => Ok(Value::Null),
    })?;
    Ok(())
}

/// A whole floating-point value as an integer when Int64 holds it.
fn integer_of(whole: f64) -> Option<i64> {
    // 2^63 is exact as a double; every whole value below it converts exactly
    (whole.is_finite() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&whole))
        .then_some(whole as i64)
}

/// `floor` or `ceiling` of the first argument: integers as they are, reals rounded and returned
/// as integers when Int64 holds them (as the SQL before these functions did), else as reals.
fn round(ctx: &Context<'_>, f: fn(f64) -> f64) -> Value {
    match ctx.get_raw(0) {
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => {
            let rounded = f(r);
            integer_of(rounded).map_or(Value::Real(rounded), Value::Integer)
        }
        ValueRef::Text(_) | ValueRef::Blob(_) | ValueRef::Null => Value::Null,
    }
}

/// Argument `i` as text (numbers as SQLite writes them), or none when it is null.
fn text<'c>(ctx: &'c Context<'_>, i: usize) -> Option<std::borrow::Cow<'c, str>> {
    match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t)),
        ValueRef::Integer(n) => Some(n.to_string().into()),
        ValueRef::Real(r) => Some(r.to_string().into()),
    }
}

/// JSON's integer grammar (`-?(0|[1-9][0-9]*)`), between spaces, with at most 18 digits.
fn json_integer(s: &str) -> Option<i64> {
    let t = s.trim_matches(' ');
    let digits = t.strip_prefix('-').unwrap_or(t);
    let well_formed = !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    well_formed.then(|| t.parse().ok()).flatten()
}

/// JSON's number grammar (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`), between spaces, when
/// the value is finite.
fn json_number(s: &str) -> Option<f64> {
    let t = s.trim_matches(' ');
    let b = t.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(conn: &Connection, sql: &str) -> Value {
        conn.query_row(&format!("SELECT {sql}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn the_functions_answer_as_the_sql_they_replace() {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        assert_eq!(one(&conn, "dw_floor(2.5)"), Value::Integer(2));
        assert_eq!(one(&conn, "dw_floor(-2.5)"), Value::Integer(-3));
        assert_eq!(one(&conn, "dw_ceiling(-2.5)"), Value::Integer(-2));
        assert_eq!(one(&conn, "dw_ceiling(7)"), Value::Integer(7));
        assert_eq!(one(&conn, "dw_floor(NULL)"), Value::Null);
        // beyond Int64 a real stays a real (the old CAST gave Int64's maximum)
        assert_eq!(one(&conn, "dw_floor(1e300)"), Value::Real(1e300));
        assert_eq!(
            one(&conn, "dw_ends_with('DESKTOP-1', '-1')"),
            Value::Integer(1)
        );
        assert_eq!(
            one(&conn, "dw_ends_with('DESKTOP-1', '')"),
            Value::Integer(1)
        );
        assert_eq!(one(&conn, "dw_ends_with('é', 'e')"), Value::Integer(0));
        assert_eq!(one(&conn, "dw_ends_with(NULL, 'a')"), Value::Null);
        assert_eq!(
            one(&conn, "dw_text_to_integer(' -42 ')"),
            Value::Integer(-42)
        );
        for bad in [
            "'042'",
            "'4.0'",
            "'1e3'",
            "'+1'",
            "''",
            "'-'",
            "'1234567890123456789'",
        ] {
            assert_eq!(
                one(&conn, &format!("dw_text_to_integer({bad})")),
                Value::Null,
                "{bad}"
            );
        }
        assert_eq!(one(&conn, "dw_text_to_real(' 2.5e1 ')"), Value::Real(25.0));
        for bad in ["'2.'", "'.5'", "'1e'", "'01'", "'1e999'", "'NaN'", "'x'"] {
            assert_eq!(
                one(&conn, &format!("dw_text_to_real({bad})")),
                Value::Null,
                "{bad}"
            );
        }
        assert_eq!(one(&conn, "dw_to_integer(-2.9)"), Value::Integer(-2));
        let overflow = conn
            .query_row("SELECT dw_to_integer(1e300)", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert!(overflow.to_string().contains(OUT_OF_RANGE), "{overflow}");
        assert_eq!(
            one(&conn, "dw_to_integer(9223372036854775807)"),
            Value::Integer(i64::MAX)
        );
    }
}
