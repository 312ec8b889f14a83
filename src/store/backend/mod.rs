//! The storage interface of the conversation path, over either store:
//! sled in the data dir (the embedded default) or PostgreSQL (many
//! processes on one database).
//!
//! An enum rather than a trait: the set of stores is closed and known,
//! `async fn` in a trait cannot be called through `dyn` without boxing
//! every future, and a `match` per method keeps both arms side by side,
//! where a reviewer sees at once that they do the same thing. The
//! interface is async because PostgreSQL is; the sled arm calls the sync
//! store directly: its reads are in memory, and its flush already hands
//! the worker's other tasks to another thread while it waits for the disk
//! (see [`Store::flush`]).
//!
//! The conformance suite (`tests/store_conformance/`) runs the same test
//! bodies against both arms.
//!
//! The methods are grouped by concern: the conversation path here, the
//! follow-up bookkeeping in `followups`, erasure and retention in `rights`,
//! reading and writing whole tables for `troupe store copy` in `copy`.

mod copy;
mod followups;
mod outbox;
mod rights;

use std::path::Path;

use chrono::{DateTime, Utc};

use super::postgres::{Database, PgStore};
use super::{
    AppendEffects, Conversation, Message, PagedMessage, PendingFlush, Store, StoreError, Topic,
};
use super::{ConversationData, PendingWebhook, UsageRecord, User, UserData, UserMatch};
use crate::safety::{SafetyCount, SafetyEvent};

/// The store a process keeps its conversations in.
#[derive(Debug, Clone)]
pub enum StoreBackend {
    /// sled, in the data dir: one process at a time.
    Sled(Store),
    /// PostgreSQL: any number of processes on one database.
    Postgres(PgStore),
}

impl StoreBackend {
    /// Opens the store: PostgreSQL when a `database` is configured
    /// (migrating it first), else sled in `data_dir`.
    pub async fn open(data_dir: &Path, database: Option<Database>) -> Result<Self, StoreError> {
        Ok(match database {
            Some(database) => Self::Postgres(PgStore::open(database).await?),
            None => Self::Sled(Store::open(data_dir)?),
        })
    }

    /// Which store this is, for messages: `sled` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sled(_) => "sled",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The schema version the store was written with.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        match self {
            Self::Sled(store) => Ok(i64::from(store.schema_version()?)),
            Self::Postgres(store) => Ok(store.schema_version().await?),
        }
    }

    /// The user with this id, if they have ever written.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        match self {
            Self::Sled(store) => store.user(id),
            Self::Postgres(store) => Ok(store.user(id).await?),
        }
    }

    /// The user `id` names, ignoring case (see [`UserMatch`]).
    pub async fn match_user(&self, id: &str) -> Result<UserMatch, StoreError> {
        match self {
            Self::Sled(store) => store.match_user(id),
            Self::Postgres(store) => Ok(store.match_user(id).await?),
        }
    }

    /// Records an end-user token for `user` (only its digest is kept).
    pub async fn add_token(&self, token: &str, user: &str) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.add_token(token, user),
            Self::Postgres(store) => Ok(store.add_token(token, user).await?),
        }
    }

    /// The user an end-user token acts for, if this store issued it.
    pub async fn token_user(&self, token: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Sled(store) => store.token_user(token),
            Self::Postgres(store) => Ok(store.token_user(token).await?),
        }
    }

    /// Everything stored about `user`, for an export; `None` for a user
    /// who never wrote.
    pub async fn export_user(&self, user: &str) -> Result<Option<UserData>, StoreError> {
        let Some(record) = self.user(user).await? else {
            return Ok(None);
        };
        let mut conversations = Vec::new();
        for conversation in self.user_conversations(user).await? {
            conversations.push(ConversationData {
                messages: self.messages(&conversation).await?,
                topics: self.topics(&conversation).await?,
                conversation,
            });
        }
        let usage = self
            .usage_since(DateTime::<Utc>::MIN_UTC)
            .await?
            .into_iter()
            .filter(|u| u.user.as_deref() == Some(user))
            .collect();
        let pending_webhooks = self
            .user_outbox(user)
            .await?
            .into_iter()
            .map(PendingWebhook::from)
            .collect();
        Ok(Some(UserData {
            user: record,
            conversations,
            usage,
            pending_webhooks,
        }))
    }

    /// Applies `change` to the settings of `user` (created at `now` if
    /// new), stores them durably, and returns them.
    pub async fn update_user(
        &self,
        user: &str,
        now: DateTime<Utc>,
        change: &(dyn Fn(&mut User) + Sync),
    ) -> Result<User, StoreError> {
        match self {
            Self::Sled(store) => store.update_user(user, now, change),
            Self::Postgres(store) => Ok(store.update_user(user, now, change).await?),
        }
    }

    /// The conversation of `user` with `persona`, if they have talked.
    pub async fn conversation(
        &self,
        user: &str,
        persona: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        match self {
            Self::Sled(store) => store.conversation(user, persona),
            Self::Postgres(store) => Ok(store.conversation(user, persona).await?),
        }
    }

    /// Every conversation of `user`.
    pub async fn user_conversations(&self, user: &str) -> Result<Vec<Conversation>, StoreError> {
        match self {
            Self::Sled(store) => store.user_conversations(user),
            Self::Postgres(store) => Ok(store.user_conversations(user).await?),
        }
    }

    /// Appends `message` to the conversation of `user` with `persona`
    /// (both created if needed), applies `effects` in the same transaction,
    /// and returns the updated conversation once it is on disk.
    pub async fn append(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        effects: &AppendEffects<'_>,
    ) -> Result<Conversation, StoreError> {
        match self {
            Self::Sled(store) => {
                let (conversation, flushing) =
                    store.append_flushing(user, persona, message, effects)?;
                flushing.finish().await?;
                Ok(conversation)
            }
            Self::Postgres(store) => Ok(store.append(user, persona, message, effects).await?),
        }
    }

    /// [`StoreBackend::append`] for a reply, with the usage record of the
    /// model call that wrote it: on PostgreSQL in the same transaction
    /// (one commit for both), on sled written just before it and made
    /// durable by its flush.
    pub async fn append_with_usage(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        effects: &AppendEffects<'_>,
        usage: &UsageRecord,
    ) -> Result<Conversation, StoreError> {
        match self {
            Self::Sled(store) => {
                store.record_usage(usage)?;
                self.append(user, persona, message, effects).await
            }
            Self::Postgres(store) => Ok(store
                .append_with_usage(user, persona, message, effects, Some(usage))
                .await?),
        }
    }

    /// Like [`StoreBackend::append`], but returns as soon as the message
    /// is written, with the flush that makes it durable under way (sled)
    /// or done (PostgreSQL, whose commit is durable): the caller works
    /// meanwhile and waits for it before anything depends on the message.
    pub async fn append_flushing(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        effects: &AppendEffects<'_>,
    ) -> Result<(Conversation, PendingFlush), StoreError> {
        match self {
            Self::Sled(store) => store.append_flushing(user, persona, message, effects),
            Self::Postgres(store) => {
                let conversation = store.append(user, persona, message, effects).await?;
                Ok((conversation, PendingFlush::finished()))
            }
        }
    }

    /// Message number `seq` of a conversation.
    pub async fn message(
        &self,
        conversation: &Conversation,
        seq: u64,
    ) -> Result<Option<Message>, StoreError> {
        match self {
            Self::Sled(store) => store.message(conversation, seq),
            Self::Postgres(store) => Ok(store.message(conversation, seq).await?),
        }
    }

    /// Every message of a conversation, oldest first.
    pub async fn messages(&self, conversation: &Conversation) -> Result<Vec<Message>, StoreError> {
        match self {
            Self::Sled(store) => store.messages(conversation),
            Self::Postgres(store) => Ok(store.messages(conversation).await?),
        }
    }

    /// Up to `limit` messages before sequence number `before` (the newest
    /// when `None`), oldest first.
    pub async fn messages_page(
        &self,
        conversation: &Conversation,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<PagedMessage>, StoreError> {
        match self {
            Self::Sled(store) => store.messages_page(conversation, before, limit),
            Self::Postgres(store) => Ok(store.messages_page(conversation, before, limit).await?),
        }
    }

    /// The last `limit` messages of a conversation, oldest first.
    pub async fn recent_messages(
        &self,
        conversation: &Conversation,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        match self {
            Self::Sled(store) => store.recent_messages(conversation, limit),
            Self::Postgres(store) => Ok(store.recent_messages(conversation, limit).await?),
        }
    }

    /// The topics of a conversation, as stored.
    pub async fn topics(&self, conversation: &Conversation) -> Result<Vec<Topic>, StoreError> {
        match self {
            Self::Sled(store) => store.topics(conversation),
            Self::Postgres(store) => Ok(store.topics(conversation).await?),
        }
    }

    /// Records one model call's usage.
    pub async fn record_usage(&self, record: &UsageRecord) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.record_usage(record),
            Self::Postgres(store) => Ok(store.record_usage(record).await?),
        }
    }

    /// Usage records from `since` on, oldest first.
    pub async fn usage_since(&self, since: DateTime<Utc>) -> Result<Vec<UsageRecord>, StoreError> {
        match self {
            Self::Sled(store) => store.usage_since(since),
            Self::Postgres(store) => Ok(store.usage_since(since).await?),
        }
    }

    /// Counts a safety event (per day, kind and language; nothing else).
    pub async fn record_safety_event(&self, event: &SafetyEvent) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.record_safety_event(event),
            Self::Postgres(store) => Ok(store.record_safety_event(event).await?),
        }
    }

    /// The safety log: counts per day, kind and language, oldest day first.
    pub async fn safety_counts(&self) -> Result<Vec<SafetyCount>, StoreError> {
        match self {
            Self::Sled(store) => store.safety_counts(),
            Self::Postgres(store) => Ok(store.safety_counts().await?),
        }
    }
}
