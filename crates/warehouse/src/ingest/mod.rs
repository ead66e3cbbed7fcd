//! Ingestion of daily snapshots into the warehouse.
//!
//! A snapshot folder holds Microsoft Graph responses for one day. Ingesting it merges the
//! entities into the dimensions (stable surrogate keys per natural id; a new row per state change
//! where the model keeps history; entities missing from the snapshot marked deleted), derives the
//! day's facts, purges facts past their retention, and publishes everything in one transaction:
//! readers see the previous day or the new one, never a mix, and a failure publishes nothing.
//!
//! This first slice reads `managedDevices`, `users` and (optionally) `deviceCategories`; the other
//! Graph sources, live Graph, CSV and the scheduler come next.

mod apply;
mod csv_source;
mod graph;

use csv_source::{DEVICE_COLUMNS, USER_COLUMNS};
pub use graph::read_records;

use crate::store::{Store, StoreError, Tenant};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Why an ingestion run stopped. Nothing was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestError {
    /// File at fault, if any.
    pub file: Option<String>,
    /// 0-based index of the record at fault.
    pub record: Option<usize>,
    /// Field at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl IngestError {
    fn file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: Some(file.into()),
            record: None,
            field: None,
            message: message.into(),
        }
    }

    fn record(file: &str, record: usize, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            file: Some(file.into()),
            record: Some(record),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    fn run(message: impl Into<String>) -> Self {
        Self {
            file: None,
            record: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(r) = self.record {
            write!(f, "record {}: ", r + 1)?;
        }
        if let Some(field) = &self.field {
            write!(f, "field '{field}' ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for IngestError {}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::run(e.to_string())
    }
}

/// What to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Tenant to write.
    pub tenant: String,
    /// Day of the snapshot.
    pub date: time::Date,
    /// Allow a day older than the newest published one.
    pub backfill: bool,
    /// When the warehouse writes the rows (`rowLastModifiedDateTimeUTC`), in microseconds.
    pub now_micros: i64,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// Records read per file.
    pub records_read: BTreeMap<String, u64>,
    /// Rows inserted or changed per collection.
    pub rows_written: BTreeMap<String, u64>,
    /// Enumeration values not in the model, mapped to the Unknown member: (property, value) -> count.
    pub unknown_enums: BTreeMap<String, u64>,
    /// The published tenant.
    pub tenant: Option<Tenant>,
}

/// The files a Graph snapshot folder may hold, and whether each is required.
const FILES: &[(&str, bool)] = &[
    ("managedDevices", true),
    ("users", true),
    ("deviceCategories", false),
];

/// Sources by name (`managedDevices`, `users`, `deviceCategories`): (file name, records).
type Sources = BTreeMap<String, (String, Vec<graph::Record>)>;

/// The file names in `dir`.
fn file_names(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, IngestError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| IngestError::run(format!("{}: {e}", dir.display())))?;
    entries
        .map(|e| {
            let e = e.map_err(|e| IngestError::run(e.to_string()))?;
            Ok((e.file_name().to_string_lossy().into_owned(), e.path()))
        })
        .collect()
}

/// Ingests the Graph snapshot folder `dir` for `opts.date` and publishes it.
pub fn ingest_graph_folder(
    store: &dyn Store,
    dir: &Path,
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    let mut summary = IngestSummary::default();
    let mut sources = Sources::new();
    for (name, path) in file_names(dir)? {
        let stem = name
            .strip_suffix(".json")
            .or_else(|| name.strip_suffix(".ndjson"));
        match stem.filter(|s| FILES.iter().any(|(f, _)| f == s)) {
            Some(s) => {
                let records = read_records(&path)?;
                summary.records_read.insert(name.clone(), records.len() as u64);
                sources.insert(s.to_string(), (name, records));
            }
            None => return Err(IngestError::file(&name, "is not a known Graph snapshot file (expected managedDevices.json, users.json, deviceCategories.json)")),
        }
    }
    for (file, required) in FILES {
        if *required && !sources.contains_key(*file) {
            return Err(IngestError::run(format!(
                "{}: {file}.json is missing",
                dir.display()
            )));
        }
    }
    publish(store, &sources, opts, summary)
}

/// Ingests `devices.csv` and `users.csv` of `dir` (columns as documented in the README).
pub fn ingest_csv_folder(
    store: &dyn Store,
    dir: &Path,
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    let mut summary = IngestSummary::default();
    let mut sources = Sources::new();
    for (name, _) in file_names(dir)? {
        if name != "devices.csv" && name != "users.csv" {
            return Err(IngestError::file(
                &name,
                "is not a known CSV file (expected devices.csv and users.csv)",
            ));
        }
    }
    for (file, source, columns) in [
        ("devices.csv", "managedDevices", DEVICE_COLUMNS),
        ("users.csv", "users", USER_COLUMNS),
    ] {
        let path = dir.join(file);
        if !path.exists() {
            return Err(IngestError::run(format!(
                "{}: {file} is missing",
                dir.display()
            )));
        }
        let records = csv_source::read_csv(&path, columns)?;
        summary
            .records_read
            .insert(file.to_string(), records.len() as u64);
        sources.insert(source.to_string(), (file.to_string(), records));
    }
    publish(store, &sources, opts, summary)
}

/// Validates the sources and publishes them as the day's snapshot.
fn publish(
    store: &dyn Store,
    sources: &Sources,
    opts: &IngestOptions,
    mut summary: IngestSummary,
) -> Result<IngestSummary, IngestError> {
    let snapshot = apply::Snapshot::parse(sources, &mut summary)?;
    let date_key = crate::generate::date_key(opts.date);
    let mut failure = None;
    let result = store.update_tenant(&opts.tenant, &mut |tx, tenant| {
        if let Some(newest) = tenant.snapshot_date_key.filter(|n| *n > date_key && !opts.backfill) {
            failure = Some(IngestError::run(format!(
                "{date_key} is older than the newest published day {newest}; use --backfill to ingest it anyway"
            )));
            return Err(StoreError::Refused("older day".into()));
        }
        apply::apply(tx, store.dialect(), tenant, &snapshot, opts, &mut summary).map_err(|e| {
            let message = e.to_string();
            failure = Some(e);
            StoreError::Refused(message)
        })?;
        // a backfilled day keeps the newest day as the snapshot maxhistorydays counts from
        Ok(tenant.snapshot_date_key.map_or(date_key, |n| n.max(date_key)))
    });
    match (result, failure) {
        (Ok(t), _) => {
            summary.tenant = Some(t);
            Ok(summary)
        }
        (Err(_), Some(f)) => Err(f),
        (Err(e), None) => Err(e.into()),
    }
}
