//! Daily per-device facts beside the device properties: the health and version of the Intune
//! management extension on Windows devices (`intuneManagementExtensions`, from the Windows
//! management app's health states) and the software found on each device
//! (`applicationInventories`, beta, from `detectedApps` with their devices expanded).

use crate::map::core::Snapshot;
use crate::map::values::{collection, int, ordered, unmatched};
use crate::merge::context::{rows, written, Context};
use crate::merge::parts::{Merged, Part, PartEntry};
use crate::read::graph::each;
use crate::read::record::Field;
use crate::read::sources::{source, Source, APPS, DEVICES};
use crate::IngestError;
use crate::IngestSummary;
use crate::Sources;
use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;
use warehouse::reference;
use warehouse::sql::SqlValue;

/// The management extension on one device.
struct Extension {
    /// The device's id, when the record's id is one.
    id: String,
    device_name: Option<String>,
    version: Option<String>,
    state: &'static str,
}

/// One app found on devices.
struct DetectedApp {
    name: String,
    version: String,
    size: Option<i64>,
    devices: Vec<String>,
}

/// The per-device daily sources of a snapshot (each `None` when the folder lacks it).
/// The registry's line ([`crate::sources::PARTS`]).
pub(crate) const PART: PartEntry = PartEntry {
    stage: "device daily facts",
    sources: &[
        Source {
            beta: true,
            ..source(
                "windowsManagementAppHealthStates",
                "deviceAppManagement/windowsManagementApp/healthStates",
                APPS,
            )
        },
        source(
            "detectedApps",
            "deviceManagement/detectedApps?$expand=managedDevices",
            DEVICES,
        ),
    ],
    parse: |sources, _, summary| Ok(Box::new(DeviceDaily::parse(sources, summary)?)),
};

impl Part for DeviceDaily {
    fn apply(&self, context: &mut Context<'_>, merged: &mut Merged<'_>) -> Result<(), IngestError> {
        let devices = DeviceIndex {
            by_id: &merged.device_keys,
            by_name: unique_names(merged.snapshot),
        };
        self.merge(context, &devices)
    }
}

/// Device id by device name, for the names only one device of the snapshot has.
fn unique_names(snap: &Snapshot) -> HashMap<&str, &str> {
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
    named
        .into_iter()
        .filter_map(|(name, id)| Some((name, id?)))
        .collect()
}

pub struct DeviceDaily {
    extensions: Option<Vec<Extension>>,
    detected: Option<Vec<DetectedApp>>,
}

/// How the snapshot's devices are found: by id, and by name when the name is unique.
pub struct DeviceIndex<'a> {
    /// Device key by device id.
    pub by_id: &'a HashMap<String, i64>,
    /// Device id by device name, for names only one device has.
    pub by_name: HashMap<&'a str, &'a str>,
}

impl DeviceIndex<'_> {
    fn key(&self, id: &str, name: Option<&str>) -> Option<i64> {
        self.by_id.get(id).copied().or_else(|| {
            let id = self.by_name.get(name?)?;
            self.by_id.get(*id).copied()
        })
    }
}

impl DeviceDaily {
    /// Reads `windowsManagementAppHealthStates` and `detectedApps`.
    pub fn parse(sources: &Sources, summary: &mut IngestSummary) -> Result<Self, IngestError> {
        let extensions = match sources.get("windowsManagementAppHealthStates") {
            Some((file, records)) => Some(each(file, records, |f| {
                let state = match f.string("healthState")?.as_deref() {
                    Some("healthy") => "Healthy",
                    Some("unhealthy") => "Unhealthy",
                    Some("unknown") | None => "Not Available",
                    Some(other) => {
                        summary.count_unknown("intuneManagementExtensionHealthStates", other);
                        "Not Available"
                    }
                };
                let version = f.string("installedVersion")?.filter(|v| !v.is_empty());
                Ok(Extension {
                    id: f.id("id")?,
                    device_name: f.string("deviceName")?,
                    state: if version.is_none() && state == "Not Available" {
                        "Not Installed"
                    } else {
                        state
                    },
                    version,
                })
            })?),
            None => None,
        };
        let detected = match sources.get("detectedApps") {
            Some((file, records)) => Some(each(file, records, |f| {
                let devices = match f.value("managedDevices") {
                    None | Some(Field::Null) => Vec::new(),
                    Some(Field::Array(items)) => items
                        .iter()
                        .map(|d| match d {
                            Field::Object(device) => match device.get("id") {
                                Some(Field::String(id)) => Ok(id.to_string()),
                                _ => Err(f.err("managedDevices", "each device needs an id")),
                            },
                            _ => Err(f.err("managedDevices", "each device needs an id")),
                        })
                        .collect::<Result<_, _>>()?,
                    Some(other) => {
                        return Err(
                            f.err("managedDevices", format!("must be an array, not {other}"))
                        )
                    }
                };
                Ok(DetectedApp {
                    name: f.id("displayName")?,
                    version: f.string("version")?.unwrap_or_default(),
                    size: f.integer("sizeInByte")?,
                    devices,
                })
            })?),
            None => None,
        };
        Ok(Self {
            extensions,
            detected,
        })
    }

    /// Writes the day's facts of the sources the snapshot has.
    fn merge(
        &self,
        context: &mut Context<'_>,
        devices: &DeviceIndex<'_>,
    ) -> Result<(), IngestError> {
        if let Some(extensions) = &self.extensions {
            let versions = version_keys(context, extensions)?;
            // (device, version, state), one per device
            let mut facts = Vec::with_capacity(extensions.len());
            for e in extensions {
                let Some(device) = devices.key(&e.id, e.device_name.as_deref()) else {
                    unmatched(
                        context.summary,
                        "management extension states of devices not in managedDevices".into(),
                    );
                    continue;
                };
                let version = e.version.as_deref().unwrap_or("0.0.0.0");
                let state = reference::key_value("intuneManagementExtensionHealthStates", e.state);
                facts.push((device, versions[version], state));
            }
            facts.sort_by_key(|f| f.0);
            facts.dedup_by_key(|f| f.0);
            let c = collection("intuneManagementExtensions");
            let [tenant, device, version, state] = [
                "tenantKey",
                "deviceKey",
                "extensionVersionKey",
                "extensionStateKey",
            ]
            .map(|n| {
                c.property_index(n)
                    .expect("intuneManagementExtensions property")
            });
            context.replace_day_with("intuneManagementExtensions", facts, |f, row| {
                // every tenant sees itself as the one tenant of its warehouse, as the generated
                // demo tenant does
                row[tenant] = SqlValue::Integer(1);
                row[device] = SqlValue::Integer(f.0);
                row[version] = SqlValue::Integer(f.1);
                row[state] = f.2;
            })?;
        }
        if let Some(detected) = &self.detected {
            let mut found: BTreeMap<(i64, &str, &str), Option<i64>> = BTreeMap::new();
            for app in detected {
                for id in &app.devices {
                    match devices.by_id.get(id) {
                        Some(k) => {
                            found.insert((*k, &app.name, &app.version), app.size);
                        }
                        None => unmatched(
                            context.summary,
                            "detected apps on devices not in managedDevices".into(),
                        ),
                    }
                }
            }
            let c = collection("applicationInventories");
            let [device, name, version, size] = [
                "deviceKey",
                "applicationName",
                "applicationVersion",
                "bundleSize",
            ]
            .map(|n| {
                c.property_index(n)
                    .expect("applicationInventories property")
            });
            context.replace_day_with("applicationInventories", found, |fact, row| {
                let ((device_key, app, app_version), bundle) = fact;
                row[device] = SqlValue::Integer(device_key);
                row[name] = SqlValue::Text(app.to_string());
                row[version] = SqlValue::Text(app_version.to_string());
                row[size] = int(bundle);
            })?;
        }
        Ok(())
    }
}

/// The key of every extension version the snapshot names (`0.0.0.0` when none is installed),
/// adding the versions the warehouse has not seen.
fn version_keys(
    context: &mut Context<'_>,
    extensions: &[Extension],
) -> Result<HashMap<String, i64>, IngestError> {
    let c = collection("intuneManagementExtensionVersions");
    let mut keys: HashMap<String, i64> = HashMap::new();
    for r in rows(context.tx, context.dialect, context.tenant, c)? {
        if let (SqlValue::Integer(k), SqlValue::Text(v)) = (&r[0], &r[1]) {
            keys.insert(v.clone(), *k);
        }
    }
    let mut next = keys.values().max().copied().unwrap_or(0) + 1;
    for e in extensions {
        let version = e.version.as_deref().unwrap_or("0.0.0.0");
        if keys.contains_key(version) {
            continue;
        }
        context.tx.insert(
            "intuneManagementExtensionVersions",
            &ordered(
                c,
                &[
                    ("extensionVersionKey", SqlValue::Integer(next)),
                    ("extensionVersion", SqlValue::Text(version.to_string())),
                ],
            ),
        )?;
        written(context.summary, "intuneManagementExtensionVersions", 1);
        keys.insert(version.to_string(), next);
        next += 1;
    }
    Ok(keys)
}
