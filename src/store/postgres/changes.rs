//! Changes to a conversation's follow-up state outside a turn: STOP, a
//! seen flag, a crisis hold. Each locks the rows it changes, so a claim or
//! a delivery running at the same time sees the change whole or not at all.

use chrono::{DateTime, Utc};

use super::PgStore;
use super::error::PgError;
use super::rows::{ConversationRow, bigint};
use crate::store::records::{Conversation, DueWindow};

impl PgStore {
    /// Changes the conversation of `user` with `persona` in place (opt-out,
    /// seen flag, hold) and writes the due window `schedule` gives it, in
    /// one transaction; `None` if the conversation does not exist. Clearing
    /// `pending_followup` drops the intent with it.
    pub async fn update_conversation(
        &self,
        user: &str,
        persona: &str,
        change: &(dyn Fn(&mut Conversation) + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<Option<Conversation>, PgError> {
        self.change_conversation(user, persona, None, change, schedule)
            .await
    }

    /// Like [`PgStore::update_conversation`], but creates the user and an
    /// empty conversation (started by the user, at `now`, inheriting the
    /// user's crisis hold) if needed, so a preference such as STOP sticks
    /// even before the first chat message.
    pub async fn upsert_conversation(
        &self,
        user: &str,
        persona: &str,
        now: DateTime<Utc>,
        change: &(dyn Fn(&mut Conversation) + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<Conversation, PgError> {
        self.change_conversation(user, persona, Some(now), change, schedule)
            .await?
            .ok_or_else(|| PgError::Query {
                target: self.target().to_string(),
                doing: "changing a conversation",
                detail: "the conversation just created is gone".to_string(),
            })
    }

    /// The transaction of [`PgStore::update_conversation`], creating the
    /// conversation first when `create_at` is given.
    async fn change_conversation(
        &self,
        user: &str,
        persona: &str,
        create_at: Option<DateTime<Utc>>,
        change: &(dyn Fn(&mut Conversation) + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<Option<Conversation>, PgError> {
        let failed = self.failed("changing a conversation");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        if let Some(at) = create_at {
            self.create_empty(&mut tx, user, persona, at).await?;
        }
        let row: Option<ConversationRow> = sqlx::query_as(
            "SELECT * FROM conversations WHERE user_id = $1 AND persona = $2 FOR UPDATE",
        )
        .bind(user)
        .bind(persona)
        .fetch_optional(&mut *tx)
        .await
        .map_err(&failed)?;
        let Some(row) = row else { return Ok(None) };
        let mut conversation = Conversation::try_from(row).map_err(|d| self.unreadable(d))?;
        change(&mut conversation);
        conversation.due = schedule(&conversation);
        sqlx::query(
            "UPDATE conversations SET opted_out = $2, followup_unseen = $3, hold_until = $4,
                 pending_followup = $5, due_from = $6, due_until = $7,
                 intent_key = CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE intent_key END,
                 intent_owner = CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE intent_owner END,
                 lease_until = CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE lease_until END
             WHERE id = $1",
        )
        .bind(bigint(conversation.id))
        .bind(conversation.opted_out)
        .bind(conversation.followup_unseen)
        .bind(conversation.hold_until)
        .bind(conversation.pending_followup)
        .bind(conversation.due.map(|d| d.from))
        .bind(conversation.due.map(|d| d.until))
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        tx.commit().await.map_err(&failed)?;
        Ok(Some(conversation))
    }

    /// Puts `user` on hold for proactive messages until `until`: the user's
    /// row (created at `now` if new; conversations started later inherit
    /// it) and every conversation, with any persona, in one transaction. An
    /// existing later hold stays; a due window starts no earlier than the
    /// hold, and is dropped if the hold outlasts it.
    pub async fn hold_user(
        &self,
        user: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), PgError> {
        let failed = self.failed("putting a user on hold");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        sqlx::query(
            "INSERT INTO users (id, created_at, hold_until) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET hold_until = GREATEST(users.hold_until, $3)",
        )
        .bind(user)
        .bind(now)
        .bind(until)
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        // GREATEST ignores NULLs: the later of the old hold and the new.
        sqlx::query(
            "UPDATE conversations SET hold_until = GREATEST(hold_until, $2),
                 due_from = CASE WHEN GREATEST(due_from, hold_until, $2) <= due_until
                                 THEN GREATEST(due_from, hold_until, $2) END,
                 due_until = CASE WHEN GREATEST(due_from, hold_until, $2) <= due_until
                                  THEN due_until END
             WHERE user_id = $1",
        )
        .bind(user)
        .bind(until)
        .execute(&mut *tx)
        .await
        .map_err(&failed)?;
        tx.commit().await.map_err(&failed)?;
        Ok(())
    }
}
