//! The reports every front end shows the same way: usage per persona and
//! model, the safety report per period, a user's settings with their
//! conversations, the export of a user's data, and the personas on offer.
//! The CLI prints them as text or JSON; the server answers them as JSON in
//! the same shapes, which the CLI reads back when it goes through a server.

use std::collections::BTreeMap;

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use crate::persona::Personas;
use crate::safety::{CrisisKind, SafetyCount};
use crate::store::{CallOutcome, Conversation, UsageRecord, User};

mod personas;

pub use personas::{PersonaDetail, PersonaSummary};

/// Model calls of one persona with one model.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageLine {
    /// The persona.
    pub persona: String,
    /// The model that answered.
    pub model: String,
    /// Calls made.
    pub calls: u64,
    /// Calls that got no reply.
    pub failed: u64,
    /// Streamed replies that broke off.
    pub interrupted: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
    /// Mean latency of completed calls.
    pub avg_latency_ms: u64,
    /// Sum of completed calls' latencies, for the mean.
    #[serde(skip)]
    latency_total: u64,
}

/// Sums usage records per persona and model.
pub fn usage_lines(records: &[UsageRecord]) -> Vec<UsageLine> {
    let mut lines: BTreeMap<(String, String), UsageLine> = BTreeMap::new();
    for record in records {
        let line = lines
            .entry((record.persona.clone(), record.model.clone()))
            .or_insert_with(|| UsageLine {
                persona: record.persona.clone(),
                model: record.model.clone(),
                ..UsageLine::default()
            });
        line.calls += 1;
        match record.outcome {
            CallOutcome::Completed => {
                line.latency_total += record.latency_ms;
                let completed = line.calls - line.failed - line.interrupted;
                line.avg_latency_ms = line.latency_total / completed;
            }
            CallOutcome::Interrupted => line.interrupted += 1,
            CallOutcome::Failed => line.failed += 1,
        }
        line.prompt_tokens += record.prompt_tokens;
        line.completion_tokens += record.completion_tokens;
        line.total_tokens += record.prompt_tokens + record.completion_tokens;
    }
    lines.into_values().collect()
}

/// The period the safety report groups by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Per day.
    Day,
    /// Per ISO week.
    Week,
    /// Per month.
    #[default]
    Month,
}

/// Crisis referrals in one period, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SafetyLine {
    /// The day (2026-11-30), ISO week (2026-W48) or month (2026-11).
    pub period: String,
    /// Replies to suicidal ideation or self-harm (crisis lines).
    pub crisis_referrals: u64,
    /// Replies to immediate danger from someone else (emergency numbers,
    /// domestic-violence lines).
    #[serde(default)]
    pub danger_referrals: u64,
}

/// Crisis referrals per period and kind, from the anonymous safety log.
pub fn safety_lines(counts: &[SafetyCount], by: Period) -> Vec<SafetyLine> {
    let mut lines: BTreeMap<String, SafetyLine> = BTreeMap::new();
    for entry in counts {
        let Some(kind) = CrisisKind::ALL
            .into_iter()
            .find(|k| k.referral() == entry.kind)
        else {
            continue;
        };
        let Ok(day) = chrono::NaiveDate::parse_from_str(&entry.day, "%Y-%m-%d") else {
            continue;
        };
        let period = match by {
            Period::Day => entry.day.clone(),
            Period::Week => {
                let week = day.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Period::Month => day.format("%Y-%m").to_string(),
        };
        let line = lines.entry(period.clone()).or_insert_with(|| SafetyLine {
            period,
            crisis_referrals: 0,
            danger_referrals: 0,
        });
        match kind {
            CrisisKind::SelfHarm => line.crisis_referrals += entry.count,
            CrisisKind::Danger => line.danger_referrals += entry.count,
        }
    }
    lines.into_values().collect()
}

/// A user's settings and conversations (`troupe user show --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    /// The user id.
    pub id: String,
    /// The IANA time zone, or the deployment's default marked "(default)".
    pub timezone: String,
    /// The name personas call the user by, if set ("User" otherwise).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Marked as a minor.
    pub minor: bool,
    /// The language for Troupe's own messages, if set.
    pub language: Option<String>,
    /// Follow-ups from every persona: "on" or "off".
    pub followups: String,
    /// One line per persona the user talked to.
    pub conversations: Vec<ConversationView>,
}

/// One of a user's conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConversationView {
    /// The persona.
    pub persona: String,
    /// Messages the user sent.
    pub user_messages: u64,
    /// Follow-ups delivered.
    pub followups_sent: u64,
    /// "on", or "off (STOP)".
    pub followups: String,
}

impl UserView {
    /// The view of `user` and their `conversations`.
    pub fn new(user: User, conversations: Vec<Conversation>, default_timezone: &str) -> Self {
        Self {
            id: user.id,
            timezone: user
                .timezone
                .unwrap_or_else(|| format!("{default_timezone} (default)")),
            display_name: user.display_name,
            minor: user.minor,
            language: user.language,
            followups: if user.followups_off { "off" } else { "on" }.to_string(),
            conversations: conversations
                .into_iter()
                .map(|c| ConversationView {
                    persona: c.persona,
                    user_messages: c.user_messages,
                    followups_sent: c.followups_sent,
                    followups: if c.opted_out { "off (STOP)" } else { "on" }.to_string(),
                })
                .collect(),
        }
    }
}

/// A change to a user's settings; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// The name personas call the user by (`{{user}}`), or "default" for
    /// "User".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// An IANA time zone, or "default" for the deployment's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Whether the user is a minor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minor: Option<bool>,
    /// A language code, or "default" for the persona's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Follow-ups from every persona on or off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followups: Option<bool>,
}

/// A setting that cannot be applied, with what to write instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(pub String);

impl SettingsChange {
    /// Checks the change and turns it into an update of the user record.
    pub fn into_update(self) -> Result<impl Fn(&mut User) + Sync, InvalidSetting> {
        let timezone = match self.timezone.as_deref() {
            None => None,
            Some("default") => Some(None),
            Some(tz) => {
                tz.parse::<chrono_tz::Tz>().map_err(|_| {
                    InvalidSetting(format!(
                        "unknown time zone \"{tz}\"; use an IANA name like Europe/Paris or America/New_York"
                    ))
                })?;
                Some(Some(tz.to_string()))
            }
        };
        let language = match self.language.as_deref() {
            None => None,
            Some("default") => Some(None),
            Some(code) => {
                crate::persona::check_language(code)
                    .map_err(|e| InvalidSetting(format!("language {e}")))?;
                Some(Some(code.to_string()))
            }
        };
        let display_name = match self.display_name.as_deref().map(str::trim) {
            None => None,
            Some("default") => Some(None),
            Some(name) => Some(Some(check_display_name(name)?)),
        };
        let (minor, followups) = (self.minor, self.followups);
        Ok(move |user: &mut User| {
            if let Some(name) = &display_name {
                user.display_name = name.clone();
            }
            if let Some(tz) = &timezone {
                user.timezone = tz.clone();
            }
            if let Some(minor) = minor {
                user.minor = minor;
            }
            if let Some(language) = &language {
                user.language = language.clone();
            }
            if let Some(on) = followups {
                user.followups_off = !on;
            }
        })
    }
}

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 64;

/// Checks a display name: some text, short, on one line, printable (it
/// goes into every persona text that says `{{user}}`).
fn check_display_name(name: &str) -> Result<String, InvalidSetting> {
    let printable = crate::terminal::printable(name);
    if name.is_empty()
        || name.chars().count() > MAX_DISPLAY_NAME
        || name.contains(['\n', '\r'])
        || printable != name
    {
        return Err(InvalidSetting(format!(
            "display name {name:?} is not usable; write a name of 1 to {MAX_DISPLAY_NAME} printable characters on one line (\"default\" clears it)"
        )));
    }
    Ok(name.to_string())
}

/// The conversations of `user` with the personas on offer, and with those
/// whose files were skipped for problems, in persona order.
pub async fn conversations_of(
    store: &crate::store::StoreBackend,
    personas: &Personas,
    user: &str,
) -> Result<Vec<Conversation>, crate::store::StoreError> {
    let mut conversations = Vec::new();
    for id in personas.known_ids() {
        conversations.extend(store.conversation(user, &id).await?);
    }
    Ok(conversations)
}

/// The format tag of an export document.
pub const EXPORT_FORMAT: &str = "troupe-export/1";

/// Everything stored about a user, as one document (`troupe export`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Export {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// When it was made (RFC 3339).
    pub exported_at: String,
    /// The user, conversations, messages, topics and usage.
    #[serde(flatten)]
    pub data: crate::store::UserData,
}

impl Export {
    /// The export of `data`, made at `now`.
    pub fn new(data: crate::store::UserData, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            format: EXPORT_FORMAT.to_string(),
            exported_at: now.to_rfc3339(),
            data,
        }
    }
}

/// What an erasure removed, and whose (`troupe erase --json`, `DELETE
/// /v1/users/{user}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Erased {
    /// The user.
    pub user: String,
    /// Conversations removed.
    pub conversations: usize,
    /// Messages removed.
    pub messages: usize,
    /// Copies of the store kept after a crash or damage, removed because
    /// they still held the erased text.
    pub preserved_copies_removed: usize,
}

impl Erased {
    /// What `erasure` removed about `user`.
    pub fn new(user: String, erasure: &crate::store::Erasure) -> Self {
        Self {
            user,
            conversations: erasure.conversations,
            messages: erasure.messages,
            preserved_copies_removed: erasure.preserved_copies_removed,
        }
    }
}

/// Reads `2026-11-01` or an RFC 3339 instant.
pub fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("\"{text}\" is not a day"));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| format!("\"{text}\" is not a date; write 2026-11-01 or 2026-11-01T09:00:00Z"))
}
