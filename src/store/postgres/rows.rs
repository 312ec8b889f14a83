//! Rows as PostgreSQL returns them, and their conversion to the store's
//! records ([`crate::store::records`]). Enums are kept as the same words
//! their JSON form uses on sled (`user`, `follow-up`, `completed`), so the
//! two stores agree on names; counters are `bigint` and checked on the way
//! back, as a negative one can only come from a hand-edited row.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::Claim;
use crate::store::records::{
    CallOutcome, Conversation, DueWindow, Message, SessionMarks, Topic, UsageRecord, User,
};

/// A record field that could not be read back, described.
pub(super) type Unreadable = String;

/// The word a record's enum is stored as: its serde name.
pub(super) fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(word)) => word,
        _ => unreachable!("the store's enums serialize as plain words"),
    }
}

/// An enum read back from its word.
fn from_word<T: DeserializeOwned>(column: &str, word: &str) -> Result<T, Unreadable> {
    serde_json::from_value(serde_json::Value::String(word.to_string()))
        .map_err(|_| format!("{column} is {word:?}, which is not a known value"))
}

/// A stored `bigint` as the unsigned counter it stands for.
fn count(column: &str, value: i64) -> Result<u64, Unreadable> {
    u64::try_from(value).map_err(|_| format!("{column} is negative ({value})"))
}

/// A counter as a `bigint`; counters never reach 2^63 (one message a
/// nanosecond for three centuries).
pub(super) fn bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `at` within what a `timestamptz` holds: PostgreSQL's earliest instant
/// is 4714-11-24 BC (proleptic year -4713) while chrono's reaches back to
/// year -262143, so an instant before it, such as
/// `DateTime::<Utc>::MIN_UTC` meaning "from the very beginning", becomes
/// PostgreSQL's earliest. chrono's latest instant (year 262142) is inside
/// PostgreSQL's range (up to year 294276), so nothing is clamped above.
pub(super) fn timestamptz(at: DateTime<Utc>) -> DateTime<Utc> {
    let earliest = NaiveDate::from_ymd_opt(-4713, 11, 24)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|instant| instant.and_utc())
        .expect("4714-11-24 BC is a valid proleptic date");
    at.max(earliest)
}

/// A row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    created_at: DateTime<Utc>,
    timezone: Option<String>,
    minor: bool,
    followups_off: bool,
    language: Option<String>,
    display_name: Option<String>,
    hold_until: Option<DateTime<Utc>>,
    session_last_activity: Option<DateTime<Utc>>,
    session_last_notice: Option<DateTime<Utc>>,
    session_last_break: Option<DateTime<Utc>>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        let session = match (
            row.session_last_activity,
            row.session_last_notice,
            row.session_last_break,
        ) {
            (Some(last_activity), Some(last_notice), Some(last_break)) => Some(SessionMarks {
                last_activity,
                last_notice,
                last_break,
            }),
            _ => None,
        };
        User {
            id: row.id,
            created_at: row.created_at,
            timezone: row.timezone,
            minor: row.minor,
            followups_off: row.followups_off,
            language: row.language,
            display_name: row.display_name,
            hold_until: row.hold_until,
            session,
        }
    }
}

/// A row of `conversations`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConversationRow {
    pub(super) id: i64,
    user_id: String,
    persona: String,
    started_at: DateTime<Utc>,
    started_by: String,
    next_seq: i64,
    user_messages: i64,
    assistant_messages: i64,
    last_user_at: Option<DateTime<Utc>>,
    last_assistant_at: Option<DateTime<Utc>>,
    recent_user_times: Vec<DateTime<Utc>>,
    opted_out: bool,
    followups_sent: i64,
    last_followup_at: Option<DateTime<Utc>>,
    followup_unseen: bool,
    last_followup_seq: Option<i64>,
    pending_followup: Option<DateTime<Utc>>,
    pub(super) due_from: Option<DateTime<Utc>>,
    due_until: Option<DateTime<Utc>>,
    hold_until: Option<DateTime<Utc>>,
}

impl TryFrom<ConversationRow> for Conversation {
    type Error = Unreadable;

    fn try_from(row: ConversationRow) -> Result<Self, Unreadable> {
        let due = match (row.due_from, row.due_until) {
            (Some(from), Some(until)) => Some(DueWindow { from, until }),
            _ => None,
        };
        Ok(Conversation {
            id: count("conversations.id", row.id)?,
            user: row.user_id,
            persona: row.persona,
            started_at: row.started_at,
            started_by: from_word("conversations.started_by", &row.started_by)?,
            next_seq: count("conversations.next_seq", row.next_seq)?,
            user_messages: count("conversations.user_messages", row.user_messages)?,
            assistant_messages: count("conversations.assistant_messages", row.assistant_messages)?,
            last_user_at: row.last_user_at,
            last_assistant_at: row.last_assistant_at,
            recent_user_times: row.recent_user_times,
            opted_out: row.opted_out,
            followups_sent: count("conversations.followups_sent", row.followups_sent)?,
            last_followup_at: row.last_followup_at,
            followup_unseen: row.followup_unseen,
            last_followup_seq: row
                .last_followup_seq
                .map(|seq| count("conversations.last_followup_seq", seq))
                .transpose()?,
            pending_followup: row.pending_followup,
            due,
            hold_until: row.hold_until,
        })
    }
}

/// A row of `conversations` with the intent a worker holds on it.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ClaimRow {
    /// The conversation.
    #[sqlx(flatten)]
    pub(super) conversation: ConversationRow,
    /// The intent's key.
    pub(super) intent_key: Option<String>,
    /// The worker holding it.
    pub(super) intent_owner: Option<String>,
    /// Until when.
    pub(super) lease_until: Option<DateTime<Utc>>,
}

impl ClaimRow {
    /// The claim, if the row holds an intent; `taken_over` says how it was
    /// claimed.
    pub(super) fn into_claim(self, taken_over: bool) -> Result<Option<Claim>, Unreadable> {
        let (Some(intent), Some(owner), Some(lease_until)) =
            (self.intent_key, self.intent_owner, self.lease_until)
        else {
            return Ok(None);
        };
        Ok(Some(Claim {
            conversation: Conversation::try_from(self.conversation)?,
            intent,
            owner,
            lease_until,
            taken_over,
        }))
    }
}

/// A row of `messages`.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct MessageRow {
    pub(super) seq: i64,
    role: String,
    kind: String,
    text: String,
    at: DateTime<Utc>,
    model: Option<String>,
    interrupted: bool,
    truncated: bool,
    disclaimers: Vec<String>,
}

impl MessageRow {
    /// The message, with its sequence number.
    pub(super) fn into_message(self) -> Result<(u64, Message), Unreadable> {
        let seq = count("messages.seq", self.seq)?;
        let message = Message {
            role: from_word("messages.role", &self.role)?,
            kind: from_word("messages.kind", &self.kind)?,
            text: self.text,
            at: self.at,
            model: self.model,
            interrupted: self.interrupted,
            truncated: self.truncated,
            disclaimers: self.disclaimers,
        };
        Ok((seq, message))
    }
}

/// A row of `topics`.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct TopicRow {
    phrase: String,
    score: f64,
    mentions: i64,
    updated_at: DateTime<Utc>,
    sensitive: bool,
}

impl TryFrom<TopicRow> for Topic {
    type Error = Unreadable;

    fn try_from(row: TopicRow) -> Result<Self, Unreadable> {
        Ok(Topic {
            phrase: row.phrase,
            score: row.score,
            mentions: u32::try_from(row.mentions)
                .map_err(|_| format!("topics.mentions is out of range ({})", row.mentions))?,
            updated_at: row.updated_at,
            sensitive: row.sensitive,
        })
    }
}

/// A row of `usage`.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct UsageRow {
    at: DateTime<Utc>,
    user_id: Option<String>,
    persona: String,
    model: String,
    kind: String,
    prompt_tokens: i64,
    completion_tokens: i64,
    latency_ms: i64,
    outcome: String,
}

impl TryFrom<UsageRow> for UsageRecord {
    type Error = Unreadable;

    fn try_from(row: UsageRow) -> Result<Self, Unreadable> {
        Ok(UsageRecord {
            at: row.at,
            user: row.user_id,
            persona: row.persona,
            model: row.model,
            kind: from_word("usage.kind", &row.kind)?,
            prompt_tokens: count("usage.prompt_tokens", row.prompt_tokens)?,
            completion_tokens: count("usage.completion_tokens", row.completion_tokens)?,
            latency_ms: count("usage.latency_ms", row.latency_ms)?,
            outcome: from_word::<CallOutcome>("usage.outcome", &row.outcome)?,
        })
    }
}

/// A row of `safety_events`.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct SafetyRow {
    day: NaiveDate,
    kind: String,
    language: String,
    count: i64,
}

impl TryFrom<SafetyRow> for crate::safety::SafetyCount {
    type Error = Unreadable;

    fn try_from(row: SafetyRow) -> Result<Self, Unreadable> {
        Ok(crate::safety::SafetyCount {
            day: row.day.format("%Y-%m-%d").to_string(),
            kind: row.kind,
            language: row.language,
            count: count("safety_events.count", row.count)?,
        })
    }
}
