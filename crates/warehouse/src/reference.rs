//! The reference rows of lookup dimensions (device types, compliance states, ...) and their keys.
//! Keys are assigned by position (first row 1), so the generator and ingestion agree on them.

use crate::model::{Collection, Warehouse};
use crate::sql::SqlValue;
use std::collections::HashMap;
use std::sync::OnceLock;

fn value(v: &serde_json::Value) -> SqlValue {
    match v {
        serde_json::Value::String(s) => SqlValue::Text(s.clone()),
        serde_json::Value::Number(n) => SqlValue::Integer(n.as_i64().unwrap_or_default()),
        serde_json::Value::Bool(b) => SqlValue::Boolean(*b),
        _ => SqlValue::Null,
    }
}

/// The reference rows of a collection, in property order, keys included.
pub fn rows(c: &Collection) -> Vec<Vec<SqlValue>> {
    c.reference_rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            c.properties
                .iter()
                .map(|p| {
                    if p.name == c.key[0] {
                        SqlValue::Integer(i as i64 + 1)
                    } else {
                        row.get(&p.name).map(value).unwrap_or(SqlValue::Null)
                    }
                })
                .collect()
        })
        .collect()
}

/// The key of the reference row of `collection` having `name` as one of its values
/// (`key("complianceStates", "Compliant")`).
pub fn key(collection: &str, name: &str) -> Option<i64> {
    // by collection, then by value: a lookup borrows its arguments (ingestion asks per record)
    static KEYS: OnceLock<HashMap<String, HashMap<String, i64>>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut m: HashMap<String, HashMap<String, i64>> = HashMap::new();
        for c in &Warehouse::get().collections {
            for (i, row) in c.reference_rows.iter().enumerate() {
                for v in row.values() {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    m.entry(c.name.clone())
                        .or_default()
                        .insert(text, i as i64 + 1);
                }
            }
        }
        m
    });
    keys.get(collection)?.get(name).copied()
}

/// [`key`] as a value: the key, or NULL when `collection` has no row named `name`.
pub fn key_value(collection: &str, name: &str) -> SqlValue {
    key(collection, name).map_or(SqlValue::Null, SqlValue::Integer)
}
