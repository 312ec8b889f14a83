//! The PostgreSQL side of a copy (see [`crate::store::copy`]): reading the
//! tables in pages, in the byte order of their natural keys (`COLLATE "C"`,
//! the order sled's keys sort in), and writing pages with upserts keyed by
//! the natural keys, so that writing a page twice leaves what writing it
//! once did. Each page is one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

use super::PgStore;
use super::conversations::write_topics;
use super::error::PgError;
use super::rows::{ClaimRow, MessageRow, TopicRow, UsageRow, UserRow, bigint, timestamptz, word};
use crate::safety::SafetyCount;
use crate::store::PagedMessage;
use crate::store::copy::{CopiedConversation, CopyMarker, IntentHold};
use crate::store::records::{Conversation, MessageKind, Topic, UsageRecord, User};

/// The mark of a copy, as stored.
#[derive(Debug, sqlx::FromRow)]
struct MarkerRow {
    source: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

/// A message with the conversation it belongs to.
#[derive(Debug, sqlx::FromRow)]
struct OwnedMessageRow {
    conversation_id: i64,
    #[sqlx(flatten)]
    message: MessageRow,
}

/// A topic with the conversation it belongs to.
#[derive(Debug, sqlx::FromRow)]
struct OwnedTopicRow {
    conversation_id: i64,
    #[sqlx(flatten)]
    topic: TopicRow,
}

/// The columns of a usage row, in [`UsageRow`]'s order.
const USAGE_COLUMNS: &str =
    "at, user_id, persona, model, kind, prompt_tokens, completion_tokens, latency_ms, outcome";

/// The first instant of millisecond `ms`.
fn millisecond(ms: i64) -> DateTime<Utc> {
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

    /// Writes `users`, replacing the rows of the same ids, in one
    /// transaction.
    pub async fn put_users(&self, users: &[User]) -> Result<(), PgError> {
        let failed = self.failed("copying users");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        for user in users {
            let session = user.session;
            sqlx::query(
                "INSERT INTO users (id, created_at, timezone, minor, followups_off, language,
                     display_name, hold_until, session_last_activity, session_last_notice,
                     session_last_break)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at,
                     timezone = EXCLUDED.timezone, minor = EXCLUDED.minor,
                     followups_off = EXCLUDED.followups_off, language = EXCLUDED.language,
                     display_name = EXCLUDED.display_name, hold_until = EXCLUDED.hold_until,
                     session_last_activity = EXCLUDED.session_last_activity,
                     session_last_notice = EXCLUDED.session_last_notice,
                     session_last_break = EXCLUDED.session_last_break",
            )
            .bind(&user.id)
            .bind(user.created_at)
            .bind(&user.timezone)
            .bind(user.minor)
            .bind(user.followups_off)
            .bind(&user.language)
            .bind(&user.display_name)
            .bind(user.hold_until)
            .bind(session.map(|s| s.last_activity))
            .bind(session.map(|s| s.last_notice))
            .bind(session.map(|s| s.last_break))
            .execute(&mut *tx)
            .await
            .map_err(&failed)?;
        }
        tx.commit().await.map_err(&failed)
    }

    /// Writes `page` in one transaction: each conversation upserted by
    /// (user, persona) (under the source's id when it is new), its messages by sequence number, its topics
    /// replaced, a `followups` row for each follow-up message (keyed
    /// `copied-ID-SEQ`), and its intent with a key of its own.
    pub async fn put_conversations(&self, page: &[CopiedConversation]) -> Result<(), PgError> {
        let failed = self.failed("copying conversations");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        for copied in page {
            let id = upsert_conversation(&mut tx, copied)
                .await
                .map_err(&failed)?;
            upsert_messages(&mut tx, id, copied)
                .await
                .map_err(&failed)?;
            write_topics(&mut tx, id as u64, &copied.topics)
                .await
                .map_err(&failed)?;
            record_followups(&mut tx, id, copied)
                .await
                .map_err(&failed)?;
        }
        // The rows took the source's ids: new conversations get ids above them.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('conversations', 'id'),
                 GREATEST((SELECT max(id) FROM conversations), 1))",
        )
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        tx.commit().await.map_err(&failed)
    }

    /// Writes a page of usage records read by [`PgStore::usage_after`] (or
    /// sled's, whole milliseconds, oldest first), replacing every record the
    /// database holds in the milliseconds the page spans, in one
    /// transaction.
    pub async fn put_usage(&self, records: &[UsageRecord]) -> Result<(), PgError> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(());
        };
        let failed = self.failed("copying usage");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        sqlx::query("DELETE FROM usage WHERE at >= $1 AND at < $2")
            .bind(millisecond(first.at.timestamp_millis()))
            .bind(millisecond(last.at.timestamp_millis().saturating_add(1)))
            .execute(&mut *tx)
            .await
            .map_err(&failed)?;
        let column = |f: fn(&UsageRecord) -> String| records.iter().map(f).collect::<Vec<_>>();
        let number =
            |f: fn(&UsageRecord) -> u64| records.iter().map(|r| bigint(f(r))).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO usage (at, user_id, persona, model, kind, prompt_tokens,
                 completion_tokens, latency_ms, outcome)
             SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[],
                 $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[])",
        )
        .bind(records.iter().map(|r| r.at).collect::<Vec<_>>())
        .bind(records.iter().map(|r| r.user.clone()).collect::<Vec<_>>())
        .bind(column(|r| r.persona.clone()))
        .bind(column(|r| r.model.clone()))
        .bind(column(|r| word(&r.kind)))
        .bind(number(|r| r.prompt_tokens))
        .bind(number(|r| r.completion_tokens))
        .bind(number(|r| r.latency_ms))
        .bind(column(|r| word(&r.outcome)))
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        tx.commit().await.map_err(&failed)
    }

    /// Sets the safety log's counts to `counts` (per day, kind and
    /// language), in one transaction.
    pub async fn put_safety(&self, counts: &[SafetyCount]) -> Result<(), PgError> {
        let failed = self.failed("copying the safety log");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        for count in counts {
            sqlx::query(
                "INSERT INTO safety_events (day, kind, language, count)
                 VALUES (($1::text)::date, $2, $3, $4)
                 ON CONFLICT (day, kind, language) DO UPDATE SET count = EXCLUDED.count",
            )
            .bind(&count.day)
            .bind(&count.kind)
            .bind(&count.language)
            .bind(bigint(count.count))
            .execute(&mut *tx)
            .await
            .map_err(&failed)?;
        }
        tx.commit().await.map_err(&failed)
    }
}

/// Inside a copy: upserts the conversation (and, should the page of users
/// not hold its user, a bare user row) and returns its id here: the
/// source's id for a new row (so an export reads the same from both
/// stores) unless another conversation has it (one started in the
/// destination since an earlier run), then a new one; the one it has for
/// a row already there.
async fn upsert_conversation(
    tx: &mut Transaction<'static, Postgres>,
    copied: &CopiedConversation,
) -> Result<i64, sqlx::Error> {
    let c = &copied.conversation;
    sqlx::query("INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(&c.user)
        .bind(c.started_at)
        .execute(&mut **tx)
        .await?;
    let hold = copied
        .intent
        .as_ref()
        .filter(|_| c.pending_followup.is_some());
    sqlx::query_scalar(
        "INSERT INTO conversations (id, user_id, persona, started_at, started_by, next_seq,
             user_messages, assistant_messages, last_user_at, last_assistant_at,
             recent_user_times, opted_out, followups_sent, last_followup_at, followup_unseen,
             last_followup_seq, pending_followup, due_from, due_until, hold_until,
             intent_key, intent_owner, lease_until)
         OVERRIDING SYSTEM VALUE
         VALUES (
             CASE WHEN EXISTS (SELECT 1 FROM conversations
                               WHERE id = $22 AND NOT (user_id = $1 AND persona = $2))
                  THEN nextval(pg_get_serial_sequence('conversations', 'id'))
                  ELSE $22 END,
             $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
             $18, $19, CASE WHEN $16::timestamptz IS NULL THEN NULL ELSE gen_random_uuid()::text END,
             NULLIF($20, ''), $21)
         ON CONFLICT (user_id, persona) DO UPDATE SET started_at = EXCLUDED.started_at,
             started_by = EXCLUDED.started_by, next_seq = EXCLUDED.next_seq,
             user_messages = EXCLUDED.user_messages,
             assistant_messages = EXCLUDED.assistant_messages,
             last_user_at = EXCLUDED.last_user_at, last_assistant_at = EXCLUDED.last_assistant_at,
             recent_user_times = EXCLUDED.recent_user_times, opted_out = EXCLUDED.opted_out,
             followups_sent = EXCLUDED.followups_sent, last_followup_at = EXCLUDED.last_followup_at,
             followup_unseen = EXCLUDED.followup_unseen,
             last_followup_seq = EXCLUDED.last_followup_seq,
             pending_followup = EXCLUDED.pending_followup, due_from = EXCLUDED.due_from,
             due_until = EXCLUDED.due_until, hold_until = EXCLUDED.hold_until,
             intent_key = CASE WHEN EXCLUDED.pending_followup IS NULL THEN NULL
                 ELSE COALESCE(conversations.intent_key, EXCLUDED.intent_key) END,
             intent_owner = EXCLUDED.intent_owner, lease_until = EXCLUDED.lease_until
         RETURNING id",
    )
    .bind(&c.user)
    .bind(&c.persona)
    .bind(c.started_at)
    .bind(word(&c.started_by))
    .bind(bigint(c.next_seq))
    .bind(bigint(c.user_messages))
    .bind(bigint(c.assistant_messages))
    .bind(c.last_user_at)
    .bind(c.last_assistant_at)
    .bind(&c.recent_user_times)
    .bind(c.opted_out)
    .bind(bigint(c.followups_sent))
    .bind(c.last_followup_at)
    .bind(c.followup_unseen)
    .bind(c.last_followup_seq.map(bigint))
    .bind(c.pending_followup)
    .bind(c.due.map(|d| d.from))
    .bind(c.due.map(|d| d.until))
    .bind(c.hold_until)
    .bind(hold.map(|h| h.owner.clone()))
    .bind(hold.and_then(|h| h.lease_until))
    .bind(bigint(c.id))
    .fetch_one(&mut **tx)
    .await
}

/// Inside a copy: upserts the messages of conversation `id` by sequence
/// number, in one statement (disclaimers travel as JSON arrays, as
/// PostgreSQL arrays cannot be ragged).
async fn upsert_messages(
    tx: &mut Transaction<'static, Postgres>,
    id: i64,
    copied: &CopiedConversation,
) -> Result<(), sqlx::Error> {
    if copied.messages.is_empty() {
        return Ok(());
    }
    let messages = &copied.messages;
    sqlx::query(
        "INSERT INTO messages (conversation_id, seq, role, kind, text, at, model, interrupted,
             truncated, disclaimers)
         SELECT $1, m.seq, m.role, m.kind, m.text, m.at, m.model, m.interrupted, m.truncated,
             ARRAY(SELECT d.line FROM jsonb_array_elements_text(m.disclaimers::jsonb)
                   WITH ORDINALITY AS d(line, n) ORDER BY d.n)
         FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
             $7::text[], $8::boolean[], $9::boolean[], $10::text[])
             AS m(seq, role, kind, text, at, model, interrupted, truncated, disclaimers)
         ON CONFLICT (conversation_id, seq) DO UPDATE SET role = EXCLUDED.role,
             kind = EXCLUDED.kind, text = EXCLUDED.text, at = EXCLUDED.at,
             model = EXCLUDED.model, interrupted = EXCLUDED.interrupted,
             truncated = EXCLUDED.truncated, disclaimers = EXCLUDED.disclaimers",
    )
    .bind(id)
    .bind(messages.iter().map(|m| bigint(m.seq)).collect::<Vec<_>>())
    .bind(
        messages
            .iter()
            .map(|m| word(&m.message.role))
            .collect::<Vec<_>>(),
    )
    .bind(
        messages
            .iter()
            .map(|m| word(&m.message.kind))
            .collect::<Vec<_>>(),
    )
    .bind(
        messages
            .iter()
            .map(|m| m.message.text.clone())
            .collect::<Vec<_>>(),
    )
    .bind(messages.iter().map(|m| m.message.at).collect::<Vec<_>>())
    .bind(
        messages
            .iter()
            .map(|m| m.message.model.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        messages
            .iter()
            .map(|m| m.message.interrupted)
            .collect::<Vec<_>>(),
    )
    .bind(
        messages
            .iter()
            .map(|m| m.message.truncated)
            .collect::<Vec<_>>(),
    )
    .bind(
        messages
            .iter()
            .map(|m| serde_json::Value::from(m.message.disclaimers.clone()).to_string())
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Inside a copy: a `followups` row for each follow-up message of
/// conversation `id`, as a delivery would have left.
async fn record_followups(
    tx: &mut Transaction<'static, Postgres>,
    id: i64,
    copied: &CopiedConversation,
) -> Result<(), sqlx::Error> {
    let followups: Vec<_> = copied
        .messages
        .iter()
        .filter(|m| m.message.kind == MessageKind::FollowUp)
        .collect();
    if followups.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO followups (intent_key, conversation_id, seq, delivered_at)
         SELECT 'copied-' || $1::text || '-' || f.seq::text, $1, f.seq, f.at
         FROM UNNEST($2::bigint[], $3::timestamptz[]) AS f(seq, at)
         ON CONFLICT (intent_key) DO NOTHING",
    )
    .bind(id)
    .bind(followups.iter().map(|m| bigint(m.seq)).collect::<Vec<_>>())
    .bind(followups.iter().map(|m| m.message.at).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
