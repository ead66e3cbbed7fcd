//! Apps: the `appRevisions` dimension (a new revision whenever an app changes) and the day's
//! `mobileAppInstallStatusCounts` from each app's per-device install statuses.

use crate::map::values::{enum_key, int, text, ts, unmatched};
use crate::merge::context::Context;
use crate::merge::history::{self, Columns, Entity};
use crate::merge::parts::{Merged, Part, PartEntry};
use crate::read::graph::each;
use crate::read::sources::{children_of, source, Source, APPS};
use crate::IngestError;
use crate::IngestSummary;
use crate::Sources;
use foldhash::HashMap;
use std::collections::BTreeMap;
use warehouse::reference;
use warehouse::sql::SqlValue;

/// The `appTypes` name of a Graph app type.
fn app_type(odata_type: &str) -> Option<&'static str> {
    Some(match odata_type {
        "androidStoreApp" => "Android store app",
        "androidLobApp" => "Android LOB app",
        "managedAndroidStoreApp" => "Managed Android store app (MAM)",
        "iosStoreApp" | "iosVppApp" => "iOS store app",
        "iosLobApp" => "iOS LOB app",
        "managedIOSStoreApp" => "Managed iOS store app (MAM)",
        "officeSuiteApp" => "Microsoft 365 Apps for enterprise",
        "webApp" => "Web app",
        "windowsPhone81StoreApp" => "Windows Phone 8.1 store app",
        "windowsStoreApp" | "microsoftStoreForBusinessApp" | "winGetApp" => "Windows store app",
        "windowsUniversalAppX" | "win32LobApp" | "windowsAppX" => "Windows LOB app",
        "windowsMobileMSI" => "Windows Mobile MSI",
        "windowsPhoneXAP" => "Windows Phone LOB app",
        _ => return None,
    })
}

/// The `vppProgramTypes` name of a Graph app type.
fn vpp_program(odata_type: &str) -> &'static str {
    match odata_type {
        "iosVppApp" => "Apple",
        "microsoftStoreForBusinessApp" => "Microsoft",
        _ => "Not Yet Available",
    }
}

/// One device's install state of an app.
struct InstallStatus {
    device: Option<String>,
    state: SqlValue,
    error_code: i64,
}

/// An app of the snapshot.
struct App {
    entity: Entity,
    /// Bundle or package id of the app, for naming MAM apps.
    identifier: Option<String>,
    installs: Vec<InstallStatus>,
}

/// The registry's line ([`crate::sources::PARTS`]).
pub(crate) const PART: PartEntry = PartEntry {
    stage: "apps",
    sources: &[Source {
        beta_children: &["deviceStatuses"],
        ..source("mobileApps", "deviceAppManagement/mobileApps", APPS)
    }],
    parse: |sources, _, summary| Ok(Box::new(Apps::parse(sources, summary)?)),
};

impl Part for Apps {
    /// Merges the apps (install counts by each device's type) and leaves their names for app
    /// protection.
    fn apply(&self, context: &mut Context<'_>, merged: &mut Merged<'_>) -> Result<(), IngestError> {
        let Some(list) = &self.list else {
            return Ok(());
        };
        let device_types: HashMap<String, SqlValue> = merged
            .snapshot
            .devices
            .iter()
            .map(|dev| (dev.id.clone(), dev.value("deviceTypeKey")))
            .collect();
        merge(context, list, &device_types)?;
        merged.app_names = names(list);
        Ok(())
    }
}

/// The apps of a snapshot.
pub struct Apps {
    /// `None` when the snapshot lacks the source (the warehouse's rows stay as they are).
    list: Option<Vec<App>>,
}

impl Apps {
    /// Reads `mobileApps` and each app's `deviceStatuses`.
    pub fn parse(sources: &Sources, summary: &mut IngestSummary) -> Result<Self, IngestError> {
        let Some((file, records)) = sources.get("mobileApps") else {
            return Ok(Self { list: None });
        };
        let mut seen = foldhash::HashSet::default();
        let mut list = each(file, records, |f| {
            let id = f.unique_id(&mut seen, "app")?;
            let odata_type = f.odata_type()?.unwrap_or_default();
            let app_type = match app_type(&odata_type) {
                Some(n) => reference::key_value("appTypes", n),
                None => {
                    summary.count_unknown("appTypes", &odata_type);
                    SqlValue::Null
                }
            };
            let created = f.timestamp("createdDateTime")?;
            Ok(App {
                entity: Entity {
                    id,
                    values: vec![
                        ("title", text(f.string("displayName")?)),
                        ("publisher", text(f.string("publisher")?)),
                        ("uploadState", int(f.integer("uploadState")?)),
                        ("appTypeKey", app_type),
                        (
                            "vppProgramTypeKey",
                            reference::key_value("vppProgramTypes", vpp_program(&odata_type)),
                        ),
                        ("creationTime", ts(created)),
                        ("modifiedTime", ts(f.timestamp("lastModifiedDateTime")?)),
                        ("size", int(f.integer("size")?)),
                    ],
                    created,
                },
                identifier: match f.string("bundleId")? {
                    Some(b) => Some(b),
                    None => f.string("packageId")?,
                },
                installs: Vec::new(),
            })
        })?;
        let children = children_of(
            sources,
            ("mobileApps", "deviceStatuses"),
            &list,
            |a| &a.entity.id,
            "app",
        )?;
        for (i, file, records) in children {
            list[i].installs = each(file, records, |f| {
                let state = match f.string("installState")? {
                    Some(s) => Some(s),
                    None => f.string("mobileAppInstallStatusValue")?,
                };
                Ok(InstallStatus {
                    device: f.string("deviceId")?,
                    state: enum_key(
                        "mobileAppInstallStates",
                        Some(state.as_deref().unwrap_or("unknown")),
                        summary,
                    ),
                    error_code: f.integer("errorCode")?.unwrap_or(0),
                })
            })?;
        }
        Ok(Self { list: Some(list) })
    }
}

/// The display name of the first app with each bundle or package id (MAM apps are named
/// by it), if that app has one.
fn names(list: &[App]) -> HashMap<String, Option<String>> {
    let mut names = HashMap::default();
    for app in list {
        if let Some(identifier) = &app.identifier {
            names
                .entry(identifier.clone())
                .or_insert_with(|| match app.entity.values.first() {
                    Some((_, SqlValue::Text(title))) => Some(title.clone()),
                    _ => None,
                });
        }
    }
    names
}

/// Merges the apps `list` and writes the day's install counts; `device_types` gives the device
/// type key of each device of the snapshot.
fn merge(
    context: &mut Context<'_>,
    list: &[App],
    device_types: &HashMap<String, SqlValue>,
) -> Result<(), IngestError> {
    let entities: Vec<Entity> = list.iter().map(|a| a.entity.clone()).collect();
    let keys = history::merge(
        context,
        "appRevisions",
        // no isDeleted: an app's revisions end with isCurrent false
        &Columns {
            deleted: None,
            current: Some("isCurrent"),
            revision: Some("revision"),
            ..Columns::soft_deleted("appKey", "applicationId", "endDateExclusiveUTC")
        },
        &entities,
    )?;
    let unknown_type = reference::key_value("deviceTypes", "Unknown");
    let mut counts: BTreeMap<(i64, i64, i64, i64), i64> = BTreeMap::new();
    for app in list {
        let app_key = keys[&app.entity.id];
        for s in &app.installs {
            let device_type = match s.device.as_ref().and_then(|d| device_types.get(d)) {
                Some(t) => t.clone(),
                None => {
                    unmatched(
                        context.summary,
                        "install statuses of devices not in managedDevices".into(),
                    );
                    unknown_type.clone()
                }
            };
            let (SqlValue::Integer(dt), SqlValue::Integer(state)) = (device_type, &s.state) else {
                continue;
            };
            *counts
                .entry((app_key, dt, *state, s.error_code))
                .or_default() += 1;
        }
    }
    let facts: Vec<Vec<(&str, SqlValue)>> = counts
        .into_iter()
        .map(|((app, dt, state, error), n)| {
            vec![
                ("appKey", SqlValue::Integer(app)),
                ("deviceTypeKey", SqlValue::Integer(dt)),
                ("appInstallStateKey", SqlValue::Integer(state)),
                ("errorCode", SqlValue::Integer(error)),
                ("count", SqlValue::Integer(n)),
            ]
        })
        .collect();
    context.replace_day("mobileAppInstallStatusCounts", &facts)
}
