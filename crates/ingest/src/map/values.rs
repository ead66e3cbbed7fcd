//! Values as the warehouse stores them, from what a source's records hold: optional text,
//! integers, timestamps and Booleans, enumeration values as their reference rows' keys, rows in
//! the model's property order, and the counts of records that refer to nothing known.

use crate::IngestSummary;
use warehouse::model::{Collection, Warehouse};
use warehouse::reference;
use warehouse::sql::SqlValue;

/// Graph enumeration names whose reference row is not the name with a capital first letter.
const ENUM_ALIASES: &[(&str, &str, &str)] = &[
    ("ownerTypes", "company", "Corporate"),
    ("managementAgentTypes", "eas", "EAS"),
    ("managementAgentTypes", "mdm", "MDM"),
    (
        "managementAgentTypes",
        "configurationManagerClient",
        "ConfigManagerClient",
    ),
    (
        "deviceEnrollmentTypes",
        "windowsAzureADJoinUsingDeviceAuth",
        "WindowsAzureADJoinsUsingDeviceAuth",
    ),
];

/// Counts a record that refers to something not in the warehouse (it is left out).
pub fn unmatched(summary: &mut IngestSummary, what: String) {
    unmatched_many(summary, what, 1);
}

/// Counts `n` records that refer to something not in the warehouse (nothing when `n` is 0).
pub fn unmatched_many(summary: &mut IngestSummary, what: String, n: u64) {
    if n > 0 {
        *summary.unmatched.entry(what).or_default() += n;
    }
}

/// The `deviceTypes` key of a device's operating system as Graph names it (`Windows`, `iOS`, ...);
/// the model tells an iPad from an iPhone.
pub fn device_type_key(
    os: Option<&str>,
    model: Option<&str>,
    summary: &mut IngestSummary,
) -> SqlValue {
    let device_type = match os {
        Some("Windows") => "Windows",
        Some("iOS") if model.is_some_and(|m| m.contains("iPad")) => "IPad",
        Some("iOS") => "IPhone",
        Some("iPadOS") => "IPad",
        Some("Android") => "Android",
        Some("macOS") => "MacMDM",
        other => return enum_key("deviceTypes", Some(other.unwrap_or("unknown")), summary),
    };
    reference::key_value("deviceTypes", device_type)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Maps a Graph enumeration value to the key of its reference row; an unknown value maps to the
/// Unknown (or Not Available) member and is counted.
pub fn enum_key(collection: &str, value: Option<&str>, summary: &mut IngestSummary) -> SqlValue {
    let Some(v) = value else {
        return SqlValue::Null;
    };
    let name = ENUM_ALIASES
        .iter()
        .find(|(c, g, _)| *c == collection && *g == v)
        .map(|(_, _, r)| r.to_string())
        .unwrap_or_else(|| capitalized(v));
    if let Some(k) = reference::key(collection, &name) {
        return SqlValue::Integer(k);
    }
    summary.count_unknown(collection, v);
    reference::key(collection, "Unknown")
        .or_else(|| reference::key(collection, "Not Available"))
        .map_or(SqlValue::Null, SqlValue::Integer)
}

/// An optional text value.
pub fn text(v: Option<String>) -> SqlValue {
    v.map_or(SqlValue::Null, SqlValue::Text)
}

/// An optional integer value.
pub fn int(v: Option<i64>) -> SqlValue {
    v.map_or(SqlValue::Null, SqlValue::Integer)
}

/// An optional date-time value (microseconds since the Unix epoch).
pub fn ts(v: Option<i64>) -> SqlValue {
    v.map_or(SqlValue::Null, SqlValue::Timestamp)
}

/// An optional Boolean value.
pub fn boolean(v: Option<bool>) -> SqlValue {
    v.map_or(SqlValue::Null, SqlValue::Boolean)
}

/// A collection of the model by name.
pub fn collection(name: &str) -> &'static Collection {
    Warehouse::get()
        .collection(name)
        .expect("collection of the model")
}

/// Values in property order from (name, value) pairs; properties not given are NULL.
pub fn ordered(c: &Collection, values: &[(&str, SqlValue)]) -> Vec<SqlValue> {
    let mut out = vec![SqlValue::Null; c.properties.len()];
    for (name, v) in values {
        out[c.property_index(name).expect("property of the model")] = v.clone();
    }
    out
}
