//! CSV exports from other MDMs: `devices.csv` and `users.csv` with a documented column set.
//! Rows become the same records as Graph entities (enumeration values spelled as Graph spells
//! them), so both sources share one validation and one merge.

use crate::read::files::{self, SnapshotLimits};
use crate::read::record::{Field, Record};
use crate::IngestError;
use std::cell::Cell;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Text,
    Boolean,
    Integer,
    /// `true`/`false`, stored as Graph's `assignedLicenses` (a licensed user has one).
    Licensed,
}

/// (CSV column, Graph field, kind, required)
type Column = (&'static str, &'static str, Kind, bool);

/// Columns of `devices.csv`.
pub(super) const DEVICE_COLUMNS: &[Column] = &[
    ("deviceId", "id", Kind::Text, true),
    ("deviceName", "deviceName", Kind::Text, false),
    ("operatingSystem", "operatingSystem", Kind::Text, false),
    ("osVersion", "osVersion", Kind::Text, false),
    ("manufacturer", "manufacturer", Kind::Text, false),
    ("model", "model", Kind::Text, false),
    ("serialNumber", "serialNumber", Kind::Text, false),
    ("complianceState", "complianceState", Kind::Text, false),
    ("ownerType", "managedDeviceOwnerType", Kind::Text, false),
    ("enrollmentType", "deviceEnrollmentType", Kind::Text, false),
    ("enrolledDateTime", "enrolledDateTime", Kind::Text, false),
    ("lastSyncDateTime", "lastSyncDateTime", Kind::Text, false),
    ("userId", "userId", Kind::Text, false),
    ("category", "deviceCategoryDisplayName", Kind::Text, false),
    ("isEncrypted", "isEncrypted", Kind::Boolean, false),
    (
        "totalStorageSpaceInBytes",
        "totalStorageSpaceInBytes",
        Kind::Integer,
        false,
    ),
    (
        "freeStorageSpaceInBytes",
        "freeStorageSpaceInBytes",
        Kind::Integer,
        false,
    ),
];

/// Columns of `users.csv`.
pub(super) const USER_COLUMNS: &[Column] = &[
    ("userId", "id", Kind::Text, true),
    ("displayName", "displayName", Kind::Text, false),
    ("userPrincipalName", "userPrincipalName", Kind::Text, false),
    ("mail", "mail", Kind::Text, false),
    ("licensed", "assignedLicenses", Kind::Licensed, false),
];

/// Counts the double quotes read through it: a CSV file whose count is odd has a quoted field
/// that never closes, which CSV readers take as running to the end of the file.
struct QuoteParity<R> {
    inner: R,
    quotes: Rc<Cell<u64>>,
}

impl<R: Read> Read for QuoteParity<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let found = buf[..n].iter().filter(|b| **b == b'"').count() as u64;
        self.quotes.set(self.quotes.get() + found);
        Ok(n)
    }
}

/// Reads a CSV file with the given column set into Graph-shaped records: a regular file within
/// the size limits, each row within the record limit, every quoted field closed.
pub(super) fn read_csv(
    path: &Path,
    columns: &[Column],
    limits: &SnapshotLimits,
) -> Result<Vec<Record<'static>>, IngestError> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (opened, _, _) = files::open(path, &file, limits)?;
    let quotes = Rc::new(Cell::new(0));
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(QuoteParity {
            inner: opened,
            quotes: quotes.clone(),
        });
    let headers = reader
        .headers()
        .map_err(|e| IngestError::file(&file, format!("cannot read the header: {e}")))?
        .clone();
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| !columns.iter().any(|c| c.0 == *h))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = columns.iter().map(|c| c.0).collect();
        return Err(IngestError::file(
            &file,
            format!(
                "unknown column(s) {}; the columns are {}",
                unknown.join(", "),
                known.join(", ")
            ),
        ));
    }
    for (name, _, _, required) in columns {
        if *required && !headers.iter().any(|h| h == *name) {
            return Err(IngestError::file(
                &file,
                format!("the required column {name} is missing"),
            ));
        }
    }
    let mut records = Vec::new();
    for (index, row) in reader.records().enumerate() {
        let row = row
            .map_err(|e| IngestError::record(&file, index, None, format!("malformed CSV: {e}")))?;
        if row.as_slice().len() as u64 > limits.max_record_bytes {
            return Err(IngestError::record(
                &file,
                index,
                None,
                format!(
                    "is larger than {} bytes, the limit for a record ([limits] snapshot_record_max_kb)",
                    limits.max_record_bytes
                ),
            ));
        }
        let mut record = Record::new();
        for (header, value) in headers.iter().zip(row.iter()) {
            let (_, field, kind, _) = columns
                .iter()
                .find(|c| c.0 == header)
                .expect("checked above");
            if value.is_empty() {
                continue;
            }
            let bad = |what: &str| {
                IngestError::record(
                    &file,
                    index,
                    Some(header),
                    format!("must be {what}, not \"{value}\""),
                )
            };
            let v = match kind {
                Kind::Text => Field::String(value.to_string().into()),
                Kind::Integer => {
                    Field::Number(value.parse::<i64>().map_err(|_| bad("an integer"))?.into())
                }
                Kind::Boolean => {
                    Field::Bool(parse_bool(value).ok_or_else(|| bad("true or false"))?)
                }
                Kind::Licensed => {
                    let licensed = parse_bool(value).ok_or_else(|| bad("true or false"))?;
                    Field::Array(if licensed {
                        vec![Field::String("licensed".into())]
                    } else {
                        Vec::new()
                    })
                }
            };
            record.insert(field.to_string(), v);
        }
        records.push(record);
    }
    if quotes.get() % 2 == 1 {
        // the open quote is in the last record read: it ran to the end of the file
        return Err(IngestError::record(
            &file,
            records.len().saturating_sub(1),
            None,
            "opens a quoted field that is never closed (a truncated or malformed file)",
        ));
    }
    Ok(records)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}
