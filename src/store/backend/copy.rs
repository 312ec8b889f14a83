//! What `troupe store copy` needs of either store (see
//! [`crate::store::copy`]): reading every table in pages, in the byte order
//! of their natural keys, and writing pages with upserts keyed by them.

use super::StoreBackend;
use crate::safety::SafetyCount;
use crate::store::copy::{CopiedConversation, CopyMarker};
use crate::store::{StoreError, UsageRecord, User};

impl StoreBackend {
    /// How a copy names this store: the data dir (absolute), or the
    /// database and schema. Two handles on one store have the same name.
    pub async fn copy_identity(&self) -> Result<String, StoreError> {
        match self {
            Self::Sled(store) => Ok(store.copy_identity()),
            Self::Postgres(store) => Ok(store.copy_identity().await?),
        }
    }

    /// The mark a copy left in this store, if one did.
    pub async fn copy_marker(&self) -> Result<Option<CopyMarker>, StoreError> {
        match self {
            Self::Sled(store) => store.copy_marker(),
            Self::Postgres(store) => Ok(store.copy_marker().await?),
        }
    }

    /// Leaves (or updates) the mark of a copy, durably.
    pub async fn set_copy_marker(&self, marker: &CopyMarker) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.set_copy_marker(marker),
            Self::Postgres(store) => Ok(store.set_copy_marker(marker).await?),
        }
    }

    /// Whether the store holds any user, conversation, usage record or
    /// safety count.
    pub async fn holds_records(&self) -> Result<bool, StoreError> {
        match self {
            Self::Sled(store) => Ok(store.holds_records()),
            Self::Postgres(store) => Ok(store.holds_records().await?),
        }
    }

    /// Up to `limit` users after id `after`, in byte order of their ids.
    pub async fn users_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        match self {
            Self::Sled(store) => store.users_after(after, limit),
            Self::Postgres(store) => Ok(store.users_after(after, limit).await?),
        }
    }

    /// Up to `limit` conversations after (user, persona) `after`, in byte
    /// order of user then persona, each with its messages, topics and
    /// intent.
    pub async fn conversations_after(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<CopiedConversation>, StoreError> {
        match self {
            Self::Sled(store) => store.conversations_after(after, limit),
            Self::Postgres(store) => Ok(store.conversations_after(after, limit).await?),
        }
    }

    /// At least `limit` usage records (when there are that many) from the
    /// millisecond after `after_ms` on, oldest first, ending with every
    /// record of the last millisecond read.
    pub async fn usage_after(
        &self,
        after_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        match self {
            Self::Sled(store) => store.usage_after(after_ms, limit),
            Self::Postgres(store) => Ok(store.usage_after(after_ms, limit).await?),
        }
    }

    /// Writes `users`, replacing the records of the same ids.
    pub async fn put_users(&self, users: &[User]) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.put_users(users),
            Self::Postgres(store) => Ok(store.put_users(users).await?),
        }
    }

    /// Writes a page of conversations, each keyed by (user, persona) and
    /// its messages by sequence number, in one transaction.
    pub async fn put_conversations(&self, page: &[CopiedConversation]) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.put_conversations(page),
            Self::Postgres(store) => Ok(store.put_conversations(page).await?),
        }
    }

    /// Writes a page of usage records (whole milliseconds, oldest first),
    /// replacing what the store holds in the milliseconds it spans.
    pub async fn put_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.put_usage(records),
            Self::Postgres(store) => Ok(store.put_usage(records).await?),
        }
    }

    /// Sets the safety log's counts to `counts`.
    pub async fn put_safety(&self, counts: &[SafetyCount]) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.put_safety(counts),
            Self::Postgres(store) => Ok(store.put_safety(counts).await?),
        }
    }
}
