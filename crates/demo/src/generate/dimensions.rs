//! The generated dimensions: reference rows, dates, categories, users (with history) and devices.

use super::*;

impl Generator<'_> {
    pub(super) fn reference_rows(&mut self, out: &mut Out<'_>) -> Result<(), StoreError> {
        for c in &Warehouse::get().collections {
            for row in warehouse::reference::rows(c) {
                out.loader.insert(&c.name, &row)?;
                *out.summary.entry(c.name.clone()).or_default() += 1;
            }
        }
        Ok(())
    }

    pub(super) fn dates(&mut self, out: &mut Out<'_>, days: i64) -> Result<(), StoreError> {
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

    pub(super) fn categories(&mut self, out: &mut Out<'_>) -> Result<usize, StoreError> {
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

    pub(super) fn users(&mut self, out: &mut Out<'_>, days: i64) -> Result<Vec<User>, StoreError> {
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

    pub(super) fn devices(
        &mut self,
        out: &mut Out<'_>,
        users: &[User],
        categories: usize,
        days: i64,
    ) -> Result<Vec<Device>, StoreError> {
        let devices: Vec<Device> = (0..self.opts.devices)
            .map(|i| self.new_device(i, users.len(), categories, days))
            .collect();
        for d in &devices {
            self.write_device(out, d, users, days)?;
        }
        Ok(devices)
    }

    /// Device `i` (key `i + 1`): its platform, hardware, owner, user (of `users`), category (of
    /// `categories`), enrollment, retirement and OS upgrade days.
    fn new_device(&mut self, i: u32, users: usize, categories: usize, days: i64) -> Device {
        let platforms = [
            (Platform::Windows, 45),
            (Platform::IPhone, 20),
            (Platform::Android, 20),
            (Platform::Mac, 8),
            (Platform::IPad, 7),
        ];
        let start = midnight_micros(self.start);
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
        Device {
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
            user: self.rng.random_range(0..users.max(1)),
            enrolled,
            enrolled_day,
            retired_day,
            os_start,
            os_upgrade_day,
            memory: [4i64, 8, 16, 32][self.rng.random_range(0..4)] << 30,
            storage: [64i64, 128, 256, 512][self.rng.random_range(0..4)] << 30,
            serial: format!("{:010X}", self.rng.random_range(0..0xFF_FFFF_FFFFu64)),
        }
    }

    /// The device's `devices` row (its state as of the last day) and its association with its
    /// user.
    fn write_device(
        &self,
        out: &mut Out<'_>,
        d: &Device,
        users: &[User],
        days: i64,
    ) -> Result<(), StoreError> {
        let start = midnight_micros(self.start);
        // dimension rows carry the state as of the last day
        let last = days - 1;
        let user = users.get(d.user);
        let modified = d.retired_day.map_or(d.enrolled.max(start), |r| {
            start + r * DAY_MICROS + 3_600_000_000
        });
        let mut values = self.device_values(d, user, last, modified);
        values.extend(device_hardware(d));
        out.row("devices", &values)?;
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
        Ok(())
    }

    /// A device's identity, management and compliance as `devices` properties (as of day
    /// `last`, written at `modified`).
    fn device_values(
        &self,
        d: &Device,
        user: Option<&User>,
        last: i64,
        modified: i64,
    ) -> Vec<(&'static str, SqlValue)> {
        let compliance = self.compliance_on(d, last.min(d.retired_day.map_or(last, |r| r - 1)));
        vec![
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
        ]
    }

    pub(super) fn os_version(&self, d: &Device, day: i64) -> String {
        let v = d.platform.versions();
        let i = if d.os_upgrade_day.is_some_and(|u| day >= u) {
            d.os_start + 1
        } else {
            d.os_start
        };
        v[i].to_string()
    }

    /// Compliance state of a device on a day: a sticky state that is redrawn now and then.
    pub(super) fn compliance_on(&self, d: &Device, day: i64) -> &'static str {
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
}

/// A device's hardware, encryption and editions as `devices` properties.
fn device_hardware(d: &Device) -> Vec<(&'static str, SqlValue)> {
    vec![
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
                matches!(d.platform, Platform::IPhone | Platform::IPad) && d.owner == "Corporate",
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
    ]
}
