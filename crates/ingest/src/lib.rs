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
mod error;
mod files;
mod graph;
mod history;
mod mam;
mod options;
mod parts;
mod policies;
mod record;
mod registry;
mod snapshot;
mod sources;
mod stopwatch;
mod summary;
mod terms;

use csv_source::{DEVICE_COLUMNS, USER_COLUMNS};
pub use error::IngestError;
pub use files::SnapshotLimits;
use graph::{read_records, Content};
pub use options::{check_day, check_retention, IngestOptions, Retention, EARLIEST_DAY};
use registry::all_sources;
pub use sources::Sources;
use sources::{entries, stem, CheckedFile, SourceFile};
use stopwatch::Stopwatch;
pub use summary::{IngestSummary, MAX_LISTED_CHARS, MAX_LISTED_VALUES};

use std::path::Path;
use warehouse::store::Store;

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
    let known: Vec<String> = all_sources().map(|s| format!("{}.json", s.name)).collect();
    for (name, path, is_dir) in entries(dir)? {
        if is_dir {
            let Some(source) = all_sources().find(|s| s.has_children() && s.name == name) else {
                return Err(IngestError::file(
                    &name,
                    format!(
                        "is not a known folder (per-entity folders: {})",
                        all_sources()
                            .filter(|s| s.has_children())
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            let (collection, children) = (source.name, source.entity_children());
            for (id, entity_dir, is_dir) in entries(&path)? {
                if !is_dir {
                    return Err(IngestError::file(
                        &format!("{collection}/{id}"),
                        format!("is not a folder (expected {collection}/ID/NAME.json)"),
                    ));
                }
                for (file, file_path, _) in entries(&entity_dir)? {
                    let relative = format!("{collection}/{id}/{file}");
                    match stem(&file).filter(|s| children.clone().any(|c| c == *s)) {
                        Some(child) => {
                            files.push((format!("{collection}/{id}/{child}"), relative, file_path))
                        }
                        None => {
                            return Err(IngestError::file(
                                &relative,
                                format!(
                                    "is not a known file of a {collection} entity (expected {})",
                                    children
                                        .clone()
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
        match stem(&name).filter(|s| all_sources().any(|f| f.name == *s)) {
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
    for source in all_sources().filter(|s| s.required) {
        if !files.iter().any(|(s, _, _)| s == source.name) {
            return Err(IngestError::run(format!(
                "{}: {}.json is missing",
                dir.display(),
                source.name
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
        let parts = scope.spawn(|| {
            let mut own = IngestSummary::default();
            registry::parse_parts(&sources, date, &mut own).map(|_| own)
        });
        snapshot::Snapshot::parse(&sources, &mut summary)?;
        let theirs = parts.join().expect("the parsing thread panicked")?;
        summary.add_unknown(theirs);
        Ok::<(), IngestError>(())
    })?;
    Ok(summary)
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
            registry::parse_parts(&sources, date, &mut own).map(|parts| (parts, own))
        })
    });
    // CSV records are held by the sources: the parsing thread drops the last reference
    drop(sources);
    let mut parts = || {
        parsing
            .take()
            .expect("the parts are asked for once")
            .join()
            .expect("the parsing thread panicked")
    };
    let result = store.update_tenant_with(&opts.tenant, |tx, tenant| {
        if let Some(newest) = tenant.snapshot_date_key.filter(|n| *n > date_key && !opts.backfill) {
            return Err(IngestError::run(format!(
                "{date_key} is older than the newest published day {newest}; use --backfill to ingest it anyway"
            )));
        }
        watch.lap("opening the publication");
        apply::apply(tx, store.dialect(), tenant, &snapshot, &mut parts, opts, &mut summary)?;
        watch.lap("merging");
        // a backfilled day keeps the newest day as the snapshot maxhistorydays counts from
        Ok(tenant.snapshot_date_key.map_or(date_key, |n| n.max(date_key)))
    });
    watch.lap("committing");
    // freeing the snapshot's million small allocations is a noticeable part of a run at a
    // large tenant's size: another thread does it while the summary goes back
    apply::free_elsewhere(snapshot);
    summary.tenant = Some(result?);
    Ok(summary)
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
