//! The due query on PostgreSQL: the conversations whose due window has
//! opened, each with its user's settings, in one statement that reads the
//! partial index `conversations_due` and joins `users` by primary key, so
//! the rules need no further round trip per candidate.

use chrono::{DateTime, Utc};

use super::PgStore;
use super::error::PgError;
use super::rows::ConversationRow;
use crate::store::{Conversation, DueCandidate, DueUser};

/// The due query: conversations due by `$1`, earliest first, each with
/// its user's settings (`NULL`s for a user the database does not know).
pub const DUE_QUERY: &str = "SELECT c.*, u.id AS u_id, u.timezone AS u_timezone,
        u.minor AS u_minor, u.followups_off AS u_followups_off, u.hold_until AS u_hold_until
     FROM conversations c LEFT JOIN users u ON u.id = c.user_id
     WHERE c.due_from IS NOT NULL AND c.due_from <= $1
     ORDER BY c.due_from, c.id";

/// A row of [`DUE_QUERY`].
#[derive(Debug, sqlx::FromRow)]
struct DueRow {
    /// The conversation.
    #[sqlx(flatten)]
    conversation: ConversationRow,
    /// The user's id, `NULL` when the user is unknown.
    u_id: Option<String>,
    u_timezone: Option<String>,
    u_minor: Option<bool>,
    u_followups_off: Option<bool>,
    u_hold_until: Option<DateTime<Utc>>,
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
                let user = row.u_id.map(|_| DueUser {
                    timezone: row.u_timezone,
                    minor: row.u_minor.unwrap_or(false),
                    followups_off: row.u_followups_off.unwrap_or(false),
                    hold_until: row.u_hold_until,
                });
                let conversation =
                    Conversation::try_from(row.conversation).map_err(|d| self.unreadable(d))?;
                Ok(DueCandidate { conversation, user })
            })
            .collect()
    }
}
