//! Reading PostgreSQL for a copy (see [`crate::store::copy`]): the tables
//! in pages, in the byte order of their natural keys (`COLLATE "C"`, the
//! order sled's keys sort in), a page of conversations with their messages
//! and topics in three queries; and the copy's mark. Writing a copy is in
//! `copy_into`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Postgres;

use super::PgStore;
use super::error::PgError;
use super::rows::{ClaimRow, MessageRow, TopicRow, UsageRow, UserRow, bigint, timestamptz};
use crate::store::PagedMessage;
use crate::store::copy::{CopiedConversation, CopyMarker, IntentHold};
use crate::store::records::{Conversation, Topic, UsageRecord, User};

/// The mark of a copy, as stored.
#[derive(Debug, sqlx::FromRow)]
struct MarkerRow {
    /// The source the copy copies.
    source: String,
    /// When its first run began.
    started_at: DateTime<Utc>,
    /// When a run finished, verified.
    finished_at: Option<DateTime<Utc>>,
}

/// A message with the conversation it belongs to.
#[derive(Debug, sqlx::FromRow)]
struct OwnedMessageRow {
    /// The conversation.
    conversation_id: i64,
    /// The message.
    #[sqlx(flatten)]
    message: MessageRow,
}

/// A topic with the conversation it belongs to.
#[derive(Debug, sqlx::FromRow)]
struct OwnedTopicRow {
    /// The conversation.
    conversation_id: i64,
    /// The topic.
    #[sqlx(flatten)]
    topic: TopicRow,
}

/// The columns of a usage row, in [`UsageRow`]'s order.
const USAGE_COLUMNS: &str =
    "at, user_id, persona, model, kind, prompt_tokens, completion_tokens, latency_ms, outcome";

/// The first instant of millisecond `ms`.
pub(super) fn millisecond(ms: i64) -> DateTime<Utc> {
    timestamptz(DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC))
}

impl PgStore {
    /// How a copy names this store: the database and the schema its
    /// tables are in, as the server reports them.
    pub async fn copy_identity(&self) -> Result<String, PgError> {
        let (database, schema): (String, Option<String>) =
            sqlx::query_as("SELECT current_database()::text, current_schema()::text")
                .fetch_one(&self.pool)
                .await
                .map_err(self.failed("naming the database"))?;
        let options = self.database.options();
        Ok(format!(
            "postgres://{}@{}:{}/{database} (schema {})",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            schema.unwrap_or_default()
        ))
    }

    /// The mark a copy left here, if one did.
    pub async fn copy_marker(&self) -> Result<Option<CopyMarker>, PgError> {
        let row: Option<MarkerRow> =
            sqlx::query_as("SELECT source, started_at, finished_at FROM store_copy")
                .fetch_optional(&self.pool)
                .await
                .map_err(self.failed("reading the copy's mark"))?;
        Ok(row.map(|row| CopyMarker {
            source: row.source,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }))
    }

    /// Leaves (or updates) the mark of a copy.
    pub async fn set_copy_marker(&self, marker: &CopyMarker) -> Result<(), PgError> {
        sqlx::query(
            "INSERT INTO store_copy (only_row, source, started_at, finished_at)
             VALUES (true, $1, $2, $3)
             ON CONFLICT (only_row) DO UPDATE SET source = EXCLUDED.source,
                 started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at",
        )
        .bind(&marker.source)
        .bind(marker.started_at)
        .bind(marker.finished_at)
        .execute(&self.pool)
        .await
        .map_err(self.failed("marking the copy"))?;
        Ok(())
    }

    /// Whether the database holds any user, conversation, usage record or
    /// safety count.
    pub async fn holds_records(&self) -> Result<bool, PgError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM conversations)
                 OR EXISTS (SELECT 1 FROM usage) OR EXISTS (SELECT 1 FROM safety_events)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(self.failed("looking for records"))
    }

    /// Up to `limit` users after id `after`, in byte order of their ids.
    pub async fn users_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, PgError> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT * FROM users WHERE $1::text IS NULL OR id COLLATE \"C\" > $1
             ORDER BY id COLLATE \"C\" LIMIT $2",
        )
        .bind(after)
        .bind(bigint(limit as u64))
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading users"))?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// Up to `limit` conversations after (user, persona) `after`, in byte
    /// order of user then persona, each with its messages, topics and
    /// intent.
    pub async fn conversations_after(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<CopiedConversation>, PgError> {
        let rows: Vec<ClaimRow> = sqlx::query_as(
            "SELECT * FROM conversations
             WHERE $1::text IS NULL OR user_id COLLATE \"C\" > $1
                OR (user_id = $1 AND persona COLLATE \"C\" > $2)
             ORDER BY user_id COLLATE \"C\", persona COLLATE \"C\" LIMIT $3",
        )
        .bind(after.map(|(user, _)| user))
        .bind(after.map(|(_, persona)| persona))
        .bind(bigint(limit as u64))
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading conversations"))?;
        let ids: Vec<i64> = rows.iter().map(|row| row.conversation.id).collect();
        let mut messages = self.messages_of(&ids).await?;
        let mut topics = self.topics_of(&ids).await?;
        let mut page = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, owner, lease_until) = (row.conversation.id, row.intent_owner, row.lease_until);
            let conversation =
                Conversation::try_from(row.conversation).map_err(|d| self.unreadable(d))?;
            let intent = conversation.pending_followup.map(|_| IntentHold {
                owner: owner.unwrap_or_default(),
                lease_until,
            });
            page.push(CopiedConversation {
                messages: messages.remove(&id).unwrap_or_default(),
                topics: topics.remove(&id).unwrap_or_default(),
                intent,
                conversation,
            });
        }
        Ok(page)
    }

    /// Every message of the conversations `ids`, oldest first, by
    /// conversation: one query for a page of conversations.
    async fn messages_of(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<PagedMessage>>, PgError> {
        let rows: Vec<OwnedMessageRow> = sqlx::query_as(
            "SELECT conversation_id, seq, role, kind, text, at, model, interrupted, truncated,
                 disclaimers
             FROM messages WHERE conversation_id = ANY($1) ORDER BY conversation_id, seq",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading messages"))?;
        let mut by_conversation: HashMap<i64, Vec<PagedMessage>> = HashMap::new();
        for row in rows {
            let (seq, message) = row.message.into_message().map_err(|d| self.unreadable(d))?;
            by_conversation
                .entry(row.conversation_id)
                .or_default()
                .push(PagedMessage { seq, message });
        }
        Ok(by_conversation)
    }

    /// The topics of the conversations `ids`, in their stored order, by
    /// conversation: one query for a page of conversations.
    async fn topics_of(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Topic>>, PgError> {
        let rows: Vec<OwnedTopicRow> = sqlx::query_as(
            "SELECT conversation_id, phrase, score, mentions, updated_at, sensitive FROM topics
             WHERE conversation_id = ANY($1) ORDER BY conversation_id, position",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading topics"))?;
        let mut by_conversation: HashMap<i64, Vec<Topic>> = HashMap::new();
        for row in rows {
            let topic = Topic::try_from(row.topic).map_err(|d| self.unreadable(d))?;
            by_conversation
                .entry(row.conversation_id)
                .or_default()
                .push(topic);
        }
        Ok(by_conversation)
    }

    /// At least `limit` usage records (when there are that many) from the
    /// millisecond after `after_ms` on, oldest first, always ending with
    /// every record of the last millisecond read: a page of whole
    /// milliseconds, which [`PgStore::put_usage`] replaces whole.
    pub async fn usage_after(
        &self,
        after_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<UsageRecord>, PgError> {
        let from = after_ms.map_or(timestamptz(DateTime::<Utc>::MIN_UTC), |ms| {
            millisecond(ms.saturating_add(1))
        });
        let mut records = self
            .usage_rows(
                "at >= $1 ORDER BY at, id LIMIT $2",
                from,
                bigint(limit as u64),
            )
            .await?;
        if records.len() < limit {
            return Ok(records);
        }
        let Some(last_ms) = records.last().map(|r| r.at.timestamp_millis()) else {
            return Ok(records);
        };
        records.retain(|r| r.at.timestamp_millis() != last_ms);
        let rest = self
            .usage_rows(
                "at >= $1 AND at < $2 ORDER BY at, id",
                millisecond(last_ms),
                millisecond(last_ms.saturating_add(1)),
            )
            .await?;
        records.extend(rest);
        Ok(records)
    }

    /// Usage records matching `condition` (on `$1` and `$2`).
    async fn usage_rows<T>(
        &self,
        condition: &str,
        first: DateTime<Utc>,
        second: T,
    ) -> Result<Vec<UsageRecord>, PgError>
    where
        T: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + Send + 'static,
    {
        let rows: Vec<UsageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USAGE_COLUMNS} FROM usage WHERE {condition}"
        )))
        .bind(first)
        .bind(second)
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading usage"))?;
        rows.into_iter()
            .map(|row| UsageRecord::try_from(row).map_err(|d| self.unreadable(d)))
            .collect()
    }
}
