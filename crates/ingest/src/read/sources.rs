//! What a source of a snapshot is ([`Source`]: its file, Graph path, permission, per-entity
//! children; the registry lists them, [`crate::sources`]), the records a snapshot holds by
//! source, and the files a snapshot folder holds, found and checked.

use crate::error::IngestError;
use crate::read::graph::Content;
use std::collections::BTreeMap;
use std::path::Path;

/// One source of a snapshot: a Graph collection, the file it is recorded in, and what each of
/// its entities has in a folder of its own. The part that parses and merges it declares it
/// ([`crate::merge::parts::PartEntry::sources`]).
pub(crate) struct Source {
    /// The file it is recorded in (`NAME.json` or `NAME.ndjson`), and the folder of its
    /// per-entity sources (`NAME/ID/CHILD.json`).
    pub(crate) name: &'static str,
    /// Whether a snapshot must have it.
    pub(crate) required: bool,
    /// Its Graph path under the base URL (with any query).
    pub(crate) path: &'static str,
    /// The application permission Graph wants for it.
    pub(crate) permission: &'static str,
    /// What each entity has under `PATH/ID/CHILD`, recorded in `NAME/ID/CHILD.json`.
    pub(crate) children: &'static [&'static str],
    /// Children only Graph's beta endpoint serves (a snapshot may hold them too).
    pub(crate) beta_children: &'static [&'static str],
    /// Only Graph's beta endpoint serves the collection itself.
    pub(crate) beta: bool,
}

impl Source {
    /// Every child a snapshot may hold for each entity, whichever endpoint recorded it.
    pub(crate) fn entity_children(&self) -> impl Iterator<Item = &'static str> + Clone {
        self.children.iter().chain(self.beta_children).copied()
    }

    /// Whether its entities have folders of their own.
    pub(crate) fn has_children(&self) -> bool {
        self.entity_children().next().is_some()
    }
}

/// A source with what most have: optional, no per-entity children, on Graph's v1.0 endpoint.
pub(crate) const fn source(
    name: &'static str,
    path: &'static str,
    permission: &'static str,
) -> Source {
    Source {
        name,
        required: false,
        path,
        permission,
        children: &[],
        beta_children: &[],
        beta: false,
    }
}

/// Permission to read managed devices and what belongs to them.
pub(crate) const DEVICES: &str = "DeviceManagementManagedDevices.Read.All";
/// Permission to read policies and profiles.
pub(crate) const CONFIGURATION: &str = "DeviceManagementConfiguration.Read.All";
/// Permission to read apps and app protection.
pub(crate) const APPS: &str = "DeviceManagementApps.Read.All";

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

/// The `child` files of the entities of `collection` (`COLLECTION/ID/CHILD.json`), each with
/// the index in `parents` of the entity it belongs to, found by id (`id_of`). A file for an
/// entity `parents` does not have stops the run, naming the file and the entity (`what`:
/// `app`, `policy`, ...).
pub(crate) fn children_of<'s, P>(
    sources: &'s Sources,
    (collection, child): (&'s str, &'s str),
    parents: &[P],
    id_of: impl Fn(&P) -> &str,
    what: &str,
) -> Result<Vec<(usize, &'s str, &'s Content)>, IngestError> {
    let index: std::collections::HashMap<&str, usize> = parents
        .iter()
        .enumerate()
        .map(|(i, p)| (id_of(p), i))
        .collect();
    sources
        .per_entity(collection, child)
        .map(|(id, file, records)| {
            let i = index.get(id).copied().ok_or_else(|| {
                IngestError::file(
                    file,
                    format!("is for {what} {id}, which is not in {collection}.json"),
                )
            })?;
            Ok((i, file, records))
        })
        .collect()
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
