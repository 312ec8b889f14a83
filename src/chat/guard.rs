//! What runs around a chat turn: who may talk to a persona, STOP and
//! /start, the crisis protocol, the disclaimers a turn earns, and the
//! follow-up the user has not seen yet.

use super::{
    ChatService, Reply, ReplyKind, SAFETY_MODEL, TurnError, clean_message, within_limit,
    within_window,
};
use crate::followup::optout::{self, FollowUpSwitch};
use crate::locale;
use crate::persona::Persona;
use crate::safety::conversation::{EARLIER_HOURS, EARLIER_MESSAGES};
use crate::safety::{self, CrisisKind, SafetyEvent};
use crate::store::{AppendEffects, Message, MessageKind, Role};

/// What the offline detector made of a user's message.
pub(super) enum Screened {
    /// A crisis: the protocol ran, and this is its reply.
    Crisis(Reply),
    /// No crisis; the message within the size limit, for a moderation check.
    Clear {
        /// The cleaned message, cut at the size limit.
        kept: String,
    },
}

/// A conversation's follow-ups as a stream opening or showing a push sees
/// them.
#[derive(Debug, Default)]
pub struct FollowUps {
    /// The position of the newest follow-up in the conversation, if any.
    pub newest: Option<u64>,
    /// The follow-up the user had not seen, now marked seen.
    pub unseen: Option<Message>,
}

/// Refuses an adults-only persona to a user whose `record` marks them
/// as a minor.
pub(super) fn check_access_of(
    record: Option<&crate::store::User>,
    persona: &Persona,
) -> Result<(), TurnError> {
    if record.is_some_and(|u| u.minor) && persona.adults_only {
        return Err(adults_only(&persona.name));
    }
    Ok(())
}

/// The refusal of an adults-only persona to a minor, named `persona_name`.
pub fn adults_only(persona_name: &str) -> TurnError {
    TurnError::Input(format!(
        "{persona_name} is for adults only; choose another persona (`troupe personas list`, or /personas in the console)"
    ))
}

impl ChatService {
    /// Refuses a minor an adults-only persona.
    pub async fn check_access(&self, user: &str, persona: &Persona) -> Result<(), TurnError> {
        let record = self.store.step()?.user(user).await?;
        check_access_of(record.as_ref(), persona)
    }

    /// Whether the user is marked as a minor.
    pub async fn is_minor(&self, user: &str) -> Result<bool, TurnError> {
        Ok(self
            .store
            .step()?
            .user(user)
            .await?
            .is_some_and(|u| u.minor))
    }

    /// The offline detector's reading of `text`, with the user's latest
    /// messages, before anything else: a crisis gets the crisis protocol at
    /// once; otherwise the message as far as a moderation check may see it
    /// (within the size limit) comes back.
    pub(super) async fn offline_screen(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
    ) -> Result<Screened, TurnError> {
        let (crisis, kept) = self.read_for_crisis(user, persona, text).await?;
        if let Some(kind) = crisis {
            return Ok(Screened::Crisis(
                self.crisis_protocol(user, persona, &kept, kind).await?,
            ));
        }
        Ok(Screened::Clear { kept })
    }

    /// The crisis the offline detector finds in `text`, read with the
    /// user's latest messages in this conversation (signs spread over
    /// several messages add up), and the part of it within the size limit.
    pub(super) async fn read_for_crisis(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
    ) -> Result<(Option<CrisisKind>, String), TurnError> {
        // Read before the size limit applies: a long farewell letter is
        // exactly what this must not refuse. The offline reader sees up to
        // twice the limit (a huge paste costs no more than that); what
        // leaves the machine (a moderation check) and what is kept stop at
        // the limit.
        let limit = self.limits.max_message_chars;
        let cleaned =
            clean_message(within_window(text, limit), usize::MAX).map_err(TurnError::Input)?;
        let kept = within_limit(&cleaned, self.limits.max_message_chars);
        // An ordinary message completes no pattern, and a crisis needs
        // none: only a message that might is read with the earlier ones,
        // fetched from the store for it; the others are read alone.
        let crisis = if safety::reads_earlier(&cleaned) {
            let earlier = self.earlier_user_texts(user, persona).await?;
            let earlier: Vec<&str> = earlier.iter().map(String::as_str).collect();
            safety::assess_in_conversation(&earlier, &cleaned).crisis
        } else {
            safety::assess(&cleaned).crisis
        };
        Ok((crisis, kept))
    }

    /// The crisis protocol: a message expressing suicidal ideation or
    /// self-harm, or telling of immediate danger from someone else, is kept
    /// but not sent to the persona's model; the user gets a caring reply
    /// with the resources for that kind of crisis, the event is logged with
    /// its kind but without any text or identity, and proactive messages are
    /// put on hold.
    pub(super) async fn crisis_protocol(
        &self,
        user: &str,
        persona: &Persona,
        kept: &str,
        kind: CrisisKind,
    ) -> Result<Reply, TurnError> {
        // Every write of the protocol in one hold of the store.
        let store = self.store.step()?;
        self.accept_as(user, persona, kept, true).await?;
        let now = self.clock.now();
        let language = store
            .user(user)
            .await?
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
        store
            .record_safety_event(&SafetyEvent {
                at: now,
                kind: kind.referral().to_string(),
                language: language.clone(),
            })
            .await?;
        let hold = now + chrono::Duration::days(i64::from(self.safety.crisis_hold_days));
        store.hold_user(user, now, hold).await?;
        let effects = AppendEffects {
            schedule: &|c| policy.due_window(c),
            topics: None,
            session: None,
        };
        store.append(user, &persona.id, &message, &effects).await?;
        Ok(Reply::crisis(reply, kind))
    }

    /// The user's latest messages in this conversation, oldest first, that
    /// the crisis protocol reads with a new one: at most
    /// [`EARLIER_MESSAGES`], from the last [`EARLIER_HOURS`] hours.
    async fn earlier_user_texts(
        &self,
        user: &str,
        persona: &Persona,
    ) -> Result<Vec<String>, TurnError> {
        let store = self.store.step()?;
        let Some(conversation) = store.conversation(user, &persona.id).await? else {
            return Ok(Vec::new());
        };
        let since = self.clock.now() - chrono::Duration::hours(EARLIER_HOURS);
        // Replies sit between the user's messages: twice as many cover them.
        let recent = store
            .recent_messages(&conversation, EARLIER_MESSAGES * 2)
            .await?;
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
    pub async fn control(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
    ) -> Result<Option<String>, TurnError> {
        let Some(switch) = optout::parse(text) else {
            return Ok(None);
        };
        let stop = switch == FollowUpSwitch::Stop;
        let store = self.store.step()?;
        let was_out = store
            .conversation(user, &persona.id)
            .await?
            .is_some_and(|c| c.opted_out);
        let policy = self.policy.for_persona(persona);
        store
            .upsert_conversation(
                user,
                &persona.id,
                self.clock.now(),
                &|c| c.opted_out = stop,
                &|c| policy.due_window(c),
            )
            .await?;
        Ok(Some(if stop {
            locale::opted_out(&persona.language, &persona.name, was_out)
        } else {
            locale::opted_in(&persona.language, &persona.name)
        }))
    }

    /// The follow-up the user has not seen yet, marking it seen.
    pub async fn take_unseen_followup(
        &self,
        user: &str,
        persona: &Persona,
    ) -> Result<Option<Message>, TurnError> {
        Ok(self.take_followups(user, persona).await?.unseen)
    }

    /// Where the newest follow-up of `user`'s conversation with `persona`
    /// stands, and the one not seen yet, which is marked seen. A stream
    /// that opens keeps the position, so a push of a follow-up delivered
    /// before it opened is told apart from one delivered while it is open.
    pub async fn take_followups(
        &self,
        user: &str,
        persona: &Persona,
    ) -> Result<FollowUps, TurnError> {
        let store = self.store.step()?;
        let Some(conversation) = store.conversation(user, &persona.id).await? else {
            return Ok(FollowUps::default());
        };
        let newest = conversation.last_followup_seq;
        if !conversation.followup_unseen {
            return Ok(FollowUps {
                newest,
                unseen: None,
            });
        }
        let followup = match newest {
            Some(seq) => store.message(&conversation, seq).await?,
            None => None,
        };
        let policy = self.policy.for_persona(persona);
        store
            .update_conversation(user, &persona.id, &|c| c.followup_unseen = false, &|c| {
                policy.due_window(c)
            })
            .await?;
        Ok(FollowUps {
            newest,
            unseen: followup,
        })
    }

    /// A control message's confirmation as a reply that is not stored.
    pub(super) async fn control_reply(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
    ) -> Result<Option<Reply>, TurnError> {
        Ok(self.control(user, persona, text).await?.map(|text| Reply {
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
