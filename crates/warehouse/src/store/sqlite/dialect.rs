//! The SQLite dialect. Storage conventions: Boolean as INTEGER 0/1, DateTimeOffset as INTEGER
//! microseconds since the Unix epoch (UTC), Date as TEXT `YYYY-MM-DD`, TimeOfDay as TEXT.

use super::functions;
use crate::sql::{Dialect, SqlValue};
use odata::bind::{AggregateMethod, ArithOp, Function};
use odata::edm::PrimitiveType;

/// SQLite SQL.
#[derive(Debug, Default, Clone, Copy)]
pub struct SqliteDialect;

fn unix_seconds(ts: &str) -> String {
    format!("({ts}) / 1000000, 'unixepoch'")
}

impl Dialect for SqliteDialect {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn placeholder(&self, n: usize, _value: &SqlValue) -> String {
        format!("?{n}")
    }

    fn column_type(&self, ty: PrimitiveType) -> &'static str {
        match ty {
            PrimitiveType::String
            | PrimitiveType::Guid
            | PrimitiveType::Date
            | PrimitiveType::TimeOfDay => "TEXT",
            PrimitiveType::Double | PrimitiveType::Single | PrimitiveType::Decimal => "REAL",
            PrimitiveType::Binary => "BLOB",
            _ => "INTEGER",
        }
    }

    fn table_options(&self) -> &'static str {
        // clustered on the primary key, which is the keyset paging order
        " WITHOUT ROWID"
    }

    fn auto_id(&self) -> &'static str {
        "INTEGER PRIMARY KEY"
    }

    fn aggregate(
        &self,
        method: AggregateMethod,
        value: Option<&str>,
        _result: PrimitiveType,
    ) -> String {
        let v = value.unwrap_or("*");
        match method {
            AggregateMethod::Count => "COUNT(*)".to_string(),
            AggregateMethod::Sum => format!("SUM({v})"),
            AggregateMethod::Min => format!("MIN({v})"),
            AggregateMethod::Max => format!("MAX({v})"),
            AggregateMethod::Average => format!("AVG({v})"),
            AggregateMethod::CountDistinct => format!("COUNT(DISTINCT {v})"),
        }
    }

    fn order(&self, descending: bool, _nullable: bool) -> &'static str {
        // SQLite already sorts NULL first ascending and last descending.
        if descending {
            "DESC"
        } else {
            "ASC"
        }
    }

    fn json_row(&self, cells: &[(String, PrimitiveType)]) -> String {
        // stored as the rows hold them, but floating-point values: JSON writes them with 15
        // significant digits, 17 round-trip (infinities, which JSON lacks, become null)
        let cell = |(sql, ty): &(String, PrimitiveType)| {
            match ty {
            PrimitiveType::Double | PrimitiveType::Single | PrimitiveType::Decimal => format!(
                "(CASE WHEN abs({sql}) <= 1.7976931348623157e308 THEN json(printf('%!.17g', {sql})) END)"
            ),
            _ => sql.clone(),
        }
        };
        let chunks: Vec<String> = cells
            .chunks(crate::sql::JSON_CHUNK)
            .map(|chunk| {
                let cells: Vec<String> = chunk.iter().map(cell).collect();
                format!("json_array({})", cells.join(", "))
            })
            .collect();
        format!("json_array({})", chunks.join(", "))
    }

    fn json_rows(&self, row: &str, order: &[String]) -> String {
        format!(
            "json_group_array(json({row}) ORDER BY {})",
            order.join(", ")
        )
    }

    fn limit_offset(&self, limit: Option<&str>, offset: Option<&str>) -> String {
        match (limit, offset) {
            (None, None) => String::new(),
            (Some(l), None) => format!(" LIMIT {l}"),
            (l, Some(o)) => format!(" LIMIT {} OFFSET {o}", l.unwrap_or("-1")),
        }
    }

    fn prefix_range(&self, column: &str, low: &str, high: Option<&str>) -> String {
        // the default BINARY collation compares UTF-8 bytes, which is code point order
        match high {
            Some(h) => format!("({column} >= {low} AND {column} < {h})"),
            None => format!("({column} >= {low})"),
        }
    }

    fn boolean(&self, value: bool) -> &'static str {
        if value {
            "1"
        } else {
            "0"
        }
    }

    fn null_safe_equal(&self, a: &str, b: &str, negate: bool) -> String {
        if negate {
            format!("({a} IS NOT {b})")
        } else {
            format!("({a} IS {b})")
        }
    }

    fn false_when_null(&self, expr: &str) -> String {
        format!("COALESCE({expr}, 0)")
    }

    fn function(&self, f: Function, args: &[(String, Option<PrimitiveType>)]) -> String {
        let a = |i: usize| args[i].0.as_str();
        let is_date = args.first().and_then(|x| x.1) == Some(PrimitiveType::Date);
        let is_time = args.first().and_then(|x| x.1) == Some(PrimitiveType::TimeOfDay);
        let part = |fmt: &str| {
            if is_date || is_time {
                format!("CAST(strftime('{fmt}', {}) AS INTEGER)", a(0))
            } else {
                format!("CAST(strftime('{fmt}', {}) AS INTEGER)", unix_seconds(a(0)))
            }
        };
        match f {
            Function::Contains => format!("(instr({}, {}) > 0)", a(0), a(1)),
            // the first occurrence is at the start exactly when the text starts with it (an
            // empty prefix occurs at 1)
            Function::StartsWith => format!("(instr({}, {}) = 1)", a(0), a(1)),
            Function::EndsWith => format!("{}({}, {})", functions::ENDS_WITH, a(0), a(1)),
            Function::Length => format!("length({})", a(0)),
            Function::IndexOf => format!("(instr({}, {}) - 1)", a(0), a(1)),
            Function::Substring => match args.len() {
                2 => format!("substr({}, max({}, 0) + 1)", a(0), a(1)),
                _ => format!("substr({}, max({}, 0) + 1, max({}, 0))", a(0), a(1), a(2)),
            },
            // LIKE ignores the case of ASCII letters only, as $search documents
            Function::SearchLike => format!("({} LIKE {} ESCAPE '\\')", a(0), a(1)),
            Function::ToLower => format!("lower({})", a(0)),
            Function::ToUpper => format!("upper({})", a(0)),
            Function::Trim => format!("trim({})", a(0)),
            Function::Concat => format!("({} || {})", a(0), a(1)),
            Function::Year => part("%Y"),
            Function::Month => part("%m"),
            Function::Day => part("%d"),
            Function::Hour => part("%H"),
            Function::Minute => part("%M"),
            Function::Second => part("%S"),
            Function::FractionalSeconds => {
                if is_time {
                    // '%f' is "SS.SSS": the fraction is what follows the seconds
                    format!("CAST(substr(strftime('%f', {}), 3) AS REAL)", a(0))
                } else {
                    format!("((({}) % 1000000) / 1000000.0)", a(0))
                }
            }
            Function::Date => format!("date({})", unix_seconds(a(0))),
            Function::Time => format!("time({})", unix_seconds(a(0))),
            Function::TotalOffsetMinutes => {
                format!("(CASE WHEN {} IS NULL THEN NULL ELSE 0 END)", a(0))
            }
            Function::Round => format!("round({})", a(0)),
            Function::Floor => format!("{}({})", functions::FLOOR, a(0)),
            Function::Ceiling => format!("{}({})", functions::CEILING, a(0)),
        }
    }

    fn arithmetic(&self, op: ArithOp, a: &str, b: &str, result: PrimitiveType) -> String {
        match op {
            ArithOp::Add => format!("({a} + {b})"),
            ArithOp::Sub => format!("({a} - {b})"),
            ArithOp::Mul => format!("({a} * {b})"),
            ArithOp::Div if result.is_integer() => format!("({a} / {b})"),
            ArithOp::Div | ArithOp::DivBy => format!("(CAST({a} AS REAL) / {b})"),
            ArithOp::Mod => format!("({a} % {b})"),
        }
    }

    fn cast(&self, expr: &str, from: Option<PrimitiveType>, to: PrimitiveType) -> String {
        use PrimitiveType as P;
        match (from, to) {
            (Some(f), t) if f == t => expr.to_string(),
            (Some(P::Boolean), P::String) => {
                format!("(CASE ({expr}) <> 0 WHEN 1 THEN 'true' WHEN 0 THEN 'false' END)")
            }
            (Some(P::DateTimeOffset), P::String) => {
                format!("strftime('%Y-%m-%dT%H:%M:%SZ', {})", unix_seconds(expr))
            }
            (Some(P::DateTimeOffset), P::Date) => format!("date({})", unix_seconds(expr)),
            (_, P::String) => format!("CAST({expr} AS TEXT)"),
            // text that is not a number casts to null (OData), not to 0 as CAST would; the number
            // grammar is JSON's, which the PostgreSQL dialect checks with the same rules
            (Some(P::String), t) if t.is_integer() => {
                format!("{}({expr})", functions::TEXT_TO_INTEGER)
            }
            (Some(P::String), P::Double | P::Single | P::Decimal) => {
                format!("{}({expr})", functions::TEXT_TO_REAL)
            }
            // a real beyond Int64's range casts to null, not to Int64's maximum
            (Some(P::Double | P::Single | P::Decimal), t) if t.is_integer() => {
                format!("{}({expr})", functions::TO_INTEGER)
            }
            (_, t) if t.is_integer() => format!("CAST({expr} AS INTEGER)"),
            (_, P::Boolean) => format!("(lower({expr}) = 'true')"),
            (_, _) => format!("CAST({expr} AS REAL)"),
        }
    }
}
