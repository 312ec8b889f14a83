//! The due query on PostgreSQL: the conversations whose due window has
//! opened, each with its user's settings, in one statement that reads the
//! partial index `conversations_due` and the conversation rows alone: each
//! row keeps a copy of its user's settings (schema version 5, kept current
//! by triggers), so no user is looked up per conversation due.

use chrono::{DateTime, Utc};

use super::PgStore;
use super::error::PgError;
use super::rows::ConversationRow;
use crate::store::{Conversation, DueCandidate, DueUser};

/// The due query: conversations due by `$1`, earliest first, each with
/// its user's settings.
pub const DUE_QUERY: &str = "SELECT * FROM conversations
     WHERE due_from IS NOT NULL AND due_from <= $1
     ORDER BY due_from, id";

/// A row of [`DUE_QUERY`].
#[derive(Debug, sqlx::FromRow)]
struct DueRow {
    /// The conversation.
    #[sqlx(flatten)]
    conversation: ConversationRow,
    /// The user's settings, as the row keeps them.
    user_timezone: Option<String>,
    user_minor: bool,
    user_followups_off: bool,
    user_hold_until: Option<DateTime<Utc>>,
}

impl PgStore {
    /// Conversations whose due window has opened by `now`, earliest first,
    /// each with its user's settings.
    pub async fn due_candidates(&self, now: DateTime<Utc>) -> Result<Vec<DueCandidate>, PgError> {
        let rows: Vec<DueRow> = sqlx::query_as(DUE_QUERY)
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(self.failed("reading the conversations due"))?;
        rows.into_iter()
            .map(|row| {
                // The foreign key: every conversation has its user.
                let user = Some(DueUser {
                    timezone: row.user_timezone,
                    minor: row.user_minor,
                    followups_off: row.user_followups_off,
                    hold_until: row.user_hold_until,
                });
                let conversation =
                    Conversation::try_from(row.conversation).map_err(|d| self.unreadable(d))?;
                Ok(DueCandidate { conversation, user })
            })
            .collect()
    }
}
