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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Platform {
    Windows,
    IPhone,
    IPad,
    Android,
    Mac,
}

impl Platform {
    fn device_type(self) -> &'static str {
        match self {
            Self::Windows => "Windows",
            Self::IPhone => "IPhone",
            Self::IPad => "IPad",
            Self::Android => "AndroidForWork",
            Self::Mac => "MacMDM",
        }
    }
    fn policy_platform(self) -> &'static str {
        match self {
            Self::Windows => "Windows10",
            Self::IPhone | Self::IPad => "IOS",
            Self::Android => "AndroidForWork",
            Self::Mac => "MacOS",
        }
    }
    fn os(self) -> &'static str {
        match self {
            Self::Windows => "Windows",
            Self::IPhone | Self::IPad => "iOS",
            Self::Android => "Android",
            Self::Mac => "macOS",
        }
    }
    fn versions(self) -> &'static [&'static str] {
        match self {
            Self::Windows => &["10.0.19045.5737", "10.0.22631.5335", "10.0.26100.4061"],
            Self::IPhone | Self::IPad => &["17.7.2", "18.4.1", "18.5"],
            Self::Android => &["13", "14", "15"],
            Self::Mac => &["14.7.5", "15.4.1", "15.5"],
        }
    }
    fn hardware(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Windows => &[
                ("Dell Inc.", "Latitude 7440"),
                ("LENOVO", "ThinkPad T14 Gen 4"),
                ("HP", "EliteBook 840 G10"),
                ("Microsoft Corporation", "Surface Laptop 6"),
            ],
            Self::IPhone => &[
                ("Apple", "iPhone 14"),
                ("Apple", "iPhone 15"),
                ("Apple", "iPhone 16 Pro"),
            ],
            Self::IPad => &[
                ("Apple", "iPad Air (5th generation)"),
                ("Apple", "iPad (10th generation)"),
            ],
            Self::Android => &[
                ("samsung", "SM-S921B"),
                ("Google", "Pixel 8"),
                ("motorola", "moto g84 5G"),
            ],
            Self::Mac => &[
                ("Apple", "MacBook Air (M2, 2022)"),
                ("Apple", "MacBook Pro (14-inch, M3)"),
            ],
        }
    }
    fn enrollment_types(self) -> &'static [(&'static str, u32)] {
        match self {
            Self::Windows => &[
                ("WindowsAzureADJoin", 60),
                ("WindowsAutoEnrollment", 25),
                ("WindowsCoManagement", 15),
            ],
            Self::IPhone | Self::IPad | Self::Mac => {
                &[("AppleBulkWithUser", 65), ("UserEnrollment", 35)]
            }
            Self::Android => &[("UserEnrollment", 70), ("DeviceEnrollmentManager", 30)],
        }
    }
    fn agent(self) -> &'static str {
        match self {
            Self::Windows => "MDM",
            _ => "MDM",
        }
    }
}

const FIRST: &[&str] = &[
    "Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olivia", "Pavel", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wen", "Yusuf", "Zoe",
];
const LAST: &[&str] = &[
    "Andersen", "Bauer", "Costa", "Dubois", "Eriksson", "Fischer", "Garcia", "Hansen", "Ito",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weber",
];

struct UserVersion {
    key: i64,
    licensed: bool,
    deleted: bool,
    modified: i64,
}

struct User {
    id: String,
    name: String,
    upn: String,
    versions: Vec<UserVersion>,
}

struct Device {
    key: i64,
    id: String,
    name: String,
    platform: Platform,
    manufacturer: &'static str,
    model: &'static str,
    owner: &'static str,
    enrollment_type: &'static str,
    category: usize,
    user: usize,
    enrolled: i64,
    enrolled_day: i64,
    retired_day: Option<i64>,
    os_start: usize,
    os_upgrade_day: Option<i64>,
    memory: i64,
    storage: i64,
    serial: String,
}

impl Device {
    fn active(&self, day: i64) -> bool {
        self.enrolled_day <= day && self.retired_day.is_none_or(|r| day < r)
    }
}

/// An app: its revisions as (appKey, first day live) and the platforms it targets.
struct App {
    revisions: Vec<(i64, i64)>,
    platforms: Vec<Platform>,
}

struct PolicyVersion {
    key: i64,
    from_day: i64,
}

struct Policy {
    policy_type: &'static str,
    platforms: Vec<Platform>,
    compliance: bool,
    versions: Vec<PolicyVersion>,
}

impl Policy {
    fn key_on(&self, day: i64) -> i64 {
        self.versions
            .iter()
            .rev()
            .find(|v| v.from_day <= day)
            .unwrap_or(&self.versions[0])
            .key
    }
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
        let (mam_instances, terms) = self.mam_and_terms(out, &users, &devices, days)?;
        progress.stage("daily snapshots");
        progress.steps(3, steps);
        for day in 0..days {
            self.day(
                out,
                day,
                days,
                &users,
                &devices,
                &policies,
                &apps,
                &mam_instances,
                terms,
            )?;
            progress.steps(4 + day as u64, steps);
        }
        Ok(())
    }

    fn reference_rows(&mut self, out: &mut Out<'_>) -> Result<(), StoreError> {
        for c in &Warehouse::get().collections {
            for row in warehouse::reference::rows(c) {
                out.loader.insert(&c.name, &row)?;
                *out.summary.entry(c.name.clone()).or_default() += 1;
            }
        }
        Ok(())
    }

    fn dates(&mut self, out: &mut Out<'_>, days: i64) -> Result<(), StoreError> {
        for day in 0..days {
            let d = self.day_date(day);
            let jan1 = Date::from_ordinal_date(d.year(), 1).expect("valid");
            let jan1_sunday0 = i64::from(jan1.weekday().number_days_from_sunday());
            let doy = i64::from(d.ordinal());
            out.row(
                "dates",
                &[
                    ("dateKey", int(date_key(d))),
                    ("fullDate", int(midnight_micros(d))),
                    (
                        "dayOfWeek",
                        int(i64::from(d.weekday().number_from_sunday())),
                    ),
                    ("dayOfMonth", int(i64::from(d.day()))),
                    ("dayOfYear", int(doy)),
                    ("weekOfYear", int((doy - 1 + jan1_sunday0) / 7 + 1)),
                    ("monthOfYear", int(i64::from(d.month() as u8))),
                    (
                        "calendarQuarter",
                        int((i64::from(d.month() as u8) - 1) / 3 + 1),
                    ),
                    ("calendarYear", int(i64::from(d.year()))),
                ],
            )?;
        }
        Ok(())
    }

    fn categories(&mut self, out: &mut Out<'_>) -> Result<usize, StoreError> {
        let names = [
            "Smartphones",
            "Tablets",
            "Laptops",
            "Kiosk",
            "Shared devices",
        ];
        let t = midnight_micros(self.start) - 90 * DAY_MICROS;
        for (i, n) in names.iter().enumerate() {
            let id = guid(&mut self.rng);
            out.row(
                "deviceCategories",
                &[
                    ("deviceCategoryKey", int(i as i64 + 1)),
                    ("deviceCategoryID", text(id)),
                    ("deviceCategoryName", text(*n)),
                    ("isDeleted", boolean(false)),
                    ("rowLastModifiedDateTimeUTC", int(t)),
                ],
            )?;
        }
        Ok(names.len())
    }

    fn users(&mut self, out: &mut Out<'_>, days: i64) -> Result<Vec<User>, StoreError> {
        let base = midnight_micros(self.start) - 200 * DAY_MICROS;
        let mut users = Vec::with_capacity(self.opts.users as usize);
        let mut next_key = 1;
        for i in 0..self.opts.users {
            let first = FIRST[self.rng.random_range(0..FIRST.len())];
            let last = LAST[self.rng.random_range(0..LAST.len())];
            let upn = format!(
                "{}.{}{}@contoso.com",
                first.to_lowercase(),
                last.to_lowercase(),
                i
            );
            let mut versions = vec![UserVersion {
                key: 0,
                licensed: self.rng.random_bool(0.93),
                deleted: false,
                modified: base + self.rng.random_range(0..150) * DAY_MICROS,
            }];
            let event: f64 = self.rng.random();
            let at = |rng: &mut ChaCha8Rng| {
                midnight_micros(self.start)
                    + rng.random_range(1..days.max(2)) * DAY_MICROS
                    + rng.random_range(0..DAY_MICROS)
            };
            if event < 0.04 {
                // removed from the directory during the period
                let t = at(&mut self.rng);
                let last = versions.last_mut().expect("one version");
                last.deleted = true;
                last.modified = t;
            } else if event < 0.10 {
                // license removed, and for some regained later
                let t1 = at(&mut self.rng);
                let licensed = versions[0].licensed;
                versions.push(UserVersion {
                    key: 0,
                    licensed: !licensed,
                    deleted: false,
                    modified: t1,
                });
                if self.rng.random_bool(0.5) {
                    let t2 = (t1 + self.rng.random_range(1..6) * DAY_MICROS)
                        .min(midnight_micros(self.opts.end_date));
                    versions.push(UserVersion {
                        key: 0,
                        licensed,
                        deleted: false,
                        modified: t2,
                    });
                }
            }
            // superseded versions are soft-deleted when the next one is written
            let n = versions.len();
            for j in 0..n {
                versions[j].key = next_key;
                next_key += 1;
                if j + 1 < n {
                    versions[j].deleted = true;
                    versions[j].modified = versions[j + 1].modified;
                }
            }
            let user = User {
                id: guid(&mut self.rng),
                name: format!("{first} {last}"),
                upn,
                versions,
            };
            for v in &user.versions {
                let row = [
                    ("userKey", int(v.key)),
                    ("userId", text(user.id.clone())),
                    ("userEmail", text(user.upn.clone())),
                    ("userPrincipalName", text(user.upn.clone())),
                    ("displayName", text(user.name.clone())),
                    ("intuneLicensed", boolean(v.licensed)),
                    ("isDeleted", boolean(v.deleted)),
                    ("rowLastModifiedDateTimeUTC", int(v.modified)),
                ];
                out.row("users", &row)?;
                if !v.deleted {
                    let current: Vec<(&str, SqlValue)> = row
                        .iter()
                        .filter(|(k, _)| *k != "isDeleted")
                        .cloned()
                        .collect();
                    out.row("currentUsers", &current)?;
                }
            }
            users.push(user);
        }
        Ok(users)
    }

    fn devices(
        &mut self,
        out: &mut Out<'_>,
        users: &[User],
        categories: usize,
        days: i64,
    ) -> Result<Vec<Device>, StoreError> {
        let platforms = [
            (Platform::Windows, 45),
            (Platform::IPhone, 20),
            (Platform::Android, 20),
            (Platform::Mac, 8),
            (Platform::IPad, 7),
        ];
        let start = midnight_micros(self.start);
        let mut devices = Vec::with_capacity(self.opts.devices as usize);
        for i in 0..self.opts.devices {
            let platform = pick(&mut self.rng, &platforms);
            let hw = platform.hardware();
            let (manufacturer, model) = hw[self.rng.random_range(0..hw.len())];
            let enrolled_day = if self.rng.random_bool(0.15) {
                self.rng.random_range(0..days)
            } else {
                -self.rng.random_range(30..700)
            };
            let enrolled = start + enrolled_day * DAY_MICROS + self.rng.random_range(0..DAY_MICROS);
            let retired_day = (self.rng.random_bool(0.06) && enrolled_day + 1 < days)
                .then(|| self.rng.random_range(enrolled_day.max(0) + 1..days));
            let os_n = platform.versions().len();
            let os_start = self.rng.random_range(0..os_n - 1);
            let os_upgrade_day = self
                .rng
                .random_bool(0.2)
                .then(|| self.rng.random_range(0..days));
            let prefix = match platform {
                Platform::Windows => "DESKTOP",
                Platform::Mac => "MAC",
                Platform::IPhone => "IPHONE",
                Platform::IPad => "IPAD",
                Platform::Android => "ANDROID",
            };
            let d = Device {
                key: i64::from(i) + 1,
                id: guid(&mut self.rng),
                name: format!("{prefix}-{:06X}", self.rng.random_range(0..0xFF_FFFF)),
                platform,
                manufacturer,
                model,
                owner: pick(
                    &mut self.rng,
                    &[("Corporate", 70), ("Personal", 25), ("Unknown", 5)],
                ),
                enrollment_type: pick(&mut self.rng, platform.enrollment_types()),
                category: self.rng.random_range(0..categories),
                user: self.rng.random_range(0..users.len().max(1)),
                enrolled,
                enrolled_day,
                retired_day,
                os_start,
                os_upgrade_day,
                memory: [4i64, 8, 16, 32][self.rng.random_range(0..4)] << 30,
                storage: [64i64, 128, 256, 512][self.rng.random_range(0..4)] << 30,
                serial: format!("{:010X}", self.rng.random_range(0..0xFF_FFFF_FFFFu64)),
            };
            devices.push(d);
        }
        // dimension rows carry the state as of the last day
        let last = days - 1;
        for d in &devices {
            let compliance = self.compliance_on(d, last.min(d.retired_day.map_or(last, |r| r - 1)));
            let user = users.get(d.user);
            let modified = d.retired_day.map_or(d.enrolled.max(start), |r| {
                start + r * DAY_MICROS + 3_600_000_000
            });
            out.row(
                "devices",
                &[
                    ("deviceKey", int(d.key)),
                    ("deviceId", text(d.id.clone())),
                    ("deviceName", text(d.name.clone())),
                    (
                        "deviceTypeKey",
                        int(self.key("deviceTypes", d.platform.device_type())),
                    ),
                    (
                        "deviceRegistrationStateKey",
                        int(self.key("deviceRegistrationStates", "Registered")),
                    ),
                    ("ownerTypeKey", int(self.key("ownerTypes", d.owner))),
                    ("enrolledDateTime", int(d.enrolled)),
                    (
                        "lastSyncDateTime",
                        int(
                            midnight_micros(self.opts.end_date).min(modified + 20 * DAY_MICROS)
                                - (mix(&[d.key as u64]) % 86_400_000_000) as i64,
                        ),
                    ),
                    (
                        "managementAgentKey",
                        int(self.key("managementAgentTypes", d.platform.agent())),
                    ),
                    (
                        "managementStateKey",
                        int(self.key(
                            "managementStates",
                            if d.retired_day.is_some() {
                                "RetireIssued"
                            } else {
                                "Managed"
                            },
                        )),
                    ),
                    (
                        "azureADDeviceId",
                        text(format!(
                            "{:032x}",
                            mix(&[d.key as u64, 7]) as u128 * 0x1_0000_0001
                        )),
                    ),
                    (
                        "azureADRegistered",
                        boolean(d.platform == Platform::Windows || d.owner == "Corporate"),
                    ),
                    ("deviceCategoryKey", int(d.category as i64 + 1)),
                    (
                        "deviceEnrollmentTypeKey",
                        int(self.key("deviceEnrollmentTypes", d.enrollment_type)),
                    ),
                    (
                        "complianceStateKey",
                        int(self.key("complianceStates", compliance)),
                    ),
                    ("osVersion", text(self.os_version(d, last))),
                    ("serialNumber", text(d.serial.clone())),
                    (
                        "userId",
                        user.map_or(SqlValue::Null, |u| text(u.id.clone())),
                    ),
                    ("rowLastModifiedDateTimeUTC", int(modified)),
                    ("manufacturer", text(d.manufacturer)),
                    ("model", text(d.model)),
                    ("operatingSystem", text(d.platform.os())),
                    ("isDeleted", boolean(d.retired_day.is_some())),
                    (
                        "androidSecurityPatchLevel",
                        if d.platform == Platform::Android {
                            text("2025-10-01")
                        } else {
                            SqlValue::Null
                        },
                    ),
                    (
                        "isSupervised",
                        int(i64::from(
                            matches!(d.platform, Platform::IPhone | Platform::IPad)
                                && d.owner == "Corporate",
                        )),
                    ),
                    ("freeStorageSpaceInBytes", int(d.storage / 3)),
                    ("totalStorageSpaceInBytes", int(d.storage)),
                    (
                        "encryptionState",
                        int(i64::from(!mix(&[d.key as u64, 3]).is_multiple_of(10))),
                    ),
                    (
                        "wiFiMacAddress",
                        text(format!(
                            "{:012x}",
                            mix(&[d.key as u64, 5]) & 0xffff_ffff_ffff
                        )),
                    ),
                    (
                        "windowsOsEdition",
                        if d.platform == Platform::Windows {
                            text("Enterprise")
                        } else {
                            SqlValue::Null
                        },
                    ),
                    (
                        "office365Version",
                        if matches!(d.platform, Platform::Windows | Platform::Mac) {
                            text("16.0.18730.20186")
                        } else {
                            SqlValue::Null
                        },
                    ),
                ],
            )?;
            if let Some(u) = user {
                let ukey = u.versions.last().expect("one version").key;
                out.row(
                    "userDeviceAssociations",
                    &[
                        ("userKey", int(ukey)),
                        ("deviceKey", int(d.key)),
                        ("createdDateTimeUTC", int(d.enrolled)),
                        ("isDeleted", boolean(d.retired_day.is_some())),
                        (
                            "endedDateTimeUTC",
                            opt_ts(
                                d.retired_day
                                    .map(|r| start + r * DAY_MICROS + 3_600_000_000),
                            ),
                        ),
                    ],
                )?;
            }
        }
        Ok(devices)
    }

    fn os_version(&self, d: &Device, day: i64) -> String {
        let v = d.platform.versions();
        let i = if d.os_upgrade_day.is_some_and(|u| day >= u) {
            d.os_start + 1
        } else {
            d.os_start
        };
        v[i].to_string()
    }

    /// Compliance state of a device on a day: a sticky state that is redrawn now and then.
    fn compliance_on(&self, d: &Device, day: i64) -> &'static str {
        const STATES: [(&str, u64); 7] = [
            ("Compliant", 76),
            ("Noncompliant", 9),
            ("InGracePeriod", 5),
            ("Unknown", 4),
            ("ConfigManager", 3),
            ("Error", 2),
            ("Conflict", 1),
        ];
        // the state changes on days where the device's drift hash fires (about every 12 days)
        let mut epoch = day;
        while epoch > 0
            && !mix(&[self.opts.seed, d.key as u64, epoch as u64, 11]).is_multiple_of(12)
        {
            epoch -= 1;
        }
        let mut x = mix(&[self.opts.seed, d.key as u64, epoch as u64, 13]) % 100;
        for (s, w) in STATES {
            if x < w {
                return s;
            }
            x -= w;
        }
        "Compliant"
    }

    fn policies(&mut self, out: &mut Out<'_>, days: i64) -> Result<Vec<Policy>, StoreError> {
        use Platform::*;
        let defs: Vec<(&str, &'static str, Vec<Platform>, bool)> = vec![
            (
                "Windows 10 compliance baseline",
                "Windows 10 Compliance Policy",
                vec![Windows],
                true,
            ),
            (
                "iOS compliance",
                "iOS Compliance Policy",
                vec![IPhone, IPad],
                true,
            ),
            (
                "Android Enterprise compliance",
                "Android Compliance Policy",
                vec![Android],
                true,
            ),
            (
                "macOS compliance",
                "macOS Compliance Policy",
                vec![Mac],
                true,
            ),
            (
                "Windows security baseline",
                "Windows 10 Configuration Profile",
                vec![Windows],
                false,
            ),
            (
                "BitLocker encryption",
                "Windows 10 Configuration Profile",
                vec![Windows],
                false,
            ),
            (
                "Wi-Fi corporate",
                "Windows 10 Configuration Profile",
                vec![Windows],
                false,
            ),
            (
                "iOS device restrictions",
                "iOS Configuration Profile",
                vec![IPhone, IPad],
                false,
            ),
            (
                "iOS VPN",
                "iOS Configuration Profile",
                vec![IPhone, IPad],
                false,
            ),
            (
                "Android work profile",
                "Android Configuration Profile",
                vec![Android],
                false,
            ),
            (
                "macOS FileVault",
                "macOS Configuration Profile",
                vec![Mac],
                false,
            ),
            (
                "Outlook app configuration",
                "App Configuration Policy",
                vec![IPhone, IPad, Android],
                false,
            ),
        ];
        let start = midnight_micros(self.start);
        let mut policies = Vec::new();
        let mut next_key = 1;
        for (name, policy_type, platforms, compliance) in defs {
            let id = guid(&mut self.rng);
            let mut versions = vec![PolicyVersion {
                key: 0,
                from_day: -1000,
            }];
            if self.rng.random_bool(0.35) && days > 2 {
                versions.push(PolicyVersion {
                    key: 0,
                    from_day: self.rng.random_range(1..days),
                });
            }
            let n = versions.len();
            for (j, v) in versions.iter_mut().enumerate() {
                v.key = next_key;
                next_key += 1;
                let started = if v.from_day < 0 {
                    start - 120 * DAY_MICROS
                } else {
                    start + v.from_day * DAY_MICROS
                };
                out.row(
                    "policies",
                    &[
                        ("policyKey", int(v.key)),
                        ("policyId", text(id.clone())),
                        ("policyName", text(name)),
                        ("policyVersion", int(j as i64 + 1)),
                        ("isDeleted", boolean(j + 1 < n)),
                        ("startDateInclusiveUTC", int(started)),
                        ("rowLastModifiedDateTimeUTC", int(started)),
                    ],
                )?;
            }
            policies.push(Policy {
                policy_type,
                platforms,
                compliance,
                versions,
            });
        }
        Ok(policies)
    }

    fn apps(&mut self, out: &mut Out<'_>, days: i64) -> Result<Vec<App>, StoreError> {
        use Platform::*;
        let defs: Vec<(&str, &str, &str, Vec<Platform>)> = vec![
            (
                "Microsoft Teams",
                "Microsoft Corporation",
                "Windows LOB app",
                vec![Windows],
            ),
            (
                "Company Portal",
                "Microsoft Corporation",
                "Windows store app",
                vec![Windows],
            ),
            (
                "Microsoft 365 Apps",
                "Microsoft Corporation",
                "Microsoft 365 Apps for enterprise",
                vec![Windows, Mac],
            ),
            (
                "Contoso Expenses",
                "Contoso Ltd",
                "Windows LOB app",
                vec![Windows],
            ),
            (
                "Microsoft Outlook",
                "Microsoft Corporation",
                "iOS store app",
                vec![IPhone, IPad],
            ),
            (
                "Microsoft Authenticator",
                "Microsoft Corporation",
                "iOS store app",
                vec![IPhone, IPad],
            ),
            (
                "Contoso Field Service",
                "Contoso Ltd",
                "iOS LOB app",
                vec![IPhone, IPad],
            ),
            (
                "Microsoft Outlook",
                "Microsoft Corporation",
                "Android store app",
                vec![Android],
            ),
            (
                "Microsoft Defender",
                "Microsoft Corporation",
                "Managed Android store app (MAM)",
                vec![Android],
            ),
            (
                "Contoso Intranet",
                "Contoso Ltd",
                "Web app",
                vec![Windows, IPhone, IPad, Android, Mac],
            ),
        ];
        let start = midnight_micros(self.start);
        let mut apps = Vec::new();
        let mut next_key = 1;
        for (title, publisher, app_type, platforms) in defs {
            let id = guid(&mut self.rng);
            let mut revisions: Vec<(i64, i64)> = vec![(0, -1000)];
            if self.rng.random_bool(0.4) && days > 2 {
                revisions.push((0, self.rng.random_range(1..days)));
            }
            let n = revisions.len();
            for j in 0..n {
                revisions[j].0 = next_key;
                next_key += 1;
                let from = if revisions[j].1 < 0 {
                    start - 60 * DAY_MICROS
                } else {
                    start + revisions[j].1 * DAY_MICROS
                };
                let to = (j + 1 < n).then(|| start + revisions[j + 1].1 * DAY_MICROS);
                out.row(
                    "appRevisions",
                    &[
                        ("appKey", int(revisions[j].0)),
                        ("applicationId", text(id.clone())),
                        ("revision", int(j as i64 + 1)),
                        ("title", text(title)),
                        ("publisher", text(publisher)),
                        ("uploadState", int(1)),
                        ("appTypeKey", int(self.key("appTypes", app_type))),
                        (
                            "vppProgramTypeKey",
                            int(self.key("vppProgramTypes", "Not Yet Available")),
                        ),
                        ("creationTime", int(start - 60 * DAY_MICROS)),
                        ("modifiedTime", int(from)),
                        ("size", int(self.rng.random_range(5_000_000..900_000_000))),
                        ("startDateInclusiveUTC", int(from)),
                        ("endDateExclusiveUTC", opt_ts(to)),
                        ("isCurrent", boolean(j + 1 == n)),
                        ("rowLastModifiedDateTimeUTC", int(to.unwrap_or(from))),
                    ],
                )?;
            }
            apps.push(App {
                revisions,
                platforms,
            });
        }
        for (i, v) in ["1.0.1.0", "1.0.2.0", "1.0.3.0"].iter().enumerate() {
            out.row(
                "intuneManagementExtensionVersions",
                &[
                    ("extensionVersionKey", int(i as i64 + 1)),
                    ("extensionVersion", text(*v)),
                ],
            )?;
        }
        Ok(apps)
    }

    #[allow(clippy::type_complexity)]
    fn mam_and_terms(
        &mut self,
        out: &mut Out<'_>,
        users: &[User],
        devices: &[Device],
        days: i64,
    ) -> Result<(Vec<(i64, usize, usize, Platform)>, (i64, i64, i64)), StoreError> {
        let start = midnight_micros(self.start);
        let apps = [
            "Microsoft Outlook",
            "Microsoft Teams",
            "Microsoft Word",
            "Microsoft Excel",
            "Microsoft OneDrive",
        ];
        let mut app_ids = Vec::new();
        for (i, name) in apps.iter().enumerate() {
            let id = guid(&mut self.rng);
            out.row(
                "mamApplications",
                &[
                    ("mamApplicationKey", int(i as i64 + 1)),
                    ("mamApplicationName", text(*name)),
                    ("mamApplicationId", text(id.clone())),
                    ("isDeleted", boolean(false)),
                    ("startDateInclusiveUTC", int(start - 100 * DAY_MICROS)),
                    ("rowLastModifiedDateTimeUTC", int(start - 100 * DAY_MICROS)),
                ],
            )?;
            app_ids.push(id);
        }
        let mut instances = Vec::new();
        let mut key = 1;
        for d in devices.iter().filter(|d| {
            matches!(
                d.platform,
                Platform::IPhone | Platform::Android | Platform::IPad
            )
        }) {
            if !self.rng.random_bool(0.6) {
                continue;
            }
            let Some(user) = users.get(d.user) else {
                continue;
            };
            for (a, app_id) in app_ids.iter().enumerate() {
                if !self.rng.random_bool(0.5) {
                    continue;
                }
                let platform = d.platform;
                out.row(
                    "mamApplicationInstances",
                    &[
                        ("applicationInstanceKey", int(key)),
                        ("userId", text(user.id.clone())),
                        ("applicationInstanceId", text(guid(&mut self.rng))),
                        ("mamApplicationId", text(app_id.clone())),
                        ("applicationVersion", text("4.2425.1")),
                        ("createdDate", int(d.enrolled.max(start - 50 * DAY_MICROS))),
                        (
                            "platform",
                            int(if platform == Platform::Android { 4 } else { 3 }),
                        ),
                        ("platformVersion", text(self.os_version(d, days - 1))),
                        ("sdkVersion", text("19.6.0")),
                        ("mamDeviceId", text(d.id.clone())),
                        ("mamDeviceType", text(d.model)),
                        ("mamDeviceName", text(d.name.clone())),
                        ("isDeleted", boolean(d.retired_day.is_some())),
                        (
                            "startDateInclusiveUTC",
                            int(d.enrolled.max(start - 50 * DAY_MICROS)),
                        ),
                        (
                            "deletedDateUTC",
                            opt_ts(d.retired_day.map(|r| start + r * DAY_MICROS)),
                        ),
                        (
                            "rowLastModifiedDateTimeUTC",
                            int(d.enrolled.max(start - 50 * DAY_MICROS)),
                        ),
                    ],
                )?;
                instances.push((key, d.user, a, platform));
                key += 1;
            }
        }
        // terms and conditions: one document, revised once during the period
        let tc_id = guid(&mut self.rng);
        let revised = (days / 2).max(1);
        for (k, version, from, to) in [
            (
                1,
                1,
                start - 200 * DAY_MICROS,
                Some(start + revised * DAY_MICROS),
            ),
            (2, 2, start + revised * DAY_MICROS, None),
        ] {
            out.row(
                "termsAndConditions",
                &[
                    ("termsAndConditionsKey", int(k)),
                    ("termsAndConditionsId", text(tc_id.clone())),
                    ("termsAndConditionsVersion", int(version)),
                    ("name", text("Contoso acceptable use")),
                    (
                        "description",
                        text("Rules for using company resources on managed devices"),
                    ),
                    ("title", text("Contoso acceptable use policy")),
                    ("summaryOfTerms", text("Accept to enroll your device")),
                    (
                        "termsAndConditionsBodyText",
                        text("Devices must stay compliant with company policies."),
                    ),
                    ("isDeleted", boolean(to.is_some())),
                    ("startDateInclusiveUTC", int(from)),
                    ("endDateExclusiveUTC", opt_ts(to)),
                ],
            )?;
        }
        Ok((instances, (1, 2, revised)))
    }

    #[allow(clippy::too_many_arguments)]
    fn day(
        &mut self,
        out: &mut Out<'_>,
        day: i64,
        days: i64,
        users: &[User],
        devices: &[Device],
        policies: &[Policy],
        apps: &[App],
        mam: &[(i64, usize, usize, Platform)],
        terms: (i64, i64, i64),
    ) -> Result<(), StoreError> {
        let date = self.day_date(day);
        let dk = date_key(date);
        let day_start = midnight_micros(date);
        let in_retention = |c: &str| {
            Warehouse::get()
                .collection(c)
                .and_then(|c| c.retention_days)
                .is_none_or(|r| days - day <= i64::from(r))
        };
        let seed = self.opts.seed;
        let mut compliance_counts: BTreeMap<&str, i64> = BTreeMap::new();
        // policy (version key, platform) -> state counts; device worst; user worst
        let mut per_policy_platform: BTreeMap<(i64, &str), [i64; 7]> = BTreeMap::new();
        let mut policy_devices: BTreeMap<i64, [i64; 4]> = BTreeMap::new();
        let mut policy_users: BTreeMap<i64, BTreeMap<usize, usize>> = BTreeMap::new();
        let mut device_worst = [0i64; 4];
        let mut user_worst: BTreeMap<usize, usize> = BTreeMap::new();
        let mut installs: BTreeMap<(i64, i64, i64, i64), i64> = BTreeMap::new();
        let mut enrollments: BTreeMap<(i64, i64, i64, i64, i64, String), i64> = BTreeMap::new();
        let compliance_states = [
            "Unknown",
            "Compliant",
            "Noncompliant",
            "Conflict",
            "Error",
            "ConfigManager",
            "InGracePeriod",
        ];
        for d in devices.iter().filter(|d| d.active(day)) {
            let state = self.compliance_on(d, day);
            *compliance_counts.entry(bucket_of_state(state)).or_default() += 1;
            let retiring = d.retired_day == Some(day + 1);
            let os = self.os_version(d, day);
            if in_retention("devicePropertyHistories") {
                out.row(
                    "devicePropertyHistories",
                    &[
                        ("dateKey", int(dk)),
                        ("deviceKey", int(d.key)),
                        ("deviceName", text(d.name.clone())),
                        (
                            "deviceRegistrationStateKey",
                            int(self.key("deviceRegistrationStates", "Registered")),
                        ),
                        ("ownerTypeKey", int(self.key("ownerTypes", d.owner))),
                        (
                            "managementStateKey",
                            int(self.key(
                                "managementStates",
                                if retiring { "RetirePending" } else { "Managed" },
                            )),
                        ),
                        (
                            "azureADRegistered",
                            boolean(d.platform == Platform::Windows || d.owner == "Corporate"),
                        ),
                        (
                            "complianceStateKey",
                            int(self.key("complianceStates", state)),
                        ),
                        ("osVersion", text(os.clone())),
                        (
                            "jailBroken",
                            text(if matches!(d.platform, Platform::Windows | Platform::Mac) {
                                "Unknown"
                            } else {
                                "False"
                            }),
                        ),
                        ("deviceCategoryKey", int(d.category as i64 + 1)),
                        ("physicalMemoryInBytes", int(d.memory)),
                        ("totalStorageSpaceInBytes", int(d.storage)),
                    ],
                )?;
            }
            // compliance per policy: the device's state under its platform's compliance policy
            let cstate = compliance_states
                .iter()
                .position(|s| *s == state)
                .unwrap_or(0);
            let mut worst: Option<usize> = None;
            for p in policies
                .iter()
                .filter(|p| p.platforms.contains(&d.platform))
            {
                let pk = p.key_on(day);
                if p.compliance {
                    per_policy_platform
                        .entry((pk, d.platform.policy_platform()))
                        .or_default()[cstate] += 1;
                    continue;
                }
                let h = mix(&[seed, d.key as u64, pk as u64, (day / 3) as u64]) % 100;
                let s = match h {
                    0..=84 => 0,
                    85..=92 => 1,
                    93..=96 => 2,
                    _ => 3,
                };
                policy_devices.entry(pk).or_default()[s] += 1;
                let u = policy_users
                    .entry(pk)
                    .or_default()
                    .entry(d.user)
                    .or_insert(0);
                *u = (*u).max(s);
                worst = Some(worst.map_or(s, |w: usize| w.max(s)));
            }
            if let Some(w) = worst {
                device_worst[w] += 1;
                let u = user_worst.entry(d.user).or_insert(0);
                *u = (*u).max(w);
            }
            // app installs
            let dtk = self.key("deviceTypes", d.platform.device_type());
            for App { revisions, .. } in apps.iter().filter(|a| a.platforms.contains(&d.platform)) {
                let rev = revisions
                    .iter()
                    .rev()
                    .find(|r| r.1 <= day)
                    .unwrap_or(&revisions[0])
                    .0;
                let h = mix(&[seed, d.key as u64, rev as u64, 17]) % 100;
                if h >= 80 {
                    continue; // not assigned to this device
                }
                let drift = mix(&[seed, d.key as u64, rev as u64, day as u64 / 4]) % 100;
                let (state, error) = match drift {
                    0..=87 => ("Installed", 0),
                    88..=92 => ("PendingInstall", 0),
                    93..=96 => ("Failed", -2_016_345_060),
                    _ => ("NotInstalled", 0),
                };
                *installs
                    .entry((rev, dtk, self.key("mobileAppInstallStates", state), error))
                    .or_default() += 1;
            }
            if in_retention("intuneManagementExtensions") && d.platform == Platform::Windows {
                let version = if mix(&[seed, d.key as u64, 23]) % (days as u64 + 1) < day as u64 {
                    3
                } else {
                    2
                };
                let healthy = mix(&[seed, d.key as u64, day as u64, 29]) % 100 < 95;
                out.row(
                    "intuneManagementExtensions",
                    &[
                        ("dateKey", int(dk)),
                        ("tenantKey", int(1)),
                        ("deviceKey", int(d.key)),
                        ("extensionVersionKey", int(version)),
                        (
                            "extensionStateKey",
                            int(self.key(
                                "intuneManagementExtensionHealthStates",
                                if healthy { "Healthy" } else { "Unhealthy" },
                            )),
                        ),
                    ],
                )?;
            }
            if in_retention("applicationInventories")
                && matches!(d.platform, Platform::Windows | Platform::Mac)
            {
                let inventory = [
                    ("Google Chrome", "131.0.6778.86", 350_000_000i64),
                    ("Microsoft Edge", "131.0.2903.70", 420_000_000),
                    ("7-Zip", "24.08", 5_600_000),
                    ("Zoom Workplace", "6.2.11", 280_000_000),
                    ("Notepad++", "8.7.1", 14_000_000),
                ];
                for (name, version, size) in inventory.iter().filter(|(n, _, _)| {
                    !mix(&[seed, d.key as u64, n.len() as u64]).is_multiple_of(3)
                }) {
                    out.row(
                        "applicationInventories",
                        &[
                            ("dateKey", int(dk)),
                            ("deviceKey", int(d.key)),
                            ("applicationName", text(*name)),
                            ("applicationVersion", text(*version)),
                            ("bundleSize", int(*size)),
                        ],
                    )?;
                }
            }
            if d.enrolled_day == day {
                enrollments
                    .entry((
                        self.key("deviceEnrollmentTypes", d.enrollment_type),
                        dtk,
                        self.key("enrollmentEventStatuses", "Success"),
                        self.key("enrollmentFailureCategories", "Not Applicable"),
                        self.key("enrollmentFailureReasons", "Not Applicable"),
                        os,
                    ))
                    .and_modify(|c| *c += 1)
                    .or_insert(1);
            }
        }
        // enrollment failures of the day
        let failures = [
            ("Authentication", "UserUnknown"),
            ("Authorization", "UserNotLicensed"),
            ("DeviceNotSupported", "UnsupportedDeviceType"),
            ("EnrollmentRestrictionsEnforced", "DeviceCap"),
            ("UserAbandonment", "UserAbandonment"),
            ("AccountValidation", "APNSCertificateExpired"),
        ];
        for _ in 0..self.rng.random_range(0..(devices.len() / 200 + 3)) {
            let (cat, reason) = failures[self.rng.random_range(0..failures.len())];
            let platform = [Platform::Windows, Platform::IPhone, Platform::Android]
                [self.rng.random_range(0..3)];
            let ver = platform.versions()[self.rng.random_range(0..3)].to_string();
            let et = platform.enrollment_types()[0].0;
            enrollments
                .entry((
                    self.key("deviceEnrollmentTypes", et),
                    self.key("deviceTypes", platform.device_type()),
                    self.key("enrollmentEventStatuses", "Failed"),
                    self.key("enrollmentFailureCategories", cat),
                    self.key("enrollmentFailureReasons", reason),
                    ver,
                ))
                .and_modify(|c| *c += 1)
                .or_insert(1);
        }
        let fact = |c: &str| in_retention(c);
        if fact("compliancePolicyStatusDeviceActivities") {
            let g = |k: &str| int(*compliance_counts.get(k).unwrap_or(&0));
            out.row(
                "compliancePolicyStatusDeviceActivities",
                &[
                    ("dateKey", int(dk)),
                    ("unknown", g("unknown")),
                    ("notApplicable", g("notApplicable")),
                    ("compliant", g("compliant")),
                    ("inGracePeriod", g("inGracePeriod")),
                    ("nonCompliant", g("nonCompliant")),
                    ("error", g("error")),
                ],
            )?;
        }
        if fact("compliancePolicyStatusDevicePerPolicyActivities") {
            for ((pk, platform), counts) in &per_policy_platform {
                let mut b: BTreeMap<&str, i64> = BTreeMap::new();
                for (i, s) in compliance_states.iter().enumerate() {
                    *b.entry(bucket_of_state(s)).or_default() += counts[i];
                }
                let g = |k: &str| int(*b.get(k).unwrap_or(&0));
                out.row(
                    "compliancePolicyStatusDevicePerPolicyActivities",
                    &[
                        ("dateKey", int(dk)),
                        ("policyKey", int(*pk)),
                        (
                            "policyPlatformKey",
                            int(self.key("policyPlatformTypes", platform)),
                        ),
                        ("unknown", g("unknown")),
                        ("notApplicable", g("notApplicable")),
                        ("compliant", g("compliant")),
                        ("inGracePeriod", g("inGracePeriod")),
                        ("nonCompliant", g("nonCompliant")),
                        ("error", g("error")),
                    ],
                )?;
            }
        }
        let counts = |c: &[i64; 4]| -> [(&'static str, SqlValue); 4] {
            [
                ("succeeded", int(c[0])),
                ("pending", int(c[1])),
                ("failed", int(c[2])),
                ("error", int(c[3])),
            ]
        };
        if fact("deviceConfigurationProfileDeviceActivities") {
            let mut row = vec![("dateKey", int(dk))];
            row.extend(counts(&device_worst));
            out.row("deviceConfigurationProfileDeviceActivities", &row)?;
        }
        if fact("deviceConfigurationProfileUserActivities") {
            let mut uw = [0i64; 4];
            for w in user_worst.values() {
                uw[*w] += 1;
            }
            let mut row = vec![("dateKey", int(dk))];
            row.extend(counts(&uw));
            out.row("deviceConfigurationProfileUserActivities", &row)?;
        }
        for p in policies.iter().filter(|p| !p.compliance) {
            let pk = p.key_on(day);
            let c = policy_devices.get(&pk).copied().unwrap_or_default();
            if fact("policyDeviceActivities") {
                let mut row = vec![
                    ("dateKey", int(dk)),
                    ("policyKey", int(pk)),
                    ("policyTypeKey", int(self.key("policyTypes", p.policy_type))),
                ];
                row.extend(counts(&c));
                out.row("policyDeviceActivities", &row)?;
            }
            if fact("policyTypeActivities") {
                let mut row = vec![
                    ("dateKey", int(dk)),
                    ("policyKey", int(pk)),
                    ("policyTypeKey", int(self.key("policyTypes", p.policy_type))),
                ];
                row.extend(counts(&c));
                out.row("policyTypeActivities", &row)?;
            }
            if fact("policyUserActivities") {
                let mut uc = [0i64; 4];
                for w in policy_users
                    .get(&pk)
                    .map(|m| m.values().copied().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    uc[w] += 1;
                }
                let mut row = vec![
                    ("dateKey", int(dk)),
                    ("policyKey", int(pk)),
                    ("policyTypeKey", int(self.key("policyTypes", p.policy_type))),
                ];
                row.extend(counts(&uc));
                out.row("policyUserActivities", &row)?;
            }
        }
        if fact("mobileAppInstallStatusCounts") {
            for ((app, dt, state, error), n) in &installs {
                out.row(
                    "mobileAppInstallStatusCounts",
                    &[
                        ("dateKey", int(dk)),
                        ("appKey", int(*app)),
                        ("deviceTypeKey", int(*dt)),
                        ("appInstallStateKey", int(*state)),
                        ("errorCode", int(*error)),
                        ("count", int(*n)),
                    ],
                )?;
            }
        }
        if fact("enrollmentActivities") {
            for ((et, dt, st, cat, reason, os), n) in &enrollments {
                out.row(
                    "enrollmentActivities",
                    &[
                        ("dateKey", int(dk)),
                        ("deviceEnrollmentTypeKey", int(*et)),
                        ("deviceTypeKey", int(*dt)),
                        ("enrollmentEventStatusKey", int(*st)),
                        ("enrollmentFailureCategoryKey", int(*cat)),
                        ("enrollmentFailureReasonKey", int(*reason)),
                        ("osVersion", text(os.clone())),
                        ("count", int(*n)),
                    ],
                )?;
            }
        }
        if fact("mamCheckins") {
            for (key, user, app, platform) in mam {
                if mix(&[seed, *key as u64, day as u64, 31]) % 10 >= 7 {
                    continue;
                }
                let Some(u) = users.get(*user) else { continue };
                let checkin =
                    day_start + (mix(&[seed, *key as u64, day as u64]) % 86_400_000_000) as i64;
                out.row(
                    "mamCheckins",
                    &[
                        ("dateKey", int(dk)),
                        ("applicationInstanceKey", int(*key)),
                        ("userKey", int(u.versions.last().expect("one version").key)),
                        ("mamApplicationKey", int(*app as i64 + 1)),
                        (
                            "deviceHealthKey",
                            int(self.key("mamDeviceHealths", "Healthy")),
                        ),
                        (
                            "platformKey",
                            int(self.key(
                                "mamPlatforms",
                                if *platform == Platform::Android {
                                    "Android"
                                } else {
                                    "IOS"
                                },
                            )),
                        ),
                        ("lastCheckInDate", int(checkin)),
                    ],
                )?;
            }
        }
        // terms acceptances: a user accepts version 1 once before the revision, then version 2
        // within a few days of it
        let (v1, v2, revised) = terms;
        for (i, u) in users.iter().enumerate() {
            let first = (mix(&[seed, i as u64, 37]) % days as u64) as i64;
            let second = revised + (mix(&[seed, i as u64, 41]) % 5) as i64;
            for (accepted_on, tk) in [(first, v1), (second, v2)] {
                if accepted_on != day || (tk == v1 && first >= revised) {
                    continue;
                }
                let at =
                    day_start + (mix(&[seed, i as u64, day as u64, 43]) % 86_400_000_000) as i64;
                out.row(
                    "userTermsAndConditionsAcceptances",
                    &[
                        ("dateKey", int(dk)),
                        ("userKey", int(u.versions.last().expect("one version").key)),
                        ("termsAndConditionsKey", int(tk)),
                        ("acceptedDateTimeUTC", int(at)),
                        ("lastModifiedDateTimeUTC", int(at)),
                    ],
                )?;
            }
        }
        Ok(())
    }
}
