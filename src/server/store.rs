//! The store a server keeps its conversations in: sled in its data dir,
//! which this process holds alone (other commands on the data dir go
//! through its API), or a PostgreSQL database, which any number of servers
//! and commands share. Handlers reach either through [`StoreBackend`]; the
//! few things only one store does (sled's rewrites, backups and lock file)
//! match on it.

use std::ops::Deref;

use crate::store::postgres::PgStore;
use crate::store::{SharedStore, Store, StoreAccess, StoreBackend, StoreError, StoreHandle};

/// The server's store.
#[derive(Debug, Clone)]
pub enum ServerStore {
    /// sled in the data dir, shared by this process's tasks.
    Sled(SharedStore),
    /// A PostgreSQL database, shared with other processes.
    Postgres(PgStore),
}

/// The store for one handler's reads and writes; dereferences to
/// [`StoreBackend`]. On sled it read-holds the shared store, so a rewrite
/// (an erasure) waits until it is dropped.
pub struct Handle {
    /// The store the handler works on.
    backend: StoreBackend,
    /// The read hold on sled's shared store.
    _held: Option<StoreHandle>,
}

impl Deref for Handle {
    type Target = StoreBackend;

    fn deref(&self) -> &StoreBackend {
        &self.backend
    }
}

impl ServerStore {
    /// How services (chat turns, follow-ups) reach this store, a step at a
    /// time.
    pub fn access(&self) -> StoreAccess {
        match self {
            Self::Sled(shared) => StoreAccess::shared(shared.clone()),
            Self::Postgres(store) => StoreAccess::postgres(store.clone()),
        }
    }

    /// The store for one handler, waiting while a rewrite runs (sled).
    pub async fn get(&self) -> Result<Handle, StoreError> {
        match self {
            Self::Sled(shared) => {
                let held = shared.get().await?;
                Ok(Handle {
                    backend: StoreBackend::Sled(Store::clone(&held)),
                    _held: Some(held),
                })
            }
            Self::Postgres(store) => Ok(Handle {
                backend: StoreBackend::Postgres(store.clone()),
                _held: None,
            }),
        }
    }

    /// sled's shared store, for what only it does; `None` on PostgreSQL.
    pub fn sled(&self) -> Option<&SharedStore> {
        match self {
            Self::Sled(shared) => Some(shared),
            Self::Postgres(_) => None,
        }
    }
}
