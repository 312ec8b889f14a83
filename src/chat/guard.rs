//! What runs around a chat turn: who may talk to a persona, STOP and
//! /start, the crisis protocol, the disclaimers a turn earns, and the
//! follow-up the user has not seen yet.

use super::{ChatService, Reply, ReplyKind, SAFETY_MODEL, TurnError, clean_message, within_limit};
use crate::followup::optout::{self, FollowUpSwitch};
use crate::locale;
use crate::model::{ChatMessage, ChatModel, ChatRequest, ChatRole, Purpose};
use crate::persona::Persona;
use crate::safety::conversation::{EARLIER_HOURS, EARLIER_MESSAGES};
use crate::safety::{self, CrisisKind, SafetyEvent};
use crate::store::{AppendEffects, CallOutcome, Message, MessageKind, Role, UsageRecord};

/// The refusal of an adults-only persona to a minor, named `persona_name`.
pub fn adults_only(persona_name: &str) -> TurnError {
    TurnError::Input(format!(
        "{persona_name} is for adults only; choose another persona (`troupe personas list`, or /personas in the console)"
    ))
}

/// The instruction for the model's second opinion on a message.
const CRISIS_CHECK: &str = "You are a safety classifier. The user's message is from a chat with a lifestyle assistant, in any language. \
Answer YES if it expresses suicidal thoughts, a wish to die or disappear for good, a plan or means to end one's life, or self-harm; \
answer DANGER if the user is in immediate danger from someone else (being hit, threatened or followed, someone breaking in); \
otherwise answer NO. Jokes and hyperbole about food, tiredness or embarrassment are NO. Answer with one word: YES, DANGER or NO.";

impl ChatService {
    /// Refuses a minor an adults-only persona.
    pub fn check_access(&self, user: &str, persona: &Persona) -> Result<(), TurnError> {
        let minor = self.store.hold()?.user(user)?.is_some_and(|u| u.minor);
        if minor && persona.adults_only {
            return Err(adults_only(&persona.name));
        }
        Ok(())
    }

    /// Whether the user is marked as a minor.
    pub fn is_minor(&self, user: &str) -> Result<bool, TurnError> {
        Ok(self.store.hold()?.user(user)?.is_some_and(|u| u.minor))
    }

    /// The crisis protocol: a message expressing suicidal ideation or
    /// self-harm, or telling of immediate danger from someone else, is kept
    /// but not sent to the persona's model; the user gets a caring reply
    /// with the resources for that kind of crisis, the event is logged with
    /// its kind but without any text or identity, and proactive messages are
    /// put on hold.
    pub(super) async fn crisis_reply(
        &self,
        user: &str,
        persona: &Persona,
        model: &dyn ChatModel,
        text: &str,
    ) -> Result<Option<Reply>, TurnError> {
        // Read before the size limit applies: a long farewell letter is
        // exactly what this must not refuse.
        // The offline reader sees all of it; what leaves the machine (the
        // model check) and what is kept stop at the limit.
        let cleaned = clean_message(text, usize::MAX).map_err(TurnError::Input)?;
        let kept = within_limit(&cleaned, self.limits.max_message_chars);
        let earlier = self.earlier_user_texts(user, persona)?;
        let earlier: Vec<&str> = earlier.iter().map(String::as_str).collect();
        let found = match safety::assess_in_conversation(&earlier, &cleaned).crisis {
            Some(kind) => Some(kind),
            None => {
                self.model_sees_crisis(model, Some(user), persona, &kept)
                    .await
            }
        };
        let Some(kind) = found else {
            return Ok(None);
        };
        // Every write of the protocol in one hold of the store.
        let store = self.store.hold()?;
        self.accept_as(user, persona, &kept, true)?;
        let now = self.clock.now();
        let language = store
            .user(user)?
            .and_then(|u| u.language)
            .unwrap_or_else(|| persona.language.clone());
        let reply = self.safety.crisis_message(&language, kind);
        let message = Message {
            role: Role::Assistant,
            kind: MessageKind::Safety,
            text: reply.clone(),
            at: now,
            model: Some(SAFETY_MODEL.to_string()),
            interrupted: false,
            truncated: false,
            disclaimers: Vec::new(),
        };
        let policy = self.policy.for_persona(persona);
        store.record_safety_event(&SafetyEvent {
            at: now,
            kind: kind.referral().to_string(),
            language: language.clone(),
        })?;
        let hold = now + chrono::Duration::days(i64::from(self.safety.crisis_hold_days));
        store.hold_user(user, now, hold)?;
        let effects = AppendEffects {
            schedule: &|c| policy.due_window(c),
            topics: None,
            session: None,
        };
        store.append(user, &persona.id, &message, &effects)?;
        Ok(Some(Reply::crisis(reply, kind)))
    }

    /// The user's latest messages in this conversation, oldest first, that
    /// the crisis protocol reads with a new one: at most
    /// [`EARLIER_MESSAGES`], from the last [`EARLIER_HOURS`] hours.
    fn earlier_user_texts(&self, user: &str, persona: &Persona) -> Result<Vec<String>, TurnError> {
        let store = self.store.hold()?;
        let Some(conversation) = store.conversation(user, &persona.id)? else {
            return Ok(Vec::new());
        };
        let since = self.clock.now() - chrono::Duration::hours(EARLIER_HOURS);
        // Replies sit between the user's messages: twice as many cover them.
        let recent = store.recent_messages(&conversation, EARLIER_MESSAGES * 2)?;
        let mut texts: Vec<String> = recent
            .into_iter()
            .filter(|m| m.role == Role::User && m.at >= since)
            .filter(|m| matches!(m.kind, MessageKind::Chat | MessageKind::Crisis))
            .map(|m| m.text)
            .collect();
        let surplus = texts.len().saturating_sub(EARLIER_MESSAGES);
        texts.drain(..surplus);
        Ok(texts)
    }

    /// A second opinion on a message the cue list let through: with a real
    /// model configured (and `[safety] model_check` on), the model is asked
    /// whether the message expresses suicidal ideation or self-harm, or
    /// tells of immediate danger from someone else. Any failure counts as
    /// "no": the check must never block a chat. `user` is `None` for a
    /// stateless turn, whose usage is recorded without one.
    pub(super) async fn model_sees_crisis(
        &self,
        model: &dyn ChatModel,
        user: Option<&str>,
        persona: &Persona,
        text: &str,
    ) -> Option<CrisisKind> {
        if !self.safety.model_check || model.info().provider == "offline" {
            return None;
        }
        let started = std::time::Instant::now();
        let request = ChatRequest {
            system: CRISIS_CHECK.to_string(),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: text.to_string(),
            }],
            temperature: Some(0.0),
            max_tokens: Some(3),
            persona: None,
            purpose: Purpose::SafetyCheck,
        };
        let answer = model.complete(&request).await;
        let usage = answer
            .as_ref()
            .ok()
            .and_then(|a| a.usage)
            .unwrap_or_default();
        let record = UsageRecord {
            at: self.clock.now(),
            user: user.map(str::to_string),
            persona: persona.id.clone(),
            model: answer
                .as_ref()
                .map_or_else(|_| model.info().model.clone(), |a| a.model.clone()),
            kind: MessageKind::Safety,
            prompt_tokens: u64::from(usage.prompt_tokens),
            completion_tokens: u64::from(usage.completion_tokens),
            latency_ms: started.elapsed().as_millis() as u64,
            outcome: if answer.is_ok() {
                CallOutcome::Completed
            } else {
                CallOutcome::Failed
            },
        };
        let recorded = self
            .store
            .hold()
            .and_then(|store| store.record_usage(&record));
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record the crisis check's usage");
        }
        match answer {
            Ok(answer) => {
                let said = answer.text.trim_start().to_ascii_uppercase();
                if said.starts_with("YES") {
                    Some(CrisisKind::SelfHarm)
                } else if said.starts_with("DANGER") {
                    Some(CrisisKind::Danger)
                } else {
                    None
                }
            }
            Err(error) => {
                tracing::warn!(%error, "the crisis check could not ask the model; the cue list decides");
                None
            }
        }
    }

    /// The disclaimers for what the user asked and what the persona answered.
    pub(super) fn disclaimers_for(
        &self,
        persona: &Persona,
        asked: &str,
        answered: &str,
    ) -> Vec<String> {
        let mut subjects = safety::assess(asked).subjects;
        subjects.extend(safety::assess(answered).subjects);
        self.safety.subject_disclaimers(persona, &subjects)
    }

    /// Handles STOP and /start: returns the confirmation to show, or `None`
    /// if `text` is ordinary chat. Control messages are not stored as chat.
    pub fn control(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
    ) -> Result<Option<String>, TurnError> {
        let Some(switch) = optout::parse(text) else {
            return Ok(None);
        };
        let stop = switch == FollowUpSwitch::Stop;
        let store = self.store.hold()?;
        let was_out = store
            .conversation(user, &persona.id)?
            .is_some_and(|c| c.opted_out);
        let policy = self.policy.for_persona(persona);
        store.upsert_conversation(
            user,
            &persona.id,
            self.clock.now(),
            &|c| c.opted_out = stop,
            &|c| policy.due_window(c),
        )?;
        Ok(Some(if stop {
            locale::opted_out(&persona.language, &persona.name, was_out)
        } else {
            locale::opted_in(&persona.language, &persona.name)
        }))
    }

    /// The follow-up the user has not seen yet, marking it seen.
    pub fn take_unseen_followup(
        &self,
        user: &str,
        persona: &Persona,
    ) -> Result<Option<Message>, TurnError> {
        let store = self.store.hold()?;
        let Some(conversation) = store.conversation(user, &persona.id)? else {
            return Ok(None);
        };
        if !conversation.followup_unseen {
            return Ok(None);
        }
        let followup = match conversation.last_followup_seq {
            Some(seq) => store.message(&conversation, seq)?,
            None => None,
        };
        let policy = self.policy.for_persona(persona);
        store.update_conversation(user, &persona.id, &|c| c.followup_unseen = false, &|c| {
            policy.due_window(c)
        })?;
        Ok(followup)
    }

    /// A control message's confirmation as a reply that is not stored.
    pub(super) fn control_reply(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
    ) -> Result<Option<Reply>, TurnError> {
        Ok(self.control(user, persona, text)?.map(|text| Reply {
            kind: ReplyKind::Control,
            text,
            model: "troupe".to_string(),
            usage: None,
            disclaimers: Vec::new(),
            truncated: false,
            crisis: None,
        }))
    }
}
