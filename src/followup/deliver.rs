//! Delivering follow-ups exactly once, in chunks of three steps:
//!
//! 1. with the store held: claim each due conversation (re-check every rule
//!    and record the intent durably) and read what its follow-up draws on;
//! 2. with the store let go: the models write the follow-ups, a few at once;
//! 3. with the store held again: record each call's usage and deliver each
//!    follow-up in one transaction with the removal of its intent.
//!
//! A run killed between 1 and 3 leaves intents, which the next run resumes;
//! a run killed after 3 cannot deliver again. Letting the store go during 2
//! is what keeps chats and other commands going while a slow model writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::generate::{self, FollowUpContext, FollowUpDraft};
use super::{FollowUps, ModelFor, RunOptions, SentFollowUp};
use crate::error::Error;
use crate::model::ChatModel;
use crate::persona::{Persona, Personas};
use crate::progress::{Progress, steps};
use crate::store::{Conversation, MessageKind, UsageRecord};

/// Each persona's model, built once per run; `None` when it cannot be
/// built (its follow-ups then use the persona's template).
pub(super) struct Models<'a> {
    /// Builds a persona's model.
    model_for: &'a ModelFor<'a>,
    /// Models built so far.
    built: BTreeMap<String, Option<Arc<dyn ChatModel>>>,
}

impl<'a> Models<'a> {
    pub(super) fn new(model_for: &'a ModelFor<'a>) -> Self {
        Self {
            model_for,
            built: BTreeMap::new(),
        }
    }

    pub(super) fn prepare(&mut self, personas: &Personas, id: &str) {
        if self.built.contains_key(id) {
            return;
        }
        let model = personas.get(id).ok().and_then(|persona| match (self.model_for)(&persona) {
            Ok(model) => Some(model),
            Err(error) => {
                tracing::warn!(persona = %id, %error, "no model for follow-ups; using the template");
                None
            }
        });
        self.built.insert(id.to_string(), model);
    }

    pub(super) fn get(&self, id: &str) -> Option<&Arc<dyn ChatModel>> {
        self.built.get(id).and_then(Option::as_ref)
    }
}

/// A conversation claimed for this run, with what its follow-up draws on.
pub(super) struct Claimed {
    /// The conversation, as claimed.
    pub(super) conversation: Conversation,
    /// Its persona.
    pub(super) persona: Arc<Persona>,
    /// Topics, excerpt and time away.
    pub(super) context: FollowUpContext,
}

/// What is left to look at: intents an earlier run left, then due
/// conversations not yet claimed.
struct Queue {
    resumed: std::vec::IntoIter<Conversation>,
    due: std::vec::IntoIter<Conversation>,
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.resumed.len() == 0 && self.due.len() == 0
    }
}

impl FollowUps<'_> {
    /// Writes and delivers every due follow-up, resuming intents an earlier
    /// run left; `model_for` gives each persona's model and `progress` hears
    /// how many of the due conversations have been handled. Conversations are claimed in
    /// small chunks, so a kill leaves few intents, and a failure of one
    /// persona's model or template never stops the others. The store is
    /// held for each chunk's claims and for its deliveries, never while the
    /// models write.
    pub async fn run(
        &self,
        options: RunOptions,
        model_for: &ModelFor<'_>,
        progress: &mut dyn Progress,
    ) -> Result<Vec<SentFollowUp>, Error> {
        let now = self.clock.now();
        let limit = options.limit.unwrap_or(usize::MAX);
        let mut queue = self.queue(now, options.dry_run)?;
        let total = (queue.resumed.len() + queue.due.len()).min(limit);
        progress.begin("writing follow-ups", Some(steps(total)));
        let concurrency = self.policy.concurrency.max(1);
        let mut models = Models::new(model_for);
        let mut sent = Vec::new();
        let mut attempted = 0;
        while attempted < limit && !queue.is_empty() {
            let room = (concurrency * 2).min(limit - attempted);
            let chunk = self.claim_chunk(&mut queue, room, now, options.dry_run)?;
            let mut handled = attempted;
            attempted += chunk.len();
            for claimed in &chunk {
                models.prepare(&self.personas, &claimed.persona.id);
            }
            let chunk = chunk.into_iter().map(|claimed| ((), claimed)).collect();
            let drafts: Vec<(Claimed, FollowUpDraft)> = self
                .write_chunk(chunk, &models, now)
                .await
                .into_iter()
                .map(|((), claimed, draft)| (claimed, draft))
                .collect();
            if options.dry_run {
                sent.extend(drafts.iter().map(|(c, d)| sent_followup(c, d)));
                progress.advance(steps(attempted));
                continue;
            }
            self.deliver_chunk(drafts, now, &mut sent, &mut || {
                handled += 1;
                progress.advance(steps(handled));
            })?;
        }
        Ok(sent)
    }

    /// The first step of a run: the intents an earlier run left (unless
    /// dry-running) and the conversations due now.
    fn queue(&self, now: DateTime<Utc>, dry_run: bool) -> Result<Queue, Error> {
        let store = self.store.hold()?;
        self.keep_index_current()?;
        let resumed = if dry_run {
            Vec::new()
        } else {
            store.pending_intents()?
        };
        let due: Vec<Conversation> = store
            .due_entries(now)?
            .into_iter()
            .map(|e| e.conversation)
            .collect();
        Ok(Queue {
            resumed: resumed.into_iter(),
            due: due.into_iter(),
        })
    }

    /// Claims up to `room` conversations from `queue`, in one hold of the
    /// store, with what each follow-up draws on.
    fn claim_chunk(
        &self,
        queue: &mut Queue,
        room: usize,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Vec<Claimed>, Error> {
        let _step = self.store.hold()?;
        let mut chunk = Vec::new();
        while chunk.len() < room {
            let conversation = match queue.resumed.next() {
                Some(resumed) => self.resume(resumed)?,
                None => match queue.due.next() {
                    Some(due) => self.claim(due, now, dry_run)?,
                    None => break,
                },
            };
            if let Some(conversation) = conversation {
                let Ok(persona) = self.personas.get(&conversation.persona) else {
                    continue;
                };
                let context = self.context(&persona, &conversation, now)?;
                chunk.push(Claimed {
                    conversation,
                    persona,
                    context,
                });
            }
        }
        Ok(chunk)
    }

    /// An intent an earlier run left, unless its persona is gone (then the
    /// intent is cancelled).
    fn resume(&self, conversation: Conversation) -> Result<Option<Conversation>, Error> {
        if self.personas.get(&conversation.persona).is_ok() {
            return Ok(Some(conversation));
        }
        self.store
            .hold()?
            .cancel_intent(&conversation.user, &conversation.persona, &|_| None)?;
        Ok(None)
    }

    /// Takes a due conversation for this run: re-checks every rule and, unless
    /// dry-running, records the intent durably. Drops index entries whose
    /// window has passed.
    fn claim(
        &self,
        conversation: Conversation,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Option<Conversation>, Error> {
        let Ok(persona) = self.personas.get(&conversation.persona) else {
            return Ok(None);
        };
        let facts = self.user_facts(&conversation.user)?;
        let policy = self.policy.for_persona(&persona);
        if dry_run {
            return Ok(policy
                .evaluate(&conversation, &facts, now)
                .eligible
                .then_some(conversation));
        }
        let store = self.store.hold()?;
        let (user, persona_id) = (conversation.user.clone(), conversation.persona.clone());
        let claimed = store.record_intent(&user, &persona_id, now, &|c| {
            policy.evaluate(c, &facts, now).eligible
        })?;
        if claimed.is_none() && conversation.due.is_some_and(|d| d.until < now) {
            let schedule = |c: &Conversation| policy.due_window(c).filter(|w| w.until >= now);
            store.update_conversation(&user, &persona_id, &|_| {}, &schedule)?;
        }
        Ok(claimed)
    }

    /// Writes a chunk's follow-ups, a few at once (`[followups]
    /// concurrency`), each with its persona's model from `models`; `T`
    /// rides along with each (a store's claim). Touches no store.
    pub(super) async fn write_chunk<T: Send>(
        &self,
        chunk: Vec<(T, Claimed)>,
        models: &Models<'_>,
        now: DateTime<Utc>,
    ) -> Vec<(T, Claimed, FollowUpDraft)> {
        futures::stream::iter(chunk)
            .map(|(with, claimed)| async move {
                let model = models.get(&claimed.persona.id);
                let draft = self.write(&claimed, model, now).await;
                (with, claimed, draft)
            })
            .buffer_unordered(self.policy.concurrency.max(1))
            .collect()
            .await
    }

    /// The follow-up text: from the model when there is one and the prompt
    /// renders, else the persona's template. Touches no store.
    pub(super) async fn write(
        &self,
        claimed: &Claimed,
        model: Option<&Arc<dyn ChatModel>>,
        now: DateTime<Utc>,
    ) -> FollowUpDraft {
        let (persona, context) = (&claimed.persona, &claimed.context);
        let written = match model {
            Some(model) => {
                generate::write_followup(self.prompts, persona, model.as_ref(), context, now, self.policy.max_chars)
                    .await
                    .map_err(|e| tracing::warn!(persona = %persona.id, error = %e, "follow-up prompt failed; using the template"))
                    .ok()
            }
            None => None,
        };
        let mut draft = written.unwrap_or_else(|| generate::template_draft(persona, context));
        draft.disclaimers = generate::disclaimers_with(persona, self.safety);
        draft
    }

    /// The last step for a chunk, in one hold of the store: delivers each
    /// follow-up whose every rule still holds (a resumed intent may have gone
    /// stale: the user said STOP, wrote again, or the window closed), adding
    /// what was delivered to `sent`; `progress` hears of each draft handled.
    fn deliver_chunk(
        &self,
        drafts: Vec<(Claimed, FollowUpDraft)>,
        now: DateTime<Utc>,
        sent: &mut Vec<SentFollowUp>,
        progress: &mut dyn FnMut(),
    ) -> Result<(), Error> {
        let _step = self.store.hold()?;
        for (claimed, draft) in drafts {
            if let Some(followup) = self.deliver(&claimed, draft, now)? {
                sent.push(followup);
            }
            progress();
        }
        Ok(())
    }

    /// Delivers one follow-up, if every rule still holds.
    fn deliver(
        &self,
        claimed: &Claimed,
        draft: FollowUpDraft,
        now: DateTime<Utc>,
    ) -> Result<Option<SentFollowUp>, Error> {
        let (user, persona) = (&claimed.conversation.user, &claimed.persona);
        let sent = sent_followup(claimed, &draft);
        let facts = self.user_facts(user)?;
        let policy = self.policy.for_persona(persona);
        let still_valid = |c: &Conversation| policy.still_valid(c, &facts, now);
        let schedule = |c: &Conversation| policy.due_window(c);
        let outbox =
            crate::webhook::payload::outbox_entries(&self.webhooks, &sent, &persona.name, now)?;
        self.record_usage(user, persona, &draft, now)?;
        let delivered = self.store.hold()?.deliver_followup(
            user,
            &persona.id,
            &draft.into_message(now),
            &still_valid,
            &schedule,
            &outbox,
        )?;
        if delivered {
            tracing::info!(user = %sent.user, persona = %sent.persona, model = %sent.model, "follow-up delivered");
        } else {
            tracing::info!(user = %sent.user, persona = %sent.persona, "follow-up cancelled: no longer due");
        }
        Ok(delivered.then_some(sent))
    }

    /// Records the follow-up's model call, if one was made: tokens, latency
    /// and how it ended.
    fn record_usage(
        &self,
        user: &str,
        persona: &Persona,
        draft: &FollowUpDraft,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let Some(record) = usage_record(user, persona, draft, now) else {
            return Ok(());
        };
        self.store.hold()?.record_usage(&record)?;
        Ok(())
    }
}

/// The usage record of the model call behind `draft`, if one was made:
/// tokens, latency and how it ended.
pub(super) fn usage_record(
    user: &str,
    persona: &Persona,
    draft: &FollowUpDraft,
    now: DateTime<Utc>,
) -> Option<UsageRecord> {
    let (model, outcome) = draft.call.as_ref()?;
    let usage = draft.usage.unwrap_or_default();
    Some(UsageRecord {
        at: now,
        user: Some(user.to_string()),
        persona: persona.id.clone(),
        model: model.clone(),
        kind: MessageKind::FollowUp,
        prompt_tokens: u64::from(usage.prompt_tokens),
        completion_tokens: u64::from(usage.completion_tokens),
        latency_ms: draft.latency_ms,
        outcome: *outcome,
    })
}

/// What a run reports for a follow-up written for `claimed`.
pub(super) fn sent_followup(claimed: &Claimed, draft: &FollowUpDraft) -> SentFollowUp {
    SentFollowUp {
        user: claimed.conversation.user.clone(),
        persona: claimed.persona.id.clone(),
        text: draft.message.clone(),
        disclaimers: draft.disclaimers.clone(),
        model: draft.model.clone(),
    }
}
