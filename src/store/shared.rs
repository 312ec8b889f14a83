//! One store shared by every task of a long-lived process (the server): any
//! number of readers and writers at once, and an exclusive hold for the
//! operations that rewrite the store's files (erasure, compaction), which
//! need every other handle closed.

use std::sync::Arc;

use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use super::{Store, StoreError};

/// A store shared across tasks; cloning shares it.
#[derive(Debug, Clone)]
pub struct SharedStore {
    /// The open store; `None` only if a rewrite failed and reopening did too.
    inner: Arc<RwLock<Option<Store>>>,
    /// The data dir, to reopen the store after a failed rewrite.
    dir: std::path::PathBuf,
}

/// A handle on the shared store, valid while it is held: a rewrite waits
/// until every handle is dropped.
pub type StoreHandle = tokio::sync::OwnedRwLockReadGuard<Option<Store>, Store>;

impl SharedStore {
    /// Shares `store`.
    pub fn new(store: Store) -> Self {
        Self {
            dir: store.dir().to_path_buf(),
            inner: Arc::new(RwLock::new(Some(store))),
        }
    }

    /// The data dir.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// A handle on the store for code that cannot wait asynchronously (a
    /// service's step of work, see [`super::StoreAccess::shared`]): at once
    /// when no rewrite runs or waits, else blocking this thread (and only
    /// it) until the rewrite is done. Needs the multi-threaded runtime the
    /// server runs on.
    pub fn get_now(&self) -> Result<StoreHandle, StoreError> {
        match Arc::clone(&self.inner).try_read_owned() {
            Ok(guard) => self.mapped(guard),
            Err(_) => tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(self.get())
            }),
        }
    }

    /// A handle on the store, waiting while a rewrite runs.
    pub async fn get(&self) -> Result<StoreHandle, StoreError> {
        let guard = Arc::clone(&self.inner).read_owned().await;
        self.mapped(guard)
    }

    /// The store behind a read guard, if it is open.
    fn mapped(
        &self,
        guard: OwnedRwLockReadGuard<Option<Store>>,
    ) -> Result<StoreHandle, StoreError> {
        OwnedRwLockReadGuard::try_map(guard, Option::as_ref).map_err(|_| StoreError::Other {
            dir: self.dir.clone(),
            detail: "the store could not be reopened after a rewrite; restart the server"
                .to_string(),
        })
    }

    /// Runs `work` with the store to itself: it waits for the steps in
    /// progress, and no handle is handed out until it returns (a backup:
    /// nothing may write while it copies).
    pub async fn exclusive<T>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let slot = self.inner.write().await;
        let store = slot.as_ref().ok_or_else(|| StoreError::Other {
            dir: self.dir.clone(),
            detail: "the store is closed".to_string(),
        })?;
        work(store)
    }

    /// Closes the store for good (at shutdown), once the steps in progress
    /// are done: its files are recorded as closed cleanly (see
    /// [`super::integrity`]). Later handles fail.
    pub async fn close(&self) {
        self.inner.write().await.take();
    }

    /// Runs `rewrite` with the store to itself (every other handle dropped
    /// first), and keeps the store it returns. If the rewrite fails, the
    /// store is reopened (which finishes or undoes the interrupted rewrite).
    pub async fn rewrite<T>(
        &self,
        rewrite: impl FnOnce(Store) -> Result<(Store, T), StoreError>,
    ) -> Result<T, StoreError> {
        let mut slot = self.inner.write().await;
        let store = slot.take().ok_or_else(|| StoreError::Other {
            dir: self.dir.clone(),
            detail: "the store is closed".to_string(),
        })?;
        // A reopen takes the lock afresh and clears the lock file, so the
        // server's address is written back into it.
        let announced = super::announced_server(&self.dir);
        match rewrite(store) {
            Ok((store, value)) => {
                *slot = Some(store);
                Ok(value)
            }
            Err(error) => {
                let reopened = Store::open(&self.dir).ok();
                if let (Some(store), Some(address)) = (&reopened, &announced)
                    && let Err(e) = store.announce_server(Some(address))
                {
                    tracing::warn!(error = %e, "could not announce the server again after a failed rewrite");
                }
                *slot = reopened;
                Err(error)
            }
        }
    }
}
