//! When the console repeats the AI notice, and when it reminds a minor to
//! take a break: at the start of every session, after a long gap, and at
//! least every few hours of continued chatting. One-shot messages rebuild
//! the session from the conversation's earlier messages.

use chrono::{DateTime, Duration, Utc};

use super::SafetyConfig;
use crate::store::SessionMarks;

/// What the console should say before the next message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reminders {
    /// Repeat the AI notice.
    pub notice: bool,
    /// Suggest a break (minors only).
    pub take_a_break: bool,
}

/// Tracks one session's notices.
#[derive(Debug, Clone)]
pub struct Disclosure {
    /// When the notice was last shown.
    last_notice: DateTime<Utc>,
    /// When the user last sent something.
    last_activity: DateTime<Utc>,
    /// When the last break reminder was shown (or the session began).
    last_break: DateTime<Utc>,
    /// The user is a minor.
    minor: bool,
    /// Repeat the notice this often.
    every: Duration,
    /// Repeat the notice after this much silence.
    after_gap: Duration,
    /// Remind minors this often.
    break_every: Duration,
}

impl Disclosure {
    /// A session that starts (and shows the notice) at `now`.
    pub fn start(now: DateTime<Utc>, minor: bool, config: &SafetyConfig) -> Self {
        Self {
            last_notice: now,
            last_activity: now,
            last_break: now,
            minor,
            every: Duration::hours(i64::from(config.notice_every_hours.max(1))),
            after_gap: Duration::minutes(i64::from(config.notice_after_gap_minutes.max(1))),
            break_every: Duration::hours(i64::from(config.break_reminder_hours.max(1))),
        }
    }

    /// A session that goes on from the marks stored with the user.
    pub fn resume(marks: &SessionMarks, minor: bool, config: &SafetyConfig) -> Self {
        Self {
            last_notice: marks.last_notice,
            last_activity: marks.last_activity,
            last_break: marks.last_break,
            ..Self::start(marks.last_activity, minor, config)
        }
    }

    /// Where the session stands, to store with the user.
    pub fn marks(&self) -> SessionMarks {
        SessionMarks {
            last_activity: self.last_activity,
            last_notice: self.last_notice,
            last_break: self.last_break,
        }
    }

    /// Called when the user sends something at `now`: what to show first.
    pub fn on_message(&mut self, now: DateTime<Utc>) -> Reminders {
        let gap = now - self.last_activity >= self.after_gap;
        let notice = gap || now - self.last_notice >= self.every;
        if notice {
            self.last_notice = now;
        }
        let take_a_break = self.minor && !gap && now - self.last_break >= self.break_every;
        if take_a_break || gap {
            self.last_break = now;
        }
        self.last_activity = now;
        Reminders {
            notice,
            take_a_break,
        }
    }
}

/// The reminders due for a one-shot message sent at `now`, given the times
/// of the user's earlier messages in the conversation (oldest first). Each
/// one-shot message is its own process, so the session is rebuilt: it began
/// after the last long silence, and is replayed as the console would have
/// lived it.
pub fn for_one_shot(
    earlier: &[DateTime<Utc>],
    now: DateTime<Utc>,
    minor: bool,
    config: &SafetyConfig,
) -> Reminders {
    replay(earlier, now, minor, config).0
}

/// [`for_one_shot`], with the session as it stands after the message at
/// `now`.
pub fn replay(
    earlier: &[DateTime<Utc>],
    now: DateTime<Utc>,
    minor: bool,
    config: &SafetyConfig,
) -> (Reminders, Disclosure) {
    let after_gap = Duration::minutes(i64::from(config.notice_after_gap_minutes.max(1)));
    let mut start = earlier.len();
    let mut next = now;
    while start > 0 && next - earlier[start - 1] < after_gap {
        start -= 1;
        next = earlier[start];
    }
    let Some((first, rest)) = earlier[start..].split_first() else {
        let reminders = Reminders {
            notice: true,
            take_a_break: false,
        };
        return (reminders, Disclosure::start(now, minor, config));
    };
    let mut session = Disclosure::start(*first, minor, config);
    for at in rest {
        session.on_message(*at);
    }
    let reminders = session.on_message(now);
    (reminders, session)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minutes)
    }

    #[test]
    fn the_notice_returns_every_three_hours_of_continued_chatting() {
        let mut session = Disclosure::start(at(0), false, &SafetyConfig::default());
        let shown: Vec<i64> = (1..=400)
            .step_by(10)
            .filter(|m| session.on_message(at(*m)).notice)
            .collect();
        assert_eq!(shown, [181, 361]);
    }

    #[test]
    fn the_notice_returns_after_a_long_gap() {
        let mut session = Disclosure::start(at(0), false, &SafetyConfig::default());
        assert!(!session.on_message(at(5)).notice);
        assert!(session.on_message(at(70)).notice, "65 minutes of silence");
        assert!(!session.on_message(at(75)).notice);
    }

    #[test]
    fn minors_are_reminded_to_take_a_break() {
        let mut minor = Disclosure::start(at(0), true, &SafetyConfig::default());
        let breaks: Vec<i64> = (1..=400)
            .step_by(10)
            .filter(|m| minor.on_message(at(*m)).take_a_break)
            .collect();
        assert_eq!(breaks, [181, 361]);
        let mut adult = Disclosure::start(at(0), false, &SafetyConfig::default());
        assert!(
            (1..=400)
                .step_by(10)
                .all(|m| !adult.on_message(at(m)).take_a_break)
        );
    }

    #[test]
    fn a_session_resumed_from_its_marks_goes_on_as_if_it_had_never_stopped() {
        let config = SafetyConfig::default();
        let times: Vec<_> = (0..40).map(|m| at(m * 7)).collect();
        let mut lived = Disclosure::start(times[0], true, &config);
        let mut resumed = Disclosure::start(times[0], true, &config);
        for at in &times[1..] {
            let expected = lived.on_message(*at);
            let mut again = Disclosure::resume(&resumed.marks(), true, &config);
            assert_eq!(again.on_message(*at), expected);
            resumed = again;
        }
    }

    #[test]
    fn one_shot_messages_rebuild_the_session_from_earlier_messages() {
        let config = SafetyConfig::default();
        let every_ten: Vec<_> = (0..18).map(|m| at(m * 10)).collect();
        assert!(!for_one_shot(&every_ten, at(175), true, &config).take_a_break);
        assert!(for_one_shot(&every_ten, at(180), true, &config).take_a_break);
        assert!(!for_one_shot(&every_ten, at(180), false, &config).take_a_break);
        let reminded_at_180: Vec<_> = (0..=18).map(|m| at(m * 10)).collect();
        assert!(
            !for_one_shot(&reminded_at_180, at(190), true, &config).take_a_break,
            "the reminder came with the message at 180"
        );
        let after_a_pause = [at(0), at(100), at(200)];
        assert!(
            !for_one_shot(&after_a_pause, at(205), true, &config).take_a_break,
            "the long silences started new sessions"
        );
    }
}
