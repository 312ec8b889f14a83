//! Users, usage records and the safety log in PostgreSQL.

use chrono::{DateTime, Utc};

use super::PgStore;
use super::error::PgError;
use super::rows::{SafetyRow, UsageRow, UserRow, bigint, timestamptz, word};
use crate::safety::{SafetyCount, SafetyEvent};
use crate::store::UserMatch;
use crate::store::records::{UsageRecord, User};

impl PgStore {
    /// The user `id` names, ignoring case (see [`UserMatch`]).
    pub async fn match_user(&self, id: &str) -> Result<UserMatch, PgError> {
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE lower(id) = $1 ORDER BY id")
                .bind(crate::ids::fold_user_id(id))
                .fetch_all(&self.pool)
                .await
                .map_err(self.failed("finding a user"))?;
        Ok(UserMatch::among(id, stored))
    }

    /// The user with this id, if they have ever written.
    pub async fn user(&self, id: &str) -> Result<Option<User>, PgError> {
        let row: Option<UserRow> = sqlx::query_as("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(self.failed("reading a user"))?;
        Ok(row.map(User::from))
    }

    /// When the next conversation falls due after `now`, if one does.
    pub async fn next_due_after(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, PgError> {
        sqlx::query_scalar("SELECT min(due_from) FROM conversations WHERE due_from > $1")
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(self.failed("finding the next due time"))
    }

    /// Records an end-user token for `user` (only its digest is kept).
    pub async fn add_token(&self, token: &str, user: &str) -> Result<(), PgError> {
        sqlx::query(
            "INSERT INTO tokens (digest, user_id, created_at) VALUES ($1, $2, now())
             ON CONFLICT (digest) DO UPDATE SET user_id = excluded.user_id",
        )
        .bind(crate::store::token_digest(token).to_vec())
        .bind(user)
        .execute(&self.pool)
        .await
        .map_err(self.failed("recording a token"))?;
        Ok(())
    }

    /// The user an end-user token acts for, if it is one this database
    /// holds.
    pub async fn token_user(&self, token: &str) -> Result<Option<String>, PgError> {
        sqlx::query_scalar("SELECT user_id FROM tokens WHERE digest = $1")
            .bind(crate::store::token_digest(token).to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.failed("reading a token"))
    }

    /// Applies `change` to the settings of `user` (created at `now` if
    /// new) and stores them, the row locked meanwhile so a concurrent
    /// change is applied after this one, not lost.
    pub async fn update_user(
        &self,
        user: &str,
        now: DateTime<Utc>,
        change: &(dyn Fn(&mut User) + Sync),
    ) -> Result<User, PgError> {
        let failed = self.failed("updating a user");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        sqlx::query(
            "INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        let row: UserRow = sqlx::query_as("SELECT * FROM users WHERE id = $1 FOR UPDATE")
            .bind(user)
            .fetch_one(&mut *tx)
            .await
            .map_err(&failed)?;
        let mut record = User::from(row);
        change(&mut record);
        let session = record.session;
        sqlx::query(
            "UPDATE users SET timezone = $2, minor = $3, followups_off = $4, language = $5,
                 hold_until = $6, session_last_activity = $7, session_last_notice = $8,
                 session_last_break = $9, display_name = $10
             WHERE id = $1",
        )
        .bind(user)
        .bind(&record.timezone)
        .bind(record.minor)
        .bind(record.followups_off)
        .bind(&record.language)
        .bind(record.hold_until)
        .bind(session.map(|s| s.last_activity))
        .bind(session.map(|s| s.last_notice))
        .bind(session.map(|s| s.last_break))
        .bind(&record.display_name)
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        tx.commit().await.map_err(&failed)?;
        Ok(record)
    }

    /// Records one model call's usage.
    pub async fn record_usage(&self, record: &UsageRecord) -> Result<(), PgError> {
        insert_usage(&self.pool, record)
            .await
            .map_err(self.failed("recording usage"))
    }

    /// Usage records from `since` on, oldest first; an instant before
    /// PostgreSQL's earliest reads from its earliest (see [`timestamptz`]).
    pub async fn usage_since(&self, since: DateTime<Utc>) -> Result<Vec<UsageRecord>, PgError> {
        let rows: Vec<UsageRow> = sqlx::query_as(
            "SELECT at, user_id, persona, model, kind, prompt_tokens, completion_tokens, latency_ms, outcome
             FROM usage WHERE at >= $1 ORDER BY at, id",
        )
        .bind(timestamptz(since))
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading usage"))?;
        rows.into_iter()
            .map(|row| UsageRecord::try_from(row).map_err(|d| self.unreadable(d)))
            .collect()
    }

    /// Counts a safety event: one counter per day, kind and language, so
    /// nothing in the log can point back at a user or a message.
    pub async fn record_safety_event(&self, event: &SafetyEvent) -> Result<(), PgError> {
        metrics::counter!("troupe_safety_events_total", "kind" => event.kind.clone()).increment(1);
        sqlx::query(
            "INSERT INTO safety_events (day, kind, language, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (day, kind, language) DO UPDATE SET count = safety_events.count + 1",
        )
        .bind(event.at.date_naive())
        .bind(&event.kind)
        .bind(&event.language)
        .execute(&self.pool)
        .await
        .map_err(self.failed("recording a safety event"))?;
        Ok(())
    }

    /// The safety log: counts per day, kind and language, oldest day first.
    pub async fn safety_counts(&self) -> Result<Vec<SafetyCount>, PgError> {
        let rows: Vec<SafetyRow> = sqlx::query_as(
            "SELECT day, kind, language, count FROM safety_events
             ORDER BY day, kind COLLATE \"C\", language COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading the safety log"))?;
        rows.into_iter()
            .map(|row| SafetyCount::try_from(row).map_err(|d| self.unreadable(d)))
            .collect()
    }
}

/// Inserts one usage record, alone or inside a transaction.
pub(super) async fn insert_usage<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    record: &UsageRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO usage (at, user_id, persona, model, kind, prompt_tokens, completion_tokens, latency_ms, outcome)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(record.at)
    .bind(&record.user)
    .bind(&record.persona)
    .bind(&record.model)
    .bind(word(&record.kind))
    .bind(bigint(record.prompt_tokens))
    .bind(bigint(record.completion_tokens))
    .bind(bigint(record.latency_ms))
    .bind(word(&record.outcome))
    .execute(executor)
    .await
    .map(|_| ())
}
