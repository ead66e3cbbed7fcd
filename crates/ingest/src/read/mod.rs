//! Read: a snapshot folder's files, found, opened safely and checked, into the records of each
//! source ([`Sources`]); an unknown file or folder, or a required source missing, stops the run.
//! Also the Graph download that records such a folder.

pub(crate) mod csv_source;
pub mod download;
pub(crate) mod files;
pub(crate) mod graph;
pub(crate) mod record;
pub(crate) mod sources;

use crate::sources::all_sources;
use crate::{IngestError, IngestSummary, Progress};
use csv_source::{DEVICE_COLUMNS, USER_COLUMNS};
use files::SnapshotLimits;
use graph::{read_records, Content};
use sources::{entries, stem, CheckedFile, SourceFile, Sources};
use std::path::Path;

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
pub(crate) fn read_graph_folder(
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

/// Reads `devices.csv` and `users.csv` of `dir`; any other file stops the run.
pub(crate) fn read_csv_folder(
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
