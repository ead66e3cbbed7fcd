//! Dimensions that keep history: each state of an entity is its own row. A change of state ends
//! the live row and adds a new one; an entity missing from the snapshot has its live row ended;
//! one that comes back gets a new row. Rows are never deleted.

use crate::map::values::{collection, ordered};
use crate::merge::context::{max_of, select, written, Clock, Context};
use crate::IngestError;
use warehouse::calendar::DAY_MICROS;
use warehouse::model::Collection;
use warehouse::sql::dml::Condition;
use warehouse::sql::SqlValue;
use warehouse::store::RowChange;

use foldhash::{HashMap, HashMapExt, HashSet};

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
    context: &mut Context<'_>,
    name: &str,
    cols: &Columns,
    entities: &[Entity],
) -> Result<HashMap<String, i64>, IngestError> {
    merge_entities(context, name, cols, entities, true).map(|m| m.keys)
}

/// What [`merge_counted`] did.
pub struct Merged {
    /// The key of every entity's live row by natural id.
    pub keys: HashMap<String, i64>,
    /// How many rows were live before the merge.
    pub live_before: usize,
    /// How many of them ended because their entity is missing from the snapshot.
    pub missing: usize,
    /// The keys of the rows the merge ended (changed or missing entities).
    pub ended_keys: Vec<i64>,
    /// The first key the merge gave a new row: every row added has this key or a larger one.
    pub first_new_key: i64,
}

/// [`merge`], also saying how many live rows there were and how many ended for want of their
/// entity (what the mass-deletion guard weighs).
pub fn merge_counted(
    context: &mut Context<'_>,
    name: &str,
    cols: &Columns,
    entities: &[Entity],
) -> Result<Merged, IngestError> {
    merge_entities(context, name, cols, entities, true)
}

/// Merges `entities`, some of the dimension's, into `name`: the entities not among them are left
/// as they are.
pub fn merge_some(
    context: &mut Context<'_>,
    name: &str,
    cols: &Columns,
    entities: &[Entity],
) -> Result<HashMap<String, i64>, IngestError> {
    merge_entities(context, name, cols, entities, false).map(|m| m.keys)
}

/// How a merge writes the rows of one history dimension: its bookkeeping columns and the clock.
struct Rows<'a> {
    c: &'static Collection,
    cols: &'a Columns,
    clock: Clock,
}

impl Rows<'_> {
    /// The position of property `name`.
    fn at(&self, name: &str) -> usize {
        self.c.property_index(name).expect("property of the model")
    }

    /// A row's revision (1 when the dimension counts none).
    fn revision_of(&self, row: &[SqlValue]) -> i64 {
        self.cols
            .revision
            .and_then(|n| match row[self.at(n)] {
                SqlValue::Integer(v) => Some(v),
                _ => None,
            })
            .unwrap_or(0)
            .max(1)
    }

    /// `row` ended at the snapshot: deleted, no longer current, its end set, written now.
    fn ended(&self, row: &[SqlValue]) -> Vec<SqlValue> {
        let mut r = row.to_vec();
        if let Some(n) = self.cols.deleted {
            r[self.at(n)] = SqlValue::Boolean(true);
        }
        if let Some(n) = self.cols.current {
            r[self.at(n)] = SqlValue::Boolean(false);
        }
        if let Some(n) = self.cols.end {
            r[self.at(n)] = SqlValue::Timestamp(self.clock.snapshot);
        }
        if let Some(n) = self.cols.modified {
            r[self.at(n)] = SqlValue::Timestamp(self.clock.now);
        }
        r
    }

    /// The new row of entity `e` under `key`: live, starting at its creation for its first row
    /// (`previous`: the revision of its last row, if any) or at the snapshot. A backfilled
    /// entity never seen in a published day ends the day after the backfilled day (the last
    /// evidence of it).
    fn new_row(
        &self,
        e: &Entity,
        key: i64,
        previous: Option<i64>,
        backfill: bool,
    ) -> Vec<SqlValue> {
        let (cols, clock) = (self.cols, self.clock);
        let mut row = ordered(self.c, &e.values);
        row[self.at(cols.id)] = SqlValue::Text(e.id.clone());
        row[self.at(cols.key)] = SqlValue::Integer(key);
        if let Some(n) = cols.deleted {
            row[self.at(n)] = SqlValue::Boolean(false);
        }
        if let Some(n) = cols.current {
            row[self.at(n)] = SqlValue::Boolean(true);
        }
        if let Some(n) = cols.start {
            let began = match previous {
                None => e.created.unwrap_or(clock.snapshot),
                Some(_) => clock.snapshot,
            };
            row[self.at(n)] = SqlValue::Timestamp(began);
        }
        if let Some(n) = cols.modified {
            row[self.at(n)] = SqlValue::Timestamp(clock.now);
        }
        if let Some(n) = cols.revision {
            row[self.at(n)] = SqlValue::Integer(previous.unwrap_or(0) + 1);
        }
        if backfill {
            row = self.ended(&row);
            if let Some(n) = cols.end {
                row[self.at(n)] = SqlValue::Timestamp(clock.snapshot + DAY_MICROS);
            }
        }
        row
    }
}

fn merge_entities(
    context: &mut Context<'_>,
    name: &str,
    cols: &Columns,
    entities: &[Entity],
    complete: bool,
) -> Result<Merged, IngestError> {
    let (d, t, clock) = (context.dialect, context.tenant, context.clock);
    let c = collection(name);
    let idx = |n: &str| c.property_index(n).expect("property of the model");
    let (key, id) = (idx(cols.key), idx(cols.id));
    // the live rows whole; of the other rows only what the entities coming back need
    let live_rows = select(
        context.tx,
        d,
        t,
        c,
        &all_properties(c),
        &live_conditions(cols),
    )?;
    let live: HashMap<&str, &Vec<SqlValue>> = live_rows
        .iter()
        .filter_map(|r| match &r[id] {
            SqlValue::Text(natural) => Some((natural.as_str(), r)),
            _ => None,
        })
        .collect();
    let mut next_key = max_of(context.tx, d, t, c, cols.key)? + 1;
    let first_new_key = next_key;
    let unseen: Vec<&str> = entities
        .iter()
        .map(|e| e.id.as_str())
        .filter(|e| !live.contains_key(e))
        .collect();
    let earlier = earlier_rows(context, c, cols, &unseen)?;
    let rows = Rows { c, cols, clock };
    let mut skipped: HashSet<usize> = cols.bookkeeping().map(idx).collect();
    skipped.insert(id);
    let mut keys = HashMap::with_capacity(entities.len());
    let mut updates = Vec::new();
    for e in entities {
        let old = live.get(e.id.as_str()).copied();
        let before = earlier.get(e.id.as_str());
        // a backfilled day does not rewrite history: its entities take the keys they have
        if context.backfill {
            let known = old
                .and_then(|r| match r[key] {
                    SqlValue::Integer(k) => Some(k),
                    _ => None,
                })
                .or_else(|| before.map(|b| b.newest_key));
            if let Some(k) = known {
                keys.insert(e.id.clone(), k);
                continue;
            }
        }
        if let Some(old) = old {
            if unchanged(c, old, &e.values, &skipped) {
                if let SqlValue::Integer(k) = old[key] {
                    keys.insert(e.id.clone(), k);
                }
                continue;
            }
            updates.push(RowChange {
                old,
                new: rows.ended(old),
            });
            written(context.summary, name, 1);
        }
        let previous = old
            .map(|r| rows.revision_of(r))
            .or_else(|| before.map(|b| b.revision));
        let row = rows.new_row(e, next_key, previous, context.backfill);
        context.tx.insert(name, &row)?;
        written(context.summary, name, 1);
        keys.insert(e.id.clone(), next_key);
        next_key += 1;
    }
    let mut missing = 0;
    if complete && !context.backfill {
        let in_snapshot: HashSet<&str> = entities.iter().map(|e| e.id.as_str()).collect();
        for (natural, row) in &live {
            if !in_snapshot.contains(natural) {
                updates.push(RowChange {
                    old: row,
                    new: rows.ended(row),
                });
                written(context.summary, name, 1);
                missing += 1;
            }
        }
    }
    context.tx.update_rows(name, &[cols.key], &updates)?;
    let ended_keys = updates
        .iter()
        .filter_map(|u| match u.old[key] {
            SqlValue::Integer(k) => Some(k),
            _ => None,
        })
        .collect();
    Ok(Merged {
        keys,
        live_before: live.len(),
        missing,
        ended_keys,
        first_new_key,
    })
}

/// Whether an entity's descriptive values are those of its stored row: every value it names
/// (but the `skipped` properties) equals the row's, and the row has no other non-null value
/// (a property an entity does not name is NULL, as [`ordered`] writes it).
fn unchanged(
    c: &Collection,
    old: &[SqlValue],
    values: &[(&'static str, SqlValue)],
    skipped: &HashSet<usize>,
) -> bool {
    let mut named_non_null = 0;
    for (name, v) in values {
        let i = c.property_index(name).expect("property of the model");
        if skipped.contains(&i) {
            continue;
        }
        if old[i] != *v {
            return false;
        }
        named_non_null += usize::from(!v.is_null());
    }
    let stored_non_null = (0..old.len())
        .filter(|i| !skipped.contains(i) && !old[*i].is_null())
        .count();
    stored_non_null == named_non_null
}

/// What the rows of an entity without a live row say: its newest key and its highest revision
/// (1 when the dimension counts none).
struct Earlier {
    newest_key: i64,
    revision: i64,
}

/// Reads the rows of the entities `ids` (none of them live): a few at a time by natural id, or
/// the natural ids and keys of every row when most of a large day is new.
fn earlier_rows(
    context: &mut Context<'_>,
    c: &Collection,
    cols: &Columns,
    ids: &[&str],
) -> Result<HashMap<String, Earlier>, IngestError> {
    const BY_ID_AT_MOST: usize = 2000;
    const PER_STATEMENT: usize = 500;
    let mut columns = vec![cols.id, cols.key];
    columns.extend(cols.revision);
    let mut out: HashMap<String, Earlier> = HashMap::new();
    let mut note = |r: Vec<SqlValue>| {
        let mut r = r.into_iter();
        let (Some(SqlValue::Text(natural)), Some(SqlValue::Integer(k))) = (r.next(), r.next())
        else {
            return;
        };
        let revision = match r.next() {
            Some(SqlValue::Integer(v)) => v.max(1),
            _ => 1,
        };
        let e = out.entry(natural).or_insert(Earlier {
            newest_key: k,
            revision,
        });
        e.newest_key = e.newest_key.max(k);
        e.revision = e.revision.max(revision);
    };
    if ids.is_empty() {
        return Ok(out);
    }
    if ids.len() <= BY_ID_AT_MOST {
        for chunk in ids.chunks(PER_STATEMENT) {
            let values: Vec<SqlValue> = chunk
                .iter()
                .map(|i| SqlValue::Text(i.to_string()))
                .collect();
            let among = [Condition::Among(cols.id, &values)];
            for r in select(
                context.tx,
                context.dialect,
                context.tenant,
                c,
                &columns,
                &among,
            )? {
                note(r);
            }
        }
    } else {
        let wanted: HashSet<&str> = ids.iter().copied().collect();
        for r in select(
            context.tx,
            context.dialect,
            context.tenant,
            c,
            &columns,
            &[],
        )? {
            if matches!(&r[0], SqlValue::Text(natural) if wanted.contains(natural.as_str())) {
                note(r);
            }
        }
    }
    Ok(out)
}

/// The conditions a live row meets: not deleted, current.
fn live_conditions(cols: &Columns) -> Vec<Condition<'static>> {
    let deleted = cols
        .deleted
        .map(|n| Condition::Equals(n, SqlValue::Boolean(false)));
    let current = cols
        .current
        .map(|n| Condition::Equals(n, SqlValue::Boolean(true)));
    deleted.into_iter().chain(current).collect()
}

/// Every property name of a collection, in order.
fn all_properties(c: &Collection) -> Vec<&str> {
    c.properties.iter().map(|p| p.name.as_str()).collect()
}
