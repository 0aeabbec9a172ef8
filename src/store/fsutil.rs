//! Atomic records, private permissions and locks: the only way orch writes state.
//!
//! Every record is written whole (temp file in the same folder, fsync, rename, fsync of
//! the folder), so a reader never sees half a record and a crash leaves the old one.
//! Locks are the standard library's `File::lock` (flock on Linux), not fs2: fs2's
//! trait methods clash with the std methods of the same names stable since Rust 1.89.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Creates `dir` (and parents) with mode 0700, tightening it if it already exists.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = fs::metadata(dir)?;
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically with mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_deferred(path, bytes)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// `write_atomic` without the folder's fsync: the file's data is synced before the
/// rename, so after a crash the name holds the old record or the whole new one, but
/// the new name itself is durable only once the folder is synced. For several records
/// written into one folder, where a single `sync_dir` (or `write_atomic`) after the last
/// makes them all durable: each fsync costs about a millisecond here (BENCHMARKS.md).
pub fn write_atomic_deferred(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Replaces `path` whole (temp file + rename) without any fsync: for facts worth
/// nothing after a crash (a tmux window id), on a hot path.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes several records into one folder atomically, leaving the folder's fsync to the
/// caller (see `write_atomic_deferred`): every file's data is synced first (the fsyncs
/// run concurrently, so the file system can commit them together), then the names are
/// renamed in the order given, so a crash leaves a prefix of them.
pub fn write_atomic_all(files: &[(&Path, &[u8])]) -> io::Result<()> {
    let mut tmps = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmps.push(tmp);
    }
    std::thread::scope(|s| {
        let syncs: Vec<_> = tmps
            .iter()
            .map(|t| s.spawn(move || t.as_file().sync_all()))
            .collect();
        syncs
            .into_iter()
            .try_for_each(|h| h.join().expect("an fsync thread panicked"))
    })?;
    for (tmp, (path, _)) in tmps.into_iter().zip(files) {
        tmp.persist(path).map_err(|e| e.error)?;
    }
    Ok(())
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomic(path, &json_bytes(value)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn json_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(value)?;
    text.push(b'\n');
    Ok(text)
}

/// Why a record could not be read; `Missing` is an ordinary answer, the rest are damage.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("missing")]
    Missing,
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    /// Unreadable to this orch, but its `schema` says a newer one wrote it (a state or
    /// field added since): never to be called damage and cleaned away.
    #[error(
        "{path} was written by a newer orch (schema {found}, this orch knows {}); upgrade orch to read it",
        super::SCHEMA
    )]
    Newer { path: String, found: u64 },
    #[error(
        "{path} is not valid JSON ({source}); move it aside (`mv {path} {path}.damaged`) and orch reads the rest as if that file were missing"
    )]
    Corrupt {
        path: String,
        source: serde_json::Error,
    },
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ReadError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(source) => {
            return Err(ReadError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes).map_err(|source| {
        let path = path.display().to_string();
        match newer_schema(&bytes) {
            Some(found) => ReadError::Newer { path, found },
            None => ReadError::Corrupt { path, source },
        }
    })
}

/// The `schema` of a record that does not parse, when it is newer than this orch's.
fn newer_schema(bytes: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let found = value.get("schema")?.as_u64()?;
    (found > u64::from(super::SCHEMA)).then_some(found)
}

/// Reads an optional record: `Ok(None)` when the file does not exist.
pub fn read_json_opt<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ReadError> {
    match read_json(path) {
        Ok(v) => Ok(Some(v)),
        Err(ReadError::Missing) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens (creating, 0600) a file used only for locking; never through a symbolic link,
/// so a planted link can't make orch create a file where it points.
pub fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
}

/// Creates or appends to a private (0600) file.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

/// True when some process holds a lock on `path` (the file is left unlocked).
pub fn is_locked(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new().read(true).open(path) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}
