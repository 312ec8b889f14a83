//! The webhook outbox behind [`StoreBackend`]: each webhook's queue, read
//! oldest first and emptied as receivers take their deliveries.

use std::collections::BTreeMap;

use super::StoreBackend;
use crate::store::{OutboxEntry, QueuedDelivery, StoreError};

impl StoreBackend {
    /// The oldest entry waiting for webhook `name`, if any.
    pub async fn next_in_outbox(&self, name: &str) -> Result<Option<QueuedDelivery>, StoreError> {
        match self {
            Self::Sled(store) => store.next_in_outbox(name),
            Self::Postgres(store) => Ok(store.next_in_outbox(name).await?),
        }
    }

    /// How many entries wait for webhook `name`.
    pub async fn outbox_len(&self, name: &str) -> Result<usize, StoreError> {
        match self {
            Self::Sled(store) => store.outbox_len(name),
            Self::Postgres(store) => Ok(store.outbox_len(name).await?),
        }
    }

    /// Removes entry `seq` of webhook `name` once its receiver took it
    /// (durably); `false` if it was already gone.
    pub async fn remove_from_outbox(&self, name: &str, seq: u64) -> Result<bool, StoreError> {
        match self {
            Self::Sled(store) => store.remove_from_outbox(name, seq),
            Self::Postgres(store) => Ok(store.remove_from_outbox(name, seq).await?),
        }
    }

    /// Every webhook with entries waiting, and how many.
    pub async fn outbox_counts(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        match self {
            Self::Sled(store) => store.outbox_counts(),
            Self::Postgres(store) => Ok(store.outbox_counts().await?),
        }
    }

    /// The entries still waiting to be sent about `user`.
    pub async fn user_outbox(&self, user: &str) -> Result<Vec<OutboxEntry>, StoreError> {
        match self {
            Self::Sled(store) => store.user_outbox(user),
            Self::Postgres(store) => Ok(store.user_outbox(user).await?),
        }
    }
}
