//! The files a Graph snapshot folder holds, found and checked: required and optional sources,
//! per-entity files.

use crate::error::IngestError;
use crate::graph::Content;
use std::collections::BTreeMap;
use std::path::Path;

/// The collections a Graph snapshot folder holds at its top level (`NAME.json` or `NAME.ndjson`),
/// and whether each is required.
pub(crate) const SOURCES: &[(&str, bool)] = &[
    ("managedDevices", true),
    ("users", true),
    ("deviceCategories", false),
    ("deviceCompliancePolicies", false),
    ("deviceConfigurations", false),
    ("mobileApps", false),
    ("termsAndConditions", false),
    ("troubleshootingEvents", false),
    ("managedAppRegistrations", false),
    ("windowsManagementAppHealthStates", false),
    ("detectedApps", false),
];

/// What each entity of a collection may have in its own folder (`COLLECTION/ID/NAME.json`), as
/// Graph serves it under `COLLECTION/ID/NAME`.
pub(crate) const ENTITY_SOURCES: &[(&str, &[&str])] = &[
    (
        "deviceCompliancePolicies",
        &["deviceStatuses", "userStatuses"],
    ),
    (
        "deviceConfigurations",
        &[
            "deviceStatuses",
            "userStatuses",
            "deviceStatusOverview",
            "userStatusOverview",
        ],
    ),
    ("mobileApps", &["deviceStatuses"]),
    ("termsAndConditions", &["acceptanceStatuses"]),
];

/// The records of a snapshot, by source: `managedDevices`, or `COLLECTION/ID/NAME` for what
/// belongs to one entity.
#[derive(Default)]
pub struct Sources {
    by_name: BTreeMap<String, (String, Content)>,
}

impl Sources {
    pub(crate) fn add(&mut self, name: &str, file: String, content: Content) {
        self.by_name.insert(name.to_string(), (file, content));
    }

    /// The file and records of a top-level source, if the snapshot has it.
    pub fn get(&self, name: &str) -> Option<(&str, &Content)> {
        self.by_name.get(name).map(|(f, c)| (f.as_str(), c))
    }

    /// The `child` source of every entity of `collection`: (entity id, file, records).
    pub fn per_entity<'a>(
        &'a self,
        collection: &'a str,
        child: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a Content)> + 'a {
        self.by_name
            .iter()
            .filter_map(move |(name, (file, content))| {
                let rest = name.strip_prefix(collection)?.strip_prefix('/')?;
                let id = rest.strip_suffix(child)?.strip_suffix('/')?;
                Some((id, file.as_str(), content))
            })
    }
}

/// The entries of `dir`: (name, path, is a directory), sorted by name.
pub(crate) fn entries(dir: &Path) -> Result<Vec<(String, std::path::PathBuf, bool)>, IngestError> {
    let read =
        std::fs::read_dir(dir).map_err(|e| IngestError::run(format!("{}: {e}", dir.display())))?;
    let mut out = read
        .map(|e| {
            let e = e.map_err(|e| IngestError::run(e.to_string()))?;
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            Ok((
                e.file_name().to_string_lossy().into_owned(),
                e.path(),
                is_dir,
            ))
        })
        .collect::<Result<Vec<_>, IngestError>>()?;
    out.sort();
    Ok(out)
}

/// `name` without its `.json` or `.ndjson` extension.
pub(crate) fn stem(name: &str) -> Option<&str> {
    name.strip_suffix(".json")
        .or_else(|| name.strip_suffix(".ndjson"))
}

/// A file read and checked: its records and how many, or why it was refused.
pub(crate) type CheckedFile = Result<(Content, usize), IngestError>;

/// A file of a snapshot folder to read: (source name, file name as errors give it, path).
pub(crate) type SourceFile = (String, String, std::path::PathBuf);
