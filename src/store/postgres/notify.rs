//! Telling every process on the database that a follow-up was delivered:
//! the delivery's transaction sends a notification (PostgreSQL sends it on
//! commit, never for a delivery that rolled back), and each server listens,
//! so a user whose event stream is open on another server than the one
//! that wrote the follow-up gets it as it is written.
//!
//! The channel is named after the schema, so deployments (or tests) sharing
//! a database in different schemas do not hear each other. Notifications
//! are not kept: one sent while a listener's connection is down is missed,
//! and the follow-up reaches the user when their next stream opens (every
//! stream starts with the follow-ups its user has not seen).

use sqlx::postgres::PgListener;
use sqlx::{Postgres, Transaction};

use super::PgStore;
use super::error::PgError;

/// The channel's name without its schema.
const CHANNEL: &str = "troupe_followups_";

/// Who a delivered follow-up is for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivered {
    /// The user.
    pub user: String,
    /// The persona.
    pub persona: String,
}

/// Hears the follow-ups delivered by any process on the database.
pub struct FollowUpListener {
    /// The listening connection (reconnected on loss).
    listener: PgListener,
    /// The database, for messages.
    target: String,
}

/// Inside a delivery's transaction: tells the listeners, once it commits,
/// that `delivered` has a new follow-up.
pub(super) async fn announce(
    tx: &mut Transaction<'static, Postgres>,
    delivered: &Delivered,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(delivered).unwrap_or_default();
    sqlx::query("SELECT pg_notify($1 || current_schema(), $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl PgStore {
    /// Starts listening for delivered follow-ups, on a connection of its
    /// own.
    pub async fn followup_listener(&self) -> Result<FollowUpListener, PgError> {
        let failed = self.failed("listening for follow-ups");
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&self.pool)
            .await
            .map_err(&failed)?;
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(&failed)?;
        listener
            .listen(&format!("{CHANNEL}{schema}"))
            .await
            .map_err(&failed)?;
        Ok(FollowUpListener {
            listener,
            target: self.target().to_string(),
        })
    }
}

impl FollowUpListener {
    /// The next follow-up delivered, waiting for it (reconnecting after a
    /// lost connection); a notification that is not one of Troupe's is
    /// skipped.
    pub async fn next(&mut self) -> Result<Delivered, PgError> {
        loop {
            let notification = self.listener.recv().await.map_err(|e| PgError::Query {
                target: self.target.clone(),
                doing: "listening for follow-ups",
                detail: super::error::describe(&e),
            })?;
            if let Ok(delivered) = serde_json::from_str(notification.payload()) {
                return Ok(delivered);
            }
        }
    }
}
