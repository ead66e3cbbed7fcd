//! Compliance policies and configuration profiles: the `policies` dimension (a new row for each
//! version) and the day's policy facts, from each policy's per-device and per-user statuses (or,
//! for configuration profiles, their status overviews).

use crate::map::values::{int, text};
use crate::merge::context::Context;
use crate::merge::history::{self, Columns, Entity};
use crate::merge::parts::{Merged, Part, PartEntry};
use crate::read::graph::{each, Content, Fields};
use crate::read::sources::{children_of, source, Source, CONFIGURATION};
use crate::IngestError;
use crate::IngestSummary;
use crate::Sources;
use foldhash::{HashSet, HashSetExt};
use std::collections::BTreeMap;
use warehouse::calendar::{midnight_micros, DAY_MICROS};
use warehouse::compliance;
use warehouse::reference;
use warehouse::sql::SqlValue;

/// Deployment states of the activity facts, from best to worst (a device or user with several
/// policies counts in its worst state).
const DEPLOYMENT_STATES: [&str; 4] = ["succeeded", "pending", "failed", "error"];

/// One device's status under a policy.
struct DeviceStatus {
    /// The device (its `deviceId`, else the status id).
    device: String,
    /// Index in [`DEPLOYMENT_STATES`]; `None` when the policy does not apply.
    state: Option<usize>,
    /// Index in [`compliance::BUCKETS`]; `None` when not assigned.
    bucket: Option<usize>,
}

/// One user's status under a policy.
struct UserStatus {
    user: String,
    state: Option<usize>,
}

/// A policy of the snapshot with its statuses.
struct Policy {
    entity: Entity,
    compliance: bool,
    policy_type: SqlValue,
    platform: SqlValue,
    devices: Option<Vec<DeviceStatus>>,
    users: Option<Vec<UserStatus>>,
    device_overview: Option<[i64; 4]>,
    user_overview: Option<[i64; 4]>,
}

/// The policies of a snapshot.
/// The registry's line ([`crate::sources::PARTS`]).
pub(crate) const PART: PartEntry = PartEntry {
    stage: "policies",
    sources: &[
        Source {
            children: &["deviceStatuses", "userStatuses"],
            ..source(
                "deviceCompliancePolicies",
                "deviceManagement/deviceCompliancePolicies",
                CONFIGURATION,
            )
        },
        Source {
            children: &[
                "deviceStatuses",
                "userStatuses",
                "deviceStatusOverview",
                "userStatusOverview",
            ],
            ..source(
                "deviceConfigurations",
                "deviceManagement/deviceConfigurations",
                CONFIGURATION,
            )
        },
    ],
    parse: |sources, day, summary| {
        let snapshot_end = midnight_micros(day) + DAY_MICROS;
        Ok(Box::new(Policies::parse(sources, snapshot_end, summary)?))
    },
};

impl Part for Policies {
    fn apply(&self, context: &mut Context<'_>, _: &mut Merged<'_>) -> Result<(), IngestError> {
        self.merge(context)
    }
}

pub struct Policies {
    list: Vec<Policy>,
    /// Whether the snapshot has any policy source (else the warehouse's policies stay as they are).
    present: bool,
    /// Whether it has both, so that a policy missing from them has been deleted (the dimension
    /// does not tell compliance policies from configuration profiles).
    complete: bool,
}

/// Maps a Graph `complianceStatus` to a deployment state.
fn deployment_state(status: &str, summary: &mut IngestSummary) -> Option<usize> {
    match status {
        "compliant" | "remediated" => Some(0),
        "unknown" => Some(1),
        "nonCompliant" | "inGracePeriod" => Some(2),
        "error" | "conflict" => Some(3),
        "notApplicable" | "notAssigned" => None,
        other => {
            summary.count_unknown("complianceStatus", other);
            Some(1)
        }
    }
}

/// The `policyTypes` name of a Graph policy type (`windows10CompliancePolicy`, ...).
fn policy_type(odata_type: &str, compliance: bool) -> Option<&'static str> {
    let family = if odata_type.starts_with("windows") {
        "Windows 10"
    } else if odata_type.starts_with("ios") {
        "iOS"
    } else if odata_type.starts_with("macOS") {
        "macOS"
    } else if odata_type.starts_with("android") || odata_type.starts_with("aosp") {
        "Android"
    } else {
        return None;
    };
    Some(match (family, compliance) {
        ("Windows 10", true) => "Windows 10 Compliance Policy",
        ("Windows 10", false) => "Windows 10 Configuration Profile",
        ("iOS", true) => "iOS Compliance Policy",
        ("iOS", false) => "iOS Configuration Profile",
        ("macOS", true) => "macOS Compliance Policy",
        ("macOS", false) => "macOS Configuration Profile",
        (_, true) => "Android Compliance Policy",
        (_, false) => "Android Configuration Profile",
    })
}

/// The `policyPlatformTypes` name of a Graph policy type.
fn platform(odata_type: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("windows10", "Windows10"),
        ("windows81", "Windows81"),
        ("windowsPhone81", "WindowsPhone81"),
        ("ios", "IOS"),
        ("macOS", "MacOS"),
        ("androidWorkProfile", "AndroidForWork"),
        ("androidForWork", "AndroidForWork"),
        ("androidDeviceOwner", "AndroidEnterprise"),
        ("aosp", "AndroidEnterprise"),
        ("android", "Android"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| odata_type.starts_with(p))
        .map_or("Unknown", |(_, name)| name)
}

/// Counts statuses (device or user, state) by deployment state; for a configuration profile, also
/// keeps each device's or user's worst state across profiles in `worst`.
fn tally<'a>(
    statuses: impl Iterator<Item = (&'a str, Option<usize>)>,
    profile: bool,
    worst: &mut BTreeMap<&'a str, usize>,
) -> [i64; 4] {
    let mut counts = [0i64; 4];
    for (who, state) in statuses {
        let Some(state) = state else { continue };
        counts[state] += 1;
        if profile {
            let w = worst.entry(who).or_insert(0);
            *w = (*w).max(state);
        }
    }
    counts
}

/// Reads an overview's counts as deployment states.
fn overview(f: &Fields<'_>) -> Result<[i64; 4], IngestError> {
    let n = |field: &str| -> Result<i64, IngestError> { Ok(f.integer(field)?.unwrap_or(0)) };
    Ok([
        n("successCount")?,
        n("pendingCount")?,
        n("failedCount")?,
        n("errorCount")? + n("conflictCount")?,
    ])
}

/// The single record of an overview file.
fn single_overview(file: &str, content: &Content) -> Result<[i64; 4], IngestError> {
    let overviews = each(file, content, |f| Ok(overview(f)))?;
    match overviews.as_slice() {
        [one] => one.clone(),
        _ => Err(IngestError::file(
            file,
            format!("must hold one overview, not {} records", overviews.len()),
        )),
    }
}

impl Policies {
    /// Reads `deviceCompliancePolicies`, `deviceConfigurations` and their per-policy statuses.
    pub fn parse(
        sources: &Sources,
        snapshot_end: i64,
        summary: &mut IngestSummary,
    ) -> Result<Self, IngestError> {
        let mut policies: Vec<Policy> = Vec::new();
        let mut seen = HashSet::new();
        for (collection, compliance) in [
            ("deviceCompliancePolicies", true),
            ("deviceConfigurations", false),
        ] {
            let Some((file, records)) = sources.get(collection) else {
                continue;
            };
            let parsed = each(file, records, |f| {
                let id = f.unique_id(&mut seen, "policy")?;
                let odata_type = f.odata_type()?.unwrap_or_default();
                let type_name = policy_type(&odata_type, compliance);
                let policy_type = match type_name {
                    Some(n) => reference::key_value("policyTypes", n),
                    None => {
                        summary.count_unknown("policyTypes", &odata_type);
                        SqlValue::Null
                    }
                };
                Ok(Policy {
                    entity: Entity {
                        id,
                        values: vec![
                            ("policyName", text(f.string("displayName")?)),
                            ("policyVersion", int(f.integer("version")?)),
                        ],
                        created: f.timestamp("createdDateTime")?,
                    },
                    compliance,
                    policy_type,
                    platform: reference::key_value("policyPlatformTypes", platform(&odata_type)),
                    devices: None,
                    users: None,
                    device_overview: None,
                    user_overview: None,
                })
            })?;
            let first = policies.len();
            policies.extend(parsed);
            let children = |child| {
                children_of(
                    sources,
                    (collection, child),
                    &policies[first..],
                    |p| &p.entity.id,
                    "policy",
                )
            };
            let device_statuses = children("deviceStatuses")?;
            let user_statuses = children("userStatuses")?;
            let device_overviews = children("deviceStatusOverview")?;
            let user_overviews = children("userStatusOverview")?;
            for (i, file, records) in device_statuses {
                let statuses = each(file, records, |f| {
                    let status = f.id("status")?;
                    let grace = f.timestamp("complianceGracePeriodExpirationDateTime")?;
                    Ok(DeviceStatus {
                        device: match f.string("deviceId")? {
                            Some(d) if !d.is_empty() => d,
                            _ => f.id("id")?,
                        },
                        state: deployment_state(&status, summary),
                        bucket: compliance::bucket_of_graph_status(
                            &status,
                            grace.is_some_and(|g| g >= snapshot_end),
                        )
                        .and_then(compliance::bucket_index),
                    })
                })?;
                policies[first + i].devices = Some(statuses);
            }
            for (i, file, records) in user_statuses {
                let statuses = each(file, records, |f| {
                    let status = f.id("status")?;
                    Ok(UserStatus {
                        user: match f.string("userPrincipalName")? {
                            Some(u) if !u.is_empty() => u,
                            _ => f.id("id")?,
                        },
                        state: deployment_state(&status, summary),
                    })
                })?;
                policies[first + i].users = Some(statuses);
            }
            for (i, file, records) in device_overviews {
                policies[first + i].device_overview = Some(single_overview(file, records)?);
            }
            for (i, file, records) in user_overviews {
                policies[first + i].user_overview = Some(single_overview(file, records)?);
            }
        }
        let (compliance, configuration) = (
            sources.get("deviceCompliancePolicies").is_some(),
            sources.get("deviceConfigurations").is_some(),
        );
        Ok(Self {
            list: policies,
            present: compliance || configuration,
            complete: compliance && configuration,
        })
    }

    /// Merges the policies and writes the day's policy facts. Without any policy source in the
    /// snapshot, the dimension and facts are left as they are.
    fn merge(&self, context: &mut Context<'_>) -> Result<(), IngestError> {
        if !self.present {
            return Ok(());
        }
        let entities: Vec<Entity> = self.list.iter().map(|p| p.entity.clone()).collect();
        let merge = if self.complete {
            history::merge
        } else {
            history::merge_some
        };
        let keys = merge(
            context,
            "policies",
            &Columns::soft_deleted("policyKey", "policyId", "deletedDateUTC"),
            &entities,
        )?;
        let states = |counts: &[i64; 4]| -> Vec<(&'static str, SqlValue)> {
            DEPLOYMENT_STATES
                .iter()
                .zip(counts)
                .map(|(s, n)| (*s, SqlValue::Integer(*n)))
                .collect()
        };
        let mut device_facts = Vec::new();
        let mut type_facts = Vec::new();
        let mut user_facts = Vec::new();
        let mut per_platform = Vec::new();
        let mut device_worst: BTreeMap<&str, usize> = BTreeMap::new();
        let mut user_worst: BTreeMap<&str, usize> = BTreeMap::new();
        let mut profile_devices = false;
        let mut profile_users = false;
        for p in &self.list {
            let key = SqlValue::Integer(keys[&p.entity.id]);
            let device_counts = match (&p.devices, p.device_overview) {
                (Some(statuses), _) => {
                    profile_devices |= !p.compliance;
                    let who = statuses.iter().map(|s| (s.device.as_str(), s.state));
                    Some(tally(who, !p.compliance, &mut device_worst))
                }
                (None, overview) => overview,
            };
            if let Some(c) = device_counts {
                let mut row = vec![
                    ("policyKey", key.clone()),
                    ("policyTypeKey", p.policy_type.clone()),
                ];
                row.extend(states(&c));
                if !p.policy_type.is_null() {
                    type_facts.push(row.clone());
                }
                device_facts.push(row);
            }
            let user_counts = match (&p.users, p.user_overview) {
                (Some(statuses), _) => {
                    profile_users |= !p.compliance;
                    let who = statuses.iter().map(|s| (s.user.as_str(), s.state));
                    Some(tally(who, !p.compliance, &mut user_worst))
                }
                (None, overview) => overview,
            };
            if let Some(c) = user_counts {
                let mut row = vec![
                    ("policyKey", key.clone()),
                    ("policyTypeKey", p.policy_type.clone()),
                ];
                row.extend(states(&c));
                user_facts.push(row);
            }
            if let (true, Some(statuses)) = (p.compliance, &p.devices) {
                let mut c = [0i64; 6];
                for b in statuses.iter().filter_map(|s| s.bucket) {
                    c[b] += 1;
                }
                let mut row = vec![
                    ("policyKey", key.clone()),
                    ("policyPlatformKey", p.platform.clone()),
                ];
                row.extend(
                    compliance::BUCKETS
                        .iter()
                        .zip(c)
                        .map(|(b, n)| (*b, SqlValue::Integer(n))),
                );
                per_platform.push(row);
            }
        }
        let worst = |m: &BTreeMap<&str, usize>| {
            let mut c = [0i64; 4];
            for w in m.values() {
                c[*w] += 1;
            }
            vec![states(&c)]
        };
        context.replace_day("policyDeviceActivities", &device_facts)?;
        context.replace_day("policyTypeActivities", &type_facts)?;
        context.replace_day("policyUserActivities", &user_facts)?;
        context.replace_day(
            "compliancePolicyStatusDevicePerPolicyActivities",
            &per_platform,
        )?;
        let profile_device_rows = if profile_devices {
            worst(&device_worst)
        } else {
            Vec::new()
        };
        context.replace_day(
            "deviceConfigurationProfileDeviceActivities",
            &profile_device_rows,
        )?;
        let profile_user_rows = if profile_users {
            worst(&user_worst)
        } else {
            Vec::new()
        };
        context.replace_day(
            "deviceConfigurationProfileUserActivities",
            &profile_user_rows,
        )?;
        Ok(())
    }
}
