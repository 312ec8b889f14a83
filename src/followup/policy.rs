//! The follow-up policy: when a persona may check in with a quiet user.
//!
//! The defaults are the guardrails of Meta's "Project Omni": a follow-up only
//! if the user started the conversation and sent at least 5 messages in the
//! last 14 days; a single follow-up, and no second try if the user does not
//! answer. Troupe adds a minimum silence (24 hours) and quiet hours in the
//! user's own time zone (no sends from 21:00 to 08:00). Every number is set
//! in `[followups]` of the config; a persona may only make them stricter.

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::persona::Persona;
use crate::store::{Conversation, DueWindow, RECENT_USER_TIMES, Role};

/// The deployment's follow-up policy (`[followups]` in `troupe.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FollowUpPolicy {
    /// Whether follow-ups are sent at all.
    pub enabled: bool,
    /// User messages needed within the window.
    pub min_user_messages: u32,
    /// The window, in days, in which those messages count.
    pub window_days: u32,
    /// Hours of silence since the user's last message before a follow-up.
    pub min_silence_hours: u32,
    /// Local hour (0-23) at which quiet hours start.
    pub quiet_hours_start: u32,
    /// Local hour (0-23) at which quiet hours end; equal to the start means none.
    pub quiet_hours_end: u32,
    /// The time zone of users who have not set one (IANA name).
    pub default_timezone: String,
    /// Follow-ups generated at once.
    pub concurrency: usize,
    /// The longest follow-up message, in characters (disclaimers excluded).
    pub max_chars: usize,
}

impl Default for FollowUpPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            min_user_messages: 5,
            window_days: 14,
            min_silence_hours: 24,
            quiet_hours_start: 21,
            quiet_hours_end: 8,
            default_timezone: "UTC".to_string(),
            concurrency: 8,
            max_chars: 600,
        }
    }
}

/// The policy in force for one persona: the deployment's, made stricter by
/// the persona's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectivePolicy {
    /// Deployment and persona both allow follow-ups.
    pub enabled: bool,
    /// User messages needed within the window.
    pub min_user_messages: u32,
    /// The window.
    pub window: Duration,
    /// Silence needed since the user's last message.
    pub min_silence: Duration,
    /// Quiet hours, local start and end hour.
    pub quiet_hours: (u32, u32),
    /// The persona's own quiet hours, which add to the deployment's.
    pub persona_quiet_hours: Option<(u32, u32)>,
}

/// A rule of the policy, named as `followups explain` and the tests name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The deployment and the persona allow follow-ups.
    FollowupsEnabled,
    /// The user, not the persona, wrote first.
    UserStartedConversation,
    /// The user has not said STOP to this persona.
    NotOptedOut,
    /// Enough user messages within the window.
    EnoughRecentMessages,
    /// The user has been silent long enough.
    SilentLongEnough,
    /// No earlier follow-up is still unanswered.
    NoUnansweredFollowup,
    /// It is not the middle of the night where the user lives.
    OutsideQuietHours,
    /// Minors never get proactive messages.
    NotAMinor,
    /// The conversation is not on hold after a crisis referral.
    NotOnHold,
}

/// What the rules need to know about the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFacts {
    /// The user's time zone (or the deployment's default).
    pub timezone: Tz,
    /// Marked as a minor.
    pub minor: bool,
    /// Follow-ups turned off for every persona.
    pub followups_off: bool,
    /// The user's own hold (crisis protocol), which covers every
    /// conversation whatever its own record says.
    pub hold_until: Option<DateTime<Utc>>,
}

impl UserFacts {
    /// An adult who allows follow-ups, in `timezone`.
    pub fn adult_in(timezone: Tz) -> Self {
        Self {
            timezone,
            minor: false,
            followups_off: false,
            hold_until: None,
        }
    }
}

/// One rule's verdict, with a reason a person can read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCheck {
    /// Which rule.
    pub rule: Rule,
    /// Whether it passed.
    pub pass: bool,
    /// Why, in words.
    pub detail: String,
}

/// Every rule's verdict for one conversation at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Eligibility {
    /// All rules passed.
    pub eligible: bool,
    /// The verdicts, in a fixed order.
    pub rules: Vec<RuleCheck>,
}

impl FollowUpPolicy {
    /// The policy for `persona`: each of its settings can only tighten ours.
    pub fn for_persona(&self, persona: &Persona) -> EffectivePolicy {
        let own = &persona.followups;
        EffectivePolicy {
            enabled: self.enabled && own.enabled,
            min_user_messages: own
                .min_user_messages
                .unwrap_or(0)
                .max(self.min_user_messages),
            window: Duration::days(i64::from(
                own.window_days.unwrap_or(u32::MAX).min(self.window_days),
            )),
            min_silence: Duration::hours(i64::from(
                own.min_silence_hours
                    .unwrap_or(0)
                    .max(self.min_silence_hours),
            )),
            quiet_hours: (self.quiet_hours_start, self.quiet_hours_end),
            persona_quiet_hours: own.quiet_hours_start.zip(own.quiet_hours_end),
        }
    }

    /// The persona settings that would loosen this policy, as (key, message).
    pub fn loosened_by(&self, persona: &Persona) -> Vec<(&'static str, String)> {
        let own = &persona.followups;
        let mut problems = Vec::new();
        if let Some(n) = own
            .min_user_messages
            .filter(|n| *n < self.min_user_messages)
        {
            problems.push(("min_user_messages", format!(
                "\"followups.min_user_messages\" is {n}, fewer than the deployment's {}; a persona may only make the follow-up policy stricter",
                self.min_user_messages
            )));
        }
        if let Some(n) = own.window_days.filter(|n| *n > self.window_days) {
            problems.push(("window_days", format!(
                "\"followups.window_days\" is {n}, longer than the deployment's {}; a persona may only make the follow-up policy stricter",
                self.window_days
            )));
        }
        if let Some(n) = own
            .min_silence_hours
            .filter(|n| *n < self.min_silence_hours)
        {
            problems.push(("min_silence_hours", format!(
                "\"followups.min_silence_hours\" is {n}, shorter than the deployment's {}; a persona may only make the follow-up policy stricter",
                self.min_silence_hours
            )));
        }
        problems
    }

    /// The default time zone, or UTC if the configured name is unknown
    /// (the config check reports that case).
    pub fn default_tz(&self) -> Tz {
        self.default_timezone.parse().unwrap_or(Tz::UTC)
    }
}

/// Whether a conversation has an unanswered follow-up.
pub fn has_unanswered_followup(conversation: &Conversation) -> bool {
    match (conversation.last_followup_at, conversation.last_user_at) {
        (Some(followup), Some(user)) => followup >= user,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

impl FollowUpPolicy {
    /// What the due index depends on: every persona's effective settings
    /// that place a due window. The index records the fingerprint it was
    /// built under; a different one means it must be recomputed.
    pub fn index_fingerprint(&self, personas: &crate::persona::Personas) -> String {
        personas
            .iter()
            .map(|persona| {
                let p = self.for_persona(persona);
                format!(
                    "{}:{}:{}:{}:{};",
                    persona.id,
                    p.enabled,
                    p.min_user_messages,
                    p.window.num_seconds(),
                    p.min_silence.num_seconds()
                )
            })
            .collect()
    }
}

impl EffectivePolicy {
    /// When the conversation could become due if nothing else happens: from
    /// the end of the silence until the window no longer holds enough
    /// messages. `None` when it cannot become due before the user writes again.
    pub fn due_window(&self, conversation: &Conversation) -> Option<DueWindow> {
        if !self.enabled
            || conversation.started_by != Role::User
            || conversation.opted_out
            || conversation.pending_followup.is_some()
            || has_unanswered_followup(conversation)
        {
            return None;
        }
        let needed = usize::try_from(self.min_user_messages)
            .ok()?
            .clamp(1, RECENT_USER_TIMES);
        let times = &conversation.recent_user_times;
        let kth_latest = *times.get(times.len().checked_sub(needed)?)?;
        let silence_end = conversation.last_user_at? + self.min_silence;
        let from = conversation
            .hold_until
            .map_or(silence_end, |hold| hold.max(silence_end));
        let until = kth_latest + self.window;
        (from <= until).then_some(DueWindow { from, until })
    }

    /// Whether a claimed conversation still deserves its follow-up at
    /// `now`: every rule holds once the claim itself is set aside. What a
    /// delivery re-checks, on either store, before it stores the message.
    pub fn still_valid(
        &self,
        conversation: &Conversation,
        user: &UserFacts,
        now: DateTime<Utc>,
    ) -> bool {
        let mut unclaimed = conversation.clone();
        unclaimed.pending_followup = None;
        self.evaluate(&unclaimed, user, now).eligible
    }

    /// Whether every rule passes for `conversation` at `now`: the verdict
    /// of [`EffectivePolicy::evaluate`] without the reasons, which the due
    /// query, checking thousands of conversations, does not print.
    pub fn is_eligible(
        &self,
        conversation: &Conversation,
        user: &UserFacts,
        now: DateTime<Utc>,
    ) -> bool {
        self.passes(conversation, user, now)
            .iter()
            .all(|(_, pass)| *pass)
    }

    /// Each rule with whether it passes: the one place the rules are
    /// decided ([`EffectivePolicy::evaluate`] adds the reasons).
    fn passes(
        &self,
        conversation: &Conversation,
        user: &UserFacts,
        now: DateTime<Utc>,
    ) -> [(Rule, bool); 9] {
        let on_hold = conversation
            .hold_until
            .max(user.hold_until)
            .is_some_and(|until| until > now);
        let recent = conversation.user_messages_since(now - self.window);
        let silence = conversation.last_user_at.map(|at| now - at);
        let hour = now.with_timezone(&user.timezone).hour();
        // A persona's quiet hours add to the deployment's: never looser.
        let quiet = in_quiet_hours(hour, self.quiet_hours)
            || self
                .persona_quiet_hours
                .is_some_and(|hours| in_quiet_hours(hour, hours));
        [
            (Rule::FollowupsEnabled, self.enabled),
            (
                Rule::UserStartedConversation,
                conversation.started_by == Role::User,
            ),
            (
                Rule::NotOptedOut,
                !conversation.opted_out && !user.followups_off,
            ),
            (Rule::NotAMinor, !user.minor),
            (Rule::NotOnHold, !on_hold),
            (
                Rule::EnoughRecentMessages,
                recent as u32 >= self.min_user_messages,
            ),
            (
                Rule::SilentLongEnough,
                silence.is_some_and(|s| s >= self.min_silence),
            ),
            (
                Rule::NoUnansweredFollowup,
                !has_unanswered_followup(conversation) && conversation.pending_followup.is_none(),
            ),
            (Rule::OutsideQuietHours, !quiet),
        ]
    }

    /// Every rule's verdict for `conversation` at `now`, for a user in `tz`.
    pub fn evaluate(
        &self,
        conversation: &Conversation,
        user: &UserFacts,
        now: DateTime<Utc>,
    ) -> Eligibility {
        let tz = user.timezone;
        let window_start = now - self.window;
        let on_hold = conversation
            .hold_until
            .max(user.hold_until)
            .filter(|until| *until > now);
        let recent = conversation.user_messages_since(window_start);
        let silence = conversation.last_user_at.map(|at| now - at);
        let local = now.with_timezone(&tz);
        let pass = self.passes(conversation, user, now);
        let passed = |rule: Rule| pass.iter().any(|(r, p)| *r == rule && *p);
        let rules = vec![
            check(
                Rule::FollowupsEnabled,
                passed(Rule::FollowupsEnabled),
                || {
                    if self.enabled {
                        "follow-ups are on for this persona".into()
                    } else {
                        "follow-ups are off for this persona or deployment".into()
                    }
                },
            ),
            check(
                Rule::UserStartedConversation,
                passed(Rule::UserStartedConversation),
                || {
                    format!(
                        "the conversation was started by the {}",
                        who(conversation.started_by)
                    )
                },
            ),
            check(Rule::NotOptedOut, passed(Rule::NotOptedOut), || {
                if conversation.opted_out {
                    "the user said STOP to this persona".into()
                } else if user.followups_off {
                    "the user turned follow-ups off".into()
                } else {
                    "the user has not opted out".into()
                }
            }),
            check(Rule::NotAMinor, passed(Rule::NotAMinor), || {
                if user.minor {
                    "the user is a minor".into()
                } else {
                    "the user is not marked as a minor".into()
                }
            }),
            check(Rule::NotOnHold, passed(Rule::NotOnHold), || match on_hold {
                Some(until) => format!(
                    "proactive messages are on hold until {} after a crisis referral",
                    until.format("%Y-%m-%d %H:%M UTC")
                ),
                None => "no hold".into(),
            }),
            check(
                Rule::EnoughRecentMessages,
                passed(Rule::EnoughRecentMessages),
                || {
                    format!(
                        "{recent} user message(s) in the last {} day(s); {} needed",
                        self.window.num_days(),
                        self.min_user_messages
                    )
                },
            ),
            check(
                Rule::SilentLongEnough,
                passed(Rule::SilentLongEnough),
                || match silence {
                    Some(s) => format!(
                        "the user has been silent for {}; {} needed",
                        human(s),
                        human(self.min_silence)
                    ),
                    None => "the user has not written yet".into(),
                },
            ),
            check(
                Rule::NoUnansweredFollowup,
                passed(Rule::NoUnansweredFollowup),
                || match conversation.last_followup_at {
                    _ if conversation.pending_followup.is_some() => {
                        "a follow-up is being sent".into()
                    }
                    Some(at) if has_unanswered_followup(conversation) => {
                        format!(
                            "a follow-up sent {} is still unanswered",
                            at.format("%Y-%m-%d %H:%M UTC")
                        )
                    }
                    Some(_) => "the user answered the last follow-up".into(),
                    None => "no follow-up has been sent yet".into(),
                },
            ),
            check(
                Rule::OutsideQuietHours,
                passed(Rule::OutsideQuietHours),
                || {
                    let own = self
                        .persona_quiet_hours
                        .map(|(start, end)| {
                            format!(" and {start:02}:00-{end:02}:00 for this persona")
                        })
                        .unwrap_or_default();
                    format!(
                        "it is {} in the user's time zone ({tz}); quiet hours are {:02}:00-{:02}:00{own}",
                        local.format("%H:%M"),
                        self.quiet_hours.0,
                        self.quiet_hours.1
                    )
                },
            ),
        ];
        Eligibility {
            eligible: rules.iter().all(|r| r.pass),
            rules,
        }
    }
}

fn check(rule: Rule, pass: bool, detail: impl FnOnce() -> String) -> RuleCheck {
    RuleCheck {
        rule,
        pass,
        detail: detail(),
    }
}

fn who(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "persona",
    }
}

/// Whether a local hour falls in quiet hours `(start, end)`, which may wrap midnight.
pub fn in_quiet_hours(hour: u32, (start, end): (u32, u32)) -> bool {
    match start.cmp(&end) {
        std::cmp::Ordering::Equal => false,
        std::cmp::Ordering::Less => (start..end).contains(&hour),
        std::cmp::Ordering::Greater => hour >= start || hour < end,
    }
}

/// A duration in the largest sensible unit: "3 days", "5 hours", "12 minutes".
pub fn human(duration: Duration) -> String {
    let (n, unit) = if duration.num_days() >= 2 {
        (duration.num_days(), "day")
    } else if duration.num_hours() >= 1 {
        (duration.num_hours(), "hour")
    } else {
        (duration.num_minutes().max(0), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::Personas;
    use crate::store::Message;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn conversation(user_times: &[&str]) -> Conversation {
        let first = Message::from_user("x", at(user_times[0]));
        let mut conversation = Conversation::new(1, "u", "chef", &first);
        for t in user_times {
            conversation.record(&Message::from_user("x", at(t)));
        }
        conversation
    }

    fn policy() -> EffectivePolicy {
        let chef = Personas::builtin().get("chef").unwrap();
        FollowUpPolicy::default().for_persona(&chef)
    }

    const FIVE: [&str; 5] = [
        "2026-11-01T10:00:00Z",
        "2026-11-01T10:05:00Z",
        "2026-11-01T10:10:00Z",
        "2026-11-01T10:15:00Z",
        "2026-11-01T10:20:00Z",
    ];

    #[test]
    fn four_messages_never_open_a_window() {
        assert_eq!(policy().due_window(&conversation(&FIVE[..4])), None);
    }

    #[test]
    fn five_messages_open_a_window_from_the_silence_to_the_window_end() {
        let window = policy().due_window(&conversation(&FIVE)).unwrap();
        assert_eq!(window.from, at("2026-11-02T10:20:00Z"));
        assert_eq!(window.until, at("2026-11-15T10:00:00Z"));
    }

    #[test]
    fn every_rule_passes_inside_the_window_outside_quiet_hours() {
        let verdict = policy().evaluate(
            &conversation(&FIVE),
            &UserFacts::adult_in(Tz::UTC),
            at("2026-11-03T12:00:00Z"),
        );
        assert!(verdict.eligible, "{verdict:#?}");
        assert_eq!(verdict.rules.len(), 9);
    }

    #[test]
    fn quiet_hours_follow_the_user_time_zone() {
        let conv = conversation(&FIVE);
        let noon_utc = at("2026-11-03T12:00:00Z");
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let verdict = policy().evaluate(&conv, &UserFacts::adult_in(tokyo), noon_utc);
        let quiet = verdict
            .rules
            .iter()
            .find(|r| r.rule == Rule::OutsideQuietHours)
            .unwrap();
        assert!(!quiet.pass, "21:00 in Tokyo is quiet: {}", quiet.detail);
        assert!(quiet.detail.contains("21:00"));
    }

    #[test]
    fn a_persona_can_add_quiet_hours_but_not_remove_them() {
        let mut chef = (*Personas::builtin().get("chef").unwrap()).clone();
        chef.followups.quiet_hours_start = Some(12);
        chef.followups.quiet_hours_end = Some(14);
        let policy = FollowUpPolicy::default().for_persona(&chef);
        let conv = conversation(&FIVE);
        let utc = UserFacts::adult_in(Tz::UTC);
        assert!(
            !policy
                .evaluate(&conv, &utc, at("2026-11-03T13:00:00Z"))
                .eligible,
            "the persona's lunch break"
        );
        assert!(
            !policy
                .evaluate(&conv, &utc, at("2026-11-03T23:00:00Z"))
                .eligible,
            "the deployment's night"
        );
        assert!(
            policy
                .evaluate(&conv, &utc, at("2026-11-03T15:00:00Z"))
                .eligible
        );
    }

    #[test]
    fn quiet_hours_may_wrap_midnight_or_not() {
        assert!(in_quiet_hours(23, (21, 8)) && in_quiet_hours(3, (21, 8)));
        assert!(!in_quiet_hours(8, (21, 8)) && !in_quiet_hours(20, (21, 8)));
        assert!(in_quiet_hours(13, (12, 14)) && !in_quiet_hours(14, (12, 14)));
        assert!(!in_quiet_hours(3, (0, 0)));
    }

    #[test]
    fn an_unanswered_followup_closes_the_window_until_the_user_writes() {
        let mut conv = conversation(&FIVE);
        conv.last_followup_at = Some(at("2026-11-03T12:00:00Z"));
        assert_eq!(policy().due_window(&conv), None);
        conv.record(&Message::from_user("back!", at("2026-11-04T09:00:00Z")));
        assert!(policy().due_window(&conv).is_some());
    }

    #[test]
    fn a_persona_can_tighten_but_the_looser_settings_are_named() {
        let mut chef = (*Personas::builtin().get("chef").unwrap()).clone();
        chef.followups.min_user_messages = Some(8);
        chef.followups.window_days = Some(30);
        let deployment = FollowUpPolicy::default();
        assert_eq!(deployment.for_persona(&chef).min_user_messages, 8);
        assert_eq!(deployment.for_persona(&chef).window, Duration::days(14));
        let loosened = deployment.loosened_by(&chef);
        assert_eq!(loosened.len(), 1);
        assert_eq!(loosened[0].0, "window_days");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::days(3)), "3 days");
        assert_eq!(human(Duration::hours(25)), "25 hours");
        assert_eq!(human(Duration::minutes(1)), "1 minute");
    }
}
