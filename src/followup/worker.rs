//! Follow-up workers on a store many processes share (PostgreSQL): any
//! number of `troupe followups run` processes on one database deliver each
//! due follow-up exactly once.
//!
//! One pass, in chunks:
//!
//! 1. [`StoreBackend::claim_due`] takes up to a chunk of due conversations
//!    for this worker until its lease runs out, re-checking every rule on
//!    the stored record (rows another worker is claiming are skipped), and
//!    commits the intents; intents a killed worker left, whose lease
//!    expired, are taken over first, under the same intent key;
//! 2. each claim's context is read through [`StoreBackend`] and the
//!    persona's model writes the follow-up (as on sled, see `deliver`), a
//!    few at once, outside any transaction;
//! 3. [`StoreBackend::deliver_followup`] stores each follow-up, re-checking
//!    the rules, and only if the intent is still this claim's: a second
//!    writer holding the same intent stores nothing.
//!
//! A worker killed between 1 and 3 loses nothing: once its lease expires,
//! the next pass of any worker takes its intents over.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use super::deliver::{Claimed, Models, sent_followup, usage_record};
use super::generate::FollowUpDraft;
use super::{EXCERPT_MESSAGES, FollowUps, ModelFor, RunOptions, SentFollowUp, StoredContext};
use super::{UserFacts, policy::EffectivePolicy};
use crate::error::Error;
use crate::progress::{Progress, steps};
use crate::store::{Claim, Conversation, StoreBackend};

/// How long a worker holds what it claims unless told otherwise, in
/// seconds: long enough for a slow model to write a chunk, short enough
/// that a killed worker's claims are soon taken over.
pub const DEFAULT_LEASE_SECONDS: i64 = 120;

/// One follow-up worker: who it is among the processes on a database, and
/// how long it holds what it claims.
#[derive(Debug, Clone)]
pub struct Worker {
    /// The worker's id, unique among the processes on one database (host,
    /// process id and a random part): intents record it as their owner.
    pub owner: String,
    /// How long a claim is held; past it, another worker may take it over.
    pub lease: Duration,
}

impl Worker {
    /// A worker with a fresh id holding its claims for `lease`.
    pub fn new(lease: Duration) -> Self {
        Self {
            owner: worker_id(),
            lease,
        }
    }
}

/// `host:pid:random`, so two workers never share an owner even on one host.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        hasher.finish() as u32
    )
}

/// The rules' facts of the users met so far in a pass, so the claim's
/// check (which cannot wait on the store) has them at hand; users it
/// meets without facts are noted and read before the next claim.
#[derive(Default)]
struct FactsCache {
    /// Facts by user id.
    known: Mutex<HashMap<String, UserFacts>>,
    /// Users a claim met whose facts were not read yet.
    missing: Mutex<BTreeSet<String>>,
}

impl FactsCache {
    /// The facts of `user`, if read; else notes the user as missing.
    fn get(&self, user: &str) -> Option<UserFacts> {
        let known = self.known.lock().ok()?.get(user).copied();
        if known.is_none()
            && let Ok(mut missing) = self.missing.lock()
        {
            missing.insert(user.to_string());
        }
        known
    }

    /// Whether `user`'s facts have been read.
    fn has(&self, user: &str) -> bool {
        self.known.lock().is_ok_and(|k| k.contains_key(user))
    }

    /// Takes the users noted as missing.
    fn take_missing(&self) -> BTreeSet<String> {
        self.missing
            .lock()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    }

    /// Stores the facts read for `user`.
    fn insert(&self, user: &str, facts: UserFacts) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(user.to_string(), facts);
        }
    }
}

impl FollowUps<'_> {
    /// One pass of a follow-up worker on `store` (see the module doc):
    /// claims, writes and delivers every due follow-up in chunks, taking
    /// over intents whose lease expired, until nothing is left to claim or
    /// `options.limit` claims were made. `model_for` gives each persona's
    /// model; `progress` hears of each follow-up handled. A dry run claims
    /// nothing: it writes the follow-ups of the conversations due now and
    /// stores nothing.
    pub async fn run_worker(
        &self,
        store: &StoreBackend,
        worker: &Worker,
        options: RunOptions,
        model_for: &ModelFor<'_>,
        progress: &mut dyn Progress,
    ) -> Result<Vec<SentFollowUp>, Error> {
        self.keep_index_current_on(store).await?;
        let now = self.clock.now();
        let limit = options.limit.unwrap_or(usize::MAX);
        if options.dry_run {
            return self.preview_on(store, now, limit, model_for).await;
        }
        let waiting = store.pending_intents(now).await?.len() + store.due(now, limit).await?.len();
        progress.begin("writing follow-ups", Some(steps(waiting.min(limit))));
        let concurrency = self.policy.concurrency.max(1);
        let facts = FactsCache::default();
        let mut models = Models::new(model_for);
        let mut sent = Vec::new();
        let (mut attempted, mut handled) = (0, 0);
        while attempted < limit {
            let room = (concurrency * 2).min(limit - attempted);
            let claims = self.claim_on(store, worker, now, room, &facts).await?;
            if claims.is_empty() {
                break;
            }
            attempted += claims.len();
            let mut chunk = Vec::new();
            for claim in claims {
                if let Some(claimed) = self.prepare_on(store, &claim, now).await? {
                    models.prepare(&self.personas, &claimed.persona.id);
                    chunk.push((claim, claimed));
                }
            }
            let drafts = self.write_chunk(chunk, &models, now).await;
            for (claim, claimed, draft) in drafts {
                if let Some(followup) = self.deliver_on(store, &claim, &claimed, draft, now).await?
                {
                    sent.push(followup);
                }
                handled += 1;
                progress.advance(steps(handled));
            }
        }
        Ok(sent)
    }

    /// Claims up to `room` conversations for `worker`, each passing every
    /// rule on its stored record. The users' facts are read first for the
    /// conversations due now; if a claim met only users not read yet, their
    /// facts are read and the claim tried again.
    async fn claim_on(
        &self,
        store: &StoreBackend,
        worker: &Worker,
        now: DateTime<Utc>,
        room: usize,
        facts: &FactsCache,
    ) -> Result<Vec<Claim>, Error> {
        self.read_facts_of_due(store, now, room.saturating_mul(4), facts)
            .await?;
        loop {
            let still_due = |c: &Conversation| {
                let Some(policy) = self.policy_of(c) else {
                    return false;
                };
                facts
                    .get(&c.user)
                    .is_some_and(|f| policy.evaluate(c, &f, now).eligible)
            };
            let claims = store
                .claim_due(now, room, &worker.owner, worker.lease, &still_due)
                .await?;
            let missing = facts.take_missing();
            for user in &missing {
                let record = store.user(user).await?;
                facts.insert(user, self.facts_of(record.as_ref()));
            }
            if !claims.is_empty() || missing.is_empty() {
                return Ok(claims);
            }
        }
    }

    /// Reads the facts of the users of (up to `limit`) conversations due
    /// now, and takes a conversation whose due window has passed out of the
    /// due query (as the sled path does), rescheduling it under the policy.
    async fn read_facts_of_due(
        &self,
        store: &StoreBackend,
        now: DateTime<Utc>,
        limit: usize,
        facts: &FactsCache,
    ) -> Result<(), Error> {
        for conversation in store.due(now, limit).await? {
            if !facts.has(&conversation.user) {
                let record = store.user(&conversation.user).await?;
                facts.insert(&conversation.user, self.facts_of(record.as_ref()));
            }
            let passed = conversation.due.is_some_and(|d| d.until < now);
            if passed && conversation.pending_followup.is_none() {
                let Some(policy) = self.policy_of(&conversation) else {
                    continue;
                };
                let schedule = |c: &Conversation| policy.due_window(c).filter(|w| w.until >= now);
                let (user, persona) = (&conversation.user, &conversation.persona);
                store
                    .update_conversation(user, persona, &|_| {}, &schedule)
                    .await?;
            }
        }
        Ok(())
    }

    /// The policy in force for a conversation's persona; `None` if the
    /// persona is gone.
    fn policy_of(&self, conversation: &Conversation) -> Option<EffectivePolicy> {
        let persona = self.personas.get(&conversation.persona).ok()?;
        Some(self.policy.for_persona(&persona))
    }

    /// What a claim's follow-up draws on, read through `store`; `None` (and
    /// the intent dropped) if its persona is gone.
    async fn prepare_on(
        &self,
        store: &StoreBackend,
        claim: &Claim,
        now: DateTime<Utc>,
    ) -> Result<Option<Claimed>, Error> {
        let conversation = &claim.conversation;
        let Ok(persona) = self.personas.get(&conversation.persona) else {
            store.cancel_intent(claim, now, &|_| None).await?;
            return Ok(None);
        };
        let context = self.context_on(store, &persona, conversation, now).await?;
        Ok(Some(Claimed {
            conversation: conversation.clone(),
            persona,
            context,
        }))
    }

    /// The follow-up's context (see [`FollowUps::context`]), read through
    /// `store`.
    async fn context_on(
        &self,
        store: &StoreBackend,
        persona: &crate::persona::Persona,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> Result<super::FollowUpContext, Error> {
        let stored = StoredContext {
            topics: store.topics(conversation).await?,
            recent: store
                .recent_messages(conversation, EXCERPT_MESSAGES)
                .await?,
            user: store.user(&conversation.user).await?,
        };
        Ok(self.context_from(persona, conversation, stored, now))
    }

    /// Records the model call's usage and delivers the follow-up, if every
    /// rule still holds (read afresh: the user may have said STOP since the
    /// claim) and the intent is still this claim's.
    async fn deliver_on(
        &self,
        store: &StoreBackend,
        claim: &Claim,
        claimed: &Claimed,
        draft: FollowUpDraft,
        now: DateTime<Utc>,
    ) -> Result<Option<SentFollowUp>, Error> {
        let (user, persona) = (&claimed.conversation.user, &claimed.persona);
        let sent = sent_followup(claimed, &draft);
        let facts = self.facts_of(store.user(user).await?.as_ref());
        let policy = self.policy.for_persona(persona);
        let still_valid = |c: &Conversation| policy.still_valid(c, &facts, now);
        let schedule = |c: &Conversation| policy.due_window(c);
        let outbox =
            crate::webhook::payload::outbox_entries(&self.webhooks, &sent, &persona.name, now)?;
        if let Some(usage) = usage_record(user, persona, &draft, now) {
            store.record_usage(&usage).await?;
        }
        let message = draft.into_message(now);
        let delivered = store
            .deliver_followup(claim, now, &message, &still_valid, &schedule, &outbox)
            .await?;
        if delivered {
            tracing::info!(user = %sent.user, persona = %sent.persona, model = %sent.model, owner = %claim.owner, "follow-up delivered");
        } else {
            tracing::info!(user = %sent.user, persona = %sent.persona, "follow-up not delivered: no longer due, or delivered by another worker");
        }
        Ok(delivered.then_some(sent))
    }

    /// A dry run on `store`: the follow-ups of (up to `limit`) conversations
    /// due now that pass every rule, written but neither claimed nor stored.
    async fn preview_on(
        &self,
        store: &StoreBackend,
        now: DateTime<Utc>,
        limit: usize,
        model_for: &ModelFor<'_>,
    ) -> Result<Vec<SentFollowUp>, Error> {
        let mut models = Models::new(model_for);
        let mut sent = Vec::new();
        for conversation in store.due(now, usize::MAX).await? {
            if sent.len() >= limit {
                break;
            }
            let Ok(persona) = self.personas.get(&conversation.persona) else {
                continue;
            };
            let facts = self.facts_of(store.user(&conversation.user).await?.as_ref());
            let policy = self.policy.for_persona(&persona);
            if conversation.pending_followup.is_some()
                || !policy.evaluate(&conversation, &facts, now).eligible
            {
                continue;
            }
            let context = self.context_on(store, &persona, &conversation, now).await?;
            models.prepare(&self.personas, &persona.id);
            let claimed = Claimed {
                conversation,
                persona,
                context,
            };
            let draft = self
                .write(&claimed, models.get(&claimed.persona.id), now)
                .await;
            sent.push(sent_followup(&claimed, &draft));
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::Worker;

    #[test]
    fn two_workers_in_one_process_have_different_ids_naming_the_process() {
        let (a, b) = (
            Worker::new(chrono::Duration::minutes(2)),
            Worker::new(chrono::Duration::minutes(2)),
        );
        assert_ne!(a.owner, b.owner);
        let pid = format!(":{}:", std::process::id());
        assert!(a.owner.contains(&pid), "{}", a.owner);
        assert_eq!(a.lease, chrono::Duration::minutes(2));
    }
}
