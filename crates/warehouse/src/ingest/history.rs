//! Dimensions that keep history: each state of an entity is its own row. A change of state ends
//! the live row and adds a new one; an entity missing from the snapshot has its live row ended;
//! one that comes back gets a new row. Rows are never deleted.

use super::context::{collection, first_free_key, ordered, rows, written, Context};
use super::IngestError;
use crate::sql::SqlValue;

/// One day, in microseconds.
const DAY_MICROS: i64 = 86_400_000_000;
use std::collections::{HashMap, HashSet};

/// The columns of a history dimension that the merge maintains (absent ones are `None`).
pub struct Columns {
    /// The surrogate key.
    pub key: &'static str,
    /// The natural id.
    pub id: &'static str,
    /// `isDeleted`: true on ended rows.
    pub deleted: Option<&'static str>,
    /// `isCurrent`: false on ended rows.
    pub current: Option<&'static str>,
    /// When the row's state began.
    pub start: Option<&'static str>,
    /// When the row's state ended (`endDateExclusiveUTC` or `deletedDateUTC`).
    pub end: Option<&'static str>,
    /// `rowLastModifiedDateTimeUTC`: when the warehouse last wrote the row.
    pub modified: Option<&'static str>,
    /// A counter of the entity's rows (`revision`), 1 for the first.
    pub revision: Option<&'static str>,
}

impl Columns {
    /// The columns of a dimension whose ended rows are marked `isDeleted` with the end time in
    /// `end`, each row's start in `startDateInclusiveUTC` and its writing in
    /// `rowLastModifiedDateTimeUTC`.
    pub fn soft_deleted(key: &'static str, id: &'static str, end: &'static str) -> Self {
        Self {
            key,
            id,
            deleted: Some("isDeleted"),
            current: None,
            start: Some("startDateInclusiveUTC"),
            end: Some(end),
            modified: Some("rowLastModifiedDateTimeUTC"),
            revision: None,
        }
    }

    /// The columns maintained by the merge rather than describing the entity.
    fn bookkeeping(&self) -> impl Iterator<Item = &'static str> {
        [
            Some(self.key),
            self.deleted,
            self.current,
            self.start,
            self.end,
            self.modified,
            self.revision,
        ]
        .into_iter()
        .flatten()
    }
}

/// One entity of the snapshot.
#[derive(Clone)]
pub struct Entity {
    /// Natural id.
    pub id: String,
    /// Its descriptive values by property name.
    pub values: Vec<(&'static str, SqlValue)>,
    /// When the entity came into being, if the source says (used for its first row).
    pub created: Option<i64>,
}

/// Merges `entities`, every entity of the dimension `name` there is, into it: an entity missing
/// from them has ended. Returns the key of every entity's live row by natural id.
pub fn merge(
    cx: &mut Context<'_>,
    name: &str,
    cols: &Columns,
    entities: &[Entity],
) -> Result<HashMap<String, i64>, IngestError> {
    merge_entities(cx, name, cols, entities, true)
}

/// Merges `entities`, some of the dimension's, into `name`: the entities not among them are left
/// as they are.
pub fn merge_some(
    cx: &mut Context<'_>,
    name: &str,
    cols: &Columns,
    entities: &[Entity],
) -> Result<HashMap<String, i64>, IngestError> {
    merge_entities(cx, name, cols, entities, false)
}

fn merge_entities(
    cx: &mut Context<'_>,
    name: &str,
    cols: &Columns,
    entities: &[Entity],
    complete: bool,
) -> Result<HashMap<String, i64>, IngestError> {
    let (d, t, clock) = (cx.d, cx.t, cx.clock);
    let c = collection(name);
    let idx = |n: &str| c.property_index(n).expect("property of the model");
    let (key, id) = (idx(cols.key), idx(cols.id));
    let stored = rows(cx.tx, d, t, c)?;
    let mut next_key = first_free_key(&stored, key);
    let is_live = |r: &[SqlValue]| {
        cols.deleted
            .is_none_or(|n| r[idx(n)] == SqlValue::Boolean(false))
            && cols
                .current
                .is_none_or(|n| r[idx(n)] == SqlValue::Boolean(true))
    };
    let mut live: HashMap<String, &Vec<SqlValue>> = HashMap::new();
    let mut revisions: HashMap<String, i64> = HashMap::new();
    // the newest row of each entity, for a backfilled day
    let mut latest: HashMap<String, i64> = HashMap::new();
    for r in &stored {
        let SqlValue::Text(natural) = &r[id] else {
            continue;
        };
        if let SqlValue::Integer(k) = r[key] {
            let newest = latest.entry(natural.clone()).or_insert(k);
            *newest = (*newest).max(k);
        }
        let revision = cols
            .revision
            .and_then(|n| match r[idx(n)] {
                SqlValue::Integer(v) => Some(v),
                _ => None,
            })
            .unwrap_or(0);
        let seen = revisions.entry(natural.clone()).or_insert(0);
        *seen = (*seen).max(revision.max(1));
        if is_live(r) {
            live.insert(natural.clone(), r);
        }
    }
    let bookkeeping: HashSet<usize> = cols.bookkeeping().map(idx).collect();
    let ended = |row: &[SqlValue]| {
        let mut r = row.to_vec();
        if let Some(n) = cols.deleted {
            r[idx(n)] = SqlValue::Boolean(true);
        }
        if let Some(n) = cols.current {
            r[idx(n)] = SqlValue::Boolean(false);
        }
        if let Some(n) = cols.end {
            r[idx(n)] = SqlValue::Timestamp(clock.snapshot);
        }
        if let Some(n) = cols.modified {
            r[idx(n)] = SqlValue::Timestamp(clock.now);
        }
        r
    };
    let mut keys = HashMap::new();
    let mut updates = Vec::new();
    for e in entities {
        let mut row = ordered(c, &e.values);
        row[id] = SqlValue::Text(e.id.clone());
        // a backfilled day does not rewrite history: its entities take the keys they have
        if cx.backfill {
            let known = live
                .get(&e.id)
                .and_then(|r| match r[key] {
                    SqlValue::Integer(k) => Some(k),
                    _ => None,
                })
                .or_else(|| latest.get(&e.id).copied());
            if let Some(k) = known {
                keys.insert(e.id.clone(), k);
                continue;
            }
        }
        if let Some(old) = live.get(&e.id) {
            let same = (0..row.len())
                .filter(|i| !bookkeeping.contains(i))
                .all(|i| old[i] == row[i]);
            if same {
                if let SqlValue::Integer(k) = old[key] {
                    keys.insert(e.id.clone(), k);
                }
                continue;
            }
            updates.push(ended(old));
            written(cx.summary, name, 1);
        }
        let previous = revisions.get(&e.id).copied();
        row[key] = SqlValue::Integer(next_key);
        if let Some(n) = cols.deleted {
            row[idx(n)] = SqlValue::Boolean(false);
        }
        if let Some(n) = cols.current {
            row[idx(n)] = SqlValue::Boolean(true);
        }
        if let Some(n) = cols.start {
            let began = match previous {
                None => e.created.unwrap_or(clock.snapshot),
                Some(_) => clock.snapshot,
            };
            row[idx(n)] = SqlValue::Timestamp(began);
        }
        if let Some(n) = cols.modified {
            row[idx(n)] = SqlValue::Timestamp(clock.now);
        }
        if let Some(n) = cols.revision {
            row[idx(n)] = SqlValue::Integer(previous.unwrap_or(0) + 1);
        }
        if cx.backfill {
            // never seen in a published day: it was gone by the newest one, so its row ends the
            // day after the backfilled day (the last evidence of it)
            row = ended(&row);
            if let Some(n) = cols.end {
                row[idx(n)] = SqlValue::Timestamp(clock.snapshot + DAY_MICROS);
            }
        }
        cx.tx.insert(name, &row)?;
        written(cx.summary, name, 1);
        keys.insert(e.id.clone(), next_key);
        next_key += 1;
    }
    let in_snapshot: HashSet<&str> = entities.iter().map(|e| e.id.as_str()).collect();
    for (natural, row) in live.iter().filter(|_| complete && !cx.backfill) {
        if !in_snapshot.contains(natural.as_str()) {
            updates.push(ended(row));
            written(cx.summary, name, 1);
        }
    }
    cx.tx.update_rows(name, cols.key, &updates)?;
    Ok(keys)
}
