//! The records kept in the store, serialized as JSON values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many recent user-message timestamps a conversation keeps, so the
/// follow-up rules can count messages in a window without reading them.
pub const RECENT_USER_TIMES: usize = 32;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The end user.
    User,
    /// The persona (the model, or a template).
    Assistant,
}

/// What a message is, beyond who wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    /// An ordinary chat turn.
    Chat,
    /// A proactive follow-up the persona sent on its own.
    FollowUp,
    /// Troupe's own safety reply (crisis resources), not the persona's.
    Safety,
    /// A user's message the crisis protocol answered: kept, but never sent
    /// to a model nor mined for topics. Marked on the message itself, so
    /// this holds even if the process stops before the reply is stored.
    Crisis,
}

/// A user of the runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: String,
    /// When the user first wrote.
    #[serde(deserialize_with = "super::instant::read")]
    pub created_at: DateTime<Utc>,
    /// The user's IANA time zone, if set; quiet hours use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The name personas call the user by (`{{user}}` in persona texts);
    /// unset, they are "User".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The user is a minor: no follow-ups, break reminders, no adults-only personas.
    #[serde(default)]
    pub minor: bool,
    /// The user turned follow-ups off for every persona.
    #[serde(default)]
    pub followups_off: bool,
    /// The user's language (`fr`, `en-US`), for crisis resources; unset, the
    /// persona's language is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// No proactive message to this user, from any persona, before then
    /// (set by the crisis protocol; conversations started later inherit it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::instant::read_option"
    )]
    pub hold_until: Option<DateTime<Utc>>,
    /// Where the user's chat session stands (AI notice, break reminders),
    /// kept with every message they send so no front end replays history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionMarks>,
}

/// The marks of a user's chat session: when they last wrote, and when the
/// AI notice and a break reminder were last due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMarks {
    /// When the user last sent a message.
    #[serde(deserialize_with = "super::instant::read")]
    pub last_activity: DateTime<Utc>,
    /// When the AI notice was last due.
    #[serde(deserialize_with = "super::instant::read")]
    pub last_notice: DateTime<Utc>,
    /// When a break reminder was last due (or the session began).
    #[serde(deserialize_with = "super::instant::read")]
    pub last_break: DateTime<Utc>,
}

impl User {
    /// A user first seen at `at`, with default settings.
    pub fn new(id: &str, at: DateTime<Utc>) -> Self {
        Self {
            id: id.to_string(),
            created_at: at,
            timezone: None,
            display_name: None,
            minor: false,
            followups_off: false,
            language: None,
            hold_until: None,
            session: None,
        }
    }
}

/// When a conversation can become due for a follow-up, if nothing changes:
/// the interval between the end of the user's silence and the moment too few
/// of their messages remain in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueWindow {
    /// The earliest instant.
    #[serde(deserialize_with = "super::instant::read")]
    pub from: DateTime<Utc>,
    /// The last instant.
    #[serde(deserialize_with = "super::instant::read")]
    pub until: DateTime<Utc>,
}

/// How a model call ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The reply arrived whole.
    #[default]
    Completed,
    /// A streamed reply broke off after some text (kept, marked interrupted).
    Interrupted,
    /// No reply: the backend and its fallbacks failed after their retries.
    Failed,
}

impl CallOutcome {
    /// How a call that ended without a whole reply ended: interrupted when
    /// some text had arrived (`partial`), else failed.
    pub fn unfinished(partial: bool) -> Self {
        if partial {
            Self::Interrupted
        } else {
            Self::Failed
        }
    }
}

/// One model call: tokens and latency, for `troupe usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// When the call finished.
    #[serde(deserialize_with = "super::instant::read")]
    pub at: DateTime<Utc>,
    /// The user the call served, so it is exported and erased with them.
    #[serde(default)]
    pub user: Option<String>,
    /// The persona it was for.
    pub persona: String,
    /// The model that answered.
    pub model: String,
    /// Chat turn or follow-up.
    pub kind: MessageKind,
    /// Tokens in the prompt (0 when the backend does not say).
    pub prompt_tokens: u64,
    /// Tokens in the reply.
    pub completion_tokens: u64,
    /// From request to last token, in milliseconds.
    pub latency_ms: u64,
    /// How the call ended (records from before outcomes were kept read as
    /// completed: only completed calls were recorded then).
    #[serde(default)]
    pub outcome: CallOutcome,
}

/// One topic a user talked about in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    /// The phrase, lower-case ("saffron risotto").
    pub phrase: String,
    /// Weight at `updated_at`; it halves every week without new mentions.
    pub score: f64,
    /// Times mentioned.
    pub mentions: u32,
    /// When last mentioned.
    #[serde(deserialize_with = "super::instant::read")]
    pub updated_at: DateTime<Utc>,
    /// Mentioned alongside health, crisis or other charged subjects: never a follow-up hook.
    #[serde(default)]
    pub sensitive: bool,
}

/// One conversation: a user with a persona. Its counters and timestamps are
/// updated on every append, so eligibility questions never read messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Numeric id; the prefix of the conversation's message keys.
    pub id: u64,
    /// The user.
    pub user: String,
    /// The persona.
    pub persona: String,
    /// When the first message was stored.
    #[serde(deserialize_with = "super::instant::read")]
    pub started_at: DateTime<Utc>,
    /// Who wrote the first message.
    pub started_by: Role,
    /// The sequence number the next message gets.
    pub next_seq: u64,
    /// Messages the user has sent.
    pub user_messages: u64,
    /// Messages the persona has sent (complete or interrupted).
    pub assistant_messages: u64,
    /// When the user last wrote.
    #[serde(default, deserialize_with = "super::instant::read_option")]
    pub last_user_at: Option<DateTime<Utc>>,
    /// When the persona last wrote.
    #[serde(default, deserialize_with = "super::instant::read_option")]
    pub last_assistant_at: Option<DateTime<Utc>>,
    /// The latest user-message times, oldest first, at most [`RECENT_USER_TIMES`].
    #[serde(deserialize_with = "super::instant::read_list")]
    pub recent_user_times: Vec<DateTime<Utc>>,
    /// The user said STOP: no follow-ups from this persona.
    #[serde(default)]
    pub opted_out: bool,
    /// Follow-ups delivered so far.
    #[serde(default)]
    pub followups_sent: u64,
    /// When the last follow-up was delivered.
    #[serde(default, deserialize_with = "super::instant::read_option")]
    pub last_followup_at: Option<DateTime<Utc>>,
    /// A delivered follow-up the user has not seen in the console yet.
    #[serde(default)]
    pub followup_unseen: bool,
    /// The sequence number of the last follow-up, to show it wherever it is.
    #[serde(default)]
    pub last_followup_seq: Option<u64>,
    /// A follow-up intent is recorded and not yet delivered (since this instant).
    #[serde(default, deserialize_with = "super::instant::read_option")]
    pub pending_followup: Option<DateTime<Utc>>,
    /// The conversation's entry in the due index, if any.
    #[serde(default)]
    pub due: Option<DueWindow>,
    /// No proactive message before this instant (set by the crisis protocol).
    #[serde(default, deserialize_with = "super::instant::read_option")]
    pub hold_until: Option<DateTime<Utc>>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Chat turn or follow-up.
    pub kind: MessageKind,
    /// The text, exactly as sent or received.
    pub text: String,
    /// When it was stored, by the runtime's clock.
    #[serde(deserialize_with = "super::instant::read")]
    pub at: DateTime<Utc>,
    /// For persona messages: the model that produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// For persona messages: the reply broke off before the model finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// For persona messages: the model stopped at its length limit or a
    /// content filter, so the text may end mid-thought.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Disclaimers shown with the message, kept apart from its text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disclaimers: Vec<String>,
}

impl Message {
    /// A user's chat message.
    pub fn from_user(text: impl Into<String>, at: DateTime<Utc>) -> Self {
        Self {
            role: Role::User,
            kind: MessageKind::Chat,
            text: text.into(),
            at,
            model: None,
            interrupted: false,
            truncated: false,
            disclaimers: Vec::new(),
        }
    }

    /// The text as shown: the message, then its disclaimers on their own lines.
    pub fn shown_text(&self) -> String {
        let mut text = self.text.clone();
        for line in &self.disclaimers {
            text.push_str("\n— ");
            text.push_str(line);
        }
        text
    }

    /// A persona's chat reply produced by `model`.
    pub fn reply(text: impl Into<String>, at: DateTime<Utc>, model: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            kind: MessageKind::Chat,
            text: text.into(),
            at,
            model: Some(model.into()),
            interrupted: false,
            truncated: false,
            disclaimers: Vec::new(),
        }
    }
}

impl Conversation {
    /// A new, empty conversation.
    pub(crate) fn new(id: u64, user: &str, persona: &str, first: &Message) -> Self {
        Self {
            id,
            user: user.to_string(),
            persona: persona.to_string(),
            started_at: first.at,
            started_by: first.role,
            next_seq: 0,
            user_messages: 0,
            assistant_messages: 0,
            last_user_at: None,
            last_assistant_at: None,
            recent_user_times: Vec::new(),
            opted_out: false,
            followups_sent: 0,
            last_followup_at: None,
            followup_unseen: false,
            last_followup_seq: None,
            pending_followup: None,
            due: None,
            hold_until: None,
        }
    }

    /// A conversation with no messages yet, opened by the user at `at`
    /// (e.g. by saying STOP before anything else).
    pub(crate) fn empty(id: u64, user: &str, persona: &str, at: DateTime<Utc>) -> Self {
        Self::new(id, user, persona, &Message::from_user(String::new(), at))
    }

    /// Updates the counters for a message being appended; returns its sequence number.
    pub(crate) fn record(&mut self, message: &Message) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        match message.role {
            Role::User => {
                self.user_messages += 1;
                self.last_user_at = Some(message.at);
                self.recent_user_times.push(message.at);
                let excess = self
                    .recent_user_times
                    .len()
                    .saturating_sub(RECENT_USER_TIMES);
                self.recent_user_times.drain(..excess);
            }
            Role::Assistant => {
                self.assistant_messages += 1;
                self.last_assistant_at = Some(message.at);
                if message.kind == MessageKind::FollowUp {
                    self.followups_sent += 1;
                    self.last_followup_at = Some(message.at);
                    self.followup_unseen = true;
                    self.last_followup_seq = Some(seq);
                }
            }
        }
        seq
    }

    /// User messages sent at or after `since`, from the recent timestamps.
    pub fn user_messages_since(&self, since: DateTime<Utc>) -> usize {
        self.recent_user_times
            .iter()
            .filter(|t| **t >= since)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn counters_follow_each_appended_message_and_keep_recent_times_bounded() {
        let t0 = Utc::now();
        let first = Message::from_user("hi", t0);
        let mut conv = Conversation::new(1, "u", "chef", &first);
        for i in 0..40 {
            let seq = conv.record(&Message::from_user("x", t0 + Duration::minutes(i)));
            assert_eq!(seq, i as u64);
        }
        conv.record(&Message::reply("y", t0, "m"));
        assert_eq!(conv.started_by, Role::User);
        assert_eq!((conv.user_messages, conv.assistant_messages), (40, 1));
        assert_eq!(conv.recent_user_times.len(), RECENT_USER_TIMES);
        assert_eq!(conv.user_messages_since(t0 + Duration::minutes(35)), 5);
    }
}
