//! Ingestion of daily snapshots into the warehouse: the second pipeline beside the request path
//! (read, map, merge, publish).
//!
//! A snapshot folder holds Microsoft Graph responses for one day (saved, or downloaded live by
//! [`download`]), or CSV exports of another MDM. Ingesting it merges the entities into the
//! dimensions (stable surrogate keys per natural id; a new row per state change where the model
//! keeps history; entities missing from the snapshot marked deleted), derives the day's facts,
//! purges facts past their retention, and publishes everything in one transaction through
//! [`warehouse::Store::update_tenant`]: readers see the previous day or the new one, never a mix,
//! and a failure publishes nothing.
//!
//! Modules: `files` opens snapshot files safely, `graph` reads and checks them (a buffer at a
//! time, parsed an item at a time into `record`s that borrow the file's bytes), `csv_source`
//! reads CSV into the same records, `apply` validates the snapshot and merges devices, users,
//! categories and associations, `context` holds what every merge works with, `history` is the
//! merge of dimensions that keep history, and one module per other source derives its dimension
//! and facts: `policies`, `apps`, `terms`, `enrollment`, `mam`, `devices_daily`.
#![deny(missing_docs)]

pub use warehouse::progress::{NoProgress, Progress};

mod apply;
mod apps;
mod context;
mod csv_source;
mod devices_daily;
pub mod download;
mod enrollment;
mod files;
mod graph;
mod history;
mod mam;
mod policies;
mod record;
mod snapshot;
mod terms;

use csv_source::{DEVICE_COLUMNS, USER_COLUMNS};
pub use files::SnapshotLimits;
use graph::{read_records, Content};

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use warehouse::store::{Store, StoreError, Tenant};

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

/// Most distinct values a run's report lists; values past them are counted together, per
/// kind, as `(other values)`. A snapshot with 2 000 distinct made-up values of 50 KB made a
/// 701 MB summary, and `/status/ingest` answered 140 MB.
pub const MAX_LISTED_VALUES: usize = 50;

/// Most characters of a listed value (control characters escaped).
pub const MAX_LISTED_CHARS: usize = 100;

impl IngestSummary {
    /// Counts a value of `what` (an enumeration, an app type, ...) that the model does not have
    /// and that was mapped to its Unknown member: listed as `what: value`, cut to
    /// [`MAX_LISTED_CHARS`], among at most [`MAX_LISTED_VALUES`].
    pub fn count_unknown(&mut self, what: &str, value: impl AsRef<str>) {
        self.count_unknown_many(&format!("{what}: "), value.as_ref(), 1);
    }

    fn count_unknown_many(&mut self, what: &str, value: &str, n: u64) {
        let mut listed: String = value
            .chars()
            .take(MAX_LISTED_CHARS)
            .map(|c| match c.is_control() {
                true => format!("\\u{{{:x}}}", c as u32),
                false => c.to_string(),
            })
            .collect();
        if value.chars().nth(MAX_LISTED_CHARS).is_some() {
            listed.push_str("...");
        }
        self.add_listed(format!("{what}{listed}"), n);
    }

    /// Adds `n` to the count of `key` (`what: value`, already cut), or to its kind's
    /// `(other values)` when [`MAX_LISTED_VALUES`] are listed.
    fn add_listed(&mut self, key: String, n: u64) {
        let key = if self.unknown_enums.contains_key(&key)
            || self.unknown_enums.len() < MAX_LISTED_VALUES
        {
            key
        } else {
            let what = key.split_once(": ").map_or("", |(what, _)| what);
            format!("{what}: (other values)")
        };
        *self.unknown_enums.entry(key).or_default() += n;
    }

    /// Adds the enumeration values another part of the run mapped to Unknown.
    fn add_unknown(&mut self, other: IngestSummary) {
        for (key, n) in other.unknown_enums {
            self.add_listed(key, n);
        }
    }
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        IngestError::run(e.to_string())
    }
}

/// How long a fact collection keeps its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Days older than this many days before the snapshot are purged after each publish.
    Days(u32),
    /// Nothing is purged.
    Forever,
}

impl Retention {
    /// Reads `365` or `forever`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "forever" => Ok(Self::Forever),
            t => t
                .parse()
                .map(Self::Days)
                .map_err(|_| format!("'{t}' is neither a number of days nor 'forever'")),
        }
    }
}

/// Checks per-collection retentions: each must name a daily fact collection of the model.
pub fn check_retention(retention: &BTreeMap<String, Retention>) -> Result<(), String> {
    for name in retention.keys() {
        match warehouse::model::Warehouse::get().collection(name) {
            Some(c) if c.has_date_key() => {}
            Some(_) => {
                return Err(format!(
                    "retention: '{name}' has no days to keep (it is not a daily fact collection)"
                ))
            }
            None => {
                return Err(format!(
                    "retention: '{name}' is not a collection of the model"
                ))
            }
        }
    }
    Ok(())
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
    /// Allow a day after tomorrow (UTC) or before [`EARLIEST_DAY`] ([`check_day`]).
    pub any_day: bool,
    /// When the warehouse writes the rows (`rowLastModifiedDateTimeUTC`), in microseconds.
    pub now_micros: i64,
    /// Retention per fact collection, over the model's defaults.
    pub retention: BTreeMap<String, Retention>,
    /// Bounds on the snapshot's files and on how much of the tenant it may delete.
    pub limits: SnapshotLimits,
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
    /// Records referring to something the warehouse does not have (left out): what -> count.
    pub unmatched: BTreeMap<String, u64>,
    /// The published tenant.
    pub tenant: Option<Tenant>,
}

/// The collections a Graph snapshot folder holds at its top level (`NAME.json` or `NAME.ndjson`),
/// and whether each is required.
const SOURCES: &[(&str, bool)] = &[
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
const ENTITY_SOURCES: &[(&str, &[&str])] = &[
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
    fn add(&mut self, name: &str, file: String, content: Content) {
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
fn entries(dir: &Path) -> Result<Vec<(String, std::path::PathBuf, bool)>, IngestError> {
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
fn stem(name: &str) -> Option<&str> {
    name.strip_suffix(".json")
        .or_else(|| name.strip_suffix(".ndjson"))
}

/// A file read and checked: its records and how many, or why it was refused.
type CheckedFile = Result<(Content, usize), IngestError>;

/// A file of a snapshot folder to read: (source name, file name as errors give it, path).
type SourceFile = (String, String, std::path::PathBuf);

/// Reads and checks `files` on every core, reporting progress.
fn read_all(
    files: Vec<SourceFile>,
    summary: &mut IngestSummary,
    limits: &SnapshotLimits,
    progress: &dyn Progress,
) -> Result<Sources, IngestError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let mut read: Vec<(usize, CheckedFile)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((_, file, path)) = files.get(i) else {
                            return out;
                        };
                        out.push((i, read_records(path, file, limits, progress)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a reading thread panicked"))
            .collect()
    });
    // the first bad file in folder order is the one reported
    read.sort_by_key(|(i, _)| *i);
    let mut sources = Sources::default();
    for ((source, file, _), (_, content)) in files.into_iter().zip(read) {
        let (content, count) = content?;
        summary.records_read.insert(file.clone(), count as u64);
        sources.add(&source, file, content);
    }
    Ok(sources)
}

/// Reads every file of a Graph snapshot folder; an unknown file or folder stops the run.
fn read_graph_folder(
    dir: &Path,
    summary: &mut IngestSummary,
    limits: &SnapshotLimits,
    progress: &dyn Progress,
) -> Result<Sources, IngestError> {
    let mut files: Vec<SourceFile> = Vec::new();
    let known: Vec<String> = SOURCES.iter().map(|(s, _)| format!("{s}.json")).collect();
    for (name, path, is_dir) in entries(dir)? {
        if is_dir {
            let Some((collection, children)) = ENTITY_SOURCES.iter().find(|(c, _)| *c == name)
            else {
                return Err(IngestError::file(
                    &name,
                    format!(
                        "is not a known folder (per-entity folders: {})",
                        ENTITY_SOURCES
                            .iter()
                            .map(|(c, _)| *c)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            for (id, entity_dir, is_dir) in entries(&path)? {
                if !is_dir {
                    return Err(IngestError::file(
                        &format!("{collection}/{id}"),
                        format!("is not a folder (expected {collection}/ID/NAME.json)"),
                    ));
                }
                for (file, file_path, _) in entries(&entity_dir)? {
                    let relative = format!("{collection}/{id}/{file}");
                    match stem(&file).filter(|s| children.contains(s)) {
                        Some(child) => {
                            files.push((format!("{collection}/{id}/{child}"), relative, file_path))
                        }
                        None => {
                            return Err(IngestError::file(
                                &relative,
                                format!(
                                    "is not a known file of a {collection} entity (expected {})",
                                    children
                                        .iter()
                                        .map(|c| format!("{c}.json"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            ))
                        }
                    }
                }
            }
            continue;
        }
        match stem(&name).filter(|s| SOURCES.iter().any(|(f, _)| f == s)) {
            Some(s) => files.push((s.to_string(), name.clone(), path)),
            None => {
                return Err(IngestError::file(
                    &name,
                    format!(
                        "is not a known Graph snapshot file (expected {})",
                        known.join(", ")
                    ),
                ))
            }
        }
    }
    for (source, required) in SOURCES {
        if *required && !files.iter().any(|(s, _, _)| s == source) {
            return Err(IngestError::run(format!(
                "{}: {source}.json is missing",
                dir.display()
            )));
        }
    }
    read_all(files, summary, limits, progress)
}

/// Ingests the Graph snapshot folder `dir` for `opts.date` and publishes it.
pub fn ingest_graph_folder(
    store: &dyn Store,
    dir: &Path,
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    ingest_graph_folder_with_progress(store, dir, opts, &NoProgress)
}

/// [`ingest_graph_folder`], telling `progress` how reading each source goes.
pub fn ingest_graph_folder_with_progress(
    store: &dyn Store,
    dir: &Path,
    opts: &IngestOptions,
    progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    let mut summary = IngestSummary::default();
    let mut watch = Stopwatch::start();
    let sources = read_graph_folder(dir, &mut summary, &opts.limits, progress)?;
    watch.lap("checking the files");
    progress.stage("merging into the warehouse");
    publish(store, sources, opts, summary)
}

/// Ingests `devices.csv` and `users.csv` of `dir` (columns as documented in the README).
pub fn ingest_csv_folder(
    store: &dyn Store,
    dir: &Path,
    opts: &IngestOptions,
) -> Result<IngestSummary, IngestError> {
    let mut summary = IngestSummary::default();
    let sources = read_csv_folder(dir, &mut summary, &opts.limits)?;
    publish(store, sources, opts, summary)
}

/// Reads `devices.csv` and `users.csv` of `dir`; any other file stops the run.
fn read_csv_folder(
    dir: &Path,
    summary: &mut IngestSummary,
    limits: &SnapshotLimits,
) -> Result<Sources, IngestError> {
    let mut sources = Sources::default();
    for (name, _, _) in entries(dir)? {
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
        let records = csv_source::read_csv(&path, columns, limits)?;
        summary
            .records_read
            .insert(file.to_string(), records.len() as u64);
        sources.add(source, file.to_string(), Content::Parsed(records));
    }
    Ok(sources)
}

/// Checks a snapshot folder (Graph files, or `devices.csv` and `users.csv`) as ingesting it for
/// `date` would, without a store: every file, record and field, and the enumeration values that
/// would map to Unknown. Nothing is written.
pub fn check_folder(
    dir: &Path,
    date: time::Date,
    limits: &SnapshotLimits,
    progress: &dyn Progress,
) -> Result<IngestSummary, IngestError> {
    let mut summary = IngestSummary::default();
    let sources = if dir.join("devices.csv").exists() {
        read_csv_folder(dir, &mut summary, limits)?
    } else {
        read_graph_folder(dir, &mut summary, limits, progress)?
    };
    progress.stage("checking the records");
    std::thread::scope(|scope| {
        let others = scope.spawn(|| {
            let mut own = IngestSummary::default();
            snapshot::Others::parse(&sources, date, &mut own).map(|_| own)
        });
        snapshot::Snapshot::parse(&sources, &mut summary)?;
        let theirs = others.join().expect("the parsing thread panicked")?;
        summary.add_unknown(theirs);
        Ok::<(), IngestError>(())
    })?;
    Ok(summary)
}

/// The earliest snapshot day taken without [`IngestOptions::any_day`].
pub const EARLIEST_DAY: time::Date = time::macros::date!(2000 - 01 - 01);

/// Refuses a snapshot day after tomorrow (UTC, from `now_micros`) or before [`EARLIEST_DAY`]: a
/// mistyped year (2062 for 2026) would be published as the newest day, retention would then
/// purge the real history as older than it keeps, and every correct day after it would be
/// refused as older.
pub fn check_day(day: time::Date, now_micros: i64) -> Result<(), IngestError> {
    let today = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_micros) * 1000)
        .map_or(EARLIEST_DAY, |now| now.date());
    let tomorrow = today.next_day().unwrap_or(today);
    if day > tomorrow || day < EARLIEST_DAY {
        return Err(IngestError::run(format!(
            "the snapshot day {day} is {}; a day after tomorrow (UTC) or before {EARLIEST_DAY} \
             is most likely mistyped, and publishing it would purge the history retention \
             counts back from it; use --allow-any-day to ingest it anyway",
            if day > tomorrow {
                "in the future"
            } else {
                "too early"
            }
        )));
    }
    Ok(())
}

/// Validates the sources and publishes them as the day's snapshot.
fn publish(
    store: &dyn Store,
    sources: Sources,
    opts: &IngestOptions,
    mut summary: IngestSummary,
) -> Result<IngestSummary, IngestError> {
    if !opts.any_day {
        check_day(opts.date, opts.now_micros)?;
    }
    let date_key = warehouse::calendar::date_key(opts.date);
    let mut failure = None;
    // devices and users first, on both cores; the other sources are parsed beside the merge of
    // devices and users, which uses one
    let mut watch = Stopwatch::start();
    let snapshot = snapshot::Snapshot::parse(&sources, &mut summary)?;
    watch.lap("parsing devices and users");
    let sources = std::sync::Arc::new(sources);
    let date = opts.date;
    let mut parsing = Some({
        let sources = sources.clone();
        std::thread::spawn(move || {
            let mut own = IngestSummary::default();
            snapshot::Others::parse(&sources, date, &mut own).map(|others| (others, own))
        })
    });
    // CSV records are held by the sources: the parsing thread drops the last reference
    drop(sources);
    let mut others = || {
        parsing
            .take()
            .expect("the other sources are asked for once")
            .join()
            .expect("the parsing thread panicked")
    };
    let result = store.update_tenant(&opts.tenant, &mut |tx, tenant| {
        if let Some(newest) = tenant.snapshot_date_key.filter(|n| *n > date_key && !opts.backfill) {
            failure = Some(IngestError::run(format!(
                "{date_key} is older than the newest published day {newest}; use --backfill to ingest it anyway"
            )));
            return Err(StoreError::Refused("older day".into()));
        }
        watch.lap("opening the publication");
        apply::apply(tx, store.dialect(), tenant, &snapshot, &mut others, opts, &mut summary).map_err(|e| {
            let message = e.to_string();
            failure = Some(e);
            StoreError::Refused(message)
        })?;
        watch.lap("merging");
        // a backfilled day keeps the newest day as the snapshot maxhistorydays counts from
        Ok(tenant.snapshot_date_key.map_or(date_key, |n| n.max(date_key)))
    });
    watch.lap("committing");
    // freeing the snapshot's million small allocations is a noticeable part of a run at a
    // large tenant's size: another thread does it while the summary goes back
    apply::free_elsewhere(snapshot);
    match (result, failure) {
        (Ok(t), _) => {
            summary.tenant = Some(t);
            Ok(summary)
        }
        (Err(_), Some(f)) => Err(f),
        (Err(e), None) => Err(e.into()),
    }
}

/// Logs how long each stage of a run took (`DW_LOG=ingest=debug` shows them), so an
/// operator or a profile can tell where an ingestion's time goes.
pub(crate) struct Stopwatch {
    last: std::time::Instant,
}

impl Stopwatch {
    /// Starts timing the first stage.
    pub(crate) fn start() -> Self {
        Self {
            last: std::time::Instant::now(),
        }
    }

    /// The stage `what` is done: logs its duration and starts the next one.
    pub(crate) fn lap(&mut self, what: &str) {
        let now = std::time::Instant::now();
        tracing::debug!(
            stage = what,
            ms = (now - self.last).as_millis() as u64,
            "ingestion stage done"
        );
        self.last = now;
    }
}

#[cfg(test)]
mod report_tests {
    use super::*;

    #[test]
    fn a_report_lists_a_bounded_number_of_bounded_values() {
        let mut summary = IngestSummary::default();
        for i in 0..2000 {
            summary.count_unknown("complianceStatus", format!("{i}{}", "x".repeat(50_000)));
        }
        summary.count_unknown("mamPlatforms", "line\nbreak");
        let listed: usize = summary.unknown_enums.keys().map(String::len).sum();
        assert!(
            summary.unknown_enums.len() <= MAX_LISTED_VALUES + 2,
            "{}",
            summary.unknown_enums.len()
        );
        assert!(listed < 10_000, "{listed} bytes");
        assert_eq!(summary.unknown_enums.values().sum::<u64>(), 2001);
        assert_eq!(
            summary.unknown_enums["complianceStatus: (other values)"],
            2000 - 50
        );
        assert_eq!(summary.unknown_enums["mamPlatforms: (other values)"], 1);
        let mut small = IngestSummary::default();
        small.count_unknown("mamPlatforms", "line\nbreak");
        assert!(small
            .unknown_enums
            .contains_key("mamPlatforms: line\\u{a}break"));
    }
}
