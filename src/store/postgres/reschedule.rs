//! Recomputing every conversation's due window on PostgreSQL after the
//! follow-up policy changed, and the fingerprint of the policy the windows
//! were computed under (`due_policy`).
//!
//! The conversations are read a page at a time in id order, each page in
//! one transaction that locks its rows (`FOR UPDATE`): a turn or a claim
//! on one of them waits for the page's commit, so no window computed from
//! a stale read overwrites a fresher one.

use super::PgStore;
use super::error::PgError;
use super::rows::{ConversationRow, bigint};
use crate::store::{Conversation, DueWindow};

/// Conversations per transaction.
const PAGE: i64 = 1_000;

impl PgStore {
    /// Gives every conversation the due window `schedule` says; returns how
    /// many windows changed.
    pub async fn reschedule_all(
        &self,
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<usize, PgError> {
        let failed = self.failed("recomputing the due windows");
        let mut after = i64::MIN;
        let mut moved = 0;
        loop {
            let mut tx = self.pool.begin().await.map_err(&failed)?;
            let rows: Vec<ConversationRow> = sqlx::query_as(
                "SELECT * FROM conversations WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await
            .map_err(&failed)?;
            let Some(last) = rows.last() else {
                return Ok(moved);
            };
            after = last.id;
            for row in rows {
                let conversation = Conversation::try_from(row).map_err(|d| self.unreadable(d))?;
                let window = schedule(&conversation);
                if window == conversation.due {
                    continue;
                }
                sqlx::query("UPDATE conversations SET due_from = $2, due_until = $3 WHERE id = $1")
                    .bind(bigint(conversation.id))
                    .bind(window.map(|w| w.from))
                    .bind(window.map(|w| w.until))
                    .execute(&mut *tx)
                    .await
                    .map_err(&failed)?;
                moved += 1;
            }
            tx.commit().await.map_err(&failed)?;
        }
    }

    /// The fingerprint of the policy the due windows were last computed
    /// under, if any.
    pub async fn due_index_policy(&self) -> Result<Option<String>, PgError> {
        sqlx::query_scalar("SELECT fingerprint FROM due_policy")
            .fetch_optional(&self.pool)
            .await
            .map_err(self.failed("reading the due policy"))
    }

    /// Records the fingerprint of the policy the due windows now reflect.
    pub async fn set_due_index_policy(&self, fingerprint: &str) -> Result<(), PgError> {
        sqlx::query(
            "INSERT INTO due_policy (fingerprint) VALUES ($1)
             ON CONFLICT (only_row) DO UPDATE SET fingerprint = excluded.fingerprint",
        )
        .bind(fingerprint)
        .execute(&self.pool)
        .await
        .map_err(self.failed("recording the due policy"))?;
        Ok(())
    }
}
