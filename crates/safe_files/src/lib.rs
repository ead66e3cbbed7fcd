//! Files Device Warehouse is given or keeps: configuration, signing keys, certificates, the
//! client registry, snapshot files.
//!
//! A path can lead anywhere: to a FIFO (opening it for reading blocks until a writer comes), to
//! a device such as `/dev/zero` (reading never ends), or to a file far larger than its kind
//! ever is. So files are read only when they are regular files, checked before opening and
//! again on what was opened, opened without blocking, and read up to a bound whatever happens
//! to them while they are read. Secrets are written owner-only, to a temporary file renamed into
//! place, so a reader never sees half of one.

#![deny(missing_docs)]

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing is at the path.
    NotFound,
    /// The path leads to a directory, device, FIFO or socket.
    NotRegular,
    /// The file holds more bytes than its kind may.
    TooLarge {
        /// Its size (at least; it may have grown while it was read).
        len: u64,
        /// The bound.
        limit: u64,
    },
    /// Reading failed, or the text was not UTF-8.
    Io(io::Error),
}

impl ReadError {
    /// Whether nothing is at the path (callers that start from an empty file use this).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::NotFound)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("no such file"),
            ReadError::NotRegular => f.write_str(
                "is not a regular file (a directory, device, FIFO or socket is never read)",
            ),
            ReadError::TooLarge { len, limit } => {
                write!(
                    f,
                    "is {len} bytes; the limit for this file is {limit} bytes"
                )
            }
            ReadError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::NotFound {
            ReadError::NotFound
        } else {
            ReadError::Io(e)
        }
    }
}

/// Opens `path` for reading if it is a regular file of at most `limit` bytes: the file and its
/// length when opened. Reading it past `limit` is the caller's bound to keep (see
/// [`read_regular`]).
pub fn open_regular(path: &Path, limit: u64) -> Result<(File, u64), ReadError> {
    // checked before opening: opening a FIFO would block
    if !std::fs::metadata(path)?.is_file() {
        return Err(ReadError::NotRegular);
    }
    let file = open_nonblocking(path)?;
    // and again on what was opened, in case the path changed in between
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            len: meta.len(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// The whole of a regular file of at most `limit` bytes (also when it grows while it is read).
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let (file, len) = open_regular(path, limit)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            len: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// The whole of a regular UTF-8 text file of at most `limit` bytes.
pub fn read_regular_to_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_regular(path, limit)?)
        .map_err(|e| ReadError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Opens without blocking on special files (regular files ignore the flag).
fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Creates the folder of `path` (mode 0700) when missing.
fn create_parent(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)?;
    }
    Ok(())
}

/// Options that create a new file readable by its owner only (mode 0600).
fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Writes `bytes` to `path` readable by its owner only (mode 0600, in a folder created 0700
/// when missing): to a temporary file of its own beside it (named after the process and the
/// call, created anew, so two writers never write into one another's), synced, then renamed
/// into place, so readers see the old contents or the new, never a part, and whatever was at
/// the path (a FIFO, a link) is replaced rather than written through. Writers that read the
/// file first and write it back must hold its [`lock`].
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    create_parent(path)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let mut file = private_options().write(true).create_new(true).open(&tmp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// An exclusive lock on a file kept by several commands, held until dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Waits for and takes the exclusive lock of `path`: a lock file beside it (`NAME.lock`,
/// owner-only, kept), since the file itself is replaced on every write. Commands that read a
/// file, change it and write it back hold the lock from the read to the write, so two of them
/// at once are serialised instead of one undoing the other's change.
pub fn lock(path: &Path) -> io::Result<FileLock> {
    create_parent(path)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let file = private_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path.with_file_name(name))?;
    file.lock()?;
    Ok(FileLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("safe-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn regular_files_within_the_bound_are_read() {
        let dir = temp_dir("read");
        let path = dir.join("a.json");
        std::fs::write(&path, "{\"a\":1}").unwrap();
        assert_eq!(read_regular_to_string(&path, 7).unwrap(), "{\"a\":1}");
        assert!(matches!(
            read_regular(&path, 6),
            Err(ReadError::TooLarge { len: 7, limit: 6 })
        ));
        assert!(read_regular(&dir.join("missing"), 6)
            .unwrap_err()
            .is_not_found());
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            read_regular_to_string(&path, 7),
            Err(ReadError::Io(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_directories_are_refused_at_once() {
        let dir = temp_dir("special");
        let link = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let fifo = dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for path in [link.as_path(), fifo.as_path(), dir.as_path()] {
            let e = read_regular(path, 1 << 20).unwrap_err();
            assert!(
                matches!(e, ReadError::NotRegular),
                "{}: {e}",
                path.display()
            );
            assert!(e.to_string().contains("not a regular file"));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_written_owner_only_over_whatever_was_there() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("write");
        let path = dir.join("keys").join("signing.json");
        write_private(&path, b"one").unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
        // a FIFO at the path is replaced, not written through (which would block)
        let fifo = dir.join("paging.key");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        write_private(&fifo, b"key").unwrap();
        assert_eq!(read_regular(&fifo, 3).unwrap(), b"key");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
