//! What every merge works with: the open transaction and its tenant, the day and its clock, the
//! run's summary, and small tools to read and write rows in the model's property order.

use crate::map::values::{collection, ordered};
use crate::IngestError;
use crate::IngestSummary;
use foldhash::HashSet;
use warehouse::calendar::{date_key, midnight_micros};
use warehouse::model::Collection;
use warehouse::sql::changes;
use warehouse::sql::dml::{self, Condition};
use warehouse::sql::{Dialect, SqlValue};
use warehouse::store::Cell;
use warehouse::store::{StoreError, Transaction};

/// Everything a merge needs: the open transaction, its tenant, the day and the run's summary.
pub struct Context<'a> {
    /// The tenant's write transaction.
    pub tx: &'a mut dyn Transaction,
    /// The store's SQL dialect.
    pub dialect: &'a dyn Dialect,
    /// The tenant's internal id.
    pub tenant: i64,
    /// The snapshot's day.
    pub day: time::Date,
    /// When states change and rows are written.
    pub clock: Clock,
    /// What the run did.
    pub summary: &'a mut IngestSummary,
    /// The `dates` rows the tenant has, once read.
    pub dates: Option<HashSet<i64>>,
    /// The day is older than the newest published one (`--backfill`): its facts are written,
    /// the dimensions' current state is not rewound (entities never seen are added as ended).
    pub backfill: bool,
}

impl Context<'_> {
    /// The snapshot's `dateKey`.
    pub fn date_key(&self) -> i64 {
        date_key(self.day)
    }

    /// Replaces the snapshot day's rows of the fact `name` by `rows` (re-ingesting a day is
    /// idempotent).
    pub fn replace_day(
        &mut self,
        name: &str,
        facts: &[Vec<(&str, SqlValue)>],
    ) -> Result<(), IngestError> {
        let c = collection(name);
        self.replace_day_with(name, facts, |fact, row| {
            for (name, v) in fact {
                row[c.property_index(name).expect("property of the model")] = v.clone();
            }
        })
    }

    /// Replaces the snapshot day's rows of the fact `name` by a row per item of `facts`, which
    /// `fill` writes into a row in property order (NULL but for the `dateKey`): no row is built
    /// before it is written.
    pub fn replace_day_with<T>(
        &mut self,
        name: &str,
        facts: impl IntoIterator<Item = T>,
        mut fill: impl FnMut(T, &mut [SqlValue]),
    ) -> Result<(), IngestError> {
        let dk = self.date_key();
        let generation = self.tx.generation();
        self.tx.execute(&changes::record_removed(
            self.dialect,
            (self.tenant, generation),
            name,
            ("dateKey", "=", SqlValue::Integer(dk)),
        ))?;
        self.tx.execute(&dml::delete(
            self.dialect,
            self.tenant,
            name,
            "dateKey",
            "=",
            SqlValue::Integer(dk),
        ))?;
        self.tx.day_changed(dk);
        let c = collection(name);
        let date_key = c.date_key_index().expect("a daily fact has a dateKey");
        // one row buffer for the whole day
        let mut row = vec![SqlValue::Null; c.properties.len()];
        let mut n = 0;
        for fact in facts {
            row.fill(SqlValue::Null);
            row[date_key] = SqlValue::Integer(dk);
            fill(fact, &mut row);
            self.tx.insert(name, &row)?;
            n += 1;
        }
        written(self.summary, name, n);
        Ok(())
    }

    /// Adds `day` to the `dates` dimension unless it is there.
    pub fn ensure_date(&mut self, day: time::Date) -> Result<(), IngestError> {
        let dk = date_key(day);
        let dates = collection("dates");
        if self.dates.is_none() {
            let stored = rows(self.tx, self.dialect, self.tenant, dates)?
                .iter()
                .filter_map(|r| match r[0] {
                    SqlValue::Integer(k) => Some(k),
                    _ => None,
                })
                .collect();
            self.dates = Some(stored);
        }
        let known = self.dates.as_mut().expect("loaded above");
        if !known.insert(dk) {
            return Ok(());
        }
        let jan1 = time::Date::from_ordinal_date(day.year(), 1).expect("valid");
        let doy = i64::from(day.ordinal());
        self.tx.insert(
            "dates",
            &ordered(
                dates,
                &[
                    ("dateKey", SqlValue::Integer(dk)),
                    ("fullDate", SqlValue::Timestamp(midnight_micros(day))),
                    (
                        "dayOfWeek",
                        SqlValue::Integer(i64::from(day.weekday().number_from_sunday())),
                    ),
                    ("dayOfMonth", SqlValue::Integer(i64::from(day.day()))),
                    ("dayOfYear", SqlValue::Integer(doy)),
                    (
                        "weekOfYear",
                        SqlValue::Integer(
                            (doy - 1 + i64::from(jan1.weekday().number_days_from_sunday())) / 7 + 1,
                        ),
                    ),
                    (
                        "monthOfYear",
                        SqlValue::Integer(i64::from(day.month() as u8)),
                    ),
                    (
                        "calendarQuarter",
                        SqlValue::Integer((i64::from(day.month() as u8) - 1) / 3 + 1),
                    ),
                    ("calendarYear", SqlValue::Integer(i64::from(day.year()))),
                ],
            ),
        )?;
        written(self.summary, "dates", 1);
        Ok(())
    }

    /// Whether `micros` falls on the snapshot's day (UTC): the day's activity.
    pub fn on_day(&self, micros: i64) -> bool {
        self.day_micros().contains(&micros)
    }

    /// The snapshot's day (UTC) in microseconds since the Unix epoch.
    pub fn day_micros(&self) -> std::ops::Range<i64> {
        warehouse::calendar::day_micros(self.day)
    }
}

/// When a merge happens.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The snapshot's instant (midnight UTC starting its day): states begin and end here.
    pub snapshot: i64,
    /// When the warehouse writes (`rowLastModifiedDateTimeUTC`).
    pub now: i64,
}

/// The next surrogate key after the stored rows' `key` column.
pub fn first_free_key(stored: &[Vec<SqlValue>], key: usize) -> i64 {
    stored
        .iter()
        .filter_map(|r| match r[key] {
            SqlValue::Integer(k) => Some(k),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        + 1
}

/// A stored row marked deleted now (history is kept by soft deletes).
pub fn soft_deleted(
    row: &[SqlValue],
    deleted: usize,
    modified: usize,
    now: &SqlValue,
) -> Vec<SqlValue> {
    let mut r = row.to_vec();
    r[deleted] = SqlValue::Boolean(true);
    r[modified] = now.clone();
    r
}

/// A stored cell as a value typed like its property.
fn typed(cell: Cell<'_>, ty: &str) -> SqlValue {
    match (cell, ty) {
        (Cell::Null, _) => SqlValue::Null,
        (Cell::Integer(i), "Edm.DateTimeOffset") => SqlValue::Timestamp(i),
        (Cell::Integer(i), "Edm.Boolean") => SqlValue::Boolean(i != 0),
        (Cell::Integer(i), _) => SqlValue::Integer(i),
        (Cell::Real(f), _) => SqlValue::Real(f),
        (Cell::Text(s), _) => SqlValue::Text(s.to_string()),
    }
}

/// Every stored row of a collection for the tenant, in property order, ordered by its first key.
pub fn rows(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    tenant: i64,
    c: &Collection,
) -> Result<Vec<Vec<SqlValue>>, StoreError> {
    let names: Vec<&str> = c.properties.iter().map(|p| p.name.as_str()).collect();
    select(tx, d, tenant, c, &names, &[])
}

/// The values of `columns` in the tenant's rows of a collection that meet `conditions`, typed
/// like their properties, ordered by the collection's first key. Reading only what a merge
/// needs keeps its cost with the live rows rather than with every row history ever kept.
pub fn select(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    tenant: i64,
    c: &Collection,
    columns: &[&str],
    conditions: &[Condition<'_>],
) -> Result<Vec<Vec<SqlValue>>, StoreError> {
    let types: Vec<&str> = columns
        .iter()
        .map(|n| {
            let i = c.property_index(n).expect("property of the model");
            c.properties[i].ty.as_str()
        })
        .collect();
    let mut out = Vec::new();
    tx.query(
        &dml::select(d, tenant, &c.name, columns, conditions, &c.key[0]),
        &mut |row| {
            out.push(
                types
                    .iter()
                    .enumerate()
                    .map(|(i, ty)| typed(row.cell(i), ty))
                    .collect(),
            );
        },
    )?;
    Ok(out)
}

/// The tenant's largest value of the integer property `column` (0 when it has no rows).
pub fn max_of(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    tenant: i64,
    c: &Collection,
    column: &str,
) -> Result<i64, StoreError> {
    let mut max = 0;
    tx.query(&dml::max(d, tenant, &c.name, column), &mut |row| {
        if let Cell::Integer(v) = row.cell(0) {
            max = v;
        }
    })?;
    Ok(max)
}

pub fn written(summary: &mut IngestSummary, collection: &str, n: u64) {
    *summary
        .rows_written
        .entry(collection.to_string())
        .or_default() += n;
}
