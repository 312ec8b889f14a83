//! Erasure and retention behind [`StoreBackend`]: both remove the rows and
//! make sure their text is gone from the store's files too. sled rewrites
//! its files without them (taking the store: no other handle may be open);
//! PostgreSQL deletes in one transaction and then rewrites the tables with
//! `VACUUM FULL` (see [`crate::store::postgres`]).

use chrono::{DateTime, Utc};

use super::StoreBackend;
use crate::progress::Progress;
use crate::store::{Erasure, Purge, StoreError};

impl StoreBackend {
    /// Removes every record of `user`, from the files too, and returns the
    /// store to go on with (sled's is reopened after its rewrite) and what
    /// was removed. `progress` hears sled's rewrite advance.
    pub async fn erase_user(
        self,
        user: &str,
        progress: &mut dyn Progress,
    ) -> Result<(StoreBackend, Erasure), StoreError> {
        match self {
            Self::Sled(store) => {
                let (store, erasure) = store.erase_user(user, progress)?;
                Ok((Self::Sled(store), erasure))
            }
            Self::Postgres(store) => {
                let erasure = store.erase_user(user).await?;
                Ok((Self::Postgres(store), erasure))
            }
        }
    }

    /// Removes what is older than `cutoff` (messages and their times in
    /// the conversation's record, topics last mentioned before it, usage
    /// records and webhook deliveries from before it), from the files too;
    /// returns the store to go on with and what was removed.
    pub async fn purge_before(
        self,
        cutoff: DateTime<Utc>,
        progress: &mut dyn Progress,
    ) -> Result<(StoreBackend, Purge), StoreError> {
        match self {
            Self::Sled(store) => {
                let (store, purge) = store.purge_before(cutoff, progress)?;
                Ok((Self::Sled(store), purge))
            }
            Self::Postgres(store) => {
                let purge = store.purge_before(cutoff).await?;
                Ok((Self::Postgres(store), purge))
            }
        }
    }
}
