//! The webhook outbox in PostgreSQL, and whose turn it is to send each
//! webhook's queue.
//!
//! Entries are queued in the transaction that delivers the follow-up (see
//! `followups`), read oldest first per webhook, and deleted once the
//! receiver answered 2xx. Every server runs a courier per webhook, but only
//! the one holding the webhook's turn sends: a session advisory lock, taken
//! on a connection of its own and held for as long as that connection
//! lives. The queue is sent one entry at a time, in order, by one process
//! at a time; when that process stops or its connection drops, PostgreSQL
//! lets the lock go and another server's courier takes the turn. As on
//! sled, an entry whose 2xx arrived but whose deletion did not (a crash
//! between the two) is sent again with the same delivery id, which
//! receivers use to drop the repeat.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};

use super::PgStore;
use super::error::PgError;
use crate::store::{OutboxEntry, QueuedDelivery};

/// A row of `outbox`.
#[derive(Debug, sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    webhook: String,
    delivery: String,
    user_id: String,
    persona: String,
    queued_at: DateTime<Utc>,
    body: String,
}

impl From<OutboxRow> for QueuedDelivery {
    fn from(row: OutboxRow) -> Self {
        QueuedDelivery {
            seq: u64::try_from(row.id).unwrap_or_default(),
            entry: OutboxEntry {
                delivery: row.delivery,
                webhook: row.webhook,
                user: row.user_id,
                persona: row.persona,
                queued_at: row.queued_at,
                body: row.body,
            },
        }
    }
}

/// This process's turn to send one webhook's queue, held until dropped
/// (its connection closes, and PostgreSQL lets the lock go).
pub struct WebhookTurn {
    /// The connection holding the advisory lock.
    connection: PgConnection,
}

impl WebhookTurn {
    /// Whether the turn is still held: its connection answers.
    pub async fn is_held(&mut self) -> bool {
        self.connection.ping().await.is_ok()
    }
}

impl PgStore {
    /// The oldest entry waiting for webhook `name`, if any.
    pub async fn next_in_outbox(&self, name: &str) -> Result<Option<QueuedDelivery>, PgError> {
        let row: Option<OutboxRow> =
            sqlx::query_as("SELECT * FROM outbox WHERE webhook = $1 ORDER BY id LIMIT 1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(self.failed("reading the webhook outbox"))?;
        Ok(row.map(QueuedDelivery::from))
    }

    /// How many entries wait for webhook `name`.
    pub async fn outbox_len(&self, name: &str) -> Result<usize, PgError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE webhook = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(self.failed("reading the webhook outbox"))?;
        Ok(usize::try_from(count).unwrap_or_default())
    }

    /// Removes entry `seq` of webhook `name` once its receiver took it;
    /// `false` if it was already gone (erased with its user, or purged).
    pub async fn remove_from_outbox(&self, name: &str, seq: u64) -> Result<bool, PgError> {
        let removed = sqlx::query("DELETE FROM outbox WHERE webhook = $1 AND id = $2")
            .bind(name)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await
            .map_err(self.failed("removing a sent webhook delivery"))?;
        Ok(removed.rows_affected() > 0)
    }

    /// Every webhook with entries waiting, and how many.
    pub async fn outbox_counts(&self) -> Result<BTreeMap<String, usize>, PgError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT webhook, count(*) FROM outbox GROUP BY webhook")
                .fetch_all(&self.pool)
                .await
                .map_err(self.failed("reading the webhook outbox"))?;
        Ok(rows
            .into_iter()
            .map(|(name, count)| (name, usize::try_from(count).unwrap_or_default()))
            .collect())
    }

    /// The entries still waiting to be sent about `user`, oldest first.
    pub async fn user_outbox(&self, user: &str) -> Result<Vec<OutboxEntry>, PgError> {
        let rows: Vec<OutboxRow> =
            sqlx::query_as("SELECT * FROM outbox WHERE user_id = $1 ORDER BY webhook, id")
                .bind(user)
                .fetch_all(&self.pool)
                .await
                .map_err(self.failed("reading the webhook outbox"))?;
        Ok(rows
            .into_iter()
            .map(|row| QueuedDelivery::from(row).entry)
            .collect())
    }

    /// Takes the turn to send webhook `name`'s queue if no other process
    /// holds it; `None` when another does.
    pub async fn take_webhook_turn(&self, name: &str) -> Result<Option<WebhookTurn>, PgError> {
        let failed = self.failed("taking a webhook's turn");
        let mut connection = PgConnection::connect_with(self.database.options())
            .await
            .map_err(&failed)?;
        let taken: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtext('troupe webhook ' || current_schema() || ' ' || $1))",
        )
        .bind(name)
        .fetch_one(&mut connection)
        .await
        .map_err(&failed)?;
        Ok(taken.then_some(WebhookTurn { connection }))
    }
}
