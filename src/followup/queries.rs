//! Finding what is due and explaining a verdict on any store, through
//! [`StoreBackend`]: what `troupe followups due` and `explain` answer on
//! PostgreSQL (the sled path in this module's parent also keeps the due
//! index current under a changed policy, which PostgreSQL does not do yet).
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
        let now = self.clock.now();
        Ok(self.eligible(store.due_candidates(now).await?, now))
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
