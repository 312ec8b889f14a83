//! What the store's files looked like when Troupe last closed them, so an
//! open can tell a store left as it was from one that changed since.
//!
//! sled 0.34 writes to its files on every open: it replays its log and,
//! where it finds a record it cannot read (a torn write after a crash, or
//! damage), it overwrites the rest of that log segment and drops every
//! later segment. On a damaged store that destroys good records after the
//! damaged one, before any command could warn about it. So at a clean close
//! Troupe records a manifest of the store's files (each file's length and
//! CRC-32) inside the store directory, and removes it, durably, before sled
//! opens the files again. At the next open:
//!
//! - the manifest matches: the files are as Troupe left them;
//! - there is none: the last process did not close the store (a crash, a
//!   kill, a power cut), or it was written by an older Troupe; sled will
//!   recover it, so its files are copied aside first (see [`super::preserve`]);
//! - it does not match: something other than Troupe changed the files while
//!   they were closed (a disk fault, a copy gone wrong, another program);
//!   the store is not opened, and a copy of its files is kept. Unless the
//!   machine was restarted since the close (the manifest holds the boot
//!   id): then the difference may be a crash's doing, and the store is
//!   treated as not closed cleanly (copied, then recovered).
//!
//! Nothing here is synced to disk: a sync of the directory on every open
//! and close would cost tens of milliseconds under load, on every step of
//! every command. A killed process leaves its writes in the page cache; a
//! crash of the machine changes the boot id; a manifest cut short reads as
//! none. Each costs at worst a copy, never a refusal or a loss.
//!
//! CRC-32 runs at memory speed (about 15 GB/s on this machine in a release
//! build, a few milliseconds for a store of tens of megabytes), so checking
//! on every open and recording on every close costs little beside sled's
//! own replay; `cargo bench --bench store_open` measures both.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The manifest's file name inside the store directory (sled ignores files
/// it does not know).
pub(crate) const MANIFEST: &str = "troupe-closed.json";

/// The store's log: sled holds a lock on it while the database is open.
const LOG: &str = "db";

/// How long a close waits for sled's threads to let go of the files before
/// recording them; past it no manifest is written, and the next open treats
/// the store as not closed cleanly (a copy, never a loss).
const CLOSE_PATIENCE: Duration = Duration::from_secs(5);

/// One file of the store: where it is (relative to the store directory),
/// its length and its CRC-32.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// The path inside the store directory, with `/` between components.
    pub path: String,
    /// Its length in bytes.
    pub len: u64,
    /// The CRC-32 of its bytes.
    pub crc32: u32,
}

/// Every file of a store directory, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Listing {
    /// The files.
    pub files: Vec<FileSum>,
}

impl Listing {
    /// The files' total size in bytes.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.len).sum()
    }

    /// The paths that differ between `self` (what was recorded) and `now`:
    /// changed, added or missing files.
    fn differences(&self, now: &Listing) -> Vec<String> {
        let mut changed: Vec<String> = Vec::new();
        for file in &self.files {
            match now.files.iter().find(|f| f.path == file.path) {
                Some(found) if found == file => {}
                _ => changed.push(file.path.clone()),
            }
        }
        for file in &now.files {
            if !self.files.iter().any(|f| f.path == file.path) {
                changed.push(file.path.clone());
            }
        }
        changed
    }
}

/// The manifest: the files at a clean close, and the boot of the machine
/// they were closed in.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    /// The kernel's id of the boot the store was closed in (Linux), so an
    /// open can tell whether the machine went down since.
    boot: Option<String>,
    /// The files.
    #[serde(flatten)]
    listing: Listing,
}

/// The kernel's id of this boot, where it has one.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
}

/// What the store's files are compared with the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// As Troupe left them at its last clean close.
    Clean,
    /// No manifest: not closed cleanly, or by an older Troupe.
    Unclean,
    /// Changed since the last clean close: these files differ.
    Changed(Vec<String>),
}

/// Lists and checksums every file under `store` (the manifest left out).
pub fn list(store: &Path) -> std::io::Result<Listing> {
    let mut files = Vec::new();
    collect(store, store, &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Listing { files })
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<FileSum>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(root, &path, files)?;
            continue;
        }
        let relative = relative_name(root, &path);
        // The manifest, and the one `record` was writing when a kill
        // stopped it (renamed over by the next record), are Troupe's, not
        // the store's: listing the latter would make the next open see a
        // file gone and refuse a sound store.
        if relative == MANIFEST || relative == partial_name() {
            continue;
        }
        let (len, crc32) = checksum(&path)?;
        files.push(FileSum {
            path: relative,
            len,
            crc32,
        });
    }
    Ok(())
}

/// `path` relative to `root`, components joined with `/`.
fn relative_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The length and CRC-32 of a file, read in 1 MiB pieces.
fn checksum(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut file = File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok((len, hasher.finalize()));
        }
        len += read as u64;
        hasher.update(&buffer[..read]);
    }
}

/// Compares the files under `store` with its manifest, without writing
/// anything; also returns what the files are now.
pub fn check(store: &Path) -> std::io::Result<(State, Listing)> {
    let now = list(store)?;
    let bytes = match std::fs::read(store.join(MANIFEST)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((State::Unclean, now)),
        Err(e) => return Err(e),
    };
    // A manifest that does not parse was cut short by a power cut at a
    // close (it is written without syncing), or damaged with the files:
    // either way the files are kept and checked as after a crash.
    let Ok(recorded) = serde_json::from_slice::<Manifest>(&bytes) else {
        return Ok((State::Unclean, now));
    };
    let changed = recorded.listing.differences(&now);
    let state = if changed.is_empty() {
        State::Clean
    } else if recorded.boot.is_none() || recorded.boot != boot_id() {
        // The machine went down since the close: the manifest's removal at
        // the next open (not synced, see `forget`) may have been lost with
        // it while sled's writes were not, so a difference may be a crash's
        // doing. Kept and checked as after a crash, not refused.
        State::Unclean
    } else {
        State::Changed(changed)
    };
    Ok((state, now))
}

/// Removes the manifest before sled may write to the files, so a process
/// that dies from here on leaves a store read as "not closed cleanly".
/// Not synced (a directory sync on every open costs tens of milliseconds
/// under load): a kill leaves the removal in the page cache, and a crash of
/// the machine, which could lose it, changes the boot id (see `check`).
pub fn forget(store: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(store.join(MANIFEST)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Records the manifest of `store`, whose database is closed: waits for
/// sled to let go of its log first (its file lock goes with its last file
/// handle, so no write of sled's can still land), then writes the manifest
/// beside the files, atomically; returns what it recorded.
pub fn record(store: &Path) -> std::io::Result<Listing> {
    let _log = wait_until_released(&store.join(LOG))?;
    let listing = list(store)?;
    let manifest = Manifest {
        boot: boot_id(),
        listing,
    };
    let bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let partial = store.join(partial_name());
    File::create(&partial)?.write_all(&bytes)?;
    // Nothing here is synced: a manifest lost or cut short by a power cut
    // is read as "not closed cleanly" (see `check`), which keeps a copy and
    // lets sled recover, so it costs a copy, never a refusal or a loss.
    std::fs::rename(&partial, store.join(MANIFEST))?;
    Ok(manifest.listing)
}

/// The name the manifest is written under before it is renamed into place.
fn partial_name() -> String {
    format!("{MANIFEST}.partial")
}

/// Takes the lock sled holds on its log, waiting up to [`CLOSE_PATIENCE`].
fn wait_until_released(log: &Path) -> std::io::Result<Option<File>> {
    let file = match OpenOptions::new().read(true).open(log) {
        Ok(file) => file,
        // No log: nothing of sled's can be writing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < CLOSE_PATIENCE => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(std::io::Error::other(
                    "sled still held the store's log after it was closed",
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

/// Makes a directory's entries (a rename, a removal) durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Records the manifest when the last handle on an open store is dropped,
/// after sled has closed: a store is "closed cleanly" only then. Armed only
/// once the store opened without error, so a store found damaged while
/// opening is never recorded as if it were sound.
#[derive(Debug)]
pub(crate) struct Closer {
    /// The store directory.
    store: PathBuf,
    /// Whether to record at drop.
    armed: std::sync::atomic::AtomicBool,
}

impl Closer {
    /// A closer for `store`, not yet armed.
    pub(crate) fn new(store: PathBuf) -> Self {
        Self {
            store,
            armed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records the manifest when dropped.
    pub(crate) fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        if !self.armed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if let Err(error) = record(&self.store) {
            // Not fatal: the next open copies the files aside and lets sled
            // check them, as after a crash.
            tracing::warn!(
                store = %self.store.display(),
                %error,
                "could not record the store's files at close; the next open keeps a copy of them first"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        dir
    }

    #[test]
    fn a_store_is_clean_until_a_byte_of_it_changes() {
        let store = store_with(&[("db", b"abcdef"), ("conf", b"x"), ("blobs/1", b"b")]);
        assert_eq!(check(store.path()).unwrap().0, State::Unclean);
        record(store.path()).unwrap();
        assert_eq!(check(store.path()).unwrap().0, State::Clean);
        std::fs::write(store.path().join("db"), b"abcdeg").unwrap();
        assert_eq!(
            check(store.path()).unwrap().0,
            State::Changed(vec!["db".to_string()])
        );
    }

    #[test]
    fn a_manifest_left_half_written_by_a_kill_is_not_one_of_the_store_files() {
        let store = store_with(&[("db", b"abc")]);
        std::fs::write(store.path().join(partial_name()), b"{\"files\": [").unwrap();
        let recorded = record(store.path()).unwrap();
        assert_eq!(recorded.files.len(), 1, "{recorded:?}");
        assert_eq!(check(store.path()).unwrap().0, State::Clean);
    }

    #[test]
    fn added_and_missing_files_are_changes() {
        let store = store_with(&[("db", b"abc"), ("snap.1", b"s")]);
        record(store.path()).unwrap();
        std::fs::remove_file(store.path().join("snap.1")).unwrap();
        std::fs::write(store.path().join("snap.2"), b"t").unwrap();
        assert_eq!(
            check(store.path()).unwrap().0,
            State::Changed(vec!["snap.1".to_string(), "snap.2".to_string()])
        );
    }

    #[test]
    fn files_changed_across_a_reboot_read_as_a_crash_not_as_damage() {
        let store = store_with(&[("db", b"abc")]);
        let other_boot = serde_json::json!({
            "boot": "another-boot",
            "files": [{ "path": "db", "len": 3, "crc32": 1 }],
        });
        std::fs::write(store.path().join(MANIFEST), other_boot.to_string()).unwrap();
        assert_eq!(check(store.path()).unwrap().0, State::Unclean);
    }

    #[test]
    fn a_manifest_cut_short_or_forgotten_reads_as_not_closed_cleanly() {
        let store = store_with(&[("db", b"abc")]);
        std::fs::write(store.path().join(MANIFEST), b"{\"files\": [{\"pa").unwrap();
        assert_eq!(check(store.path()).unwrap().0, State::Unclean);
        record(store.path()).unwrap();
        assert_eq!(check(store.path()).unwrap().0, State::Clean);
        forget(store.path()).unwrap();
        assert_eq!(check(store.path()).unwrap().0, State::Unclean);
    }
}
