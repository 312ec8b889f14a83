//! Follow-up bookkeeping in PostgreSQL: the due query, claims with leases
//! for workers in many processes, exactly-once delivery, and the changes a
//! conversation's follow-up state goes through (STOP, a crisis hold).
//!
//! A claim is one short transaction: `SELECT … FOR UPDATE SKIP LOCKED`
//! takes due conversations no other worker is claiming at that moment, the
//! caller's `still_due` rule is checked on each locked row, and those that
//! pass get an intent (a random key, the owner, a lease expiry) and leave
//! the due window. The model is called after the commit, outside any
//! transaction. Delivery locks the conversation's row again and stores the
//! follow-up only if the intent is still there under the claim's key, held
//! by the same owner or with its lease expired; it inserts the intent's key
//! into `followups` (primary key) in the same transaction, so even a writer
//! that got past the check could not store a second follow-up for it. An
//! intent whose lease expired (a worker killed before delivering) is
//! claimed again by the next worker, under the same key.

use chrono::{DateTime, Duration, Utc};
use sqlx::{Postgres, Transaction};

use super::PgStore;
use super::conversations::store_message;
use super::error::PgError;
use super::rows::{ClaimRow, ConversationRow, bigint};
use crate::store::followups::Delivery;
use crate::store::records::{Conversation, DueWindow};
use crate::store::{Claim, OutboxEntry};

impl PgStore {
    /// Up to `limit` conversations whose due window has opened by `now`,
    /// earliest first: a range read of the `conversations_due` index.
    pub async fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Conversation>, PgError> {
        let rows: Vec<ConversationRow> = sqlx::query_as(
            "SELECT * FROM conversations WHERE due_from IS NOT NULL AND due_from <= $1
             ORDER BY due_from, id LIMIT $2",
        )
        .bind(now)
        .bind(bigint(limit as u64))
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading the conversations due"))?;
        rows.into_iter()
            .map(|row| Conversation::try_from(row).map_err(|d| self.unreadable(d)))
            .collect()
    }

    /// Claims up to `limit` conversations for `owner` until `now + lease`:
    /// first intents whose lease expired (taken over, same key; delivery
    /// checks the rules again), then conversations due by `now` for which
    /// `still_due` holds on the locked row. Rows another worker is claiming
    /// are skipped, not waited for.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        owner: &str,
        lease: Duration,
        still_due: &(dyn Fn(&Conversation) -> bool + Sync),
    ) -> Result<Vec<Claim>, PgError> {
        let failed = self.failed("claiming follow-ups");
        let until = now + lease;
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        let mut claims = self.take_over(&mut tx, now, limit, owner, until).await?;
        let mut after: Option<(DateTime<Utc>, i64)> = None;
        while claims.len() < limit {
            let room = limit - claims.len();
            let rows: Vec<ConversationRow> = sqlx::query_as(
                "SELECT * FROM conversations
                 WHERE due_from <= $1 AND pending_followup IS NULL
                   AND ($2::timestamptz IS NULL OR (due_from, id) > ($2, $3))
                 ORDER BY due_from, id LIMIT $4 FOR UPDATE SKIP LOCKED",
            )
            .bind(now)
            .bind(after.map(|(from, _)| from))
            .bind(after.map_or(0, |(_, id)| id))
            .bind(bigint(room as u64))
            .fetch_all(&mut *tx)
            .await
            .map_err(&failed)?;
            let Some(last) = rows.last() else { break };
            after = last.due_from.map(|from| (from, last.id));
            let mut wanted = Vec::new();
            for row in rows {
                let conversation = Conversation::try_from(row).map_err(|d| self.unreadable(d))?;
                if still_due(&conversation) {
                    wanted.push(bigint(conversation.id));
                }
            }
            claims.extend(
                self.record_intents(&mut tx, &wanted, now, owner, until)
                    .await?,
            );
        }
        tx.commit().await.map_err(&failed)?;
        Ok(claims)
    }

    /// Inside a claim: takes over up to `limit` intents whose lease expired
    /// by `now`, oldest lease first.
    async fn take_over(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        now: DateTime<Utc>,
        limit: usize,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<Claim>, PgError> {
        let rows: Vec<ClaimRow> = sqlx::query_as(
            "UPDATE conversations SET intent_owner = $3, lease_until = $4,
                 intent_key = COALESCE(intent_key, gen_random_uuid()::text)
             WHERE id IN (
                 SELECT id FROM conversations
                 WHERE pending_followup IS NOT NULL AND (lease_until IS NULL OR lease_until <= $1)
                 ORDER BY lease_until NULLS FIRST, id LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(now)
        .bind(bigint(limit as u64))
        .bind(owner)
        .bind(until)
        .fetch_all(&mut **tx)
        .await
        .map_err(self.failed("taking over expired follow-up claims"))?;
        let mut claims = self.claims(rows, true)?;
        claims.sort_by_key(|c| c.conversation.id);
        Ok(claims)
    }

    /// Inside a claim: records an intent on each conversation of `ids`
    /// (locked by the caller) and takes it out of the due window; the
    /// claims come back in the order of `ids`.
    async fn record_intents(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        ids: &[i64],
        now: DateTime<Utc>,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<Claim>, PgError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<ClaimRow> = sqlx::query_as(
            "UPDATE conversations SET pending_followup = $2, intent_key = gen_random_uuid()::text,
                 intent_owner = $3, lease_until = $4, due_from = NULL, due_until = NULL
             WHERE id = ANY($1) RETURNING *",
        )
        .bind(ids)
        .bind(now)
        .bind(owner)
        .bind(until)
        .fetch_all(&mut **tx)
        .await
        .map_err(self.failed("claiming follow-ups"))?;
        let mut claims = self.claims(rows, false)?;
        claims.sort_by_key(|c| ids.iter().position(|id| *id == bigint(c.conversation.id)));
        Ok(claims)
    }

    /// Claims read back from rows holding an intent.
    fn claims(&self, rows: Vec<ClaimRow>, taken_over: bool) -> Result<Vec<Claim>, PgError> {
        let mut claims = Vec::new();
        for row in rows {
            if let Some(claim) = row.into_claim(taken_over).map_err(|d| self.unreadable(d))? {
                claims.push(claim);
            }
        }
        Ok(claims)
    }

    /// Intents whose lease expired by `now`: what killed workers left, for
    /// the next claim to take over.
    pub async fn pending_intents(&self, now: DateTime<Utc>) -> Result<Vec<Claim>, PgError> {
        let rows: Vec<ClaimRow> = sqlx::query_as(
            "SELECT * FROM conversations
             WHERE pending_followup IS NOT NULL AND (lease_until IS NULL OR lease_until <= $1)
             ORDER BY lease_until NULLS FIRST, id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(self.failed("reading follow-up intents"))?;
        self.claims(rows, false)
    }

    /// Delivers the follow-up of `claim`, in one transaction: appends the
    /// message, records the intent's key in `followups`, queues the outbox
    /// and clears the intent, if the intent is still the claim's at `now`
    /// and `still_valid` holds; if the rules no longer hold, cancels the
    /// intent (rescheduling with the delivery's `schedule`). Returns whether
    /// the follow-up was delivered.
    pub async fn deliver_followup(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        delivery: &Delivery<'_>,
    ) -> Result<bool, PgError> {
        let failed = self.failed("delivering a follow-up");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        let Some(mut conversation) = self.lock_claimed(&mut tx, claim, now).await? else {
            return Ok(false);
        };
        let valid = (delivery.still_valid)(&conversation);
        if valid {
            let seq = conversation.record(delivery.message);
            let recorded = sqlx::query(
                "INSERT INTO followups (intent_key, conversation_id, seq, delivered_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (intent_key) DO NOTHING",
            )
            .bind(&claim.intent)
            .bind(bigint(conversation.id))
            .bind(bigint(seq))
            .bind(delivery.message.at)
            .execute(&mut *tx)
            .await
            .map_err(&failed)?;
            if recorded.rows_affected() == 0 {
                return Ok(false);
            }
            conversation.due = None;
            store_message(&mut tx, &conversation, seq, delivery.message)
                .await
                .map_err(&failed)?;
            queue(&mut tx, delivery.outbox).await.map_err(&failed)?;
            let delivered = super::notify::Delivered {
                user: conversation.user.clone(),
                persona: conversation.persona.clone(),
            };
            super::notify::announce(&mut tx, &delivered)
                .await
                .map_err(&failed)?;
        } else {
            conversation.pending_followup = None;
            conversation.due = (delivery.schedule)(&conversation);
        }
        clear_intent(&mut tx, &conversation)
            .await
            .map_err(&failed)?;
        tx.commit().await.map_err(&failed)?;
        Ok(valid)
    }

    /// Inside a delivery or a cancel: the conversation of `claim`, its row
    /// locked, if its intent is still the claim's at `now`: the same key,
    /// held by the same owner or with its lease expired.
    async fn lock_claimed(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        claim: &Claim,
        now: DateTime<Utc>,
    ) -> Result<Option<Conversation>, PgError> {
        let row: Option<ClaimRow> = sqlx::query_as(
            "SELECT * FROM conversations
             WHERE id = $1 AND pending_followup IS NOT NULL AND intent_key = $2
               AND (intent_owner = $3 OR lease_until <= $4)
             FOR UPDATE",
        )
        .bind(bigint(claim.conversation.id))
        .bind(&claim.intent)
        .bind(&claim.owner)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await
        .map_err(self.failed("reading a follow-up intent"))?;
        row.map(|row| Conversation::try_from(row.conversation))
            .transpose()
            .map_err(|d| self.unreadable(d))
    }

    /// Drops the intent of `claim` without delivering, if it is still the
    /// claim's (at `now`), rescheduling the conversation with `schedule`;
    /// returns whether it was.
    pub async fn cancel_intent(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<bool, PgError> {
        let failed = self.failed("cancelling a follow-up intent");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        let Some(mut conversation) = self.lock_claimed(&mut tx, claim, now).await? else {
            return Ok(false);
        };
        conversation.pending_followup = None;
        conversation.due = schedule(&conversation);
        clear_intent(&mut tx, &conversation)
            .await
            .map_err(&failed)?;
        tx.commit().await.map_err(&failed)?;
        Ok(true)
    }
}

/// Clears the intent of `conversation` and writes its due window, after a
/// delivery or a cancel.
async fn clear_intent(
    tx: &mut Transaction<'static, Postgres>,
    conversation: &Conversation,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE conversations SET pending_followup = NULL, intent_key = NULL, intent_owner = NULL,
             lease_until = NULL, due_from = $2, due_until = $3
         WHERE id = $1",
    )
    .bind(bigint(conversation.id))
    .bind(conversation.due.map(|d| d.from))
    .bind(conversation.due.map(|d| d.until))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Queues one outbox entry per webhook, in the delivery's transaction.
async fn queue(
    tx: &mut Transaction<'static, Postgres>,
    entries: &[OutboxEntry],
) -> Result<(), sqlx::Error> {
    for entry in entries {
        sqlx::query(
            "INSERT INTO outbox (webhook, delivery, user_id, persona, queued_at, body)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&entry.webhook)
        .bind(&entry.delivery)
        .bind(&entry.user)
        .bind(&entry.persona)
        .bind(entry.queued_at)
        .bind(&entry.body)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
