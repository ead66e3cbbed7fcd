//! The generated management configuration: policies (with versions), apps (with revisions), app
//! protection instances and terms and conditions.

use super::*;

impl Generator<'_> {
    pub(super) fn policies(
        &mut self,
        out: &mut Out<'_>,
        days: i64,
    ) -> Result<Vec<Policy>, StoreError> {
        let defs = policy_definitions();
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
            let began = |from_day: i64| {
                if from_day < 0 {
                    start - 120 * DAY_MICROS
                } else {
                    start + from_day * DAY_MICROS
                }
            };
            let n = versions.len();
            for j in 0..n {
                versions[j].key = next_key;
                next_key += 1;
                let started = began(versions[j].from_day);
                // a version ends as the next begins, as ingestion ends it
                let ended = versions.get(j + 1).map(|next| began(next.from_day));
                out.row(
                    "policies",
                    &[
                        ("policyKey", int(versions[j].key)),
                        ("policyId", text(id.clone())),
                        ("policyName", text(name)),
                        ("policyVersion", int(j as i64 + 1)),
                        ("isDeleted", boolean(ended.is_some())),
                        ("startDateInclusiveUTC", int(started)),
                        ("deletedDateUTC", opt_ts(ended)),
                        ("rowLastModifiedDateTimeUTC", int(ended.unwrap_or(started))),
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

    pub(super) fn apps(&mut self, out: &mut Out<'_>, days: i64) -> Result<Vec<App>, StoreError> {
        let defs = app_definitions();
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

    /// App protection: the protected apps, and an instance of some of them on about half of the
    /// users' iOS and Android devices.
    pub(super) fn mam(
        &mut self,
        out: &mut Out<'_>,
        users: &[User],
        devices: &[Device],
        days: i64,
    ) -> Result<Vec<MamInstance>, StoreError> {
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
                instances.push(MamInstance {
                    key,
                    user: d.user,
                    app: a,
                    platform,
                });
                key += 1;
            }
        }
        Ok(instances)
    }

    /// Terms and conditions: one document, revised once during the period (halfway).
    pub(super) fn terms(
        &mut self,
        out: &mut Out<'_>,
        days: i64,
    ) -> Result<TermsVersions, StoreError> {
        let start = midnight_micros(self.start);
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
        Ok(TermsVersions {
            first: 1,
            second: 2,
            revised,
        })
    }
}

/// The tenant's policies: (name, policy type, platforms, whether a compliance policy).
fn policy_definitions() -> Vec<(&'static str, &'static str, Vec<Platform>, bool)> {
    use Platform::*;
    vec![
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
    ]
}

/// The tenant's apps: (name, publisher, app type, platforms).
fn app_definitions() -> Vec<(&'static str, &'static str, &'static str, Vec<Platform>)> {
    use Platform::*;
    vec![
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
    ]
}
