//! The follow-up generator: a persona checks in, once, with a user who has
//! gone quiet, about what they talked about.
//!
//! - [`policy`]: the rules (Project Omni's guardrails, configurable, made
//!   stricter per persona) and the due window each conversation keeps in the
//!   store's due index;
//! - [`topics`]: what the user talked about, extracted as messages arrive;
//! - [`generate`]: the prompt, the model call, the fallback, the disclaimers;
//! - [`optout`]: STOP and /start;
//! - [`scheduler`]: the background task that delivers follow-ups as they
//!   fall due, inside a server;
//! - this module: finding what is due, explaining a verdict, and delivering
//!   exactly once with durable intents and bounded concurrency, queueing
//!   each delivered follow-up for the webhooks in the same transaction.

pub mod generate;
pub mod optout;
pub mod policy;
pub mod scheduler;
pub mod topics;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

pub use generate::{FollowUpContext, FollowUpDraft, fallback};
pub use policy::{Eligibility, FollowUpPolicy, Rule, RuleCheck, UserFacts};

use crate::clock::Clock;
use crate::error::Error;
use crate::model::ChatModel;
use crate::persona::{Persona, Personas};
use crate::prompt::Prompts;
use crate::store::{Conversation, MessageKind, Role, Store, UsageRecord};
use generate::ExcerptLine;

/// Each persona's model, built once per run; `None` when it cannot be
/// built (its follow-ups then use the persona's template).
struct Models<'a> {
    /// Builds a persona's model.
    model_for: &'a ModelFor<'a>,
    /// Models built so far.
    built: BTreeMap<String, Option<Arc<dyn ChatModel>>>,
}

impl<'a> Models<'a> {
    fn new(model_for: &'a ModelFor<'a>) -> Self {
        Self {
            model_for,
            built: BTreeMap::new(),
        }
    }

    fn prepare(&mut self, personas: &Personas, id: &str) {
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

    fn get(&self, id: &str) -> Option<&Arc<dyn ChatModel>> {
        self.built.get(id).and_then(Option::as_ref)
    }
}

/// Messages of the earlier conversation quoted in the follow-up prompt.
const EXCERPT_MESSAGES: usize = 6;

/// Topics named in the follow-up prompt.
const HOOK_TOPICS: usize = 3;

/// Gives each persona its model (see [`crate::app::App::model_for`]).
pub type ModelFor<'a> = dyn Fn(&Persona) -> Result<Arc<dyn ChatModel>, Error> + Sync + 'a;

/// A conversation due for a follow-up now (`followups due --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueConversation {
    /// The user.
    pub user: String,
    /// The persona.
    pub persona: String,
    /// When the user last wrote.
    pub last_user_at: Option<DateTime<Utc>>,
    /// User messages within the window.
    pub recent_user_messages: usize,
    /// When the conversation became due.
    pub due_since: Option<DateTime<Utc>>,
}

/// A follow-up sent (or, in a dry run, that would be sent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentFollowUp {
    /// The user.
    pub user: String,
    /// The persona.
    pub persona: String,
    /// The message, without disclaimers.
    pub message: String,
    /// The disclaimers, in the persona's language.
    pub disclaimers: Vec<String>,
    /// The model that wrote it, or `template`.
    pub model: String,
}

/// How a run behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Write the follow-ups but store nothing.
    pub dry_run: bool,
    /// Send at most this many.
    pub limit: Option<usize>,
}

/// Finds, explains and delivers follow-ups.
pub struct FollowUps<'a> {
    /// The store.
    pub store: &'a Store,
    /// The personas.
    pub personas: &'a Personas,
    /// The prompt templates.
    pub prompts: &'a Prompts,
    /// The deployment's policy.
    pub policy: &'a FollowUpPolicy,
    /// The deployment's safety settings (disclaimer texts).
    pub safety: &'a crate::safety::SafetyConfig,
    /// The clock every rule is evaluated at.
    pub clock: Clock,
    /// The webhooks (`[server.webhooks]`, by name) every delivered
    /// follow-up is queued for, whichever process delivers it; only `troupe
    /// serve` sends them.
    pub webhooks: Vec<String>,
}

impl FollowUps<'_> {
    /// What the rules need to know about a user: time zone (or the
    /// deployment's default), minor, follow-ups off.
    fn user_facts(&self, user: &str) -> Result<UserFacts, Error> {
        let record = self.store.user(user)?;
        let timezone = record
            .as_ref()
            .and_then(|u| u.timezone.as_ref())
            .and_then(|tz| tz.parse().ok())
            .unwrap_or_else(|| self.policy.default_tz());
        Ok(UserFacts {
            timezone,
            minor: record.as_ref().is_some_and(|u| u.minor),
            followups_off: record.as_ref().is_some_and(|u| u.followups_off),
            hold_until: record.as_ref().and_then(|u| u.hold_until),
        })
    }

    /// Every rule's verdict for a conversation at the clock's now.
    fn verdict(
        &self,
        persona: &Persona,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> Result<Eligibility, Error> {
        let facts = self.user_facts(&conversation.user)?;
        Ok(self
            .policy
            .for_persona(persona)
            .evaluate(conversation, &facts, now))
    }

    /// Explains, rule by rule, whether `user` would get a follow-up from `persona` now.
    pub fn explain(&self, user: &str, persona: &Persona) -> Result<Eligibility, Error> {
        let conversation = self.store.conversation(user, &persona.id)?.ok_or_else(|| {
            Error::NotFound(format!(
                "{user} has no conversation with {} ({}) yet",
                persona.name, persona.id
            ))
        })?;
        self.verdict(persona, &conversation, self.clock.now())
    }

    /// Recomputes every conversation's due window under the current policy
    /// (after `[followups]` or a persona's settings changed); returns how
    /// many conversations moved in the index.
    pub fn reindex(&self) -> Result<usize, Error> {
        let now = self.clock.now();
        let schedule = |c: &Conversation| {
            let persona = self.personas.get(&c.persona).ok()?;
            self.policy
                .for_persona(&persona)
                .due_window(c)
                .filter(|w| w.until >= now)
        };
        let moved = self.store.reschedule_all(&schedule)?;
        self.store
            .set_due_index_policy(&self.policy.index_fingerprint(self.personas))?;
        Ok(moved)
    }

    /// Recomputes the due index if the policy it was built under has
    /// changed since (a `[followups]` setting, a persona's, or the set of
    /// personas), so a loosened policy reaches conversations that were not
    /// due under the old one.
    fn keep_index_current(&self) -> Result<(), Error> {
        let fingerprint = self.policy.index_fingerprint(self.personas);
        if self.store.due_index_policy()?.as_deref() == Some(fingerprint.as_str()) {
            return Ok(());
        }
        let moved = self.reindex()?;
        tracing::info!(moved, "the follow-up policy changed; due index recomputed");
        Ok(())
    }

    /// The conversations due now, read from the due index.
    pub fn due(&self) -> Result<Vec<DueConversation>, Error> {
        self.keep_index_current()?;
        let now = self.clock.now();
        let mut due = Vec::new();
        for entry in self.store.due_entries(now)? {
            let conversation = entry.conversation;
            let Ok(persona) = self.personas.get(&conversation.persona) else {
                continue;
            };
            if self.verdict(&persona, &conversation, now)?.eligible {
                due.push(self.describe(&persona, &conversation, now));
            }
        }
        Ok(due)
    }

    fn describe(
        &self,
        persona: &Persona,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> DueConversation {
        let window = self.policy.for_persona(persona).window;
        DueConversation {
            user: conversation.user.clone(),
            persona: conversation.persona.clone(),
            last_user_at: conversation.last_user_at,
            recent_user_messages: conversation.user_messages_since(now - window),
            due_since: conversation.due.map(|d| d.from),
        }
    }

    /// Writes and delivers every due follow-up, resuming intents an earlier
    /// run left; `model_for` gives each persona's model and `progress` hears
    /// (done, total) as follow-ups complete. Conversations are claimed in
    /// small chunks, so a kill leaves few intents, and a failure of one
    /// persona's model or template never stops the others.
    pub async fn run(
        &self,
        options: RunOptions,
        model_for: &ModelFor<'_>,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<Vec<SentFollowUp>, Error> {
        self.keep_index_current()?;
        let now = self.clock.now();
        let limit = options.limit.unwrap_or(usize::MAX);
        let resumed: Vec<Conversation> = if options.dry_run {
            Vec::new()
        } else {
            self.store.pending_intents()?
        };
        let due: Vec<Conversation> = self
            .store
            .due_entries(now)?
            .into_iter()
            .map(|e| e.conversation)
            .collect();
        let total = (resumed.len() + due.len()).min(limit);
        progress(0, total);
        let concurrency = self.policy.concurrency.max(1);
        let mut models = Models::new(model_for);
        let mut sent = Vec::new();
        let mut attempted = 0;
        let mut resumed = resumed.into_iter();
        let mut due = due.into_iter();
        while attempted < limit {
            let mut chunk = Vec::new();
            while chunk.len() < concurrency * 2 && attempted + chunk.len() < limit {
                let next = match resumed.next() {
                    Some(conversation) => Some(conversation),
                    None => match due.next() {
                        Some(conversation) => self.claim(conversation, now, options.dry_run)?,
                        None => break,
                    },
                };
                if let Some(conversation) = next {
                    chunk.push(conversation);
                }
            }
            if chunk.is_empty() && resumed.len() == 0 && due.len() == 0 {
                break;
            }
            attempted += chunk.len();
            for conversation in &chunk {
                models.prepare(self.personas, &conversation.persona);
            }
            let mut results = futures::stream::iter(chunk)
                .map(|conversation| self.send(conversation, &models, now, options.dry_run))
                .buffer_unordered(concurrency);
            while let Some(result) = results.next().await {
                if let Some(followup) = result? {
                    sent.push(followup);
                }
                progress(sent.len(), total);
            }
        }
        Ok(sent)
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
        let (user, persona_id) = (conversation.user.clone(), conversation.persona.clone());
        let claimed = self.store.record_intent(&user, &persona_id, now, &|c| {
            policy.evaluate(c, &facts, now).eligible
        })?;
        if claimed.is_none() && conversation.due.is_some_and(|d| d.until < now) {
            let schedule = |c: &Conversation| policy.due_window(c).filter(|w| w.until >= now);
            self.store
                .update_conversation(&user, &persona_id, &|_| {}, &schedule)?;
        }
        Ok(claimed)
    }

    /// Writes one follow-up and, unless dry-running, delivers it, if every
    /// rule still holds at delivery (a resumed intent may have gone stale:
    /// the user said STOP, wrote again, or the window closed).
    async fn send(
        &self,
        conversation: Conversation,
        models: &Models<'_>,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Option<SentFollowUp>, Error> {
        let (user, persona_id) = (conversation.user.clone(), conversation.persona.clone());
        let Ok(persona) = self.personas.get(&persona_id) else {
            self.store.cancel_intent(&user, &persona_id, &|_| None)?;
            return Ok(None);
        };
        let draft = self
            .draft(&persona, &conversation, models.get(&persona_id), now)
            .await?;
        let sent = SentFollowUp {
            user: user.clone(),
            persona: persona.id.clone(),
            message: draft.message.clone(),
            disclaimers: draft.disclaimers.clone(),
            model: draft.model.clone(),
        };
        if dry_run {
            return Ok(Some(sent));
        }
        let facts = self.user_facts(&user)?;
        let policy = self.policy.for_persona(&persona);
        let still_valid = |c: &Conversation| {
            let mut unclaimed = c.clone();
            unclaimed.pending_followup = None;
            policy.evaluate(&unclaimed, &facts, now).eligible
        };
        let schedule = |c: &Conversation| policy.due_window(c);
        let outbox =
            crate::webhook::payload::outbox_entries(&self.webhooks, &sent, &persona.name, now)?;
        self.record_usage(&user, &persona, &draft, now)?;
        let delivered = self.store.deliver_followup(
            &user,
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

    /// The follow-up text: from the model when there is one and the prompt
    /// renders, else the persona's template.
    async fn draft(
        &self,
        persona: &Arc<Persona>,
        conversation: &Conversation,
        model: Option<&Arc<dyn ChatModel>>,
        now: DateTime<Utc>,
    ) -> Result<FollowUpDraft, Error> {
        let context = self.context(persona, conversation, now)?;
        let written = match model {
            Some(model) => {
                generate::write_followup(self.prompts, persona, model.as_ref(), &context, now, self.policy.max_chars)
                    .await
                    .map_err(|e| tracing::warn!(persona = %persona.id, error = %e, "follow-up prompt failed; using the template"))
                    .ok()
            }
            None => None,
        };
        let mut draft = written.unwrap_or_else(|| generate::template_draft(persona, &context));
        draft.disclaimers = generate::disclaimers_with(persona, self.safety);
        Ok(draft)
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
        let Some((model, outcome)) = &draft.call else {
            return Ok(());
        };
        let usage = draft.usage.unwrap_or_default();
        self.store.record_usage(&UsageRecord {
            at: now,
            user: Some(user.to_string()),
            persona: persona.id.clone(),
            model: model.clone(),
            kind: MessageKind::FollowUp,
            prompt_tokens: u64::from(usage.prompt_tokens),
            completion_tokens: u64::from(usage.completion_tokens),
            latency_ms: draft.latency_ms,
            outcome: *outcome,
        })?;
        Ok(())
    }

    /// What the follow-up draws on: hook topics, the end of the conversation
    /// (charged messages left out), and how long the user has been away.
    pub fn context(
        &self,
        persona: &Persona,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> Result<FollowUpContext, Error> {
        let topics = topics::hooks(&self.store.topics(conversation)?, now, HOOK_TOPICS);
        let recent = self.store.recent_messages(conversation, EXCERPT_MESSAGES)?;
        // Never a crisis message or the helplines, as in chat.
        let excerpt = crate::chat::shareable(&recent)
            .into_iter()
            .filter(|m| !m.interrupted && !topics::is_sensitive(&m.text))
            .map(|m| ExcerptLine {
                who: match m.role {
                    Role::User => "User".to_string(),
                    Role::Assistant => persona.name.clone(),
                },
                text: m.text.chars().take(240).collect(),
            })
            .collect();
        let away = conversation
            .last_user_at
            .map(|at| policy::human(now - at))
            .unwrap_or_default();
        Ok(FollowUpContext {
            topics,
            excerpt,
            away,
        })
    }
}
