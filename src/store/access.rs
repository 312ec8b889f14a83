//! How a service reaches the store. A long-lived process that owns its data
//! dir (the server) keeps the store open and hands it over as it is. A
//! command opens it on demand for one step of work (the reads and writes of
//! one moment) and closes it right after, so that no command holds the data
//! dir while it waits for a person or a model: other users' chats, `history`
//! or a follow-up run get their turn meanwhile.
//!
//! A step is one [`StoreAccess::hold`]. Holds taken while another is alive
//! share the open store, and the store closes (flushing what was written)
//! when the last of them is dropped. Services take a hold around each group
//! of reads and writes, and never keep one across a model call or a prompt.
//!
//! Opening costs a few milliseconds on a small store and grows with the
//! store's log (sled replays it): about 4 ms with one conversation, 20 ms
//! with a thousand, 50 ms with five thousand (debug build). Services
//! therefore group their work into few steps rather than holding per call.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::postgres::{PgError, PgStore};
use super::{SharedStore, Store, StoreBackend, StoreError, StoreHandle};

/// How a service reaches the store; cloning shares it (and its holds).
#[derive(Debug, Clone)]
pub struct StoreAccess {
    /// Kept open, or opened on demand.
    mode: Mode,
}

#[derive(Debug, Clone)]
enum Mode {
    /// A store the process keeps open (the server's).
    Kept(Store),
    /// Opened for each step from the data dir, closed after it.
    OnDemand(Arc<OnDemand>),
    /// A store the process shares between tasks (the server's), read-held
    /// for each step so that a rewrite (an erasure) waits only for the
    /// steps in progress, never for a model.
    Shared(Arc<SharedSteps>),
    /// A PostgreSQL database: every step goes to its pool, and nothing is
    /// held between steps (any number of processes share it).
    Postgres(PgStore),
}

/// The store for one step, through the interface both stores share;
/// dereferences to [`StoreBackend`]. On sled it holds the store as
/// [`StoreAccess::hold`] does, so a step's reads and writes share one open
/// store; on PostgreSQL it holds nothing.
pub struct Step<'a> {
    /// The store the step works on.
    backend: StoreBackend,
    /// The sled hold the step keeps alive, if any.
    _held: Option<Held<'a>>,
}

impl Deref for Step<'_> {
    type Target = StoreBackend;

    fn deref(&self) -> &StoreBackend {
        &self.backend
    }
}

/// The shared store, and the handle while a step holds it.
#[derive(Debug)]
struct SharedSteps {
    /// The store.
    store: SharedStore,
    /// The handle while at least one hold is alive.
    open: Mutex<Weak<StoreHandle>>,
}

/// The data dir, and the store while a step holds it.
#[derive(Debug)]
struct OnDemand {
    /// Where the store lives.
    dir: PathBuf,
    /// The store while at least one hold is alive; it closes with the last.
    open: Mutex<Weak<Store>>,
}

/// The store, held for one step of work; dereferences to [`Store`].
#[derive(Debug)]
pub struct Held<'a>(HeldStore<'a>);

#[derive(Debug)]
enum HeldStore<'a> {
    /// The kept store, borrowed.
    Kept(&'a Store),
    /// A store opened for this step, shared with the step's other holds.
    Opened(Arc<Store>),
    /// The shared store, read-held for this step.
    Shared(Arc<StoreHandle>),
}

impl Deref for Held<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        match &self.0 {
            HeldStore::Kept(store) => store,
            HeldStore::Opened(store) => store,
            HeldStore::Shared(handle) => handle,
        }
    }
}

impl StoreAccess {
    /// Access to a store this process keeps open.
    pub fn kept(store: Store) -> Self {
        Self {
            mode: Mode::Kept(store),
        }
    }

    /// Access to a store the process shares between tasks: each step
    /// holds it for reading, so a rewrite waits only for the steps in
    /// progress. Nested holds share one handle.
    pub fn shared(store: SharedStore) -> Self {
        Self {
            mode: Mode::Shared(Arc::new(SharedSteps {
                store,
                open: Mutex::new(Weak::new()),
            })),
        }
    }

    /// Access to the store in data dir `dir`, opened for each step of work
    /// and closed after it.
    pub fn on_demand(dir: &Path) -> Self {
        Self {
            mode: Mode::OnDemand(Arc::new(OnDemand {
                dir: dir.to_path_buf(),
                open: Mutex::new(Weak::new()),
            })),
        }
    }

    /// Access to a PostgreSQL database, shared by every process using it.
    pub fn postgres(store: PgStore) -> Self {
        Self {
            mode: Mode::Postgres(store),
        }
    }

    /// The data dir (on PostgreSQL, where the deployment's files are).
    pub fn dir(&self) -> &Path {
        match &self.mode {
            Mode::Kept(store) => store.dir(),
            Mode::OnDemand(on_demand) => &on_demand.dir,
            Mode::Shared(shared) => shared.store.dir(),
            Mode::Postgres(_) => Path::new("."),
        }
    }

    /// Whether this is a PostgreSQL database rather than sled.
    pub fn is_postgres(&self) -> bool {
        matches!(self.mode, Mode::Postgres(_))
    }

    /// The store for one step of work, through the interface both stores
    /// share (see [`Step`]). Drop it as soon as the step's reads and
    /// writes are done.
    pub fn step(&self) -> Result<Step<'_>, StoreError> {
        if let Mode::Postgres(store) = &self.mode {
            return Ok(Step {
                backend: StoreBackend::Postgres(store.clone()),
                _held: None,
            });
        }
        let held = self.hold()?;
        Ok(Step {
            backend: StoreBackend::Sled(Store::clone(&held)),
            _held: Some(held),
        })
    }

    /// The store, for one step: the store a step in progress holds, else
    /// the store opened now (waiting, as [`Store::open`] does, for another
    /// process to let go of it). Drop it as soon as the step's reads and
    /// writes are done.
    pub fn hold(&self) -> Result<Held<'_>, StoreError> {
        match &self.mode {
            Mode::Kept(store) => Ok(Held(HeldStore::Kept(store))),
            Mode::OnDemand(on_demand) => on_demand.hold().map(|s| Held(HeldStore::Opened(s))),
            Mode::Shared(shared) => shared.hold().map(|h| Held(HeldStore::Shared(h))),
            Mode::Postgres(store) => Err(StoreError::from(PgError::NotYetUsed {
                target: store.target().to_string(),
                command: "this part of troupe",
            })),
        }
    }

    /// Whether a step holds the store open now (always, for a kept store).
    pub fn is_held(&self) -> bool {
        match &self.mode {
            Mode::Kept(_) | Mode::Shared(_) | Mode::Postgres(_) => true,
            Mode::OnDemand(on_demand) => {
                on_demand
                    .open
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .strong_count()
                    > 0
            }
        }
    }
}

impl OnDemand {
    fn hold(&self) -> Result<Arc<Store>, StoreError> {
        // A poisoned lock only means a hold panicked elsewhere; the weak
        // pointer it guards is still sound.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = open.upgrade() {
            return Ok(store);
        }
        let store = Arc::new(Store::open(&self.dir)?);
        *open = Arc::downgrade(&store);
        Ok(store)
    }
}

impl SharedSteps {
    fn hold(&self) -> Result<Arc<StoreHandle>, StoreError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = open.upgrade() {
            return Ok(handle);
        }
        let handle = Arc::new(self.store.get_now()?);
        *open = Arc::downgrade(&handle);
        Ok(handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AppendEffects, Message};
    use std::time::Duration;

    #[test]
    fn holds_in_one_step_share_the_store_and_the_last_one_closes_it() {
        let dir = tempfile::tempdir().unwrap();
        let access = StoreAccess::on_demand(dir.path());
        assert!(!access.is_held());
        {
            let outer = access.hold().unwrap();
            let inner = access.hold().unwrap();
            assert!(access.is_held());
            let message = Message::from_user("hello", chrono::Utc::now());
            inner
                .append("ana", "chef", &message, &AppendEffects::NONE)
                .unwrap();
            drop(inner);
            assert!(outer.conversation("ana", "chef").unwrap().is_some());
        }
        assert!(!access.is_held());
        // Closed: another process (here, a plain open) may take the data dir.
        let other = Store::open(dir.path()).unwrap();
        assert!(other.conversation("ana", "chef").unwrap().is_some());
    }

    #[test]
    fn a_kept_store_is_handed_over_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let access = StoreAccess::kept(Store::open(dir.path()).unwrap());
        assert!(access.is_held());
        assert_eq!(access.hold().unwrap().dir(), dir.path());
        let other = super::super::lock::lock_data_dir(dir.path(), Duration::from_millis(50));
        assert!(other.is_err(), "the data dir stays held");
    }
}
