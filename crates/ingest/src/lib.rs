//! Ingestion of daily snapshots into the warehouse: the second pipeline beside the request path,
//! in four steps, one folder each: read, map, merge, publish.
//!
//! A snapshot folder holds Microsoft Graph responses for one day (saved, or downloaded live by
//! [`download`]), or CSV exports of another MDM. Ingesting it merges the entities into the
//! dimensions (stable surrogate keys per natural id; a new row per state change where the model
//! keeps history; entities missing from the snapshot marked deleted), derives the day's facts,
//! purges facts past their retention, and publishes everything in one transaction through
//! [`warehouse::Store::update_tenant`]: readers see the previous day or the new one, never a mix,
//! and a failure publishes nothing.
//!
//! - `read`: a folder's files, opened safely and checked (`files`, `graph` a buffer at a time
//!   into `record`s that borrow the file's bytes, `csv_source`), the Graph download, and what a
//!   source is (`sources`).
//! - `map`: records become the warehouse's values (`core`: devices, users, categories;
//!   `values`: the conversions every source uses).
//! - `merge`: the day merged inside the publication's transaction (`context` what every merge
//!   works with, `history` the merge of dimensions that keep history, `parts` what a source
//!   merged after devices and users is and builds on).
//! - `sources`: the registry of sources, and one file per source that parses and merges it
//!   (`policies`, `apps`, `terms`, `enrollment`, `mam`, `devices_daily`).
//! - `publish`: the run's order (parse, open the publication, merge, commit).
#![deny(missing_docs)]

pub use warehouse::progress::{NoProgress, Progress};

mod error;
mod map;
mod merge;
mod options;
mod publish;
mod read;
mod sources;
mod stopwatch;
mod summary;

pub use error::IngestError;
pub use options::{check_day, check_retention, IngestOptions, Retention, EARLIEST_DAY};
pub use read::download;
pub use read::files::SnapshotLimits;
pub use read::sources::Sources;
pub use summary::{IngestSummary, MAX_LISTED_CHARS, MAX_LISTED_VALUES};

use publish::publish;
use read::{read_csv_folder, read_graph_folder};
use std::path::Path;
use stopwatch::Stopwatch;
use warehouse::store::Store;

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
            sources::parse_parts(&sources, date, &mut own).map(|_| own)
        });
        map::core::Snapshot::parse(&sources, &mut summary)?;
        let theirs = parts.join().expect("the parsing thread panicked")?;
        summary.add_unknown(theirs);
        Ok::<(), IngestError>(())
    })?;
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
