//! A deterministic synthetic tenant: realistic dimensions and daily facts that agree with them.
//!
//! Everything derives from one seeded random stream plus stable hashes, so a seed always gives the
//! same tenant. Facts are computed from the same per-day device states that fill
//! `devicePropertyHistories`, so aggregates agree with details: for every day, the counts in
//! `compliancePolicyStatusDeviceActivities` equal the `devicePropertyHistories` rows of that day in
//! each compliance state (mapping in [`warehouse::compliance::bucket_of_state`]), the per-policy activity counts add up
//! to the profile activities, and so on.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use time::{Date, Duration};
mod configuration;
mod daily;
mod dimensions;
mod entities;
mod platform;

use entities::*;
use platform::Platform;
use warehouse::calendar::{date_key, midnight_micros, DAY_MICROS};
use warehouse::compliance::bucket_of_state;
use warehouse::model::Warehouse;
use warehouse::progress::Progress;
use warehouse::sql::SqlValue;
use warehouse::store::{Loader, Store, StoreError, Tenant};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Tenant name to (re)write.
    pub tenant: String,
    /// Number of devices.
    pub devices: u32,
    /// Number of users.
    pub users: u32,
    /// Days of history, ending at `end_date` inclusive.
    pub days: u32,
    /// Random seed.
    pub seed: u64,
    /// Last day of the history (the snapshot day).
    pub end_date: Date,
}

/// Rows written per collection.
pub type Summary = BTreeMap<String, u64>;

/// Writes a generated tenant to `store`, replacing the tenant's data atomically.
pub fn generate(
    store: &dyn Store,
    opts: &GenerateOptions,
    progress: &dyn Progress,
) -> Result<(Tenant, Summary), StoreError> {
    let mut summary = Summary::new();
    let tenant = store.publish_tenant(&opts.tenant, date_key(opts.end_date), &mut |loader| {
        summary.clear();
        let mut out = Out {
            loader,
            summary: &mut summary,
            model: Warehouse::get(),
        };
        Generator::new(opts).run(&mut out, progress)
    })?;
    Ok((tenant, summary))
}

struct Out<'a> {
    loader: &'a mut dyn Loader,
    summary: &'a mut Summary,
    model: &'static Warehouse,
}

impl Out<'_> {
    /// Inserts a row given as (property, value) pairs; missing properties are NULL.
    fn row(&mut self, collection: &str, values: &[(&str, SqlValue)]) -> Result<(), StoreError> {
        let c = self
            .model
            .collection(collection)
            .ok_or_else(|| StoreError::Refused(format!("unknown collection {collection}")))?;
        let mut ordered = vec![SqlValue::Null; c.properties.len()];
        for (name, v) in values {
            let i = c
                .property_index(name)
                .ok_or_else(|| StoreError::Refused(format!("{collection} has no {name}")))?;
            // date-times are written as microseconds and flags as 0/1 below; the loader
            // receives them typed as their properties are
            ordered[i] = match (c.properties[i].ty.as_str(), v) {
                ("Edm.DateTimeOffset", SqlValue::Integer(t)) => SqlValue::Timestamp(*t),
                ("Edm.Boolean", SqlValue::Integer(b)) => SqlValue::Boolean(*b != 0),
                _ => v.clone(),
            };
        }
        self.loader.insert(collection, &ordered)?;
        *self.summary.entry(collection.to_string()).or_default() += 1;
        Ok(())
    }
}

fn int(v: i64) -> SqlValue {
    SqlValue::Integer(v)
}
fn text(s: impl Into<String>) -> SqlValue {
    SqlValue::Text(s.into())
}
fn boolean(b: bool) -> SqlValue {
    SqlValue::Integer(i64::from(b))
}
fn opt_ts(t: Option<i64>) -> SqlValue {
    t.map_or(SqlValue::Null, SqlValue::Integer)
}

/// A stable hash of a few numbers, for per-(device, policy, day) states that need no storage.
fn mix(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for p in parts {
        h ^= p
            .wrapping_add(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
    }
    h
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|w| w.1).sum();
    let mut x = rng.random_range(0..total);
    for (v, w) in weighted {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    weighted[weighted.len() - 1].0
}

fn guid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

struct Generator<'a> {
    opts: &'a GenerateOptions,
    rng: ChaCha8Rng,
    start: Date,
}

impl<'a> Generator<'a> {
    fn new(opts: &'a GenerateOptions) -> Self {
        Self {
            opts,
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            start: opts.end_date - Duration::days(i64::from(opts.days.max(1)) - 1),
        }
    }

    /// Key of a reference row of a lookup dimension by one of its values.
    fn key(&self, collection: &'static str, value: &str) -> i64 {
        warehouse::reference::key(collection, value)
            .unwrap_or_else(|| panic!("{collection} has no reference row {value}"))
    }

    fn day_date(&self, day: i64) -> Date {
        self.start + Duration::days(day)
    }

    fn run(&mut self, out: &mut Out<'_>, progress: &dyn Progress) -> Result<(), StoreError> {
        let days = i64::from(self.opts.days.max(1));
        let steps = days as u64 + 3;
        progress.stage("reference data");
        progress.steps(0, steps);
        self.reference_rows(out)?;
        self.dates(out, days)?;
        let categories = self.categories(out)?;
        let users = self.users(out, days)?;
        let devices = self.devices(out, &users, categories, days)?;
        let policies = self.policies(out, days)?;
        let apps = self.apps(out, days)?;
        let mam = self.mam(out, &users, &devices, days)?;
        let terms = self.terms(out, days)?;
        let dimensions = Dimensions {
            users,
            devices,
            policies,
            apps,
            mam,
            terms,
        };
        progress.stage("daily snapshots");
        progress.steps(3, steps);
        for day in 0..days {
            self.day(out, day, days, &dimensions)?;
            progress.steps(4 + day as u64, steps);
        }
        Ok(())
    }
}
