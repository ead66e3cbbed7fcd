//! Merging one day's snapshot into the warehouse inside a store transaction: the order in which
//! every source is merged, devices, users, categories and user-device associations, the devices'
//! daily facts, and retention.

pub(crate) mod context;
pub(crate) mod history;
pub(crate) mod parts;

use crate::map::core::Snapshot;
use crate::map::values::{collection, int, ordered, text};
use crate::merge::context::{first_free_key, rows, select, soft_deleted, written, Clock, Context};
use crate::merge::parts::{LaterParts, Merged, ParsedParts};
use crate::read::files;
use crate::stopwatch::Stopwatch;
use crate::IngestError;
use crate::IngestOptions;
use crate::IngestSummary;
use crate::Retention;
use foldhash::{HashMap, HashMapExt, HashSet};
use std::collections::BTreeMap;
use warehouse::calendar::{date_key, midnight_micros};
use warehouse::compliance;
use warehouse::model::Warehouse;
use warehouse::reference;
use warehouse::sql::dml::{self, Condition};
use warehouse::sql::{changes, validity};
use warehouse::sql::{Dialect, SqlValue};
use warehouse::store::{RowChange, Tenant, Transaction};

/// Applies the snapshot to the tenant inside `tx`: devices, users and categories from `snap`,
/// then the other sources' parts, asked of `parts` once the merge gets to them.
pub fn apply(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    tenant: &Tenant,
    snap: &Snapshot,
    parts: &mut LaterParts<'_>,
    opts: &IngestOptions,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    ensure_reference_rows(tx, d, tenant.id, summary)?;
    let mut context = Context {
        tx,
        dialect: d,
        tenant: tenant.id,
        day: opts.date,
        clock: Clock {
            snapshot: midnight_micros(opts.date),
            now: opts.now_micros,
        },
        summary,
        dates: None,
        backfill: tenant
            .snapshot_date_key
            .is_some_and(|newest| newest > date_key(opts.date)),
    };
    context.ensure_date(opts.date)?;
    let mut watch = Stopwatch::start();
    // a backfilled day marks nothing deleted
    let guard = opts.limits.max_deleted_share.filter(|_| !context.backfill);
    let keys = merge_dimensions(&mut context, snap, guard, &mut watch)?;
    write_device_facts(&mut context, snap, &keys)?;
    watch.lap("devicePropertyHistories");
    let (parts, their_summary) = parts()?;
    watch.lap("waiting for the other sources");
    context.summary.add_unknown(their_summary);
    merge_parts(&mut context, snap, parts, keys.devices, &mut watch)?;
    purge_past_retention(&mut context, opts)
}

/// The lookup dimensions' reference rows, written once per tenant.
fn ensure_reference_rows(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    t: i64,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    for c in Warehouse::get()
        .collections
        .iter()
        .filter(|c| !c.reference_rows.is_empty())
    {
        if rows(tx, d, t, c)?.is_empty() {
            for row in reference::rows(c) {
                tx.insert(&c.name, &row)?;
                written(summary, &c.name, 1);
            }
        }
    }
    Ok(())
}

/// The keys the day's facts refer to, from the merge of the dimensions.
struct DimensionKeys {
    /// Category key by name.
    categories: HashMap<String, i64>,
    /// Device key by device id.
    devices: HashMap<String, i64>,
}

/// Merges categories, users, devices and their associations (`guard`: the share of live rows
/// a snapshot may mark deleted).
fn merge_dimensions(
    context: &mut Context<'_>,
    snap: &Snapshot,
    guard: Option<f64>,
    watch: &mut Stopwatch,
) -> Result<DimensionKeys, IngestError> {
    let (d, t) = (context.dialect, context.tenant);
    let now = SqlValue::Timestamp(context.clock.now);
    let categories = merge_categories(
        context.tx,
        d,
        t,
        snap,
        &now,
        context.backfill,
        context.summary,
    )?;
    merge_users(context, snap, guard)?;
    watch.lap("users");
    let devices = merge_devices(context, snap, &categories, guard)?;
    watch.lap("devices");
    // associations are the current state: a backfilled day leaves them
    if !context.backfill {
        merge_associations(context.tx, d, t, snap, &devices, &now, context.summary)?;
    }
    watch.lap("userDeviceAssociations");
    Ok(DimensionKeys {
        categories,
        devices,
    })
}

/// The day's device facts, replaced as a whole (re-ingesting a day is idempotent): a
/// `devicePropertyHistories` row per device and the day's compliance counts.
fn write_device_facts(
    context: &mut Context<'_>,
    snap: &Snapshot,
    keys: &DimensionKeys,
) -> Result<(), IngestError> {
    let mut buckets: BTreeMap<&str, i64> = BTreeMap::new();
    for dev in &snap.devices {
        *buckets.entry(dev.compliance).or_default() += 1;
    }
    let histories = collection("devicePropertyHistories");
    let at = |name: &str| {
        histories
            .property_index(name)
            .expect("devicePropertyHistories property")
    };
    let devices = collection("devices");
    // (property of the history, property of the device)
    let copied = [
        "deviceName",
        "deviceRegistrationStateKey",
        "ownerTypeKey",
        "managementStateKey",
        "azureADRegistered",
        "complianceStateKey",
        "osVersion",
        "totalStorageSpaceInBytes",
    ]
    .map(|name| {
        (
            at(name),
            devices.property_index(name).expect("devices property"),
        )
    });
    let category = devices
        .property_index("deviceCategoryKey")
        .expect("devices property");
    let (device_key, jail_broken, category_key, memory) = (
        at("deviceKey"),
        at("jailBroken"),
        at("deviceCategoryKey"),
        at("physicalMemoryInBytes"),
    );
    context.replace_day_with("devicePropertyHistories", &snap.devices, |dev, row| {
        row[device_key] = SqlValue::Integer(keys.devices[&dev.id]);
        for (to, from) in copied {
            row[to] = dev.row[from].clone();
        }
        row[jail_broken] = text(dev.jail_broken.clone());
        if let SqlValue::Text(name) = &dev.row[category] {
            row[category_key] = keys
                .categories
                .get(name)
                .map_or(SqlValue::Null, |k| SqlValue::Integer(*k));
        }
        row[memory] = int(dev.physical_memory);
    })?;
    let count = |b: &str| SqlValue::Integer(*buckets.get(b).unwrap_or(&0));
    context.replace_day(
        "compliancePolicyStatusDeviceActivities",
        &[compliance::BUCKETS.map(|b| (b, count(b))).to_vec()],
    )
}

/// Merges the parts in registry order, on what the merge of devices and users built
/// (`device_keys`: device key by device id).
fn merge_parts(
    context: &mut Context<'_>,
    snap: &Snapshot,
    parts: ParsedParts,
    device_keys: HashMap<String, i64>,
    watch: &mut Stopwatch,
) -> Result<(), IngestError> {
    let mut merged = Merged::new(context, snap, device_keys)?;
    for (entry, part) in &parts {
        part.apply(context, &mut merged)?;
        watch.lap(entry.stage);
    }
    // what the merge built is a few million small allocations: another thread frees them
    let Merged {
        device_keys,
        users,
        app_names,
        ..
    } = merged;
    free_elsewhere((parts, device_keys, users, app_names));
    Ok(())
}

/// Deletes the facts older than each collection keeps (its retention).
fn purge_past_retention(
    context: &mut Context<'_>,
    opts: &IngestOptions,
) -> Result<(), IngestError> {
    for c in Warehouse::get()
        .collections
        .iter()
        .filter(|c| c.has_date_key())
    {
        let retention = match opts.retention.get(&c.name) {
            Some(r) => *r,
            None => c.retention_days.map_or(Retention::Forever, Retention::Days),
        };
        if let Retention::Days(days) = retention {
            let oldest = date_key(opts.date - time::Duration::days(i64::from(days)));
            let generation = context.tx.generation();
            context.tx.execute(&changes::record_removed(
                context.dialect,
                (context.tenant, generation),
                &c.name,
                ("dateKey", "<", SqlValue::Integer(oldest)),
            ))?;
            context.tx.execute(&dml::delete(
                context.dialect,
                context.tenant,
                &c.name,
                "dateKey",
                "<",
                SqlValue::Integer(oldest),
            ))?;
        }
    }
    Ok(())
}

/// Frees `value` on a thread of its own, so the caller does not wait for it.
pub fn free_elsewhere<T: Send + 'static>(value: T) {
    let _ = std::thread::Builder::new()
        .name("dw-free".into())
        .spawn(move || drop(value));
}

/// Refuses a snapshot that would mark more than `share` of the `live` rows of a collection
/// deleted (`leaving` rows whose entity is missing from it): a partial download must not wipe a
/// tenant. Small tenants ([`files::DELETION_GUARD_MIN_LIVE`]) are not guarded. The merge has
/// written its rows by then; the refusal rolls the whole publication back.
fn guard_deletions(
    collection_name: &str,
    live: usize,
    leaving: usize,
    share: Option<f64>,
) -> Result<(), IngestError> {
    let Some(share) = share else {
        return Ok(());
    };
    if live >= files::DELETION_GUARD_MIN_LIVE && leaving as f64 > share * live as f64 {
        return Err(IngestError::run(format!(
            "the snapshot would mark {leaving} of {live} live {collection_name} deleted, more than \
             {:.0}% ([limits] max_deleted_share); if that is right, run again with \
             --allow-mass-deletion",
            share * 100.0
        )));
    }
    Ok(())
}

/// Which user each device belongs to: an association starts when a device gets a primary user and
/// ends (`isDeleted`, `endedDateTimeUTC`) when the device leaves or its user (or user row) changes.
fn merge_associations(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    t: i64,
    snap: &Snapshot,
    device_keys: &HashMap<String, i64>,
    now: &SqlValue,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    let wanted = wanted_users(tx, d, t, snap, device_keys)?;
    let assoc = collection("userDeviceAssociations");
    let idx = |n: &str| {
        assoc
            .property_index(n)
            .expect("userDeviceAssociations property")
    };
    let (a_user, a_device, a_created, a_deleted, a_ended) = (
        idx("userKey"),
        idx("deviceKey"),
        idx("createdDateTimeUTC"),
        idx("isDeleted"),
        idx("endedDateTimeUTC"),
    );
    let stored = rows(tx, d, t, assoc)?;
    let pair = |r: &[SqlValue]| match (&r[a_user], &r[a_device]) {
        (SqlValue::Integer(u), SqlValue::Integer(dk)) => Some((*u, *dk)),
        _ => None,
    };
    let active = |r: &[SqlValue]| r[a_deleted] == SqlValue::Boolean(false);
    // an active association of the user the device should have stays; the others end
    let mut changes = Vec::new();
    let mut kept: HashMap<i64, i64> = HashMap::new();
    for r in stored.iter().filter(|r| active(r)) {
        let Some((u, dk)) = pair(r) else {
            continue;
        };
        if wanted.get(&dk).is_some_and(|(wu, _)| *wu == u) {
            kept.insert(dk, u);
        } else {
            let mut e = r.clone();
            e[a_deleted] = SqlValue::Boolean(true);
            e[a_ended] = now.clone();
            changes.push(RowChange { old: r, new: e });
        }
    }
    written(summary, "userDeviceAssociations", changes.len() as u64);
    // the earlier associations of the devices that get a new one
    let starting: HashSet<i64> = wanted
        .iter()
        .filter(|(dk, (u, _))| kept.get(*dk) != Some(u))
        .map(|(dk, _)| *dk)
        .collect();
    let mut earlier: HashMap<i64, Vec<&Vec<SqlValue>>> = HashMap::new();
    for r in &stored {
        if let Some((u, dk)) = pair(r) {
            if starting.contains(&dk) && kept.get(&dk) != Some(&u) {
                earlier.entry(dk).or_default().push(r);
            }
        }
    }
    for (dk, (u, enrolled)) in &wanted {
        if !starting.contains(dk) {
            continue;
        }
        // A device's first association starts at enrollment; a later one (a new user, or the
        // device back after missing from a snapshot) starts at the snapshot's midnight, so the
        // history shows the gap. An association this day already ended (a re-run of the day)
        // is made active again instead of started twice.
        let before = earlier.get(dk).map_or(&[][..], Vec::as_slice);
        let created = if before.is_empty() && !enrolled.is_null() {
            enrolled.clone()
        } else {
            now.clone()
        };
        let same = before
            .iter()
            .find(|e| !active(e) && e[a_user] == SqlValue::Integer(*u) && e[a_created] == created);
        if let Some(old) = same {
            let mut r = old.to_vec();
            r[a_deleted] = SqlValue::Boolean(false);
            r[a_ended] = SqlValue::Null;
            changes.push(RowChange { old, new: r });
            written(summary, "userDeviceAssociations", 1);
            continue;
        }
        tx.insert(
            "userDeviceAssociations",
            &ordered(
                assoc,
                &[
                    ("userKey", SqlValue::Integer(*u)),
                    ("deviceKey", SqlValue::Integer(*dk)),
                    ("createdDateTimeUTC", created),
                    ("isDeleted", SqlValue::Boolean(false)),
                ],
            ),
        )?;
        written(summary, "userDeviceAssociations", 1);
    }
    tx.update_rows(
        "userDeviceAssociations",
        &["userKey", "deviceKey", "createdDateTimeUTC"],
        &changes,
    )?;
    Ok(())
}

/// The user each device of the snapshot should be associated with, by device key: (the live
/// user's key, the device's enrollment time).
fn wanted_users(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    t: i64,
    snap: &Snapshot,
    device_keys: &HashMap<String, i64>,
) -> Result<HashMap<i64, (i64, SqlValue)>, IngestError> {
    let live_users = select(
        tx,
        d,
        t,
        collection("users"),
        &["userId", "userKey"],
        &[Condition::Equals("isDeleted", SqlValue::Boolean(false))],
    )?;
    let live_user: HashMap<&str, i64> = live_users
        .iter()
        .filter_map(|r| match (&r[0], &r[1]) {
            (SqlValue::Text(id), SqlValue::Integer(k)) => Some((id.as_str(), *k)),
            _ => None,
        })
        .collect();
    let mut wanted = HashMap::new();
    for dev in &snap.devices {
        if let SqlValue::Text(uid) = dev.get("userId") {
            if let Some(u) = live_user.get(uid.as_str()) {
                wanted.insert(device_keys[&dev.id], (*u, dev.value("enrolledDateTime")));
            }
        }
    }
    Ok(wanted)
}

/// Device categories: from `deviceCategories.json` when present (ids as Graph has them; a category
/// gone from the file is soft-deleted), else by the names devices carry. Returns name -> key.
fn merge_categories(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    t: i64,
    snap: &Snapshot,
    now: &SqlValue,
    backfill: bool,
    summary: &mut IngestSummary,
) -> Result<HashMap<String, i64>, IngestError> {
    let cats = collection("deviceCategories");
    let idx = |n: &str| cats.property_index(n).expect("deviceCategories property");
    let (key, id, name, deleted, modified) = (
        idx("deviceCategoryKey"),
        idx("deviceCategoryID"),
        idx("deviceCategoryName"),
        idx("isDeleted"),
        idx("rowLastModifiedDateTimeUTC"),
    );
    let stored = rows(tx, d, t, cats)?;
    let mut next_key = first_free_key(&stored, key);
    let mut keys: HashMap<String, i64> = HashMap::new();
    let mut updates = Vec::new();
    let mut insert = |tx: &mut dyn Transaction,
                      category_id: String,
                      category_name: &str,
                      keys: &mut HashMap<String, i64>|
     -> Result<(), IngestError> {
        tx.insert(
            "deviceCategories",
            &ordered(
                cats,
                &[
                    ("deviceCategoryKey", SqlValue::Integer(next_key)),
                    ("deviceCategoryID", SqlValue::Text(category_id)),
                    (
                        "deviceCategoryName",
                        SqlValue::Text(category_name.to_string()),
                    ),
                    ("isDeleted", SqlValue::Boolean(false)),
                    ("rowLastModifiedDateTimeUTC", now.clone()),
                ],
            ),
        )?;
        keys.insert(category_name.to_string(), next_key);
        next_key += 1;
        written(summary, "deviceCategories", 1);
        Ok(())
    };
    match &snap.category_records {
        Some(records) => {
            for (category_id, category_name) in records {
                match stored
                    .iter()
                    .find(|r| r[id] == SqlValue::Text(category_id.clone()))
                {
                    Some(old) => {
                        if let SqlValue::Integer(k) = old[key] {
                            keys.insert(category_name.clone(), k);
                        }
                        if old[name] != SqlValue::Text(category_name.clone())
                            || old[deleted] != SqlValue::Boolean(false)
                        {
                            let mut r = old.clone();
                            r[name] = SqlValue::Text(category_name.clone());
                            r[deleted] = SqlValue::Boolean(false);
                            r[modified] = now.clone();
                            updates.push(RowChange { old, new: r });
                        }
                    }
                    None => insert(tx, category_id.clone(), category_name, &mut keys)?,
                }
            }
            for old in &stored {
                let listed = records
                    .iter()
                    .any(|(category_id, _)| old[id] == SqlValue::Text(category_id.clone()));
                if !listed && old[deleted] == SqlValue::Boolean(false) {
                    updates.push(RowChange {
                        old,
                        new: soft_deleted(old, deleted, modified, now),
                    });
                }
            }
            for category_name in snap.categories.iter().filter(|c| !keys.contains_key(*c)) {
                summary.count_unknown("deviceCategories", category_name);
            }
        }
        None => {
            for r in &stored {
                if let (SqlValue::Integer(k), SqlValue::Text(category_name)) = (&r[key], &r[name]) {
                    keys.insert(category_name.clone(), *k);
                }
            }
            for category_name in &snap.categories {
                if !keys.contains_key(category_name) {
                    // without deviceCategories.json the Graph id is not known
                    insert(
                        tx,
                        uuid::Uuid::new_v4().to_string(),
                        category_name,
                        &mut keys,
                    )?;
                }
            }
        }
    }
    if backfill {
        // a backfilled day adds the categories it names but does not rename or delete any
        updates.clear();
    }
    written(summary, "deviceCategories", updates.len() as u64);
    tx.update_rows("deviceCategories", &["deviceCategoryKey"], &updates)?;
    Ok(keys)
}

/// Users keep history: a change of state ends the live row (soft delete) and adds a new one; a
/// user missing from the snapshot is marked deleted; one who comes back gets a new row.
fn merge_users(
    context: &mut Context<'_>,
    snap: &Snapshot,
    guard: Option<f64>,
) -> Result<(), IngestError> {
    let merged = history::merge_counted(
        context,
        "users",
        &history::Columns {
            key: "userKey",
            id: "userId",
            deleted: Some("isDeleted"),
            current: None,
            start: None,
            end: None,
            modified: Some("rowLastModifiedDateTimeUTC"),
            revision: None,
        },
        &snap.users,
    )?;
    guard_deletions("users", merged.live_before, merged.missing, guard)?;
    for statement in validity::record_new_and_ended_states(
        context.dialect,
        (context.tenant, "users"),
        (merged.first_new_key, &merged.ended_keys),
        context.clock.snapshot,
    ) {
        context.tx.execute(&statement)?;
    }
    // currentUsers (beta) is the live view of users: a live user row never changes (a change is
    // a new row), so the view loses the rows the merge ended and gains the live ones it added
    let (d, t) = (context.dialect, context.tenant);
    for chunk in merged.ended_keys.chunks(1000) {
        let generation = context.tx.generation();
        context.tx.execute(&changes::record_removed_among(
            d,
            (t, generation),
            "currentUsers",
            ("userKey", chunk),
        ))?;
        context
            .tx
            .execute(&dml::delete_in(d, t, "currentUsers", "userKey", chunk))?;
    }
    let (users, current) = (collection("users"), collection("currentUsers"));
    let columns: Vec<&str> = current
        .properties
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| users.property_index(n).is_some())
        .collect();
    let generation = context.tx.generation();
    context.tx.execute(&dml::show_live_rows(
        d,
        t,
        ("users", "currentUsers"),
        ("userKey", merged.first_new_key),
        &columns,
        "isDeleted",
        generation,
    ))?;
    Ok(())
}

/// Devices hold their current state (one row per device): a changed device is updated, a device
/// missing from the snapshot is marked deleted. Returns the key of every device of the snapshot.
fn merge_devices(
    context: &mut Context<'_>,
    snap: &Snapshot,
    category_keys: &HashMap<String, i64>,
    guard: Option<f64>,
) -> Result<HashMap<String, i64>, IngestError> {
    let now = &SqlValue::Timestamp(context.clock.now);
    let devices = collection("devices");
    let idx = |n: &str| devices.property_index(n).expect("devices property");
    let (key, id, deleted, modified, category) = (
        idx("deviceKey"),
        idx("deviceId"),
        idx("isDeleted"),
        idx("rowLastModifiedDateTimeUTC"),
        idx("deviceCategoryKey"),
    );
    let stored = rows(context.tx, context.dialect, context.tenant, devices)?;
    let mut next_key = first_free_key(&stored, key);
    let by_id: HashMap<&str, &Vec<SqlValue>> = stored
        .iter()
        .filter_map(|r| match &r[id] {
            SqlValue::Text(u) => Some((u.as_str(), r)),
            _ => None,
        })
        .collect();
    let mut keys = HashMap::with_capacity(snap.devices.len());
    let mut updates: Vec<RowChange<'_>> = Vec::new();
    for dev in &snap.devices {
        let category_key = match &dev.row[category] {
            SqlValue::Text(name) => category_keys
                .get(name.as_str())
                .map_or(SqlValue::Null, |k| SqlValue::Integer(*k)),
            other => other.clone(),
        };
        // the stored row the device would be written as, but for its key and modification time
        let live = SqlValue::Boolean(false);
        let stored_as = |i: usize| {
            if i == category {
                &category_key
            } else if i == deleted {
                &live
            } else {
                &dev.row[i]
            }
        };
        let new_row = || {
            let mut row = dev.row.clone();
            row[category] = category_key.clone();
            row[deleted] = SqlValue::Boolean(false);
            row[modified] = now.clone();
            row
        };
        match by_id.get(dev.id.as_str()) {
            Some(old) => {
                keys.insert(
                    dev.id.clone(),
                    match old[key] {
                        SqlValue::Integer(k) => k,
                        _ => 0,
                    },
                );
                let same = (0..devices.properties.len())
                    .filter(|i| *i != key && *i != modified)
                    .all(|i| old[i] == *stored_as(i));
                // a backfilled day does not rewind a device's current state
                if !same && !context.backfill {
                    let mut row = new_row();
                    row[key] = old[key].clone();
                    updates.push(RowChange { old, new: row });
                    written(context.summary, "devices", 1);
                }
            }
            None => {
                let mut row = new_row();
                if context.backfill {
                    // never seen in a published day: gone by the newest one
                    row[deleted] = SqlValue::Boolean(true);
                }
                row[key] = SqlValue::Integer(next_key);
                keys.insert(dev.id.clone(), next_key);
                next_key += 1;
                context.tx.insert("devices", &row)?;
                written(context.summary, "devices", 1);
            }
        }
    }
    let mut live = 0;
    let mut leaving = 0;
    for row in stored.iter().filter(|_| !context.backfill) {
        if row[deleted] != SqlValue::Boolean(false) {
            continue;
        }
        live += 1;
        if matches!(&row[id], SqlValue::Text(u) if !keys.contains_key(u)) {
            leaving += 1;
            updates.push(RowChange {
                old: row,
                new: soft_deleted(row, deleted, modified, now),
            });
            written(context.summary, "devices", 1);
        }
    }
    guard_deletions("devices", live, leaving, guard)?;
    context
        .tx
        .update_rows("devices", &["deviceKey"], &updates)?;
    Ok(keys)
}
