//! The generated days: each day's facts, derived from the same per-day device states, so that
//! aggregates agree with details (the compliance counts equal the day's property histories in
//! each state, the per-policy activities add up to the profile activities, and so on).

use super::*;
use warehouse::compliance;

/// The compliance states, in the order the per-policy counts keep them.
const COMPLIANCE_STATES: [&str; 7] = [
    "Unknown",
    "Compliant",
    "Noncompliant",
    "Conflict",
    "Error",
    "ConfigManager",
    "InGracePeriod",
];

/// One day of the history being generated.
struct Day {
    /// Days from the first day of the history.
    day: i64,
    /// Days in the history.
    days: i64,
    /// Its `dateKey`.
    date_key: i64,
    /// Its midnight (UTC), in microseconds.
    start: i64,
    /// The tenant's seed.
    seed: u64,
}

impl Day {
    /// Whether the day is within the retention of fact collection `c`.
    fn keeps(&self, c: &str) -> bool {
        Warehouse::get()
            .collection(c)
            .and_then(|c| c.retention_days)
            .is_none_or(|r| self.days - self.day <= i64::from(r))
    }
}

/// A new enrollment count's key: (enrollment type, device type, event status, failure
/// category, failure reason, OS version), all keys but the version.
type EnrollmentKey = (i64, i64, i64, i64, i64, String);

/// What a day counts over its devices before its aggregate facts are written.
#[derive(Default)]
struct DayTally {
    /// Devices per compliance bucket.
    compliance: BTreeMap<&'static str, i64>,
    /// Devices per (compliance policy version key, platform) in each of [`COMPLIANCE_STATES`].
    per_policy_platform: BTreeMap<(i64, &'static str), [i64; 7]>,
    /// Devices per configuration policy version key in each deployment state.
    policy_devices: BTreeMap<i64, [i64; 4]>,
    /// Each user's worst deployment state per configuration policy version key.
    policy_users: BTreeMap<i64, BTreeMap<usize, usize>>,
    /// Devices by their worst deployment state over every configuration policy.
    device_worst: [i64; 4],
    /// Each user's worst deployment state over every configuration policy.
    user_worst: BTreeMap<usize, usize>,
    /// App installs per (app key, device type key, install state key, error code).
    installs: BTreeMap<(i64, i64, i64, i64), i64>,
    /// Enrollment events per key.
    enrollments: BTreeMap<EnrollmentKey, i64>,
}

/// Deployment-state counts as the four columns of an activity fact.
fn state_counts(c: &[i64; 4]) -> [(&'static str, SqlValue); 4] {
    [
        ("succeeded", int(c[0])),
        ("pending", int(c[1])),
        ("failed", int(c[2])),
        ("error", int(c[3])),
    ]
}

impl Generator<'_> {
    /// Writes day `day` (of `days`) of the tenant's facts.
    pub(super) fn day(
        &mut self,
        out: &mut Out<'_>,
        day: i64,
        days: i64,
        dims: &Dimensions,
    ) -> Result<(), StoreError> {
        let date = self.day_date(day);
        let d = Day {
            day,
            days,
            date_key: date_key(date),
            start: midnight_micros(date),
            seed: self.opts.seed,
        };
        let mut tally = DayTally::default();
        for device in dims.devices.iter().filter(|x| x.active(day)) {
            self.device_day(out, &d, device, dims, &mut tally)?;
        }
        self.enrollment_failures(dims.devices.len(), &mut tally.enrollments);
        self.write_compliance(out, &d, &tally)?;
        self.write_configuration(out, &d, &dims.policies, &tally)?;
        write_installs_and_enrollments(out, &d, &tally)?;
        self.write_mam_checkins(out, &d, dims)?;
        write_terms_acceptances(out, &d, dims)
    }

    /// One device's day: its property history row, its states under the policies and apps
    /// (counted in `tally`), its management extension and inventory, its enrollment.
    fn device_day(
        &self,
        out: &mut Out<'_>,
        d: &Day,
        device: &Device,
        dims: &Dimensions,
        tally: &mut DayTally,
    ) -> Result<(), StoreError> {
        let state = self.compliance_on(device, d.day);
        *tally.compliance.entry(bucket_of_state(state)).or_default() += 1;
        let os = self.os_version(device, d.day);
        if d.keeps("devicePropertyHistories") {
            self.write_history(out, d, device, state, &os)?;
        }
        self.count_policies(d, device, state, &dims.policies, tally);
        let device_type = self.key("deviceTypes", device.platform.device_type());
        self.count_installs(d, device, device_type, &dims.apps, tally);
        self.write_extension_and_inventory(out, d, device)?;
        if device.enrolled_day == d.day {
            tally
                .enrollments
                .entry((
                    self.key("deviceEnrollmentTypes", device.enrollment_type),
                    device_type,
                    self.key("enrollmentEventStatuses", "Success"),
                    self.key("enrollmentFailureCategories", "Not Applicable"),
                    self.key("enrollmentFailureReasons", "Not Applicable"),
                    os,
                ))
                .and_modify(|c| *c += 1)
                .or_insert(1);
        }
        Ok(())
    }

    /// The device's `devicePropertyHistories` row of the day.
    fn write_history(
        &self,
        out: &mut Out<'_>,
        d: &Day,
        device: &Device,
        state: &str,
        os: &str,
    ) -> Result<(), StoreError> {
        let retiring = device.retired_day == Some(d.day + 1);
        out.row(
            "devicePropertyHistories",
            &[
                ("dateKey", int(d.date_key)),
                ("deviceKey", int(device.key)),
                ("deviceName", text(device.name.clone())),
                (
                    "deviceRegistrationStateKey",
                    int(self.key("deviceRegistrationStates", "Registered")),
                ),
                ("ownerTypeKey", int(self.key("ownerTypes", device.owner))),
                (
                    "managementStateKey",
                    int(self.key(
                        "managementStates",
                        if retiring { "RetirePending" } else { "Managed" },
                    )),
                ),
                (
                    "azureADRegistered",
                    boolean(device.platform == Platform::Windows || device.owner == "Corporate"),
                ),
                (
                    "complianceStateKey",
                    int(self.key("complianceStates", state)),
                ),
                ("osVersion", text(os)),
                (
                    "jailBroken",
                    text(
                        if matches!(device.platform, Platform::Windows | Platform::Mac) {
                            "Unknown"
                        } else {
                            "False"
                        },
                    ),
                ),
                ("deviceCategoryKey", int(device.category as i64 + 1)),
                ("physicalMemoryInBytes", int(device.memory)),
                ("totalStorageSpaceInBytes", int(device.storage)),
            ],
        )
    }

    /// Counts the device under its platform's policies: its compliance state under each
    /// compliance policy, a deployment state under each configuration policy.
    fn count_policies(
        &self,
        d: &Day,
        device: &Device,
        state: &str,
        policies: &[Policy],
        tally: &mut DayTally,
    ) {
        let cstate = COMPLIANCE_STATES
            .iter()
            .position(|s| *s == state)
            .unwrap_or(0);
        let mut worst: Option<usize> = None;
        for p in policies
            .iter()
            .filter(|p| p.platforms.contains(&device.platform))
        {
            let pk = p.key_on(d.day);
            if p.compliance {
                tally
                    .per_policy_platform
                    .entry((pk, device.platform.policy_platform()))
                    .or_default()[cstate] += 1;
                continue;
            }
            let h = mix(&[d.seed, device.key as u64, pk as u64, (d.day / 3) as u64]) % 100;
            let s = match h {
                0..=84 => 0,
                85..=92 => 1,
                93..=96 => 2,
                _ => 3,
            };
            tally.policy_devices.entry(pk).or_default()[s] += 1;
            let u = tally
                .policy_users
                .entry(pk)
                .or_default()
                .entry(device.user)
                .or_insert(0);
            *u = (*u).max(s);
            worst = Some(worst.map_or(s, |w: usize| w.max(s)));
        }
        if let Some(w) = worst {
            tally.device_worst[w] += 1;
            let u = tally.user_worst.entry(device.user).or_insert(0);
            *u = (*u).max(w);
        }
    }

    /// Counts the device's installs of the apps assigned to its platform.
    fn count_installs(
        &self,
        d: &Day,
        device: &Device,
        device_type: i64,
        apps: &[App],
        tally: &mut DayTally,
    ) {
        for App { revisions, .. } in apps
            .iter()
            .filter(|a| a.platforms.contains(&device.platform))
        {
            let rev = revisions
                .iter()
                .rev()
                .find(|r| r.1 <= d.day)
                .unwrap_or(&revisions[0])
                .0;
            let h = mix(&[d.seed, device.key as u64, rev as u64, 17]) % 100;
            if h >= 80 {
                continue; // not assigned to this device
            }
            let drift = mix(&[d.seed, device.key as u64, rev as u64, d.day as u64 / 4]) % 100;
            let (state, error) = match drift {
                0..=87 => ("Installed", 0),
                88..=92 => ("PendingInstall", 0),
                93..=96 => ("Failed", -2_016_345_060),
                _ => ("NotInstalled", 0),
            };
            *tally
                .installs
                .entry((
                    rev,
                    device_type,
                    self.key("mobileAppInstallStates", state),
                    error,
                ))
                .or_default() += 1;
        }
    }

    /// The management extension's state on a Windows device, and the apps a Windows or Mac
    /// device has installed.
    fn write_extension_and_inventory(
        &self,
        out: &mut Out<'_>,
        d: &Day,
        device: &Device,
    ) -> Result<(), StoreError> {
        let seed = d.seed;
        if d.keeps("intuneManagementExtensions") && device.platform == Platform::Windows {
            let version =
                if mix(&[seed, device.key as u64, 23]) % (d.days as u64 + 1) < d.day as u64 {
                    3
                } else {
                    2
                };
            let healthy = mix(&[seed, device.key as u64, d.day as u64, 29]) % 100 < 95;
            out.row(
                "intuneManagementExtensions",
                &[
                    ("dateKey", int(d.date_key)),
                    ("tenantKey", int(1)),
                    ("deviceKey", int(device.key)),
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
        if d.keeps("applicationInventories")
            && matches!(device.platform, Platform::Windows | Platform::Mac)
        {
            let inventory = [
                ("Google Chrome", "131.0.6778.86", 350_000_000i64),
                ("Microsoft Edge", "131.0.2903.70", 420_000_000),
                ("7-Zip", "24.08", 5_600_000),
                ("Zoom Workplace", "6.2.11", 280_000_000),
                ("Notepad++", "8.7.1", 14_000_000),
            ];
            for (name, version, size) in inventory.iter().filter(|(n, _, _)| {
                !mix(&[seed, device.key as u64, n.len() as u64]).is_multiple_of(3)
            }) {
                out.row(
                    "applicationInventories",
                    &[
                        ("dateKey", int(d.date_key)),
                        ("deviceKey", int(device.key)),
                        ("applicationName", text(*name)),
                        ("applicationVersion", text(*version)),
                        ("bundleSize", int(*size)),
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// The day's failed enrollments: a few per 200 devices, of random causes.
    fn enrollment_failures(
        &mut self,
        devices: usize,
        enrollments: &mut BTreeMap<EnrollmentKey, i64>,
    ) {
        let failures = [
            ("Authentication", "UserUnknown"),
            ("Authorization", "UserNotLicensed"),
            ("DeviceNotSupported", "UnsupportedDeviceType"),
            ("EnrollmentRestrictionsEnforced", "DeviceCap"),
            ("UserAbandonment", "UserAbandonment"),
            ("AccountValidation", "APNSCertificateExpired"),
        ];
        for _ in 0..self.rng.random_range(0..(devices / 200 + 3)) {
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
    }

    /// The day's compliance counts, overall and per compliance policy and platform.
    fn write_compliance(
        &self,
        out: &mut Out<'_>,
        d: &Day,
        tally: &DayTally,
    ) -> Result<(), StoreError> {
        if d.keeps("compliancePolicyStatusDeviceActivities") {
            let mut row = vec![("dateKey", int(d.date_key))];
            row.extend(
                compliance::BUCKETS.map(|b| (b, int(*tally.compliance.get(b).unwrap_or(&0)))),
            );
            out.row("compliancePolicyStatusDeviceActivities", &row)?;
        }
        if d.keeps("compliancePolicyStatusDevicePerPolicyActivities") {
            for ((pk, platform), counts) in &tally.per_policy_platform {
                let mut buckets: BTreeMap<&str, i64> = BTreeMap::new();
                for (i, s) in COMPLIANCE_STATES.iter().enumerate() {
                    *buckets.entry(bucket_of_state(s)).or_default() += counts[i];
                }
                let mut row = vec![
                    ("dateKey", int(d.date_key)),
                    ("policyKey", int(*pk)),
                    (
                        "policyPlatformKey",
                        int(self.key("policyPlatformTypes", platform)),
                    ),
                ];
                row.extend(compliance::BUCKETS.map(|b| (b, int(*buckets.get(b).unwrap_or(&0)))));
                out.row("compliancePolicyStatusDevicePerPolicyActivities", &row)?;
            }
        }
        Ok(())
    }

    /// The day's configuration deployment counts: per device and per user over every profile,
    /// and per configuration policy (by device, by type, by user).
    fn write_configuration(
        &self,
        out: &mut Out<'_>,
        d: &Day,
        policies: &[Policy],
        tally: &DayTally,
    ) -> Result<(), StoreError> {
        if d.keeps("deviceConfigurationProfileDeviceActivities") {
            let mut row = vec![("dateKey", int(d.date_key))];
            row.extend(state_counts(&tally.device_worst));
            out.row("deviceConfigurationProfileDeviceActivities", &row)?;
        }
        if d.keeps("deviceConfigurationProfileUserActivities") {
            let mut users = [0i64; 4];
            for w in tally.user_worst.values() {
                users[*w] += 1;
            }
            let mut row = vec![("dateKey", int(d.date_key))];
            row.extend(state_counts(&users));
            out.row("deviceConfigurationProfileUserActivities", &row)?;
        }
        for p in policies.iter().filter(|p| !p.compliance) {
            let pk = p.key_on(d.day);
            let policy_row = |counts: &[i64; 4]| {
                let mut row = vec![
                    ("dateKey", int(d.date_key)),
                    ("policyKey", int(pk)),
                    ("policyTypeKey", int(self.key("policyTypes", p.policy_type))),
                ];
                row.extend(state_counts(counts));
                row
            };
            let devices = tally.policy_devices.get(&pk).copied().unwrap_or_default();
            if d.keeps("policyDeviceActivities") {
                out.row("policyDeviceActivities", &policy_row(&devices))?;
            }
            if d.keeps("policyTypeActivities") {
                out.row("policyTypeActivities", &policy_row(&devices))?;
            }
            if d.keeps("policyUserActivities") {
                let mut users = [0i64; 4];
                for w in tally
                    .policy_users
                    .get(&pk)
                    .into_iter()
                    .flat_map(|m| m.values())
                {
                    users[*w] += 1;
                }
                out.row("policyUserActivities", &policy_row(&users))?;
            }
        }
        Ok(())
    }

    /// The day's app protection check-ins: about seven in ten instances check in.
    fn write_mam_checkins(
        &self,
        out: &mut Out<'_>,
        d: &Day,
        dims: &Dimensions,
    ) -> Result<(), StoreError> {
        if !d.keeps("mamCheckins") {
            return Ok(());
        }
        for instance in &dims.mam {
            let key = instance.key as u64;
            if mix(&[d.seed, key, d.day as u64, 31]) % 10 >= 7 {
                continue;
            }
            let Some(u) = dims.users.get(instance.user) else {
                continue;
            };
            let checkin = d.start + (mix(&[d.seed, key, d.day as u64]) % 86_400_000_000) as i64;
            let platform = if instance.platform == Platform::Android {
                "Android"
            } else {
                "IOS"
            };
            out.row(
                "mamCheckins",
                &[
                    ("dateKey", int(d.date_key)),
                    ("applicationInstanceKey", int(instance.key)),
                    ("userKey", int(u.versions.last().expect("one version").key)),
                    ("mamApplicationKey", int(instance.app as i64 + 1)),
                    (
                        "deviceHealthKey",
                        int(self.key("mamDeviceHealths", "Healthy")),
                    ),
                    ("platformKey", int(self.key("mamPlatforms", platform))),
                    ("lastCheckInDate", int(checkin)),
                ],
            )?;
        }
        Ok(())
    }
}

/// The day's app install counts and enrollment events.
fn write_installs_and_enrollments(
    out: &mut Out<'_>,
    d: &Day,
    tally: &DayTally,
) -> Result<(), StoreError> {
    if d.keeps("mobileAppInstallStatusCounts") {
        for ((app, device_type, state, error), n) in &tally.installs {
            out.row(
                "mobileAppInstallStatusCounts",
                &[
                    ("dateKey", int(d.date_key)),
                    ("appKey", int(*app)),
                    ("deviceTypeKey", int(*device_type)),
                    ("appInstallStateKey", int(*state)),
                    ("errorCode", int(*error)),
                    ("count", int(*n)),
                ],
            )?;
        }
    }
    if d.keeps("enrollmentActivities") {
        for ((et, dt, st, cat, reason, os), n) in &tally.enrollments {
            out.row(
                "enrollmentActivities",
                &[
                    ("dateKey", int(d.date_key)),
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
    Ok(())
}

/// The day's terms acceptances: a user accepts version 1 once before the revision, then
/// version 2 within a few days of it.
fn write_terms_acceptances(
    out: &mut Out<'_>,
    d: &Day,
    dims: &Dimensions,
) -> Result<(), StoreError> {
    let terms = dims.terms;
    for (i, u) in dims.users.iter().enumerate() {
        let first = (mix(&[d.seed, i as u64, 37]) % d.days as u64) as i64;
        let second = terms.revised + (mix(&[d.seed, i as u64, 41]) % 5) as i64;
        for (accepted_on, version) in [(first, terms.first), (second, terms.second)] {
            if accepted_on != d.day || (version == terms.first && first >= terms.revised) {
                continue;
            }
            let at = d.start + (mix(&[d.seed, i as u64, d.day as u64, 43]) % 86_400_000_000) as i64;
            out.row(
                "userTermsAndConditionsAcceptances",
                &[
                    ("dateKey", int(d.date_key)),
                    ("userKey", int(u.versions.last().expect("one version").key)),
                    ("termsAndConditionsKey", int(version)),
                    ("acceptedDateTimeUTC", int(at)),
                    ("lastModifiedDateTimeUTC", int(at)),
                ],
            )?;
        }
    }
    Ok(())
}
