//! Backups: a consistent copy of a live store, written as a data dir of its
//! own (`TARGET/store/`), so it opens with `--data-dir TARGET` and restores
//! by copying its `store` directory into place.
//!
//! The copy is logical: every record of every tree is copied into a fresh
//! sled database, which is then closed cleanly (with its manifest, see
//! [`super::integrity`]). It is consistent because nothing writes while it
//! runs: a command holds the data dir, and the server holds its store
//! exclusively (requests wait, as during a retention purge). A fresh copy
//! is also compact: it holds no deleted values.
//!
//! The server can make backups on a schedule (`[store]` in `troupe.toml`):
//! each in `backup_dir/troupe-backup-<UTC time>/`, the newest
//! `backup_keep` kept.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{COMPACTION_PENDING, ID_FLOOR, STORE_DIR, Store, StoreError, integrity};
use crate::schema::{Field, Shape};

/// Where a backup's store is written before it is renamed into place.
const INIT_DIR: &str = "store.init";

/// The name every scheduled backup's directory starts with; pruning only
/// ever removes directories named so.
const SCHEDULED_PREFIX: &str = "troupe-backup-";

/// Whether a record, given its tree, key and value, goes into a copy.
pub(super) type Keep<'a> = dyn FnMut(&[u8], &[u8], &[u8]) -> bool + 'a;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Backup {
    /// The backup: a data dir, to open with `--data-dir`.
    #[schema(value_type = String)]
    pub dir: PathBuf,
    /// Conversations copied.
    pub conversations: u64,
    /// Messages copied.
    pub messages: u64,
    /// The size of the backup's files, in bytes.
    pub bytes: u64,
}

/// `[store]`: scheduled backups, made by the server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct StoreConfig {
    /// Where scheduled backups go (relative to the data dir unless
    /// absolute); none, no scheduled backups.
    pub backup_dir: Option<PathBuf>,
    /// Seconds between two scheduled backups.
    pub backup_interval_secs: u64,
    /// How many scheduled backups are kept; older ones are removed.
    pub backup_keep: usize,
    /// The most memory, in MiB, the store keeps as a cache of what it read
    /// and wrote (sled's page cache). What is not cached is read from disk.
    pub cache_mib: u64,
    /// The PostgreSQL database to keep the store in instead of sled
    /// (`postgres://user@host:port/db`, never with a password;
    /// `TROUPE_DATABASE_URL` overrides it).
    pub url: Option<String>,
    /// The NAME of the env var holding the database password (else
    /// `PGPASSWORD` is used).
    pub password_env: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backup_dir: None,
            backup_interval_secs: 24 * 60 * 60,
            backup_keep: 7,
            cache_mib: super::DEFAULT_CACHE_MIB,
            url: None,
            password_env: None,
        }
    }
}

/// Every key `[store]` may hold.
pub(crate) const STORE_FIELDS: &[Field] = &[
    Field::optional("backup_dir", Shape::Text(None)),
    Field::optional(
        "backup_interval_secs",
        Shape::Integer(1, 365 * 24 * 60 * 60),
    ),
    Field::optional("backup_keep", Shape::Integer(1, 10_000)),
    Field::optional("cache_mib", Shape::Integer(4, 1024 * 1024)),
    Field::optional("url", Shape::Text(Some(super::postgres::database_url))),
    Field::optional(
        "password_env",
        Shape::Text(Some(crate::config::env_var_name)),
    ),
];

impl StoreConfig {
    /// The PostgreSQL database configured by `url` (or
    /// `TROUPE_DATABASE_URL`, looked up with `env`), with its password from
    /// the env; `None`: the sled store in the data dir.
    pub fn database(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<super::postgres::Database>, super::postgres::PgError> {
        super::postgres::resolve_database(self.url.as_deref(), self.password_env.as_deref(), env)
    }

    /// Where scheduled backups of data dir `data_dir` go, if they are on.
    pub fn backup_dir(&self, data_dir: &Path) -> Option<PathBuf> {
        self.backup_dir.as_ref().map(|dir| data_dir.join(dir))
    }
}

impl Store {
    /// Copies every record that `keep(tree, key, value)` accepts into
    /// `fresh`, in bounded batches so a large store never sits in memory.
    pub(super) fn copy_into(
        &self,
        fresh: &sled::Db,
        keep: &mut Keep<'_>,
    ) -> Result<(), StoreError> {
        for name in self.db.tree_names() {
            let old = self.db.open_tree(&name).map_err(|e| self.error(e))?;
            let new = fresh.open_tree(&name).map_err(|e| self.error(e))?;
            let mut batch = sled::Batch::default();
            let mut pending = 0;
            for item in old.iter() {
                let (key, value) = item.map_err(|e| self.error(e))?;
                if keep(&name, &key, &value) {
                    batch.insert(key, value);
                    pending += 1;
                }
                if pending == 10_000 {
                    new.apply_batch(std::mem::take(&mut batch))
                        .map_err(|e| self.error(e))?;
                    pending = 0;
                }
            }
            new.apply_batch(batch).map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Finishes a copy made by [`Store::copy_into`]: new ids stay above
    /// every id handed out so far (sled's counter starts again in a fresh
    /// database), no purge is pending (deleted values were not copied), and
    /// everything is on disk.
    pub(super) fn seal_copy(&self, fresh: &sled::Db) -> Result<(), StoreError> {
        let generated = self.db.generate_id().map_err(|e| self.error(e))?;
        {
            // Scoped: a tree handle keeps its database (and its file lock)
            // open, and the fresh one must be closed after this.
            let meta = fresh.open_tree("meta").map_err(|e| self.error(e))?;
            meta.insert(ID_FLOOR, &(self.id_floor + generated + 1).to_be_bytes())
                .map_err(|e| self.error(e))?;
            meta.remove(COMPACTION_PENDING).map_err(|e| self.error(e))?;
        }
        fresh.flush().map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Writes a backup of this store to `target` (a new or empty
    /// directory), as a data dir of its own. Nothing may write to the store
    /// meanwhile: call it with the store to yourself (a command holding the
    /// data dir, or the server's [`super::SharedStore::exclusive`]).
    pub fn backup_to(&self, target: &Path) -> Result<Backup, StoreError> {
        check_target(target)?;
        let io = |source| StoreError::Io {
            dir: target.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(target).map_err(io)?;
        let init = target.join(INIT_DIR);
        let result = self.write_backup(target, &init);
        if result.is_err() {
            // A half-written backup must not look like one.
            let _ = std::fs::remove_dir_all(&init);
        }
        let (conversations, messages) = result?;
        let listing = integrity::record(&init).map_err(io)?;
        std::fs::rename(&init, target.join(STORE_DIR)).map_err(io)?;
        integrity::sync_dir(target).map_err(io)?;
        Ok(Backup {
            dir: target.to_path_buf(),
            conversations,
            messages,
            bytes: listing.bytes(),
        })
    }

    /// Copies every record into a fresh database at `init`, closed when
    /// this returns; counts conversations and messages.
    fn write_backup(&self, target: &Path, init: &Path) -> Result<(u64, u64), StoreError> {
        let fresh = super::open_sled(target, init)?;
        let (mut conversations, mut messages) = (0u64, 0u64);
        self.copy_into(&fresh, &mut |tree, _, _| {
            match tree {
                b"conversations" => conversations += 1,
                b"messages" => messages += 1,
                _ => {}
            }
            true
        })?;
        self.seal_copy(&fresh)?;
        Ok((conversations, messages))
    }
}

/// A backup goes to a new directory, or an empty one: it never overwrites.
fn check_target(target: &Path) -> Result<(), StoreError> {
    let refuse = |reason: &str| StoreError::BackupTarget {
        target: target.to_path_buf(),
        reason: reason.to_string(),
    };
    if !target.exists() {
        return Ok(());
    }
    if !target.is_dir() {
        return Err(refuse("it is a file; name a new directory"));
    }
    let mut entries = std::fs::read_dir(target).map_err(|source| StoreError::Io {
        dir: target.to_path_buf(),
        source,
    })?;
    if entries.next().is_some() {
        return Err(refuse(
            "it is not empty (a backup never overwrites anything); name a new directory",
        ));
    }
    Ok(())
}

/// Backs up the store of data dir `dir` (opened, and so held, for the
/// copy) to `target`.
pub fn backup_now(dir: &Path, target: &Path) -> Result<Backup, StoreError> {
    // Opening would create an empty store where there is none.
    if !dir.join(STORE_DIR).is_dir() {
        return Err(StoreError::NoStore(dir.to_path_buf()));
    }
    Store::open(dir)?.backup_to(target)
}

/// Makes one scheduled backup of `store` into `backups` as
/// `troupe-backup-<UTC time>/`, then removes the oldest scheduled backups
/// beyond `keep`. The backup is written under a `.partial` name first, so a
/// crash never leaves a half backup that looks whole.
pub fn scheduled_backup(store: &Store, backups: &Path, keep: usize) -> Result<Backup, StoreError> {
    let io = |source| StoreError::Io {
        dir: backups.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(backups).map_err(io)?;
    for stale in scheduled(backups, true).map_err(io)? {
        std::fs::remove_dir_all(stale).map_err(io)?;
    }
    let stamp = format!(
        "{SCHEDULED_PREFIX}{}",
        Utc::now().format("%Y-%m-%dT%H-%M-%S%.3fZ")
    );
    let mut name = stamp.clone();
    let mut n = 1;
    while backups.join(&name).exists() {
        n += 1;
        name = format!("{stamp}-{n}");
    }
    let partial = backups.join(format!("{name}.partial"));
    let mut backup = store.backup_to(&partial)?;
    let done = backups.join(&name);
    std::fs::rename(&partial, &done).map_err(io)?;
    integrity::sync_dir(backups).map_err(io)?;
    backup.dir = done;
    let all = scheduled(backups, false).map_err(io)?;
    for old in &all[..all.len().saturating_sub(keep)] {
        std::fs::remove_dir_all(old).map_err(io)?;
    }
    Ok(backup)
}

/// The scheduled backups in `backups`, oldest first: the complete ones, or
/// (`partial`) those a crash left half-written.
fn scheduled(backups: &Path, partial: bool) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(backups)?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(SCHEDULED_PREFIX) && name.ends_with(".partial") == partial
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AppendEffects, Message};

    fn store_with_messages(dir: &Path, count: usize) -> Store {
        let store = Store::open(dir).unwrap();
        for i in 0..count {
            let message = Message::from_user(format!("message {i}"), Utc::now());
            store
                .append("ana", "chef", &message, &AppendEffects::NONE)
                .unwrap();
        }
        store
    }

    #[test]
    fn a_backup_opens_as_a_data_dir_with_every_message_and_new_ids_above_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_messages(&dir.path().join("data"), 25);
        let target = dir.path().join("backup");
        let backup = store.backup_to(&target).unwrap();
        assert_eq!((backup.conversations, backup.messages), (1, 25));
        let copy = Store::open(&target).unwrap();
        let conversation = copy.conversation("ana", "chef").unwrap().unwrap();
        assert_eq!(copy.messages(&conversation).unwrap().len(), 25);
        assert!(copy.next_id().unwrap() > store.next_id().unwrap() - 1);
    }

    #[test]
    fn a_backup_never_overwrites_anything() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_messages(&dir.path().join("data"), 1);
        let target = dir.path().join("taken");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("notes.txt"), "mine").unwrap();
        let err = store.backup_to(&target).unwrap_err();
        assert!(matches!(err, StoreError::BackupTarget { .. }), "{err:?}");
        assert!(err.to_string().contains("not empty"), "{err}");
        assert_eq!(std::fs::read(target.join("notes.txt")).unwrap(), b"mine");
    }

    #[test]
    fn scheduled_backups_keep_only_the_newest_and_leave_other_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_messages(&dir.path().join("data"), 2);
        let backups = dir.path().join("backups");
        std::fs::create_dir_all(backups.join("mine")).unwrap();
        let made: Vec<PathBuf> = (0..4)
            .map(|_| scheduled_backup(&store, &backups, 2).unwrap().dir)
            .collect();
        assert_eq!(scheduled(&backups, false).unwrap(), made[2..].to_vec());
        assert!(backups.join("mine").exists());
    }
}
