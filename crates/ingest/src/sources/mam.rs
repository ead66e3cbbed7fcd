//! App protection (MAM) without enrollment, from `managedAppRegistrations`: the protected apps
//! (`mamApplications`), each app on each user's device (`mamApplicationInstances`), and the day's
//! check-ins (`mamCheckins`).

use crate::map::values::{collection, text, ts, unmatched_many};
use crate::merge::context::Context;
use crate::merge::history::{self, Columns, Entity};
use crate::merge::parts::{Merged, Part, PartEntry};
use crate::read::graph::each;
use crate::read::sources::{source, APPS};
use crate::IngestError;
use crate::IngestSummary;
use crate::Sources;
use foldhash::HashMap;
use std::collections::BTreeMap;
use warehouse::reference;
use warehouse::sql::SqlValue;

/// One app registration: an app on a user's device.
struct Registration {
    entity: Entity,
    app: String,
    user: Option<String>,
    platform: &'static str,
    last_sync: Option<i64>,
    healthy: bool,
}

/// The app registrations of a snapshot.
/// The registry's line ([`crate::sources::PARTS`]): after the apps, which name its apps.
pub(crate) const PART: PartEntry = PartEntry {
    stage: "app protection",
    sources: &[source(
        "managedAppRegistrations",
        "deviceAppManagement/managedAppRegistrations",
        APPS,
    )],
    parse: |sources, _, summary| Ok(Box::new(Registrations::parse(sources, summary)?)),
};

impl Part for Registrations {
    fn apply(&self, context: &mut Context<'_>, merged: &mut Merged<'_>) -> Result<(), IngestError> {
        let name_of = |id: &str| merged.app_names.get(id).cloned().flatten();
        self.merge(context, &name_of, &merged.users.by_id)
    }
}

pub struct Registrations {
    /// `None` when the snapshot lacks the source (the warehouse's rows stay as they are).
    list: Option<Vec<Registration>>,
}

impl Registrations {
    /// Reads `managedAppRegistrations`.
    pub fn parse(sources: &Sources, summary: &mut IngestSummary) -> Result<Self, IngestError> {
        let Some((file, records)) = sources.get("managedAppRegistrations") else {
            return Ok(Self { list: None });
        };
        let mut seen = foldhash::HashSet::default();
        let list = each(file, records, |f| {
            let id = f.unique_id(&mut seen, "registration")?;
            let odata_type = f.odata_type()?.unwrap_or_default();
            let (platform, platform_id) = match odata_type.as_str() {
                "iosManagedAppRegistration" => ("IOS", 3),
                "androidManagedAppRegistration" => ("Android", 4),
                "windowsManagedAppRegistration" => ("Windows", 2),
                other => {
                    summary.count_unknown("mamPlatforms", other);
                    ("Not Available", 0)
                }
            };
            let identifier = f
                .object("appIdentifier")?
                .ok_or_else(|| f.err("appIdentifier", "is required"))?;
            let app = ["bundleId", "packageId", "windowsAppId"]
                .iter()
                .find_map(|field| identifier.string(field).ok().flatten())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    f.err(
                        "appIdentifier",
                        "needs a bundleId, packageId or windowsAppId",
                    )
                })?;
            let user = f.string("userId")?.filter(|u| !u.is_empty());
            let device = match f.string("azureADDeviceId")? {
                Some(d) if !d.is_empty() => Some(d),
                _ => f.string("deviceTag")?,
            };
            let created = f.timestamp("createdDateTime")?;
            Ok(Registration {
                entity: Entity {
                    id,
                    values: vec![
                        ("userId", text(user.clone())),
                        ("mamApplicationId", SqlValue::Text(app.clone())),
                        ("applicationVersion", text(f.string("applicationVersion")?)),
                        ("createdDate", ts(created)),
                        ("platform", SqlValue::Integer(platform_id)),
                        ("platformVersion", text(f.string("platformVersion")?)),
                        ("sdkVersion", text(f.string("managementSdkVersion")?)),
                        ("mamDeviceId", text(device)),
                        ("mamDeviceType", text(f.string("deviceType")?)),
                        ("mamDeviceName", text(f.string("deviceName")?)),
                    ],
                    created,
                },
                app,
                user,
                platform,
                last_sync: f.timestamp("lastSyncDateTime")?,
                healthy: !f
                    .strings("flaggedReasons")?
                    .iter()
                    .any(|r| r == "rootedDevice"),
            })
        })?;
        Ok(Self { list: Some(list) })
    }

    /// Merges apps and instances and writes the day's check-ins; `name_of` names an app by its
    /// bundle or package id, `users` gives the live user key by user id.
    fn merge(
        &self,
        context: &mut Context<'_>,
        name_of: &dyn Fn(&str) -> Option<String>,
        users: &HashMap<String, i64>,
    ) -> Result<(), IngestError> {
        let Some(list) = &self.list else {
            return Ok(());
        };
        let mut apps: BTreeMap<&str, Entity> = BTreeMap::new();
        for r in list {
            apps.entry(r.app.as_str()).or_insert_with(|| Entity {
                id: r.app.clone(),
                values: vec![(
                    "mamApplicationName",
                    SqlValue::Text(name_of(&r.app).unwrap_or_else(|| r.app.clone())),
                )],
                created: None,
            });
        }
        let apps: Vec<Entity> = apps.into_values().collect();
        let app_keys = history::merge(
            context,
            "mamApplications",
            &Columns::soft_deleted("mamApplicationKey", "mamApplicationId", "deletedDateUTC"),
            &apps,
        )?;
        let instances: Vec<Entity> = list.iter().map(|r| r.entity.clone()).collect();
        let instance_keys = history::merge(
            context,
            "mamApplicationInstances",
            &Columns::soft_deleted(
                "applicationInstanceKey",
                "applicationInstanceId",
                "deletedDateUTC",
            ),
            &instances,
        )?;
        let c = collection("mamCheckins");
        let [instance, user, app, health, platform, checked_in] = [
            "applicationInstanceKey",
            "userKey",
            "mamApplicationKey",
            "deviceHealthKey",
            "platformKey",
            "lastCheckInDate",
        ]
        .map(|n| c.property_index(n).expect("mamCheckins property"));
        let day = context.day_micros();
        let checkins = list
            .iter()
            .filter_map(|r| Some((r, r.last_sync.filter(|at| day.contains(at))?)));
        let mut users_unknown = 0;
        context.replace_day_with("mamCheckins", checkins, |(r, at), row| {
            row[instance] = SqlValue::Integer(instance_keys[&r.entity.id]);
            row[user] = match r.user.as_ref().and_then(|u| users.get(u)) {
                Some(k) => SqlValue::Integer(*k),
                None => {
                    users_unknown += 1;
                    SqlValue::Null
                }
            };
            row[app] = SqlValue::Integer(app_keys[&r.app]);
            row[health] = reference::key_value(
                "mamDeviceHealths",
                if r.healthy { "Healthy" } else { "Unhealthy" },
            );
            row[platform] = reference::key_value("mamPlatforms", r.platform);
            row[checked_in] = SqlValue::Timestamp(at);
        })?;
        unmatched_many(
            context.summary,
            "check-ins by users not in users".into(),
            users_unknown,
        );
        Ok(())
    }
}
