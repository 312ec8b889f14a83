//! Why the store could not be used, in words a person can act on: what is
//! wrong, where the store's files were kept if they were, and what to do.

use std::path::{Path, PathBuf};

use super::{LOCK_PATIENCE, SCHEMA_VERSION, STORE_DIR, preserve};

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the store.
    #[error(
        "the data dir {0} is in use by another troupe process, which has held it for more than {secs} seconds (a long command such as `troupe followups run`, `maintenance purge` or `dev populate`, or a program using troupe's library); wait for it to finish, then run this again (another --data-dir would be another store, without these conversations)",
        secs = LOCK_PATIENCE.as_secs()
    )]
    Locked(PathBuf),
    /// A server (`troupe serve`) holds the store, at this address.
    #[error(
        "the data dir {dir} is held by the troupe server at {address}; stop the server to run this command on its files, or use the server's API"
    )]
    Served {
        /// The data dir.
        dir: PathBuf,
        /// The server's base URL, as it announced it.
        address: String,
    },
    /// Another follow-up run is delivering on this data dir.
    #[error(
        "another follow-up run (`troupe followups run` or `watch`) is delivering on {0}; let it finish, then run again"
    )]
    Delivering(PathBuf),
    /// The files are damaged (sled or the decoder said so).
    #[error("{}", corrupt_message(.dir, .detail, .preserved.as_deref()))]
    Corrupt {
        /// The data dir.
        dir: PathBuf,
        /// What sled or the decoder reported.
        detail: String,
        /// Where the files were copied, as they were before this process
        /// opened them, if they were.
        preserved: Option<PathBuf>,
    },
    /// The files changed after Troupe last closed them: they were not
    /// opened (sled's recovery would have overwritten the damage and what
    /// follows it), and a copy was kept.
    #[error(
        "the store in {dir} is corrupt: its files changed after troupe last closed them ({files}), so troupe did not open it; they are kept as they are now, byte for byte, in {preserved} (the newest {kept} such copies are kept); run `troupe store verify` to see what can still be read, then {restore}, or keep what can still be read with `troupe store recover`",
        restore = restore_advice(.dir),
        kept = preserve::KEPT_COPIES
    )]
    Damaged {
        /// The data dir.
        dir: PathBuf,
        /// The files that changed, comma-separated.
        files: String,
        /// The copy of the files.
        preserved: PathBuf,
    },
    /// The store was written by a newer Troupe.
    #[error(
        "the store in {dir} has schema version {found}, newer than this troupe understands ({SCHEMA_VERSION}); upgrade troupe"
    )]
    NewerSchema {
        /// The data dir.
        dir: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The data dir (or a directory above it) is a file.
    #[error(
        "the data dir {dir} cannot be used: {file} is a file, not a directory; pass --data-dir (or set TROUPE_DATA_DIR to) a directory, or move the file out of the way"
    )]
    NotADirectory {
        /// The data dir.
        dir: PathBuf,
        /// The file in the way.
        file: PathBuf,
    },
    /// The data dir cannot be written.
    #[error(
        "the data dir {dir} is not writable ({source}); troupe's store (sled 0.34) writes to its files even to read them (every open replays its log and rewrites part of it), so no command can use it read-only: make it writable, or work on a copy (`cp -a {dir} COPY`, then pass --data-dir COPY; changes there do not reach {dir}); `troupe store verify` checks it without writing"
    )]
    ReadOnly {
        /// The data dir.
        dir: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// There is no store where one was expected.
    #[error("there is no store in {0}; check --data-dir (or TROUPE_DATA_DIR)")]
    NoStore(PathBuf),
    /// A backup cannot be written where it was asked for.
    #[error("cannot back up to {target}: {reason}")]
    BackupTarget {
        /// Where the backup was to go.
        target: PathBuf,
        /// Why it cannot.
        reason: String,
    },
    /// The disk failed us.
    #[error("could not use the store in {dir}: {source}")]
    Io {
        /// The data dir.
        dir: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The PostgreSQL store could not be used.
    #[error(transparent)]
    Postgres(#[from] super::postgres::PgError),
    /// sled reported something else.
    #[error("the store in {dir} failed: {detail}")]
    Other {
        /// The data dir.
        dir: PathBuf,
        /// What sled reported.
        detail: String,
    },
}

impl StoreError {
    /// This error, naming `preserved` as where the store's files were kept
    /// before sled opened them (a corruption found while opening).
    pub(super) fn preserved_in(self, preserved: Option<&Path>) -> Self {
        match (self, preserved) {
            (StoreError::Corrupt { dir, detail, .. }, Some(path)) => StoreError::Corrupt {
                dir,
                detail,
                preserved: Some(path.to_path_buf()),
            },
            (other, _) => other,
        }
    }
}

/// What to do to restore a backup into data dir `dir`.
pub(super) fn restore_advice(dir: &Path) -> String {
    format!(
        "restore a backup (one made by `troupe store backup`: move {} aside and copy the backup's store directory in its place)",
        dir.join(STORE_DIR).display()
    )
}

/// The message of [`StoreError::Corrupt`]: what is wrong, where the files
/// were kept if they were, and what to do.
fn corrupt_message(dir: &Path, detail: &str, preserved: Option<&Path>) -> String {
    let kept = match preserved {
        Some(path) => format!(
            "its files as they were before troupe opened them are kept, byte for byte, in {} (the newest {} such copies are kept); ",
            path.display(),
            preserve::KEPT_COPIES
        ),
        None => String::new(),
    };
    format!(
        "the store in {} is corrupt ({detail}); {kept}{}, or move {} aside to start afresh",
        dir.display(),
        restore_advice(dir),
        dir.join(STORE_DIR).display()
    )
}

/// An I/O error on data dir `dir`, told apart when it means the data dir
/// cannot be written.
pub(super) fn io_error(dir: &Path, source: std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    match source.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => StoreError::ReadOnly {
            dir: dir.to_path_buf(),
            source,
        },
        _ => StoreError::Io {
            dir: dir.to_path_buf(),
            source,
        },
    }
}

/// Maps a sled error to one a user can act on.
pub(super) fn classify(dir: &Path, e: sled::Error) -> StoreError {
    let dir = dir.to_path_buf();
    match e {
        sled::Error::Io(source) if source.to_string().contains("could not acquire lock") => {
            StoreError::Locked(dir)
        }
        sled::Error::Io(source) => io_error(&dir, source),
        sled::Error::Corruption { .. } => StoreError::Corrupt {
            dir,
            detail: "sled found damaged data".to_string(),
            preserved: None,
        },
        // sled says this when its `conf` file is unreadable.
        sled::Error::Unsupported(detail) => StoreError::Corrupt {
            dir,
            detail,
            preserved: None,
        },
        other => StoreError::Other {
            dir,
            detail: other.to_string(),
        },
    }
}
