//! The day's `enrollmentActivities`: successful enrollments are the devices of the snapshot
//! enrolled that day; failures are the day's enrollment troubleshooting events. Graph keeps
//! troubleshooting events for weeks, so only those of the snapshot's day count.

use crate::map::core::Device;
use crate::map::values::{device_type_key, enum_key};
use crate::merge::context::Context;
use crate::merge::parts::{Merged, Part, PartEntry};
use crate::read::graph::each;
use crate::read::sources::{source, DEVICES};
use crate::IngestError;
use crate::IngestSummary;
use crate::Sources;
use std::collections::BTreeMap;
use warehouse::reference;
use warehouse::sql::SqlValue;

/// A failed enrollment attempt.
struct Failure {
    at: i64,
    enrollment_type: SqlValue,
    device_type: SqlValue,
    category: SqlValue,
    reason: SqlValue,
    os_version: String,
}

/// A device of the snapshot, as enrollment counts it.
pub struct Enrolled {
    /// When it enrolled.
    pub at: Option<i64>,
    /// Its `deviceEnrollmentTypeKey`.
    pub enrollment_type: SqlValue,
    /// Its `deviceTypeKey`.
    pub device_type: SqlValue,
    /// Its OS version.
    pub os_version: Option<String>,
}

/// The enrollment failures of a snapshot.
/// The registry's line ([`crate::sources::PARTS`]).
pub(crate) const PART: PartEntry = PartEntry {
    stage: "enrollment",
    sources: &[source(
        "troubleshootingEvents",
        "deviceManagement/troubleshootingEvents",
        DEVICES,
    )],
    parse: |sources, _, summary| Ok(Box::new(EnrollmentEvents::parse(sources, summary)?)),
};

impl Part for EnrollmentEvents {
    fn apply(&self, context: &mut Context<'_>, merged: &mut Merged<'_>) -> Result<(), IngestError> {
        let enrolled: Vec<Enrolled> = merged.snapshot.devices.iter().map(enrolled).collect();
        self.merge(context, &enrolled)
    }
}

/// What enrollment needs of a device.
fn enrolled(dev: &Device) -> Enrolled {
    Enrolled {
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
    }
}

pub struct EnrollmentEvents {
    failures: Vec<Failure>,
}

/// The `enrollmentFailureReasons` key of Graph's free-text failure reason: the member of that
/// name, else Unknown (counted).
fn failure_reason(reason: Option<&str>, summary: &mut IngestSummary) -> SqlValue {
    let Some(reason) = reason.filter(|r| !r.is_empty()) else {
        return reference::key_value("enrollmentFailureReasons", "Not Available");
    };
    // Graph's text is free: "UserNotLicensed" or "User not licensed"
    let compact: String = reason
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let names = warehouse::model::Warehouse::get()
        .collection("enrollmentFailureReasons")
        .map(|c| c.reference_rows.as_slice())
        .unwrap_or_default();
    if let Some(k) = names
        .iter()
        .filter_map(|row| row.get("enrollmentFailureReasonName")?.as_str())
        .find(|name| name.to_lowercase() == compact)
        .and_then(|name| reference::key("enrollmentFailureReasons", name))
    {
        return SqlValue::Integer(k);
    }
    summary.count_unknown("enrollmentFailureReasons", reason);
    reference::key_value("enrollmentFailureReasons", "Unknown")
}

impl EnrollmentEvents {
    /// Reads `troubleshootingEvents`.
    pub fn parse(sources: &Sources, summary: &mut IngestSummary) -> Result<Self, IngestError> {
        let Some((file, records)) = sources.get("troubleshootingEvents") else {
            return Ok(Self {
                failures: Vec::new(),
            });
        };
        let failures = each(file, records, |f| {
            let at = f
                .timestamp("eventDateTime")?
                .ok_or_else(|| f.err("eventDateTime", "is required"))?;
            let os = f.string("operatingSystem")?;
            Ok(Failure {
                at,
                enrollment_type: enum_key(
                    "deviceEnrollmentTypes",
                    Some(f.string("enrollmentType")?.as_deref().unwrap_or("unknown")),
                    summary,
                ),
                device_type: device_type_key(os.as_deref(), None, summary),
                category: enum_key(
                    "enrollmentFailureCategories",
                    Some(f.string("failureCategory")?.as_deref().unwrap_or("unknown")),
                    summary,
                ),
                reason: failure_reason(f.string("failureReason")?.as_deref(), summary),
                os_version: f
                    .string("osVersion")?
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| "Unknown".into()),
            })
        })?;
        Ok(Self { failures })
    }

    /// Writes the day's enrollment activity.
    fn merge(&self, context: &mut Context<'_>, devices: &[Enrolled]) -> Result<(), IngestError> {
        type Attempt = (i64, i64, i64, i64, i64, String);
        let mut counts: BTreeMap<Attempt, i64> = BTreeMap::new();
        // keys of the lookup dimensions; a missing value is their Unknown member
        let key = |v: &SqlValue, collection: &str| match v {
            SqlValue::Integer(k) => *k,
            _ => reference::key(collection, "Unknown").unwrap_or_default(),
        };
        let named =
            |collection: &str, name: &str| reference::key(collection, name).unwrap_or_default();
        for d in devices
            .iter()
            .filter(|d| d.at.is_some_and(|at| context.on_day(at)))
        {
            let attempt = (
                key(&d.enrollment_type, "deviceEnrollmentTypes"),
                key(&d.device_type, "deviceTypes"),
                named("enrollmentEventStatuses", "Success"),
                named("enrollmentFailureCategories", "Not Applicable"),
                named("enrollmentFailureReasons", "Not Applicable"),
                d.os_version.clone().unwrap_or_else(|| "Unknown".into()),
            );
            *counts.entry(attempt).or_default() += 1;
        }
        for f in self.failures.iter().filter(|f| context.on_day(f.at)) {
            let attempt = (
                key(&f.enrollment_type, "deviceEnrollmentTypes"),
                key(&f.device_type, "deviceTypes"),
                named("enrollmentEventStatuses", "Failed"),
                key(&f.category, "enrollmentFailureCategories"),
                key(&f.reason, "enrollmentFailureReasons"),
                f.os_version.clone(),
            );
            *counts.entry(attempt).or_default() += 1;
        }
        let facts: Vec<Vec<(&str, SqlValue)>> = counts
            .into_iter()
            .map(|((et, dt, st, cat, reason, os), n)| {
                vec![
                    ("deviceEnrollmentTypeKey", SqlValue::Integer(et)),
                    ("deviceTypeKey", SqlValue::Integer(dt)),
                    ("enrollmentEventStatusKey", SqlValue::Integer(st)),
                    ("enrollmentFailureCategoryKey", SqlValue::Integer(cat)),
                    ("enrollmentFailureReasonKey", SqlValue::Integer(reason)),
                    ("osVersion", SqlValue::Text(os)),
                    ("count", SqlValue::Integer(n)),
                ]
            })
            .collect();
        context.replace_day("enrollmentActivities", &facts)
    }
}
