//! The follow-up bookkeeping behind [`StoreBackend`]: the due query,
//! claims with leases, exactly-once delivery, and the changes that stop a
//! follow-up (STOP, a crisis hold). The policy (who is due, which rules
//! hold) stays with the caller, passed in as closures; the store keeps the
//! state and answers.
//!
//! The calls keep the model out of every transaction: [`StoreBackend::claim_due`]
//! commits the intents, the caller writes each follow-up, then
//! [`StoreBackend::deliver_followup`] stores it.

use chrono::{DateTime, Duration, Utc};

use super::StoreBackend;
use crate::store::{Claim, Conversation, Delivery, DueWindow, Message, OutboxEntry, StoreError};

impl StoreBackend {
    /// Up to `limit` conversations whose due window has opened by `now`,
    /// earliest first; reads only the due index, not every conversation.
    pub async fn due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Conversation>, StoreError> {
        match self {
            Self::Sled(store) => Ok(store
                .due_entries_up_to(now, limit)?
                .into_iter()
                .map(|entry| entry.conversation)
                .collect()),
            Self::Postgres(store) => Ok(store.due(now, limit).await?),
        }
    }

    /// Claims up to `limit` conversations for worker `owner` until
    /// `now + lease`: intents whose lease expired first (a worker killed
    /// before delivering; taken over under the same intent key), then
    /// conversations due by `now` for which `still_due` holds on the stored
    /// record, each recorded as an intent and taken out of the due window.
    /// Committed before it returns: the caller then calls the model, outside
    /// any transaction. On PostgreSQL, rows another worker is claiming are
    /// skipped (`FOR UPDATE SKIP LOCKED`).
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        owner: &str,
        lease: Duration,
        still_due: &(dyn Fn(&Conversation) -> bool + Sync),
    ) -> Result<Vec<Claim>, StoreError> {
        match self {
            Self::Sled(store) => store.claim_due(now, limit, owner, lease, still_due),
            Self::Postgres(store) => {
                Ok(store.claim_due(now, limit, owner, lease, still_due).await?)
            }
        }
    }

    /// Delivers the follow-up of `claim`: appends `message`, queues
    /// `outbox` (one entry per webhook) and clears the intent in one
    /// transaction, if the intent is still the claim's at `now` (same key,
    /// held by the same owner or with its lease expired) and `still_valid`
    /// holds on the stored conversation; if the rules no longer hold, the
    /// intent is cancelled and the conversation rescheduled with
    /// `schedule`. Returns whether the follow-up was delivered: a second
    /// writer holding the same intent stores nothing.
    pub async fn deliver_followup(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        message: &Message,
        still_valid: &(dyn Fn(&Conversation) -> bool + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
        outbox: &[OutboxEntry],
    ) -> Result<bool, StoreError> {
        let delivery = Delivery {
            message,
            still_valid,
            schedule,
            outbox,
        };
        match self {
            Self::Sled(store) => store.deliver_claimed(claim, now, &delivery),
            Self::Postgres(store) => Ok(store.deliver_followup(claim, now, &delivery).await?),
        }
    }

    /// Drops the intent of `claim` without delivering (its persona is
    /// gone), rescheduling the conversation with `schedule`, if the intent
    /// is still the claim's at `now`; returns whether it was.
    pub async fn cancel_intent(
        &self,
        claim: &Claim,
        now: DateTime<Utc>,
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<bool, StoreError> {
        match self {
            // One process: no other owner can hold the intent meanwhile.
            Self::Sled(store) => store.cancel_claim(claim, schedule),
            Self::Postgres(store) => Ok(store.cancel_intent(claim, now, schedule).await?),
        }
    }

    /// Intents whose lease expired by `now`: what killed workers left, which
    /// the next [`StoreBackend::claim_due`] takes over.
    pub async fn pending_intents(&self, now: DateTime<Utc>) -> Result<Vec<Claim>, StoreError> {
        match self {
            Self::Sled(store) => store.pending_claims(now),
            Self::Postgres(store) => Ok(store.pending_intents(now).await?),
        }
    }

    /// Changes a conversation in place (STOP, the seen flag) and gives it
    /// the due window `schedule` says, in one transaction; `None` if the
    /// conversation does not exist.
    pub async fn update_conversation(
        &self,
        user: &str,
        persona: &str,
        change: &(dyn Fn(&mut Conversation) + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<Option<Conversation>, StoreError> {
        match self {
            Self::Sled(store) => store.update_conversation(user, persona, change, schedule),
            Self::Postgres(store) => Ok(store
                .update_conversation(user, persona, change, schedule)
                .await?),
        }
    }

    /// Gives every conversation the due window `schedule` says (after the
    /// follow-up policy changed); returns how many windows changed.
    pub async fn reschedule_all(
        &self,
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<usize, StoreError> {
        match self {
            Self::Sled(store) => store.reschedule_all(schedule),
            Self::Postgres(store) => Ok(store.reschedule_all(schedule).await?),
        }
    }

    /// The fingerprint of the policy the due windows were computed under.
    pub async fn due_index_policy(&self) -> Result<Option<String>, StoreError> {
        match self {
            Self::Sled(store) => store.due_index_policy(),
            Self::Postgres(store) => Ok(store.due_index_policy().await?),
        }
    }

    /// Records the fingerprint of the policy the due windows now reflect.
    pub async fn set_due_index_policy(&self, fingerprint: &str) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.set_due_index_policy(fingerprint),
            Self::Postgres(store) => Ok(store.set_due_index_policy(fingerprint).await?),
        }
    }

    /// When the next conversation falls due after `now`, if one does (a
    /// scheduler sleeps until then).
    pub async fn next_due_after(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self {
            Self::Sled(store) => store.next_due_after(now),
            Self::Postgres(store) => Ok(store.next_due_after(now).await?),
        }
    }

    /// Like [`StoreBackend::update_conversation`], but creates the user and
    /// an empty conversation (started by the user at `now`) if needed, so a
    /// preference such as STOP sticks even before the first chat message.
    pub async fn upsert_conversation(
        &self,
        user: &str,
        persona: &str,
        now: DateTime<Utc>,
        change: &(dyn Fn(&mut Conversation) + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<Conversation, StoreError> {
        match self {
            Self::Sled(store) => store.upsert_conversation(user, persona, now, change, schedule),
            Self::Postgres(store) => Ok(store
                .upsert_conversation(user, persona, now, change, schedule)
                .await?),
        }
    }

    /// Puts `user` on hold for proactive messages until `until` (the crisis
    /// protocol): the user's record, which later conversations inherit, and
    /// every conversation, whose due window starts no earlier than the hold.
    pub async fn hold_user(
        &self,
        user: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match self {
            Self::Sled(store) => store.hold_user(user, now, until),
            Self::Postgres(store) => Ok(store.hold_user(user, now, until).await?),
        }
    }
}
