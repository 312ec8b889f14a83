//! Store rewrites: how erasure and retention make removed records
//! unrecoverable.
//!
//! sled keeps old values in its log until segments are reclaimed, so
//! deleting keys is not enough. A rewrite copies every record that is kept
//! (changed, if need be) into a fresh sled database next to the old one
//! (`store.new`), flushes it, renames the old one aside (`store.old`),
//! renames the fresh one into place and deletes the old files. A crash at
//! any step leaves either the old store or the new one whole:
//! [`recover_rewrite`] runs before every open and finishes or undoes what
//! it finds. Each step is a crash point ([`super::crash`]).
//!
//! Copies of the store kept after a crash or damage
//! (`DATA_DIR/store-preserved/`, see [`super::preserve`]) hold the records
//! as they were before the rewrite, the removed ones too. So the rewrite
//! lists them in the new store's `meta` tree before the swap, and removes
//! them once the new store is in place. The list becomes visible exactly
//! when the new store does: a crash before the swap leaves the old store
//! and its copies as they were; a crash after it leaves the list in the
//! store, and the next open removes what is left of those copies.

use std::fs;
use std::path::Path;

use sled::IVec;

use super::crash::step;
use super::{COMPACTION_PENDING, COPIES_TO_REMOVE, ID_FLOOR, STORE_DIR, Store, StoreError};
use crate::progress::Progress;

/// The store being written by a rewrite, before it replaces the old one.
pub(super) const NEW_DIR: &str = "store.new";

/// The old store, between the swap and its deletion.
pub(super) const OLD_DIR: &str = "store.old";

/// Records copied per batch, so a large store never sits in memory.
const BATCH: usize = 10_000;

impl Store {
    /// Whether an older build's purge deleted records that only a rewrite
    /// makes unrecoverable (the next purge rewrites the store then).
    pub(super) fn compaction_pending(&self) -> Result<bool, StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        meta.contains_key(COMPACTION_PENDING)
            .map_err(|e| self.error(e))
    }

    /// Copies into a fresh sled database beside this one what
    /// `keep(tree, key, value)` returns for each record (`None` drops it; an
    /// `Err` is a record that cannot be read, and stops the rewrite with the
    /// old store in place), then swaps it in and deletes the old files.
    /// Takes the store (no other handle may be open) and returns the
    /// reopened one, with how many preserved copies of the old store it
    /// removed (see the module's doc). `progress` hears the records read so
    /// far (their number is not known beforehand: sled counts a tree only
    /// by reading it all).
    pub(super) fn rewrite(
        self,
        progress: &mut dyn Progress,
        mut keep: impl FnMut(&[u8], &[u8], &IVec) -> Result<Option<IVec>, String>,
    ) -> Result<(Store, usize), StoreError> {
        let dir = self.dir.clone();
        let io = |source| StoreError::Io {
            dir: dir.clone(),
            source,
        };
        let new_path = dir.join(NEW_DIR);
        if new_path.exists() {
            fs::remove_dir_all(&new_path).map_err(io)?;
            step("rewrite: a leftover store.new removed");
        }
        let fresh = super::open_sled(&dir, &new_path)?;
        step("rewrite: store.new created");
        progress.begin("rewriting the store", None);
        let mut read: u64 = 0;
        for name in self.db.tree_names() {
            self.copy_tree(&fresh, &name, &mut keep, (&mut read, &mut *progress))?;
        }
        progress.advance(read);
        // New ids stay above every id handed out so far (sled's counter
        // starts again in the fresh database), and the rewrite is done.
        let generated = self.db.generate_id().map_err(|e| self.error(e))?;
        {
            // Scoped: a tree handle keeps its database (and its file lock)
            // open, and the fresh one must be closed before the swap.
            let meta = fresh.open_tree("meta").map_err(|e| self.error(e))?;
            meta.insert(ID_FLOOR, &(self.id_floor + generated + 1).to_be_bytes())
                .map_err(|e| self.error(e))?;
            meta.remove(COMPACTION_PENDING).map_err(|e| self.error(e))?;
            // Every copy kept so far holds the old records: removed once
            // the new store is in place (the data dir is locked, so no copy
            // is added before then).
            let copies = super::preserve::copy_names(&dir).map_err(io)?;
            if !copies.is_empty() {
                let list = serde_json::to_vec(&copies).expect("a list of names always serializes");
                meta.insert(COPIES_TO_REMOVE, list)
                    .map_err(|e| self.error(e))?;
            }
        }
        fresh.flush().map_err(|e| self.error(e))?;
        drop(fresh);
        // Closed cleanly: its manifest lets the next open trust its files.
        super::integrity::record(&new_path).map_err(io)?;
        step("rewrite: store.new flushed and closed");
        // Keep the data dir locked through the swap.
        let lock = std::sync::Arc::clone(&self.lock);
        drop(self);
        let store_path = dir.join(STORE_DIR);
        let old_path = dir.join(OLD_DIR);
        fs::rename(&store_path, &old_path).map_err(io)?;
        step("rewrite: store renamed to store.old");
        fs::rename(&new_path, &store_path).map_err(io)?;
        step("rewrite: store.new renamed to store");
        remove_store_files(&old_path).map_err(io)?;
        step("rewrite: store.old deleted");
        let store = Store::open_checked(&dir, lock)?;
        let removed = store.remove_copies_of_old_store()?;
        Ok((store, removed))
    }

    /// Removes the preserved copies that a completed rewrite listed in this
    /// store (they hold what it removed), then the list; returns how many
    /// were still there. Nothing to do when no list is found.
    pub(super) fn remove_copies_of_old_store(&self) -> Result<usize, StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        let Some(list) = meta.get(COPIES_TO_REMOVE).map_err(|e| self.error(e))? else {
            return Ok(0);
        };
        let names: Vec<String> = serde_json::from_slice(&list)
            .map_err(|_| self.corrupt("the list of preserved copies to remove is unreadable"))?;
        let removed = super::preserve::remove_copies(&self.dir, &names)
            .map_err(|source| super::io_error(&self.dir, source))?;
        meta.remove(COPIES_TO_REMOVE).map_err(|e| self.error(e))?;
        self.flush()?;
        Ok(removed)
    }

    /// Copies tree `name` into `fresh` through `keep`, in bounded batches.
    fn copy_tree(
        &self,
        fresh: &sled::Db,
        name: &IVec,
        keep: &mut impl FnMut(&[u8], &[u8], &IVec) -> Result<Option<IVec>, String>,
        (read, progress): (&mut u64, &mut dyn Progress),
    ) -> Result<(), StoreError> {
        let old = self.db.open_tree(name).map_err(|e| self.error(e))?;
        let new = fresh.open_tree(name).map_err(|e| self.error(e))?;
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for item in old.iter() {
            let (key, value) = item.map_err(|e| self.error(e))?;
            *read += 1;
            if read.is_multiple_of(1_000) {
                progress.advance(*read);
            }
            if let Some(value) = keep(name, &key, &value).map_err(|d| self.corrupt(&d))? {
                batch.insert(key, value);
                pending += 1;
            }
            if pending == BATCH {
                new.apply_batch(std::mem::take(&mut batch))
                    .map_err(|e| self.error(e))?;
                pending = 0;
                step("rewrite: a batch copied");
            }
        }
        new.apply_batch(batch).map_err(|e| self.error(e))?;
        step("rewrite: a tree copied");
        Ok(())
    }
}

/// Deletes a store's directory file by file (each deletion a crash point),
/// then what is left of it.
fn remove_store_files(path: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            step("rewrite: a file of store.old deleted");
        }
    }
    fs::remove_dir_all(path)
}

/// Finishes or undoes a rewrite interrupted by a crash, before the store
/// opens: a complete new store that was not yet swapped in replaces the old
/// one; a half-written one is dropped.
pub(crate) fn recover_rewrite(dir: &Path) -> std::io::Result<()> {
    let store = dir.join(STORE_DIR);
    let new = dir.join(NEW_DIR);
    let old = dir.join(OLD_DIR);
    if old.exists() {
        if !store.exists() && new.exists() {
            fs::rename(&new, &store)?;
        } else if !store.exists() {
            fs::rename(&old, &store)?;
            return Ok(());
        }
        fs::remove_dir_all(&old)?;
    }
    if new.exists() {
        fs::remove_dir_all(&new)?;
    }
    Ok(())
}
