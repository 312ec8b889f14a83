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
//! - `deliver`: delivering exactly once, with durable intents and bounded
//!   concurrency, holding the store only between model calls, and queueing
//!   each delivered follow-up for the webhooks in the same transaction;
//! - `worker`: the same on a store many processes share (PostgreSQL):
//!   claims with leases, taken over when a worker is killed;
//! - `queries`: finding what is due and explaining a verdict on either
//!   store, through `StoreBackend` (PostgreSQL's path);
//! - this module: finding what is due and explaining a verdict on sled.

mod deliver;
pub mod generate;
pub mod optout;
pub mod policy;
mod queries;
pub mod scheduler;
pub mod topics;
mod worker;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use generate::{FollowUpContext, FollowUpDraft, fallback};
pub use policy::{Eligibility, FollowUpPolicy, Rule, RuleCheck, UserFacts};
pub use worker::{DEFAULT_LEASE_SECONDS, Worker};

use crate::clock::Clock;
use crate::error::Error;
use crate::model::ChatModel;
use crate::persona::{Persona, Personas};
use crate::prompt::{Prompts, Scene};
use crate::store::{Conversation, DueCandidate, DueUser, DueWindow, Role, StoreAccess};
use generate::ExcerptLine;

/// Messages of the earlier conversation quoted in the follow-up prompt.
const EXCERPT_MESSAGES: usize = 6;

/// Topics named in the follow-up prompt.
const HOOK_TOPICS: usize = 3;

/// Gives each persona its model (see [`crate::app::App::model_for`]).
pub type ModelFor<'a> = dyn Fn(&Persona) -> Result<Arc<dyn ChatModel>, Error> + Sync + 'a;

/// A conversation due for a follow-up now (`followups due --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The follow-up's text, without disclaimers (`text`, as a stored
    /// message, a follow-up event and a webhook call name it).
    pub text: String,
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
    /// How the store is reached: each step of work holds it, and nothing
    /// holds it while a model writes.
    pub store: &'a StoreAccess,
    /// The personas, as they are when the service is made.
    pub personas: Arc<Personas>,
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
        let record = self.store.hold()?.user(user)?;
        Ok(self.facts_of(record.as_ref()))
    }

    /// The rules' facts from a user's record (`None`: a user the store
    /// does not know, an adult in the deployment's time zone), whichever
    /// store it was read from.
    fn facts_of(&self, record: Option<&crate::store::User>) -> UserFacts {
        self.facts_of_due(record.map(DueUser::from).as_ref())
    }

    /// The rules' facts from the user's settings as the due index keeps
    /// them (`None`: a user the store does not know).
    fn facts_of_due(&self, record: Option<&DueUser>) -> UserFacts {
        let timezone = record
            .and_then(|u| u.timezone.as_ref())
            .and_then(|tz| tz.parse().ok())
            .unwrap_or_else(|| self.policy.default_tz());
        UserFacts {
            timezone,
            minor: record.is_some_and(|u| u.minor),
            followups_off: record.is_some_and(|u| u.followups_off),
            hold_until: record.and_then(|u| u.hold_until),
        }
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
        let store = self.store.hold()?;
        let conversation = store.conversation(user, &persona.id)?.ok_or_else(|| {
            Error::NotFound(format!(
                "{user} has no conversation with {} ({}) yet",
                persona.name, persona.id
            ))
        })?;
        self.verdict(persona, &conversation, self.clock.now())
    }

    /// A conversation's due window under the current policy, now: none for
    /// a persona that no longer exists or a window already over. What a
    /// reindex gives every conversation, on either store.
    fn current_schedule(&self) -> impl Fn(&Conversation) -> Option<DueWindow> + Sync + '_ {
        let now = self.clock.now();
        move |c: &Conversation| {
            let persona = self.personas.get(&c.persona).ok()?;
            self.policy
                .for_persona(&persona)
                .due_window(c)
                .filter(|w| w.until >= now)
        }
    }

    /// Recomputes every conversation's due window under the current policy
    /// (after `[followups]` or a persona's settings changed); returns how
    /// many conversations moved in the index.
    pub fn reindex(&self) -> Result<usize, Error> {
        let schedule = self.current_schedule();
        let store = self.store.hold()?;
        let moved = store.reschedule_all(&schedule)?;
        store.set_due_index_policy(&self.policy.index_fingerprint(&self.personas))?;
        Ok(moved)
    }

    /// Recomputes the due index if the policy it was built under has
    /// changed since (a `[followups]` setting, a persona's, or the set of
    /// personas), so a loosened policy reaches conversations that were not
    /// due under the old one.
    fn keep_index_current(&self) -> Result<(), Error> {
        let fingerprint = self.policy.index_fingerprint(&self.personas);
        let store = self.store.hold()?;
        if store.due_index_policy()?.as_deref() == Some(fingerprint.as_str()) {
            return Ok(());
        }
        let moved = self.reindex()?;
        tracing::info!(moved, "the follow-up policy changed; due index recomputed");
        Ok(())
    }

    /// The conversations due now, read from the due index.
    pub fn due(&self) -> Result<Vec<DueConversation>, Error> {
        let store = self.store.hold()?;
        self.keep_index_current()?;
        let now = self.clock.now();
        Ok(self.eligible(store.due_candidates(now)?, now))
    }

    /// The candidates of the due index that pass every rule at `now`
    /// (their persona still exists), as `followups due` lists them; the
    /// rules read nothing more from the store.
    fn eligible(&self, candidates: Vec<DueCandidate>, now: DateTime<Utc>) -> Vec<DueConversation> {
        let mut due = Vec::new();
        for DueCandidate { conversation, user } in candidates {
            let Ok(persona) = self.personas.get(&conversation.persona) else {
                continue;
            };
            let facts = self.facts_of_due(user.as_ref());
            if self
                .policy
                .for_persona(&persona)
                .is_eligible(&conversation, &facts, now)
            {
                due.push(self.describe(&persona, &conversation, now));
            }
        }
        due
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

    /// What the follow-up draws on: hook topics, the end of the conversation
    /// (charged messages left out), and how long the user has been away.
    pub fn context(
        &self,
        persona: &Persona,
        conversation: &Conversation,
        now: DateTime<Utc>,
    ) -> Result<FollowUpContext, Error> {
        let store = self.store.hold()?;
        let stored = StoredContext {
            topics: store.topics(conversation)?,
            recent: store.recent_messages(conversation, EXCERPT_MESSAGES)?,
            user: store.user(&conversation.user)?,
        };
        Ok(self.context_from(persona, conversation, stored, now))
    }

    /// What the follow-up draws on, from what either store gave back for
    /// the conversation: hook topics, the end of the conversation (charged
    /// messages left out), and how long the user has been away.
    fn context_from(
        &self,
        persona: &Persona,
        conversation: &Conversation,
        stored: StoredContext,
        now: DateTime<Utc>,
    ) -> FollowUpContext {
        let StoredContext {
            topics,
            recent,
            user: record,
        } = stored;
        let topics = topics::hooks(&topics, now, HOOK_TOPICS);
        // Never a crisis message or the helplines, as in chat.
        let excerpt: Vec<ExcerptLine> = crate::chat::shareable(&recent)
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
        let previous = recent.last().map(|m| m.at);
        let texts = excerpt.iter().map(|l| l.text.clone()).collect();
        let scene = Scene::new(
            persona,
            record.as_ref(),
            self.policy.default_tz(),
            now,
            previous,
            texts,
        )
        .with_greeting(persona, &conversation.user);
        FollowUpContext {
            topics,
            excerpt,
            away,
            scene: Some(scene),
        }
    }
}

/// What a follow-up's context is built from, as read from the store.
struct StoredContext {
    /// The conversation's topics, as stored.
    topics: Vec<crate::store::Topic>,
    /// Its last messages, oldest first.
    recent: Vec<crate::store::Message>,
    /// The user's record, if the store has one.
    user: Option<crate::store::User>,
}
