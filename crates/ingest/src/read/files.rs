//! Opening snapshot files safely: only regular files (a symlink to `/dev/zero` or a FIFO in a
//! snapshot folder must not make a run read forever or block), at most
//! [`SnapshotLimits::max_file_bytes`] read from each, however the file changes while it is read.

use crate::IngestError;
use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

/// Bounds on what one snapshot may make a run read or do (`[limits]` in the configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotLimits {
    /// Largest snapshot file read, in bytes.
    pub max_file_bytes: u64,
    /// Largest single record (one Graph entity, one NDJSON line, one CSV row), in bytes.
    pub max_record_bytes: u64,
    /// Largest top-level JSON value of a file (a Graph response, an NDJSON line), in bytes:
    /// one is held in memory whole while it is read.
    pub max_item_bytes: u64,
    /// Largest share of the live devices, or of the live users, that one snapshot may mark
    /// deleted; `None` turns the guard off (`dw ingest --allow-mass-deletion`). A partial
    /// download would otherwise delete most of a tenant.
    pub max_deleted_share: Option<f64>,
}

impl Default for SnapshotLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 4 << 30,
            // a detected app with its devices expanded is one record of ~60 bytes per device
            max_record_bytes: 64 << 20,
            // a whole tenant saved as one response of 100 000 devices is about 300 MB
            max_item_bytes: 1 << 30,
            max_deleted_share: Some(0.5),
        }
    }
}

/// Below this many live devices (or users), the deletion guard does not apply: a small tenant
/// losing a few devices is ordinary.
pub const DELETION_GUARD_MIN_LIVE: usize = 20;

/// Bytes read ahead of a reader that asks for less (CSV).
const READ_AHEAD: usize = 64 * 1024;

/// A snapshot file being read, with how many bytes were read from it so far.
pub struct Counted {
    file: File,
    read: Rc<Cell<u64>>,
    limit: u64,
    name: String,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let total = self.read.get() + n as u64;
        self.read.set(total);
        if total > self.limit {
            return Err(io::Error::other(format!(
                "{} is larger than {} bytes, the limit for a snapshot file",
                self.name, self.limit
            )));
        }
        Ok(n)
    }
}

/// An opened snapshot file: the buffered reader, the shared count of bytes read from the file,
/// and its length when opened.
pub type Opened = (BufReader<Counted>, Rc<Cell<u64>>, u64);

/// Opens `path` (named `name` in errors) if it is a regular file within the size limit.
pub fn open(path: &Path, name: &str, limits: &SnapshotLimits) -> Result<Opened, IngestError> {
    let (file, len) = safe_files::open_regular(path, limits.max_file_bytes).map_err(|e| {
        IngestError::file(
            name,
            match e {
                safe_files::ReadError::TooLarge { len, limit } => format!(
                    "is {len} bytes; the limit for a snapshot file is {limit} bytes ([limits] snapshot_file_max_mb)"
                ),
                safe_files::ReadError::NotRegular => e.to_string(),
                other => format!("cannot read: {other}"),
            },
        )
    })?;
    let read = Rc::new(Cell::new(0));
    let counted = Counted {
        file,
        read: read.clone(),
        limit: limits.max_file_bytes,
        name: name.to_string(),
    };
    Ok((BufReader::with_capacity(READ_AHEAD, counted), read, len))
}
