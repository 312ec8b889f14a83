//! Copies of the store's files, kept byte for byte before sled's recovery
//! may write to them (see [`super::integrity`]): in
//! `DATA_DIR/store-preserved/<UTC time>/`, the newest [`KEPT_COPIES`] kept.
//!
//! A copy is written under a `.partial` name and renamed when complete, so
//! a crash while copying never leaves a half copy that looks whole. Opening
//! the same files again (a damaged store refused twice) reuses the newest
//! copy instead of pushing older, different ones out.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::integrity::{self, Listing, MANIFEST};
use super::{STORE_DIR, StoreError, io_error};

/// The directory of preserved copies inside the data dir.
pub const PRESERVED_DIR: &str = "store-preserved";

/// How many preserved copies are kept; the oldest go first.
pub const KEPT_COPIES: usize = 3;

/// What a preserved copy holds, written beside its files.
const ABOUT: &str = "preserved.json";

/// The record written beside a preserved copy.
#[derive(Debug, Serialize, Deserialize)]
struct About {
    /// Why it was kept.
    reason: String,
    /// When (UTC, RFC 3339).
    at: String,
    /// The files, as they were.
    files: Listing,
}

/// Compares the store's files with the manifest of the last clean close
/// and removes it before sled may write. Files not closed cleanly are
/// copied aside, and the copy's path returned; files that changed since
/// are copied aside too, and refused ([`StoreError::Damaged`]) unless
/// `refuse_changed` is false (`troupe store recover`).
pub(super) fn keep_before_opening(
    dir: &Path,
    refuse_changed: bool,
) -> Result<Option<PathBuf>, StoreError> {
    let io = |source| io_error(dir, source);
    let store = dir.join(STORE_DIR);
    let (state, listing) = integrity::check(&store).map_err(io)?;
    match state {
        integrity::State::Clean => {
            integrity::forget(&store).map_err(io)?;
            Ok(None)
        }
        integrity::State::Unclean => {
            let reason = "not closed cleanly: kept before sled's recovery";
            preserve(dir, &listing, reason)
                .map(Some)
                .map_err(|source| not_preserved(dir, source))
        }
        integrity::State::Changed(files) => {
            let reason = "changed after troupe last closed it";
            let preserved =
                preserve(dir, &listing, reason).map_err(|source| not_preserved(dir, source))?;
            if !refuse_changed {
                integrity::forget(&store).map_err(io)?;
                return Ok(Some(preserved));
            }
            Err(StoreError::Damaged {
                dir: dir.to_path_buf(),
                files: files.join(", "),
                preserved,
            })
        }
    }
}

/// The store's files could not be copied aside, so it is not opened.
fn not_preserved(dir: &Path, source: std::io::Error) -> StoreError {
    StoreError::Other {
        dir: dir.to_path_buf(),
        detail: format!(
            "it was not closed cleanly, and troupe could not keep a copy of its files before sled's recovery writes to them ({source}), so it did not open it; free some space in {} (a copy needs as much as {} holds) and run this again",
            dir.display(),
            dir.join(STORE_DIR).display()
        ),
    }
}

/// Copies the store files of data dir `dir` (as `listing` describes them)
/// to a new directory under [`PRESERVED_DIR`], unless the newest copy there
/// holds the same files; returns the copy's path. `reason` is recorded
/// with it.
pub fn preserve(dir: &Path, listing: &Listing, reason: &str) -> std::io::Result<PathBuf> {
    let base = dir.join(PRESERVED_DIR);
    std::fs::create_dir_all(&base)?;
    remove_partial(&base)?;
    if let Some(newest) = copies(&base)?.pop()
        && same_files(&newest, listing)
    {
        return Ok(newest);
    }
    let name = free_name(&base);
    let partial = base.join(format!("{name}.partial"));
    copy_files(&dir.join(super::STORE_DIR), &partial, listing)?;
    let about = About {
        reason: reason.to_string(),
        at: Utc::now().to_rfc3339(),
        files: listing.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&about)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    std::fs::write(partial.join(ABOUT), bytes)?;
    integrity::sync_dir(&partial)?;
    let done = base.join(&name);
    std::fs::rename(&partial, &done)?;
    integrity::sync_dir(&base)?;
    prune(&base)?;
    Ok(done)
}

/// Copies each file of `listing` from `store` into `to`, and the manifest
/// too when there is one (it tells what the files were at the last clean
/// close), syncing each.
pub(super) fn copy_files(store: &Path, to: &Path, listing: &Listing) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let manifest = [MANIFEST.to_string()];
    let names = listing
        .files
        .iter()
        .map(|f| &f.path)
        .chain(manifest.iter().filter(|_| store.join(MANIFEST).exists()));
    for name in names {
        let target = to.join(name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(store.join(name), &target)?;
        std::fs::File::open(&target)?.sync_all()?;
    }
    Ok(())
}

/// Whether the copy in `copy` holds exactly the files of `listing`.
fn same_files(copy: &Path, listing: &Listing) -> bool {
    std::fs::read(copy.join(ABOUT))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<About>(&bytes).ok())
        .is_some_and(|about| &about.files == listing)
}

/// A name for a new copy: the time now, made unique.
fn free_name(base: &Path) -> String {
    let stamp = Utc::now().format("%Y-%m-%dT%H-%M-%S%.3fZ").to_string();
    let mut name = stamp.clone();
    let mut n = 1;
    while base.join(&name).exists() {
        n += 1;
        name = format!("{stamp}-{n}");
    }
    name
}

/// The complete copies under `base`, oldest first (names sort by time).
fn copies(base: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(base)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.extension().is_none_or(|e| e != "partial"))
        .collect();
    found.sort();
    Ok(found)
}

/// The names of every copy under `DATA_DIR/`[`PRESERVED_DIR`], complete or
/// left half-written (`.partial`): each holds the store as it was before
/// whatever came after it. Empty when there is no such directory.
pub(super) fn copy_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let base = dir.join(PRESERVED_DIR);
    let entries = match std::fs::read_dir(&base) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Removes the copies named `names` under `DATA_DIR/`[`PRESERVED_DIR`]
/// (each removal a crash point; a copy already gone is skipped, so a run
/// interrupted halfway is finished by the next); returns how many were
/// there. A name that is not a plain directory name is refused: the list
/// comes from the store's files, and must never reach outside the copies.
pub(super) fn remove_copies(dir: &Path, names: &[String]) -> std::io::Result<usize> {
    let base = dir.join(PRESERVED_DIR);
    let mut removed = 0;
    for name in names {
        let mut parts = Path::new(name).components();
        let plain = matches!(
            (parts.next(), parts.next()),
            (Some(std::path::Component::Normal(_)), None)
        );
        if !plain {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{name:?} is not the name of a preserved copy"),
            ));
        }
        match std::fs::remove_dir_all(base.join(name)) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        super::crash::step("rewrite: a preserved copy of the old store removed");
    }
    if removed > 0 {
        integrity::sync_dir(&base)?;
    }
    Ok(removed)
}

/// Removes copies left half-written by a crash.
fn remove_partial(base: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(base)?.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "partial") {
            std::fs::remove_dir_all(&path)?;
        }
    }
    Ok(())
}

/// Removes the oldest copies beyond [`KEPT_COPIES`].
fn prune(base: &Path) -> std::io::Result<()> {
    let all = copies(base)?;
    let excess = all.len().saturating_sub(KEPT_COPIES);
    for old in &all[..excess] {
        std::fs::remove_dir_all(old)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_dir_with_log(bytes: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join(super::super::STORE_DIR);
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(store.join("db"), bytes).unwrap();
        dir
    }

    fn listing(dir: &Path) -> Listing {
        integrity::list(&dir.join(super::super::STORE_DIR)).unwrap()
    }

    #[test]
    fn the_same_files_are_kept_once_and_only_the_newest_copies_stay() {
        let dir = data_dir_with_log(b"first");
        let first = preserve(dir.path(), &listing(dir.path()), "test").unwrap();
        assert_eq!(std::fs::read(first.join("db")).unwrap(), b"first");
        let again = preserve(dir.path(), &listing(dir.path()), "test").unwrap();
        assert_eq!(first, again, "the same files are not copied twice");
        let mut kept = vec![first];
        for i in 0..KEPT_COPIES {
            let store = dir.path().join(super::super::STORE_DIR);
            std::fs::write(store.join("db"), format!("version {i}")).unwrap();
            kept.push(preserve(dir.path(), &listing(dir.path()), "test").unwrap());
        }
        let left = copies(&dir.path().join(PRESERVED_DIR)).unwrap();
        assert_eq!(left, kept[1..].to_vec(), "the oldest copy went");
    }

    #[test]
    fn listed_copies_are_removed_once_and_no_name_reaches_outside_them() {
        let dir = data_dir_with_log(b"log");
        let kept = preserve(dir.path(), &listing(dir.path()), "test").unwrap();
        let half = dir.path().join(PRESERVED_DIR).join("2020-01-01.partial");
        std::fs::create_dir_all(&half).unwrap();
        let names = copy_names(dir.path()).unwrap();
        assert_eq!(
            names.len(),
            2,
            "complete and half-written copies: {names:?}"
        );
        for outside in ["..", "../store", "/tmp", "a/b"] {
            let refused = remove_copies(dir.path(), &[outside.to_string()]);
            assert!(refused.is_err(), "{outside:?} is refused");
        }
        assert!(dir.path().join(super::super::STORE_DIR).exists());
        assert_eq!(remove_copies(dir.path(), &names).unwrap(), 2);
        assert!(!kept.exists() && !half.exists());
        assert_eq!(
            remove_copies(dir.path(), &names).unwrap(),
            0,
            "already gone"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(copy_names(empty.path()).unwrap().is_empty());
    }

    #[test]
    fn a_copy_left_half_written_by_a_crash_is_removed() {
        let dir = data_dir_with_log(b"log");
        let half = dir.path().join(PRESERVED_DIR).join("2020-01-01.partial");
        std::fs::create_dir_all(&half).unwrap();
        preserve(dir.path(), &listing(dir.path()), "test").unwrap();
        assert!(!half.exists());
    }
}
