//! Checking a store without writing a single byte of it, and recovering one
//! whose files changed after Troupe closed them.
//!
//! sled writes to its files whenever it opens them, so [`verify`] copies
//! the files to a temporary directory (holding the data dir meanwhile, so no
//! command writes during the copy) and opens the copy: the data dir is only
//! read. It reports whether the files are as Troupe last closed them (see
//! [`super::integrity`]), whether sled can open them, and whether every
//! record reads back and agrees with its conversation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::integrity::{self, State};
use super::outbox::OutboxEntry;
use super::records::{Conversation, Message, Topic, UsageRecord, User};
use super::{LOCK_FILE, LOCK_PATIENCE, SCHEMA_KEY, SCHEMA_VERSION, STORE_DIR, Store, StoreError};

/// How many problems a report lists (it counts them all).
const LISTED_PROBLEMS: usize = 20;

/// What `troupe store verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The data dir.
    pub dir: PathBuf,
    /// `clean` (as Troupe last closed them), `not_closed_cleanly` (a crash,
    /// a kill, or an older Troupe) or `changed` (since Troupe closed them).
    pub files: &'static str,
    /// The files that changed, when `files` is `changed`.
    pub changed_files: Vec<String>,
    /// The store files' total size in bytes.
    pub bytes: u64,
    /// What sled said when it could not open (a copy of) the files.
    pub sled_error: Option<String>,
    /// Records read, per tree.
    pub records: BTreeMap<String, u64>,
    /// Records that do not read back, or disagree with their conversation
    /// (the first few; `problem_count` counts them all).
    pub problems: Vec<String>,
    /// How many problems there are.
    pub problem_count: usize,
    /// Whether the store is damaged: its files changed, sled cannot open
    /// them, or a record is wrong.
    pub damaged: bool,
}

/// What `troupe store recover` did.
#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    /// The data dir.
    pub dir: PathBuf,
    /// Where the files were kept before sled's recovery, if they were.
    pub preserved: Option<PathBuf>,
    /// Whether sled's snapshot had to be rebuilt from its log: sled refused
    /// the files as they were, and every record after the damage is gone.
    pub snapshot_rebuilt: bool,
    /// Records readable after recovery, per tree.
    pub records: BTreeMap<String, u64>,
    /// Records still wrong (the first few; `problem_count` counts them all).
    pub problems: Vec<String>,
    /// How many problems there are.
    pub problem_count: usize,
}

/// Checks the store of data dir `dir` without writing to the data dir:
/// its files against the manifest of the last clean close, then a copy of
/// them opened with sled and read record by record.
pub fn verify(dir: &Path) -> Result<Verification, StoreError> {
    let store = dir.join(STORE_DIR);
    if !store.is_dir() {
        return Err(StoreError::NoStore(dir.to_path_buf()));
    }
    let io = |source| StoreError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    let copy = TempCopy::new().map_err(io)?;
    let (state, listing) = {
        let _held = hold_for_reading(dir)?;
        let found = integrity::check(&store).map_err(io)?;
        super::preserve::copy_files(&store, &copy.0, &found.1).map_err(io)?;
        found
    };
    let mut report = Verification {
        dir: dir.to_path_buf(),
        files: "clean",
        changed_files: Vec::new(),
        bytes: listing.bytes(),
        sled_error: None,
        records: BTreeMap::new(),
        problems: Vec::new(),
        problem_count: 0,
        damaged: false,
    };
    match state {
        State::Clean => {}
        State::Unclean => report.files = "not_closed_cleanly",
        State::Changed(files) => {
            report.files = "changed";
            report.changed_files = files;
        }
    }
    // The copy's manifest would only be removed by opening; leave it out.
    let _ = std::fs::remove_file(copy.0.join(integrity::MANIFEST));
    // Copies keep the files' modes: a read-only data dir gives read-only
    // copies, which sled could not open.
    writable(&copy.0).map_err(io)?;
    // A snapshot a kill left unfinished is dropped, as opening does.
    super::remove_unfinished_snapshots(&copy.0).map_err(io)?;
    match sled::Config::new().path(&copy.0).open() {
        Ok(db) => {
            let walk = walk(&db);
            report.records = walk.records;
            report.problem_count = walk.problems.len();
            report.problems = walk.problems.into_iter().take(LISTED_PROBLEMS).collect();
        }
        // The copy could not be written or read: a fault here, not damage.
        Err(sled::Error::Io(source)) => {
            return Err(StoreError::Other {
                dir: dir.to_path_buf(),
                detail: format!(
                    "could not check a copy of its files in {} ({source}); make room there, or point TMPDIR elsewhere",
                    std::env::temp_dir().display()
                ),
            });
        }
        Err(error) => report.sled_error = Some(error.to_string()),
    }
    report.damaged =
        report.files == "changed" || report.sled_error.is_some() || report.problem_count > 0;
    Ok(report)
}

/// Opens the store of data dir `dir` even though its files changed after
/// Troupe last closed them, keeping a copy of them first: sled's recovery
/// keeps what it can read and drops the rest. Reports what is readable.
pub fn recover(dir: &Path) -> Result<Recovery, StoreError> {
    if !dir.join(STORE_DIR).is_dir() {
        return Err(StoreError::NoStore(dir.to_path_buf()));
    }
    let lock = super::lock::lock_data_dir(dir, LOCK_PATIENCE)?;
    let io = |source| StoreError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    super::rewrite::recover_rewrite(dir).map_err(io)?;
    let preserved = super::preserve::keep_before_opening(dir, false)?;
    let lock = std::sync::Arc::new(lock);
    let (store, snapshot_rebuilt) = match Store::open_sled_store(dir, std::sync::Arc::clone(&lock))
    {
        Ok(store) => (store, false),
        // sled refuses a log that ends before its snapshot says it should
        // (the damage cut it short): without the snapshot it rebuilds one
        // from the log, keeping every record before the damage. The
        // snapshot is in the preserved copy.
        Err(StoreError::Corrupt { .. }) => {
            remove_snapshots(&dir.join(STORE_DIR)).map_err(io)?;
            let store = Store::open_sled_store(dir, lock)
                .map_err(|e| e.preserved_in(preserved.as_deref()))?;
            (store, true)
        }
        Err(other) => return Err(other.preserved_in(preserved.as_deref())),
    };
    let walk = walk(&store.db);
    Ok(Recovery {
        dir: dir.to_path_buf(),
        preserved,
        snapshot_rebuilt,
        records: walk.records,
        problem_count: walk.problems.len(),
        problems: walk.problems.into_iter().take(LISTED_PROBLEMS).collect(),
    })
}

/// Makes every file under `dir` writable by this process's user, and by
/// no one else (the copy holds users' conversations).
#[cfg(unix)]
fn writable(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let is_dir = entry.file_type()?.is_dir();
        if is_dir {
            writable(&entry.path())?;
        }
        std::fs::set_permissions(entry.path(), private_mode(is_dir))?;
    }
    Ok(())
}

/// Elsewhere copies keep the modes they had.
#[cfg(not(unix))]
fn writable(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Owner-only permissions: read and write, and search for a directory.
#[cfg(unix)]
fn private_mode(is_dir: bool) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(if is_dir { 0o700 } else { 0o600 })
}

/// Removes sled's snapshot files (`snap.*`) from store directory `store`.
fn remove_snapshots(store: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(store)?.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with("snap.") {
            std::fs::remove_file(entry.path())?;
        }
    }
    integrity::sync_dir(store)
}

/// The data dir's lock, taken without creating or changing anything: a
/// data dir no process ever opened has no lock file, and nothing to wait
/// for. A server holding it is [`StoreError::Served`]: its files change
/// while it runs.
fn hold_for_reading(dir: &Path) -> Result<Option<std::fs::File>, StoreError> {
    let file = match std::fs::File::open(dir.join(LOCK_FILE)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(super::io_error(dir, source)),
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => {
            if let Some(address) = super::announced_server(dir) {
                return Err(StoreError::Served {
                    dir: dir.to_path_buf(),
                    address,
                });
            }
            super::lock::wait_for_lock(dir, file, LOCK_PATIENCE).map(Some)
        }
        Err(std::fs::TryLockError::Error(source)) => Err(super::io_error(dir, source)),
    }
}

/// Records per tree, and what is wrong with them.
struct Walk {
    records: BTreeMap<String, u64>,
    problems: Vec<String>,
}

/// Reads every record of every tree of `db`: each decodes as what its tree
/// holds, and each message belongs to a conversation that counts it.
fn walk(db: &sled::Db) -> Walk {
    let mut walk = Walk {
        records: BTreeMap::new(),
        problems: Vec::new(),
    };
    let mut next_seq: BTreeMap<u64, u64> = BTreeMap::new();
    let mut message_keys: Vec<(u64, u64)> = Vec::new();
    for name in db.tree_names() {
        let tree_name = String::from_utf8_lossy(&name).into_owned();
        let tree = match db.open_tree(&name) {
            Ok(tree) => tree,
            Err(e) => {
                walk.problems.push(format!("tree {tree_name}: {e}"));
                continue;
            }
        };
        let mut count = 0u64;
        for item in tree.iter() {
            let (key, value) = match item {
                Ok(pair) => pair,
                Err(e) => {
                    walk.problems
                        .push(format!("tree {tree_name}: a record cannot be read: {e}"));
                    break;
                }
            };
            count += 1;
            if let Err(problem) = check_record(&tree_name, &key, &value) {
                walk.problems.push(format!("tree {tree_name}: {problem}"));
                continue;
            }
            match tree_name.as_str() {
                "conversations" => {
                    if let Ok(c) = serde_json::from_slice::<Conversation>(&value) {
                        next_seq.insert(c.id, c.next_seq);
                    }
                }
                "messages" => message_keys.extend(message_key(&key)),
                _ => {}
            }
        }
        walk.records.insert(tree_name, count);
    }
    if db.tree_names().iter().any(|n| n.as_ref() == b"meta") {
        check_schema(db, &mut walk.problems);
    }
    for (conversation, seq) in message_keys {
        match next_seq.get(&conversation) {
            None => walk.problems.push(format!(
                "tree messages: message {seq} of conversation {conversation}, which has no record"
            )),
            Some(next) if seq >= *next => walk.problems.push(format!(
                "tree messages: message {seq} of conversation {conversation}, which counts only {next}"
            )),
            Some(_) => {}
        }
    }
    walk
}

/// Whether a record decodes as what its tree holds.
fn check_record(tree: &str, key: &[u8], value: &[u8]) -> Result<(), String> {
    fn decodes<T: serde::de::DeserializeOwned>(value: &[u8]) -> Result<(), String> {
        serde_json::from_slice::<T>(value)
            .map(|_| ())
            .map_err(|e| format!("a record is unreadable ({e})"))
    }
    match tree {
        "users" => decodes::<User>(value),
        "conversations" => decodes::<Conversation>(value),
        "messages" => match message_key(key) {
            Some(_) => decodes::<Message>(value),
            None => Err("a message key is unreadable".to_string()),
        },
        "topics" => decodes::<Vec<Topic>>(value),
        "usage" => decodes::<UsageRecord>(value),
        "outbox" => decodes::<OutboxEntry>(value),
        _ => Ok(()),
    }
}

/// A message key's conversation id and sequence number.
fn message_key(key: &[u8]) -> Option<(u64, u64)> {
    let id = <[u8; 8]>::try_from(key.get(..8)?).ok()?;
    let seq = <[u8; 8]>::try_from(key.get(8..16)?).ok()?;
    Some((u64::from_be_bytes(id), u64::from_be_bytes(seq)))
}

/// The schema record is there and one this Troupe reads.
fn check_schema(db: &sled::Db, problems: &mut Vec<String>) {
    let found = db
        .open_tree("meta")
        .and_then(|meta| meta.get(SCHEMA_KEY))
        .ok()
        .flatten();
    match found.and_then(|b| <[u8; 4]>::try_from(b.as_ref()).ok()) {
        None => problems.push("tree meta: the schema version is missing".to_string()),
        Some(bytes) if u32::from_be_bytes(bytes) > SCHEMA_VERSION => problems.push(format!(
            "tree meta: schema version {} is newer than this troupe's ({SCHEMA_VERSION})",
            u32::from_be_bytes(bytes)
        )),
        Some(_) => {}
    }
}

/// A directory under the system's temp dir, removed when dropped.
struct TempCopy(PathBuf);

impl TempCopy {
    fn new() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("troupe-verify-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        #[cfg(unix)]
        std::fs::set_permissions(&path, private_mode(true))?;
        Ok(Self(path))
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
