//! What a run did: records read, rows written, values the model does not have, records left
//! out; with the bounds on how much of it is listed.

use std::collections::BTreeMap;
use warehouse::store::Tenant;

/// Most distinct values a run's report lists; values past them are counted together, per
/// kind, as `(other values)`. A snapshot with 2 000 distinct made-up values of 50 KB made a
/// 701 MB summary, and `/status/ingest` answered 140 MB.
pub const MAX_LISTED_VALUES: usize = 50;

/// Most characters of a listed value (control characters escaped).
pub const MAX_LISTED_CHARS: usize = 100;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Records read per file.
    pub records_read: BTreeMap<String, u64>,
    /// Rows inserted or changed per collection.
    pub rows_written: BTreeMap<String, u64>,
    /// Enumeration values not in the model, mapped to the Unknown member: (property, value) -> count.
    pub unknown_enums: BTreeMap<String, u64>,
    /// Records referring to something the warehouse does not have (left out): what -> count.
    pub unmatched: BTreeMap<String, u64>,
    /// The published tenant.
    pub tenant: Option<Tenant>,
}

impl IngestSummary {
    /// Counts a value of `what` (an enumeration, an app type, ...) that the model does not have
    /// and that was mapped to its Unknown member: listed as `what: value`, cut to
    /// [`MAX_LISTED_CHARS`], among at most [`MAX_LISTED_VALUES`].
    pub fn count_unknown(&mut self, what: &str, value: impl AsRef<str>) {
        self.count_unknown_many(&format!("{what}: "), value.as_ref(), 1);
    }

    pub(crate) fn count_unknown_many(&mut self, what: &str, value: &str, n: u64) {
        let mut listed: String = value
            .chars()
            .take(MAX_LISTED_CHARS)
            .map(|c| match c.is_control() {
                true => format!("\\u{{{:x}}}", c as u32),
                false => c.to_string(),
            })
            .collect();
        if value.chars().nth(MAX_LISTED_CHARS).is_some() {
            listed.push_str("...");
        }
        self.add_listed(format!("{what}{listed}"), n);
    }

    /// Adds `n` to the count of `key` (`what: value`, already cut), or to its kind's
    /// `(other values)` when [`MAX_LISTED_VALUES`] are listed.
    pub(crate) fn add_listed(&mut self, key: String, n: u64) {
        let key = if self.unknown_enums.contains_key(&key)
            || self.unknown_enums.len() < MAX_LISTED_VALUES
        {
            key
        } else {
            let what = key.split_once(": ").map_or("", |(what, _)| what);
            format!("{what}: (other values)")
        };
        *self.unknown_enums.entry(key).or_default() += n;
    }

    /// Adds the enumeration values another part of the run mapped to Unknown.
    pub(crate) fn add_unknown(&mut self, other: IngestSummary) {
        for (key, n) in other.unknown_enums {
            self.add_listed(key, n);
        }
    }
}
