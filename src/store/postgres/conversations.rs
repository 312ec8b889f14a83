//! Conversations and their messages in PostgreSQL: the append that keeps a
//! conversation's counters current, and history read in order or in pages.
//!
//! An append is one transaction: it locks the conversation's row
//! (`SELECT … FOR UPDATE`; the user and the conversation are created first
//! if needed), takes the next sequence number from it, inserts the message
//! and updates the counters, topics and due window, and commits: four round
//! trips in the common case (begin, lock, store, commit). Turns of one user that
//! reach two processes at once queue on that row lock, so each gets its
//! own number, in the order they took the lock: none lost, none doubled.
//! The commit returns once the WAL is flushed (PostgreSQL's default
//! `synchronous_commit = on`), so an acknowledged message survives a crash.

use sqlx::{PgConnection, Postgres, Transaction};

use super::PgStore;
use super::error::PgError;
use super::rows::{ConversationRow, MessageRow, TopicRow, bigint, word};
use crate::store::records::{Conversation, Message, SessionMarks, Topic};
use crate::store::{AppendEffects, PagedMessage};

/// Every column of a message, in [`MessageRow`]'s order.
const MESSAGE_COLUMNS: &str =
    "seq, role, kind, text, at, model, interrupted, truncated, disclaimers";

impl PgStore {
    /// Appends `message` to the conversation of `user` with `persona`,
    /// creating the user and the conversation if needed, applies `effects`,
    /// and returns the updated conversation once it is committed.
    pub async fn append(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        effects: &AppendEffects<'_>,
    ) -> Result<Conversation, PgError> {
        self.append_with_usage(user, persona, message, effects, None)
            .await
    }

    /// [`PgStore::append`], with the usage record of the model call that
    /// wrote `message` kept in the same transaction: one commit for both.
    pub async fn append_with_usage(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        effects: &AppendEffects<'_>,
        usage: Option<&crate::store::UsageRecord>,
    ) -> Result<Conversation, PgError> {
        let failed = self.failed("appending a message");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        let mut conversation = match self.lock_existing(&mut tx, user, persona).await? {
            Some(conversation) => conversation,
            None => self.create(&mut tx, user, persona, message).await?,
        };
        if let Some(marks) = effects.session {
            mark_session(&mut tx, user, marks).await.map_err(&failed)?;
        }
        let seq = conversation.record(message);
        if let Some(update) = effects.topics {
            let mut topics = self.read_topics(&mut tx, conversation.id).await?;
            update(&mut topics);
            write_topics(&mut tx, conversation.id, &topics)
                .await
                .map_err(&failed)?;
        }
        conversation.due = (effects.schedule)(&conversation);
        store_message(&mut tx, &conversation, seq, message)
            .await
            .map_err(&failed)?;
        if let Some(record) = usage {
            super::records::insert_usage(&mut *tx, record)
                .await
                .map_err(&failed)?;
        }
        tx.commit().await.map_err(&failed)?;
        Ok(conversation)
    }

    /// Inside an append: the conversation of `user` with `persona`, its row
    /// locked until the commit, if it exists (the common case: one round
    /// trip).
    async fn lock_existing(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        user: &str,
        persona: &str,
    ) -> Result<Option<Conversation>, PgError> {
        let row: Option<ConversationRow> = sqlx::query_as(
            "SELECT * FROM conversations WHERE user_id = $1 AND persona = $2 FOR UPDATE",
        )
        .bind(user)
        .bind(persona)
        .fetch_optional(&mut **tx)
        .await
        .map_err(self.failed("appending a message"))?;
        row.map(Conversation::try_from)
            .transpose()
            .map_err(|d| self.unreadable(d))
    }

    /// Inside an append: creates the user (if new) and the conversation
    /// from its first message, inheriting the user's crisis hold, and
    /// locks its row. A concurrent first append of the same conversation
    /// waits on the insert for the other's commit, then inserts nothing:
    /// both go on to lock the same row.
    async fn create(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        user: &str,
        persona: &str,
        first: &Message,
    ) -> Result<Conversation, PgError> {
        self.insert_conversation(tx, user, persona, first.at, word(&first.role))
            .await?;
        self.lock_existing(tx, user, persona)
            .await?
            .ok_or_else(|| PgError::Query {
                target: self.target().to_string(),
                doing: "appending a message",
                detail: "the conversation just created is gone".to_string(),
            })
    }

    /// Inside a change: creates the user (if new) and an empty
    /// conversation started by the user at `at` (if none), inheriting the
    /// user's crisis hold.
    pub(super) async fn create_empty(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        user: &str,
        persona: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), PgError> {
        self.insert_conversation(tx, user, persona, at, word(&crate::store::Role::User))
            .await
    }

    /// Inserts the user and the conversation if they do not exist yet.
    async fn insert_conversation(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        user: &str,
        persona: &str,
        at: chrono::DateTime<chrono::Utc>,
        started_by: String,
    ) -> Result<(), PgError> {
        let failed = self.failed("creating a conversation");
        sqlx::query(
            "INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(user)
        .bind(at)
        .execute(&mut **tx)
        .await
        .map_err(&failed)?;
        sqlx::query(
            "INSERT INTO conversations (user_id, persona, started_at, started_by, hold_until)
             SELECT $1, $2, $3, $4, hold_until FROM users WHERE id = $1
             ON CONFLICT (user_id, persona) DO NOTHING",
        )
        .bind(user)
        .bind(persona)
        .bind(at)
        .bind(started_by)
        .execute(&mut **tx)
        .await
        .map_err(&failed)?;
        Ok(())
    }

    /// The conversation of `user` with `persona`, if they have talked.
    pub async fn conversation(
        &self,
        user: &str,
        persona: &str,
    ) -> Result<Option<Conversation>, PgError> {
        let row: Option<ConversationRow> =
            sqlx::query_as("SELECT * FROM conversations WHERE user_id = $1 AND persona = $2")
                .bind(user)
                .bind(persona)
                .fetch_optional(&self.pool)
                .await
                .map_err(self.failed("reading a conversation"))?;
        row.map(Conversation::try_from)
            .transpose()
            .map_err(|d| self.unreadable(d))
    }

    /// Every conversation of `user`, by persona.
    pub async fn user_conversations(&self, user: &str) -> Result<Vec<Conversation>, PgError> {
        let rows: Vec<ConversationRow> =
            sqlx::query_as("SELECT * FROM conversations WHERE user_id = $1 ORDER BY persona")
                .bind(user)
                .fetch_all(&self.pool)
                .await
                .map_err(self.failed("reading a user's conversations"))?;
        rows.into_iter()
            .map(|row| Conversation::try_from(row).map_err(|d| self.unreadable(d)))
            .collect()
    }

    /// Message number `seq` of a conversation.
    pub async fn message(
        &self,
        conversation: &Conversation,
        seq: u64,
    ) -> Result<Option<Message>, PgError> {
        let row: Option<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq = $2"
        )))
        .bind(bigint(conversation.id))
        .bind(bigint(seq))
        .fetch_optional(&self.pool)
        .await
        .map_err(self.failed("reading a message"))?;
        row.map(|row| row.into_message().map(|(_, m)| m))
            .transpose()
            .map_err(|d| self.unreadable(d))
    }

    /// Every message of a conversation, oldest first.
    pub async fn messages(&self, conversation: &Conversation) -> Result<Vec<Message>, PgError> {
        let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY seq"
        )))
        .bind(bigint(conversation.id))
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading a conversation's messages"))?;
        rows.into_iter()
            .map(|row| row.into_message().map(|(_, m)| m))
            .collect::<Result<_, _>>()
            .map_err(|d| self.unreadable(d))
    }

    /// Up to `limit` messages before sequence number `before` (the newest
    /// when `None`), oldest first: read backwards along the primary key, so
    /// a page costs the same in a long conversation as in a short one.
    pub async fn messages_page(
        &self,
        conversation: &Conversation,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<PagedMessage>, PgError> {
        let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2
             ORDER BY seq DESC LIMIT $3"
        )))
        .bind(bigint(conversation.id))
        .bind(before.map_or(i64::MAX, bigint))
        .bind(bigint(limit as u64))
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading a page of messages"))?;
        let mut page = rows
            .into_iter()
            .map(|row| {
                row.into_message()
                    .map(|(seq, message)| PagedMessage { seq, message })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|d| self.unreadable(d))?;
        page.reverse();
        Ok(page)
    }

    /// The last `limit` messages of a conversation, oldest first.
    pub async fn recent_messages(
        &self,
        conversation: &Conversation,
        limit: usize,
    ) -> Result<Vec<Message>, PgError> {
        let page = self.messages_page(conversation, None, limit).await?;
        Ok(page.into_iter().map(|paged| paged.message).collect())
    }

    /// The topics of a conversation, as stored (scores not yet decayed).
    pub async fn topics(&self, conversation: &Conversation) -> Result<Vec<Topic>, PgError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(self.failed("reading topics"))?;
        self.read_topics(&mut connection, conversation.id).await
    }

    /// The topics of conversation `id`, in their stored order.
    async fn read_topics(
        &self,
        connection: &mut PgConnection,
        id: u64,
    ) -> Result<Vec<Topic>, PgError> {
        let rows: Vec<TopicRow> = sqlx::query_as(
            "SELECT phrase, score, mentions, updated_at, sensitive FROM topics
             WHERE conversation_id = $1 ORDER BY position",
        )
        .bind(bigint(id))
        .fetch_all(connection)
        .await
        .map_err(self.failed("reading topics"))?;
        rows.into_iter()
            .map(|row| Topic::try_from(row).map_err(|d| self.unreadable(d)))
            .collect()
    }
}

/// Replaces the topics of conversation `id` with `topics`, in one statement:
/// each position is written over (or added), and the positions past the
/// new list's end are deleted. The two touch different rows, so they can
/// share a statement.
pub(super) async fn write_topics(
    tx: &mut Transaction<'static, Postgres>,
    id: u64,
    topics: &[Topic],
) -> Result<(), sqlx::Error> {
    let positions: Vec<i32> = (0..topics.len())
        .map(|i| i32::try_from(i).unwrap_or(i32::MAX))
        .collect();
    let count = i32::try_from(topics.len()).unwrap_or(i32::MAX);
    sqlx::query(
        "WITH written AS (
             INSERT INTO topics (conversation_id, position, phrase, score, mentions, updated_at, sensitive)
             SELECT $1, * FROM UNNEST($2::integer[], $3::text[], $4::double precision[], $5::bigint[], $6::timestamptz[], $7::boolean[])
             ON CONFLICT (conversation_id, position) DO UPDATE SET
                 phrase = EXCLUDED.phrase, score = EXCLUDED.score, mentions = EXCLUDED.mentions,
                 updated_at = EXCLUDED.updated_at, sensitive = EXCLUDED.sensitive
         )
         DELETE FROM topics WHERE conversation_id = $1 AND position >= $8",
    )
    .bind(bigint(id))
    .bind(positions)
    .bind(topics.iter().map(|t| t.phrase.clone()).collect::<Vec<_>>())
    .bind(topics.iter().map(|t| t.score).collect::<Vec<_>>())
    .bind(topics.iter().map(|t| i64::from(t.mentions)).collect::<Vec<_>>())
    .bind(topics.iter().map(|t| t.updated_at).collect::<Vec<_>>())
    .bind(topics.iter().map(|t| t.sensitive).collect::<Vec<_>>())
    .bind(count)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Records the user's session marks (the user's row exists by now).
async fn mark_session(
    tx: &mut Transaction<'static, Postgres>,
    user: &str,
    marks: SessionMarks,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET session_last_activity = $2, session_last_notice = $3, session_last_break = $4
         WHERE id = $1",
    )
    .bind(user)
    .bind(marks.last_activity)
    .bind(marks.last_notice)
    .bind(marks.last_break)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Inserts message `seq` and writes the conversation's counters,
/// timestamps and due window back, in one statement (one round trip).
pub(super) async fn store_message(
    tx: &mut Transaction<'static, Postgres>,
    conversation: &Conversation,
    seq: u64,
    message: &Message,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH stored AS (
             INSERT INTO messages (conversation_id, seq, role, kind, text, at, model, interrupted, truncated, disclaimers)
             VALUES ($1, $14, $15, $16, $17, $18, $19, $20, $21, $22)
         )
         UPDATE conversations SET next_seq = $2, user_messages = $3, assistant_messages = $4,
             last_user_at = $5, last_assistant_at = $6, recent_user_times = $7,
             followups_sent = $8, last_followup_at = $9, followup_unseen = $10,
             last_followup_seq = $11, due_from = $12, due_until = $13
         WHERE id = $1",
    )
    .bind(bigint(conversation.id))
    .bind(bigint(conversation.next_seq))
    .bind(bigint(conversation.user_messages))
    .bind(bigint(conversation.assistant_messages))
    .bind(conversation.last_user_at)
    .bind(conversation.last_assistant_at)
    .bind(&conversation.recent_user_times)
    .bind(bigint(conversation.followups_sent))
    .bind(conversation.last_followup_at)
    .bind(conversation.followup_unseen)
    .bind(conversation.last_followup_seq.map(bigint))
    .bind(conversation.due.map(|d| d.from))
    .bind(conversation.due.map(|d| d.until))
    .bind(bigint(seq))
    .bind(word(&message.role))
    .bind(word(&message.kind))
    .bind(&message.text)
    .bind(message.at)
    .bind(&message.model)
    .bind(message.interrupted)
    .bind(message.truncated)
    .bind(&message.disclaimers)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
