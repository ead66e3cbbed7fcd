//! Merging one day's Graph entities into the warehouse inside a store transaction: the snapshot's
//! validation, devices, users, categories and user-device associations, and the order in which
//! every source is merged.

use super::apps::Apps;
use super::context::{
    boolean, collection, device_type_key, enum_key, first_free_key, int, ordered, rows, select,
    soft_deleted, text, ts, written, Clock, Context,
};
use super::devices_daily::{DeviceDaily, DeviceIndex};
use super::enrollment::{Enrolled, EnrollmentEvents};
use super::files;
use super::graph::{each, Content};
use super::history;
use super::mam::Registrations;
use super::policies::Policies;
use super::terms::TermsAndConditions;
use super::{IngestError, IngestOptions, IngestSummary, Retention, Sources, Stopwatch};
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::collections::BTreeMap;
use warehouse::calendar::{date_key, midnight_micros, DAY_MICROS};
use warehouse::compliance;
use warehouse::model::Warehouse;
use warehouse::reference;
use warehouse::sql::dml::{self, Condition};
use warehouse::sql::{Dialect, SqlValue};
use warehouse::store::{RowChange, Tenant, Transaction};

/// A device as the warehouse stores it (a `devices` row in property order, its category still a
/// name), with the facts it feeds.
pub struct Device {
    id: String,
    row: Vec<SqlValue>,
    compliance: &'static str,
    physical_memory: Option<i64>,
    jail_broken: Option<String>,
}

impl Device {
    /// The device's value of property `name` of `devices`.
    fn value(&self, name: &str) -> SqlValue {
        self.get(name).clone()
    }

    /// The device's value of property `name` of `devices`, borrowed.
    fn get(&self, name: &str) -> &SqlValue {
        &self.row[collection("devices")
            .property_index(name)
            .expect("devices property")]
    }
}

/// A directory user: an entity of the `users` history.
type User = history::Entity;

/// Devices, users and categories of one snapshot, validated: what every merge of the day builds
/// on. The other sources are [`Others`].
pub struct Snapshot {
    devices: Vec<Device>,
    users: Vec<User>,
    /// Category names the devices use.
    categories: Vec<String>,
    /// The categories of `deviceCategories.json` (id, name), when the folder has it.
    category_records: Option<Vec<(String, String)>>,
}

/// The records of a source every snapshot has.
fn required<'a>(sources: &'a Sources, name: &str) -> Result<(&'a str, &'a Content), IngestError> {
    sources
        .get(name)
        .ok_or_else(|| IngestError::run(format!("{name} is missing")))
}

impl Snapshot {
    /// Validates and converts devices and users (each on a thread of its own) and categories.
    pub fn parse(sources: &Sources, summary: &mut IngestSummary) -> Result<Self, IngestError> {
        let (devices, users) = std::thread::scope(|scope| {
            let users = scope.spawn(|| Self::parse_users(sources));
            let devices = Self::parse_devices(sources, summary);
            (devices, users.join().expect("the parsing thread panicked"))
        });
        let (devices, categories) = devices?;
        let users = users?;
        let category_records = match sources.get("deviceCategories") {
            Some((file, records)) => Some(each(file, records, |f| {
                Ok((f.id("id")?, f.id("displayName")?))
            })?),
            None => None,
        };
        Ok(Self {
            devices,
            users,
            categories,
            category_records,
        })
    }

    /// The devices, and the category names they use.
    fn parse_devices(
        sources: &Sources,
        summary: &mut IngestSummary,
    ) -> Result<(Vec<Device>, Vec<String>), IngestError> {
        let mut device_ids = HashSet::new();
        let mut categories = Vec::new();
        let (file, records) = required(sources, "managedDevices")?;
        let devices = each(file, records, |f| {
            let id = f.unique_id(&mut device_ids, "device")?;
            let os = f.string("operatingSystem")?;
            let model = f.string("model")?;
            let device_type = device_type_key(os.as_deref(), model.as_deref(), summary);
            let compliance_value = f.string("complianceState")?;
            let compliance_key = enum_key("complianceStates", compliance_value.as_deref(), summary);
            let compliance = match &compliance_key {
                SqlValue::Integer(k) => Warehouse::get()
                    .collection("complianceStates")
                    .and_then(|c| c.reference_rows.get(*k as usize - 1))
                    .and_then(|r| r.get("complianceStatus"))
                    .and_then(|v| v.as_str())
                    .map(compliance::bucket_of_state)
                    .unwrap_or("unknown"),
                _ => "unknown",
            };
            let category = f
                .string("deviceCategoryDisplayName")?
                .filter(|c| !c.is_empty() && c != "Unknown");
            if let Some(c) = &category {
                if !categories.contains(c) {
                    categories.push(c.clone());
                }
            }
            let values = vec![
                ("deviceId", SqlValue::Text(id.clone())),
                ("deviceName", text(f.string("deviceName")?)),
                ("deviceTypeKey", device_type),
                (
                    "deviceRegistrationStateKey",
                    enum_key(
                        "deviceRegistrationStates",
                        f.string("deviceRegistrationState")?.as_deref(),
                        summary,
                    ),
                ),
                (
                    "ownerTypeKey",
                    enum_key(
                        "ownerTypes",
                        f.string("managedDeviceOwnerType")?.as_deref(),
                        summary,
                    ),
                ),
                ("enrolledDateTime", ts(f.timestamp("enrolledDateTime")?)),
                ("lastSyncDateTime", ts(f.timestamp("lastSyncDateTime")?)),
                (
                    "managementAgentKey",
                    enum_key(
                        "managementAgentTypes",
                        f.string("managementAgent")?.as_deref(),
                        summary,
                    ),
                ),
                (
                    "managementStateKey",
                    enum_key(
                        "managementStates",
                        Some(f.string("managementState")?.as_deref().unwrap_or("managed")),
                        summary,
                    ),
                ),
                ("azureADDeviceId", text(f.string("azureADDeviceId")?)),
                (
                    "azureADRegistered",
                    boolean(f.boolean("azureADRegistered")?),
                ),
                (
                    "deviceCategoryKey",
                    category.map_or(SqlValue::Null, SqlValue::Text),
                ),
                (
                    "deviceEnrollmentTypeKey",
                    enum_key(
                        "deviceEnrollmentTypes",
                        f.string("deviceEnrollmentType")?.as_deref(),
                        summary,
                    ),
                ),
                ("complianceStateKey", compliance_key),
                ("osVersion", text(f.string("osVersion")?)),
                ("easDeviceId", text(f.string("easDeviceId")?)),
                ("serialNumber", text(f.string("serialNumber")?)),
                (
                    "userId",
                    text(f.string("userId")?.filter(|u| !u.is_empty())),
                ),
                ("manufacturer", text(f.string("manufacturer")?)),
                ("model", text(model)),
                ("operatingSystem", text(os)),
                (
                    "androidSecurityPatchLevel",
                    text(
                        f.string("androidSecurityPatchLevel")?
                            .filter(|s| !s.is_empty()),
                    ),
                ),
                ("meid", text(f.string("meid")?.filter(|s| !s.is_empty()))),
                (
                    "isSupervised",
                    int(f.boolean("isSupervised")?.map(i64::from)),
                ),
                (
                    "freeStorageSpaceInBytes",
                    int(f.integer("freeStorageSpaceInBytes")?),
                ),
                (
                    "totalStorageSpaceInBytes",
                    int(f.integer("totalStorageSpaceInBytes")?),
                ),
                (
                    "encryptionState",
                    int(f.boolean("isEncrypted")?.map(i64::from)),
                ),
                (
                    "subscriberCarrier",
                    text(f.string("subscriberCarrier")?.filter(|s| !s.is_empty())),
                ),
                (
                    "phoneNumber",
                    text(f.string("phoneNumber")?.filter(|s| !s.is_empty())),
                ),
                ("imei", text(f.string("imei")?.filter(|s| !s.is_empty()))),
                (
                    "wiFiMacAddress",
                    text(f.string("wiFiMacAddress")?.filter(|s| !s.is_empty())),
                ),
                (
                    "ethernetMacAddress",
                    text(f.string("ethernetMacAddress")?.filter(|s| !s.is_empty())),
                ),
            ];
            Ok(Device {
                id,
                row: ordered(collection("devices"), &values),
                compliance,
                physical_memory: f.integer("physicalMemoryInBytes")?,
                jail_broken: f.string("jailBroken")?,
            })
        })?;
        Ok((devices, categories))
    }

    /// The directory's users.
    fn parse_users(sources: &Sources) -> Result<Vec<User>, IngestError> {
        let mut user_ids = HashSet::new();
        let (file, records) = required(sources, "users")?;
        let users = each(file, records, |f| {
            let id = f.unique_id(&mut user_ids, "user")?;
            let values = vec![
                ("userId", SqlValue::Text(id.clone())),
                ("userEmail", text(f.string("mail")?)),
                ("userPrincipalName", text(f.string("userPrincipalName")?)),
                ("displayName", text(f.string("displayName")?)),
                (
                    "intuneLicensed",
                    SqlValue::Boolean(f.non_empty_array("assignedLicenses")?),
                ),
            ];
            Ok(User {
                id,
                values,
                created: None,
            })
        })?;
        Ok(users)
    }
}

/// The sources besides devices, users and categories, validated.
pub struct Others {
    policies: Policies,
    apps: Apps,
    terms: TermsAndConditions,
    enrollment: EnrollmentEvents,
    mam: Registrations,
    daily: DeviceDaily,
}

impl Others {
    /// Validates and converts the records of every other source.
    pub fn parse(
        sources: &Sources,
        day: time::Date,
        summary: &mut IngestSummary,
    ) -> Result<Self, IngestError> {
        Ok(Self {
            policies: Policies::parse(sources, midnight_micros(day) + DAY_MICROS, summary)?,
            apps: Apps::parse(sources, summary)?,
            terms: TermsAndConditions::parse(sources)?,
            enrollment: EnrollmentEvents::parse(sources, summary)?,
            mam: Registrations::parse(sources, summary)?,
            daily: DeviceDaily::parse(sources, summary)?,
        })
    }
}

/// The other sources of a snapshot when the merge needs them (they may still be being parsed),
/// with the summary of their parsing.
pub type LaterSources<'a> = dyn FnMut() -> Result<(Others, IngestSummary), IngestError> + 'a;

/// Applies the snapshot to the tenant inside `tx`: devices, users and categories from `snap`,
/// then the other sources, asked of `others` once the merge gets to them.
pub fn apply(
    tx: &mut dyn Transaction,
    d: &dyn Dialect,
    tenant: &Tenant,
    snap: &Snapshot,
    others: &mut LaterSources<'_>,
    opts: &IngestOptions,
    summary: &mut IngestSummary,
) -> Result<(), IngestError> {
    let t = tenant.id;
    let now = SqlValue::Timestamp(opts.now_micros);
    let dk = date_key(opts.date);

    // lookup dimensions: their reference rows, once per tenant
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

    let mut cx = Context {
        tx,
        d,
        t,
        day: opts.date,
        clock: Clock {
            snapshot: midnight_micros(opts.date),
            now: opts.now_micros,
        },
        summary,
        dates: None,
        backfill: tenant.snapshot_date_key.is_some_and(|newest| newest > dk),
    };
    cx.ensure_date(opts.date)?;
    let mut watch = Stopwatch::start();
    let (tx, summary) = (&mut *cx.tx, &mut *cx.summary);
    let category_keys = merge_categories(tx, d, t, snap, &now, cx.backfill, summary)?;

    // a backfilled day marks nothing deleted
    let guard = opts.limits.max_deleted_share.filter(|_| !cx.backfill);
    merge_users(&mut cx, snap, guard)?;
    watch.lap("users");
    let device_keys = merge_devices(&mut cx, snap, &category_keys, guard)?;
    watch.lap("devices");
    let (tx, summary) = (&mut *cx.tx, &mut *cx.summary);
    // associations are the current state: a backfilled day leaves them
    if !cx.backfill {
        merge_associations(tx, d, t, snap, &device_keys, &now, summary)?;
    }
    watch.lap("userDeviceAssociations");

    // the day's facts, replaced as a whole (re-ingesting a day is idempotent)
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
    cx.replace_day_with("devicePropertyHistories", &snap.devices, |dev, row| {
        row[device_key] = SqlValue::Integer(device_keys[&dev.id]);
        for (to, from) in copied {
            row[to] = dev.row[from].clone();
        }
        row[jail_broken] = text(dev.jail_broken.clone());
        if let SqlValue::Text(name) = &dev.row[category] {
            row[category_key] = category_keys
                .get(name)
                .map_or(SqlValue::Null, |k| SqlValue::Integer(*k));
        }
        row[memory] = int(dev.physical_memory);
    })?;
    let count = |b: &str| SqlValue::Integer(*buckets.get(b).unwrap_or(&0));
    cx.replace_day(
        "compliancePolicyStatusDeviceActivities",
        &[compliance::BUCKETS.map(|b| (b, count(b))).to_vec()],
    )?;
    watch.lap("devicePropertyHistories");

    let (others, their_summary) = others()?;
    watch.lap("waiting for the other sources");
    cx.summary.add_unknown(their_summary);
    others.policies.apply(&mut cx)?;
    watch.lap("policies");
    let device_types: HashMap<String, SqlValue> = snap
        .devices
        .iter()
        .map(|dev| (dev.id.clone(), dev.value("deviceTypeKey")))
        .collect();
    others.apps.apply(&mut cx, &device_types)?;
    watch.lap("apps");
    let enrolled: Vec<Enrolled> = snap
        .devices
        .iter()
        .map(|dev| Enrolled {
            at: match dev.value("enrolledDateTime") {
                SqlValue::Timestamp(at) => Some(at),
                _ => None,
            },
            enrollment_type: dev.value("deviceEnrollmentTypeKey"),
            device_type: dev.value("deviceTypeKey"),
            os_version: match dev.value("osVersion") {
                SqlValue::Text(v) => Some(v),
                _ => None,
            },
        })
        .collect();
    others.enrollment.apply(&mut cx, &enrolled)?;
    watch.lap("enrollment");
    let mut named: HashMap<&str, Option<&str>> = HashMap::with_capacity(snap.devices.len());
    for dev in &snap.devices {
        if let SqlValue::Text(name) = dev.get("deviceName") {
            // a name two devices share finds neither
            named
                .entry(name.as_str())
                .and_modify(|id| *id = None)
                .or_insert(Some(dev.id.as_str()));
        }
    }
    others.daily.apply(
        &mut cx,
        &DeviceIndex {
            by_id: &device_keys,
            by_name: named
                .into_iter()
                .filter_map(|(name, id)| Some((name, id?)))
                .collect(),
        },
    )?;
    watch.lap("device daily facts");
    let (by_id, by_principal) = live_users(&mut cx)?;
    others.terms.apply(&mut cx, &by_principal)?;
    watch.lap("terms and conditions");
    others
        .mam
        .apply(&mut cx, &|id: &str| others.apps.name_of(id), &by_id)?;
    watch.lap("app protection");
    // what the merge built is a few million small allocations: another thread frees them
    free_elsewhere((others, device_keys, device_types, by_id, by_principal));

    // retention: facts older than each collection keeps
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
            cx.tx.execute(&dml::delete(
                d,
                t,
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

/// The live users' keys by user id and by principal name.
#[allow(clippy::type_complexity)]
fn live_users(
    cx: &mut Context<'_>,
) -> Result<(HashMap<String, i64>, HashMap<String, i64>), IngestError> {
    let not_deleted = [Condition::Equals("isDeleted", SqlValue::Boolean(false))];
    let live = select(
        cx.tx,
        cx.d,
        cx.t,
        collection("users"),
        &["userKey", "userId", "userPrincipalName"],
        &not_deleted,
    )?;
    let (mut by_id, mut by_principal) = (HashMap::new(), HashMap::new());
    for r in live {
        let mut r = r.into_iter();
        let (Some(SqlValue::Integer(k)), Some(id), Some(principal)) =
            (r.next(), r.next(), r.next())
        else {
            continue;
        };
        if let SqlValue::Text(u) = id {
            by_id.insert(u, k);
        }
        if let SqlValue::Text(p) = principal {
            by_principal.insert(p, k);
        }
    }
    Ok((by_id, by_principal))
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
    let not_deleted = || Condition::Equals("isDeleted", SqlValue::Boolean(false));
    let live_users = select(
        tx,
        d,
        t,
        collection("users"),
        &["userId", "userKey"],
        &[not_deleted()],
    )?;
    let live_user: HashMap<&str, i64> = live_users
        .iter()
        .filter_map(|r| match (&r[0], &r[1]) {
            (SqlValue::Text(id), SqlValue::Integer(k)) => Some((id.as_str(), *k)),
            _ => None,
        })
        .collect();
    // the user each device of the snapshot should be associated with
    let mut wanted: HashMap<i64, (i64, SqlValue)> = HashMap::new();
    for dev in &snap.devices {
        if let SqlValue::Text(uid) = dev.get("userId") {
            if let Some(u) = live_user.get(uid.as_str()) {
                wanted.insert(device_keys[&dev.id], (*u, dev.value("enrolledDateTime")));
            }
        }
    }
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
                *summary
                    .unknown_enums
                    .entry(format!("deviceCategories: {category_name}"))
                    .or_default() += 1;
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
    cx: &mut Context<'_>,
    snap: &Snapshot,
    guard: Option<f64>,
) -> Result<(), IngestError> {
    let merged = history::merge_counted(
        cx,
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
    // currentUsers (beta) is the live view of users: a live user row never changes (a change is
    // a new row), so the view loses the rows the merge ended and gains the live ones it added
    let (d, t) = (cx.d, cx.t);
    for chunk in merged.ended_keys.chunks(1000) {
        cx.tx
            .execute(&dml::delete_in(d, t, "currentUsers", "userKey", chunk))?;
    }
    let (users, current) = (collection("users"), collection("currentUsers"));
    let columns: Vec<&str> = current
        .properties
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| users.property_index(n).is_some())
        .collect();
    cx.tx.execute(&dml::show_live_rows(
        d,
        t,
        ("users", "currentUsers"),
        ("userKey", merged.first_new_key),
        &columns,
        "isDeleted",
    ))?;
    Ok(())
}

/// Devices hold their current state (one row per device): a changed device is updated, a device
/// missing from the snapshot is marked deleted. Returns the key of every device of the snapshot.
fn merge_devices(
    cx: &mut Context<'_>,
    snap: &Snapshot,
    category_keys: &HashMap<String, i64>,
    guard: Option<f64>,
) -> Result<HashMap<String, i64>, IngestError> {
    let now = &SqlValue::Timestamp(cx.clock.now);
    let devices = collection("devices");
    let idx = |n: &str| devices.property_index(n).expect("devices property");
    let (key, id, deleted, modified, category) = (
        idx("deviceKey"),
        idx("deviceId"),
        idx("isDeleted"),
        idx("rowLastModifiedDateTimeUTC"),
        idx("deviceCategoryKey"),
    );
    let stored = rows(cx.tx, cx.d, cx.t, devices)?;
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
                if !same && !cx.backfill {
                    let mut row = new_row();
                    row[key] = old[key].clone();
                    updates.push(RowChange { old, new: row });
                    written(cx.summary, "devices", 1);
                }
            }
            None => {
                let mut row = new_row();
                if cx.backfill {
                    // never seen in a published day: gone by the newest one
                    row[deleted] = SqlValue::Boolean(true);
                }
                row[key] = SqlValue::Integer(next_key);
                keys.insert(dev.id.clone(), next_key);
                next_key += 1;
                cx.tx.insert("devices", &row)?;
                written(cx.summary, "devices", 1);
            }
        }
    }
    let mut live = 0;
    let mut leaving = 0;
    for row in stored.iter().filter(|_| !cx.backfill) {
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
            written(cx.summary, "devices", 1);
        }
    }
    guard_deletions("devices", live, leaving, guard)?;
    cx.tx.update_rows("devices", &["deviceKey"], &updates)?;
    Ok(keys)
}
