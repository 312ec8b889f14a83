//! What `troupe doctor` learns about a data dir: who holds it, and the
//! facts of its store (schema version, a rewrite left pending, the newest
//! recorded activity, time zones the build does not know). It creates
//! nothing: a data dir or store that does not exist yet is reported so.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::records::User;
use super::rewrite::{NEW_DIR, OLD_DIR};
use super::{LOCK_FILE, SCHEMA_KEY, STORE_DIR, Store, StoreError, decode, lock};

/// How long inspecting waits for a command that holds the data dir for a
/// moment, before calling it held.
const PATIENCE: Duration = Duration::from_secs(1);

/// The state of a data dir.
#[derive(Debug, Clone, PartialEq)]
pub enum DataDirState {
    /// The data dir does not exist yet; the first command that stores
    /// something creates it.
    Missing,
    /// A running server holds it, at this address; commands go through it.
    Served(String),
    /// The data dir exists but holds no store yet.
    NoStore,
    /// A store, with what was learned from it.
    Store(StoreFacts),
}

/// What a store says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreFacts {
    /// The record layout it was written with.
    pub schema_version: u32,
    /// A purge deleted records that only a rewrite makes unrecoverable.
    pub compaction_pending: bool,
    /// Users stored.
    pub users: usize,
    /// The time of the newest model call recorded, if any.
    pub newest_activity: Option<DateTime<Utc>>,
    /// Time zones set for users that this build's time zone database does
    /// not know, each once.
    pub unknown_timezones: Vec<String>,
}

/// Inspects data dir `dir`. Fails as opening does: [`StoreError::Locked`]
/// when another command has held it for longer than a second, and on a
/// damaged store or one from a newer Troupe.
pub fn inspect(dir: &Path) -> Result<DataDirState, StoreError> {
    if !dir.exists() {
        return Ok(DataDirState::Missing);
    }
    if let Some(address) = lock::server_holding(dir) {
        return Ok(DataDirState::Served(address));
    }
    // Taken even with no store yet, to learn whether another command holds
    // the data dir; but never created here.
    let held = if dir.join(LOCK_FILE).exists() {
        Some(lock::lock_data_dir(dir, PATIENCE)?)
    } else {
        None
    };
    let any_store = [STORE_DIR, NEW_DIR, OLD_DIR]
        .iter()
        .any(|name| dir.join(name).exists());
    if !any_store {
        return Ok(DataDirState::NoStore);
    }
    let held = match held {
        Some(held) => held,
        None => lock::lock_data_dir(dir, PATIENCE)?,
    };
    let store = Store::open_locked(dir, Arc::new(held))?;
    Ok(DataDirState::Store(store.facts()?))
}

impl Store {
    /// The record layout this store was written with.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        let bytes = meta
            .get(SCHEMA_KEY)
            .map_err(|e| self.error(e))?
            .ok_or_else(|| self.corrupt("the schema version is missing"))?;
        <[u8; 4]>::try_from(bytes.as_ref())
            .map(u32::from_be_bytes)
            .map_err(|_| self.corrupt("the schema version is unreadable"))
    }

    /// What [`inspect`] reports about this store.
    fn facts(&self) -> Result<StoreFacts, StoreError> {
        let newest_activity = match self.usage.last().map_err(|e| self.error(e))? {
            Some((key, _)) => key
                .get(..8)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(|b| (u64::from_be_bytes(b) ^ (1 << 63)) as i64)
                .and_then(DateTime::from_timestamp_millis),
            None => None,
        };
        let mut unknown_timezones = Vec::new();
        let mut users = 0;
        for item in self.users.iter().values() {
            let bytes = item.map_err(|e| self.error(e))?;
            let user: User = decode(&bytes).map_err(|d| self.corrupt(&d))?;
            users += 1;
            if let Some(zone) = user.timezone
                && zone.parse::<chrono_tz::Tz>().is_err()
                && !unknown_timezones.contains(&zone)
            {
                unknown_timezones.push(zone);
            }
        }
        Ok(StoreFacts {
            schema_version: self.schema_version()?,
            compaction_pending: self.compaction_pending()?,
            users,
            newest_activity,
            unknown_timezones,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_data_dir_is_reported_without_creating_anything() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nothing");
        assert_eq!(inspect(&missing).unwrap(), DataDirState::Missing);
        assert!(!missing.exists());
        assert_eq!(inspect(dir.path()).unwrap(), DataDirState::NoStore);
        assert!(!dir.path().join(STORE_DIR).exists());
    }

    #[test]
    fn a_store_reports_its_schema_version_and_a_held_one_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let err = inspect(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Locked(_)), "{err:?}");
        drop(store);
        let DataDirState::Store(facts) = inspect(dir.path()).unwrap() else {
            panic!("a store was expected");
        };
        assert_eq!(facts.schema_version, super::super::SCHEMA_VERSION);
        assert!(!facts.compaction_pending);
        assert_eq!(facts.newest_activity, None);
    }
}
