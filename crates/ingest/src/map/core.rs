//! The snapshot's core, validated: devices, users and categories (parsed on two threads). The
//! other sources are parts ([`crate::merge::parts`]), parsed while these are merged.

use crate::map::values::{boolean, collection, device_type_key, enum_key, int, ordered, text, ts};
use crate::merge::history;
use crate::read::graph::{each, Content, Fields};
use crate::read::sources::{source, Source, Sources, DEVICES};
use crate::IngestError;
use crate::IngestSummary;
use foldhash::{HashSet, HashSetExt};
use warehouse::compliance;
use warehouse::model::Warehouse;
use warehouse::sql::SqlValue;

/// A device as the warehouse stores it (a `devices` row in property order, its category still a
/// name), with the facts it feeds.
pub struct Device {
    pub(crate) id: String,
    pub(crate) row: Vec<SqlValue>,
    pub(crate) compliance: &'static str,
    pub(crate) physical_memory: Option<i64>,
    pub(crate) jail_broken: Option<String>,
}

impl Device {
    /// The device's value of property `name` of `devices`.
    pub(crate) fn value(&self, name: &str) -> SqlValue {
        self.get(name).clone()
    }

    /// The device's value of property `name` of `devices`, borrowed.
    pub(crate) fn get(&self, name: &str) -> &SqlValue {
        &self.row[collection("devices")
            .property_index(name)
            .expect("devices property")]
    }
}

/// A directory user: an entity of the `users` history.
pub(crate) type User = history::Entity;

/// Devices, users and categories of one snapshot, validated: what every merge of the day builds
/// on. The other sources are parts ([`crate::merge::parts::Part`]).
pub struct Snapshot {
    pub(crate) devices: Vec<Device>,
    pub(crate) users: Vec<User>,
    /// Category names the devices use.
    pub(crate) categories: Vec<String>,
    /// The categories of `deviceCategories.json` (id, name), when the folder has it.
    pub(crate) category_records: Option<Vec<(String, String)>>,
}

/// The sources of devices, users and categories, first of the registry
/// ([`crate::sources::all_sources`]).
pub(crate) const SOURCES: &[Source] = &[
    Source {
        required: true,
        ..source("managedDevices", "deviceManagement/managedDevices", DEVICES)
    },
    Source {
        required: true,
        ..source(
            "users",
            "users?$select=id,displayName,userPrincipalName,mail,assignedLicenses",
            "User.Read.All",
        )
    },
    source(
        "deviceCategories",
        "deviceManagement/deviceCategories",
        DEVICES,
    ),
];

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
            device(f, &mut device_ids, &mut categories, summary)
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

/// Device `f` of `managedDevices` (`device_ids`: the ids so far; `categories`: the category
/// names the devices use so far).
fn device(
    f: &Fields<'_>,
    device_ids: &mut HashSet<String>,
    categories: &mut Vec<String>,
    summary: &mut IngestSummary,
) -> Result<Device, IngestError> {
    let id = f.unique_id(device_ids, "device")?;
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
    let mut values = vec![
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
        ("model", text(model)),
        ("operatingSystem", text(os)),
    ];
    values.extend(device_details(f)?);
    Ok(Device {
        id,
        row: ordered(collection("devices"), &values),
        compliance,
        physical_memory: f.integer("physicalMemoryInBytes")?,
        jail_broken: f.string("jailBroken")?,
    })
}

/// A device's serial number, user, manufacturer, patch level, storage, encryption and network
/// identities, as `devices` properties.
fn device_details(f: &Fields<'_>) -> Result<Vec<(&'static str, SqlValue)>, IngestError> {
    Ok(vec![
        ("serialNumber", text(f.string("serialNumber")?)),
        (
            "userId",
            text(f.string("userId")?.filter(|u| !u.is_empty())),
        ),
        ("manufacturer", text(f.string("manufacturer")?)),
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
    ])
}
