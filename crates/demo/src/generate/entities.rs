//! The generated entities the days' facts are derived from: users and their history, devices,
//! apps, policies, app protection instances, terms versions.

use super::platform::Platform;

pub(super) const FIRST: &[&str] = &[
    "Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olivia", "Pavel", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wen", "Yusuf", "Zoe",
];
pub(super) const LAST: &[&str] = &[
    "Andersen", "Bauer", "Costa", "Dubois", "Eriksson", "Fischer", "Garcia", "Hansen", "Ito",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weber",
];

pub(super) struct UserVersion {
    pub(super) key: i64,
    pub(super) licensed: bool,
    pub(super) deleted: bool,
    pub(super) modified: i64,
}

pub(super) struct User {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) upn: String,
    pub(super) versions: Vec<UserVersion>,
}

pub(super) struct Device {
    pub(super) key: i64,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) platform: Platform,
    pub(super) manufacturer: &'static str,
    pub(super) model: &'static str,
    pub(super) owner: &'static str,
    pub(super) enrollment_type: &'static str,
    pub(super) category: usize,
    pub(super) user: usize,
    pub(super) enrolled: i64,
    pub(super) enrolled_day: i64,
    pub(super) retired_day: Option<i64>,
    pub(super) os_start: usize,
    pub(super) os_upgrade_day: Option<i64>,
    pub(super) memory: i64,
    pub(super) storage: i64,
    pub(super) serial: String,
}

impl Device {
    pub(super) fn active(&self, day: i64) -> bool {
        self.enrolled_day <= day && self.retired_day.is_none_or(|r| day < r)
    }
}

/// An app: its revisions as (appKey, first day live) and the platforms it targets.
pub(super) struct App {
    pub(super) revisions: Vec<(i64, i64)>,
    pub(super) platforms: Vec<Platform>,
}

pub(super) struct PolicyVersion {
    pub(super) key: i64,
    pub(super) from_day: i64,
}

pub(super) struct Policy {
    pub(super) policy_type: &'static str,
    pub(super) platforms: Vec<Platform>,
    pub(super) compliance: bool,
    pub(super) versions: Vec<PolicyVersion>,
}

impl Policy {
    pub(super) fn key_on(&self, day: i64) -> i64 {
        self.versions
            .iter()
            .rev()
            .find(|v| v.from_day <= day)
            .unwrap_or(&self.versions[0])
            .key
    }
}

/// An app protection instance: an app on a user's device.
pub(super) struct MamInstance {
    /// Its `applicationInstanceKey`.
    pub(super) key: i64,
    /// The user (index into the users).
    pub(super) user: usize,
    /// The app (index into the protected apps).
    pub(super) app: usize,
    /// The device's platform.
    pub(super) platform: Platform,
}

/// The terms and conditions document's two versions and the day it was revised.
#[derive(Clone, Copy)]
pub(super) struct TermsVersions {
    /// The key of version 1.
    pub(super) first: i64,
    /// The key of version 2.
    pub(super) second: i64,
    /// The day (from the first day of the history) version 2 replaced version 1.
    pub(super) revised: i64,
}

/// The tenant's dimensions that every day's facts refer to.
pub(super) struct Dimensions {
    pub(super) users: Vec<User>,
    pub(super) devices: Vec<Device>,
    pub(super) policies: Vec<Policy>,
    pub(super) apps: Vec<App>,
    pub(super) mam: Vec<MamInstance>,
    pub(super) terms: TermsVersions,
}
