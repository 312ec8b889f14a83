//! Finding what is due and explaining a verdict on any store, through
//! [`StoreBackend`]: what `troupe followups due` and `explain` answer on
//! PostgreSQL; and keeping the due windows current when the policy they
//! were computed under has changed, as the sled path does.
//!
//! The rules are the same as on sled, evaluated on the stored record with
//! the user's settings read from the same store, so both stores give the
//! same answer for the same records.

use super::{DueConversation, Eligibility, FollowUps};
use crate::error::Error;
use crate::persona::Persona;
use crate::store::{Conversation, StoreBackend};

impl FollowUps<'_> {
    /// The conversations of `store` due now, earliest first: those in the
    /// due index whose persona still exists and which pass every rule,
    /// read with their users' settings in one query.
    pub async fn due_on(&self, store: &StoreBackend) -> Result<Vec<DueConversation>, Error> {
        self.keep_index_current_on(store).await?;
        let now = self.clock.now();
        Ok(self.eligible(store.due_candidates(now).await?, now))
    }

    /// Recomputes every conversation's due window in `store` under the
    /// current policy (after `[followups]` or a persona's settings
    /// changed); returns how many windows changed.
    pub async fn reindex_on(&self, store: &StoreBackend) -> Result<usize, Error> {
        let schedule = self.current_schedule();
        let moved = store.reschedule_all(&schedule).await?;
        let fingerprint = self.policy.index_fingerprint(&self.personas);
        store.set_due_index_policy(&fingerprint).await?;
        Ok(moved)
    }

    /// Recomputes the due windows in `store` if the policy they were
    /// computed under has changed since, so a loosened policy reaches
    /// conversations that were not due under the old one.
    pub async fn keep_index_current_on(&self, store: &StoreBackend) -> Result<(), Error> {
        let fingerprint = self.policy.index_fingerprint(&self.personas);
        if store.due_index_policy().await?.as_deref() == Some(fingerprint.as_str()) {
            return Ok(());
        }
        let moved = self.reindex_on(store).await?;
        tracing::info!(
            moved,
            "the follow-up policy changed; due windows recomputed"
        );
        Ok(())
    }

    /// Every rule's verdict, now, for `user`'s conversation with `persona`
    /// in `store`.
    pub async fn explain_on(
        &self,
        store: &StoreBackend,
        user: &str,
        persona: &Persona,
    ) -> Result<Eligibility, Error> {
        let conversation = store
            .conversation(user, &persona.id)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{user} has no conversation with {} ({}) yet",
                    persona.name, persona.id
                ))
            })?;
        self.verdict_on(store, persona, &conversation).await
    }

    /// Every rule's verdict for a conversation at the clock's now, with the
    /// user's settings read from `store`.
    async fn verdict_on(
        &self,
        store: &StoreBackend,
        persona: &Persona,
        conversation: &Conversation,
    ) -> Result<Eligibility, Error> {
        let record = store.user(&conversation.user).await?;
        let facts = self.facts_of(record.as_ref());
        Ok(self
            .policy
            .for_persona(persona)
            .evaluate(conversation, &facts, self.clock.now()))
    }
}
