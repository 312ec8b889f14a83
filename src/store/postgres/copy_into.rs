//! Writing a copy into PostgreSQL (see [`crate::store::copy`]): pages of
//! users, conversations, usage records and safety counts, each one
//! transaction of upserts keyed by the natural keys (a user by id, a
//! conversation by user and persona, a message by its conversation and
//! sequence number, usage by millisecond), so that writing a page twice
//! leaves what writing it once did. Reading for a copy is in `copy`.

use sqlx::{Postgres, Transaction};

use super::PgStore;
use super::conversations::write_topics;
use super::copy::millisecond;
use super::error::PgError;
use super::rows::{bigint, word};
use crate::safety::SafetyCount;
use crate::store::copy::CopiedConversation;
use crate::store::records::{MessageKind, UsageRecord, User};

impl PgStore {
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
