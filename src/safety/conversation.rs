//! Reading the conversation, not only the message.
//!
//! Warning signs are often spread over several messages: things given away
//! on Monday, someone found to take the cat on Tuesday, then "thanks for
//! everything". Each is harmless alone; together they are the farewell that
//! crisis lines teach to notice. So a message is read with the user's few
//! messages before it: each may carry *signals* (a named list of cues), and
//! when the message completes enough distinct signals, it is a crisis
//! though no single message is. A move, a trip, a new job or a story in any
//! of those messages explains the pattern away (giving furniture away before
//! moving abroad, then asking about the new flat, is just that).
//!
//! Danger from someone else works the same way: a threat or blows told
//! earlier, then "he's outside my door" now.

use super::concepts::{CRAFT, DESPAIR, FICTION, HEIGHTS, LEAVE_TAKING, RESOLVED, THANKS, TRIP};
use super::danger::{ASSAULT, FOLLOWED, HIDING, INTRUSION, KILL_THREAT, LURKING, SERIOUS};
use super::detect::{Assessment, CrisisKind, any_cue, assess, words};
use super::method::{DRUGS, GRAVE_MEANS, HOW, KITCHEN_AND_HOME, TELL};
use crate::lang::{Words, words};

/// How many of the user's earlier messages are read with the new one.
pub const EARLIER_MESSAGES: usize = 6;

/// How far back those messages may go, in hours: a pattern is a matter of
/// days, not of months.
pub const EARLIER_HOURS: i64 = 72;

/// How many distinct signals make a pattern.
const PATTERN: usize = 3;

/// A named warning sign and its cues.
struct Signal {
    /// What it stands for, for tests and debugging.
    name: &'static str,
    /// A farewell's own sign (things given away, a last message), rather
    /// than a mood or a decision that many ordinary messages share.
    farewell: bool,
    /// Lists of cues, in the syntax of [`super::detect`]: any one counts.
    cues: &'static [&'static Words],
}

/// The warning signs of a farewell spread over messages.
static SIGNALS: &[Signal] = &[
    Signal {
        name: "giving things away",
        farewell: true,
        cues: &[words!("signal_giving_things_away_cues")],
    },
    Signal {
        name: "arranging for pets",
        farewell: true,
        cues: &[words!("signal_arranging_for_pets_cues")],
    },
    Signal {
        name: "settling affairs",
        farewell: true,
        cues: &[words!("signal_settling_affairs_cues")],
    },
    Signal {
        name: "thanks and farewells",
        farewell: true,
        cues: &[words!("signal_thanks_and_farewells_cues"), &THANKS],
    },
    Signal {
        name: "sorry for everything",
        farewell: true,
        cues: &[words!("signal_sorry_for_everything_cues")],
    },
    Signal {
        name: "a last time",
        farewell: true,
        cues: &[words!("signal_last_time_cues")],
    },
    Signal {
        name: "not being there",
        farewell: true,
        cues: &[words!("signal_not_being_there_cues")],
    },
    Signal {
        name: "letters left",
        farewell: true,
        cues: &[words!("signal_letters_left_cues")],
    },
    Signal {
        name: "despair",
        farewell: false,
        cues: &[words!("signal_despair_cues"), &DESPAIR],
    },
    Signal {
        name: "a reason held back",
        farewell: false,
        cues: &[words!("signal_reason_held_back_cues")],
    },
    Signal {
        name: "a decision",
        farewell: false,
        cues: &[&RESOLVED],
    },
];

/// What explains a pattern away: moving, travelling, a new job or home,
/// tidying up, an allergy, a wedding, a story.
pub(super) static EXPLAINED: Words = Words::named("everyday_reason");

/// Keeping it from others: "don't tell anyone", "nobody will see me".
static SECRECY: Words = Words::named("secrecy");

/// `assess(text)`, with the user's `earlier` messages (oldest first) read
/// too: a message that completes a pattern of warning signs is a crisis
/// though harmless alone.
pub fn assess_in_conversation(earlier: &[&str], text: &str) -> Assessment {
    let mut found = assess(text);
    if found.crisis.is_none() {
        found.crisis = pattern(earlier, text);
    }
    found
}

/// Whether reading `text` with the user's earlier messages could find a
/// crisis that reading it alone does not: it is no crisis by itself, and
/// it carries what a pattern over several messages starts from (a warning
/// sign, someone close now, a method's giveaway). When it does not,
/// [`assess`] alone gives the crisis [`assess_in_conversation`] would with
/// any earlier messages, so they need not even be fetched.
pub fn reads_earlier(text: &str) -> bool {
    assess(text).crisis.is_none() && pattern_may_start(&words(text))
}

/// Whether the new message's `now` words carry what a pattern needs.
fn pattern_may_start(now: &[String]) -> bool {
    !signals(now).is_empty() || someone_close(now) || method_tell(now)
}

/// Whether one message holds a farewell: two distinct signs, one of them a
/// farewell's own ("gave the dog to my cousin… goodbye"), with nothing that
/// explains them away.
pub(super) fn farewell_in(words: &[String]) -> bool {
    let found: Vec<&Signal> = SIGNALS
        .iter()
        .filter(|s| s.cues.iter().any(|cues| any_cue(words, cues)))
        .collect();
    found.len() >= 2 && found.iter().any(|s| s.farewell) && !explained(words)
}

/// The crisis a pattern over `earlier` and `text` shows, if any.
///
/// A pattern needs a sign in the new message itself (a warning sign, or
/// someone close now), so the earlier messages are read only when it has
/// one: an ordinary message costs one reading, not seven.
fn pattern(earlier: &[&str], text: &str) -> Option<CrisisKind> {
    let now = words(text);
    if !pattern_may_start(&now) {
        return None;
    }
    let before: Vec<Vec<String>> = earlier.iter().map(|t| words(t)).collect();
    let all = || std::iter::once(&now).chain(&before);
    if all().any(|w| explained(w)) {
        return None;
    }
    if danger_completed(&now, &before) {
        return Some(CrisisKind::Danger);
    }
    if method_completed(&now, &before) {
        return Some(CrisisKind::SelfHarm);
    }
    let signals_now = signals(&now);
    if signals_now.is_empty() {
        return None;
    }
    let mut distinct: Vec<&str> = signals_now
        .into_iter()
        .chain(before.iter().flat_map(|w| signals(w)))
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    (distinct.len() >= PATTERN).then_some(CrisisKind::SelfHarm)
}

/// Whether a method asked about earlier (how long, how high, whether it
/// hurts, of a means, a height or a medicine) is followed now by the detail
/// that gives it away ("I already taped the door", "don't tell anyone",
/// "I'll be there early tomorrow"): the curiosity question of issue 11,
/// spread over messages.
fn method_completed(now: &[String], before: &[Vec<String>]) -> bool {
    let harmless = |w: &[String]| {
        [&KITCHEN_AND_HOME, &CRAFT, &FICTION]
            .iter()
            .any(|c| any_cue(w, c))
    };
    method_tell(now)
        && !harmless(now)
        && before.iter().any(|w| {
            any_cue(w, &HOW)
                && [&GRAVE_MEANS, &DRUGS, &HEIGHTS]
                    .iter()
                    .any(|c| any_cue(w, c))
                && !harmless(w)
        })
}

/// Whether one message holds a method's giveaway or keeps something from
/// others.
fn method_tell(words: &[String]) -> bool {
    any_cue(words, &TELL) || any_cue(words, &SECRECY)
}

/// Whether someone is at the door, following or hiding now, after blows or
/// a meant threat earlier.
fn danger_completed(now: &[String], before: &[Vec<String>]) -> bool {
    someone_close(now)
        && before
            .iter()
            .any(|w| any_cue(w, &ASSAULT) || (any_cue(w, &KILL_THREAT) && any_cue(w, &SERIOUS)))
}

/// Whether one message tells of someone at the door, following or hiding
/// now.
fn someone_close(words: &[String]) -> bool {
    [&INTRUSION, &LURKING, &FOLLOWED, &HIDING]
        .iter()
        .any(|cues| any_cue(words, cues))
}

/// The names of the signals in one message's words.
fn signals(words: &[String]) -> Vec<&'static str> {
    SIGNALS
        .iter()
        .filter(|s| s.cues.iter().any(|cues| any_cue(words, cues)))
        .map(|s| s.name)
        .collect()
}

/// Whether one message holds what explains a pattern away. A reason
/// denied ("I'm not moving", "je déménage pas") explains nothing: it is
/// what people say when they have been asked.
fn explained(words: &[String]) -> bool {
    let words = without_denied(words);
    [&EXPLAINED, &TRIP, &LEAVE_TAKING, &FICTION]
        .iter()
        .any(|cues| any_cue(&words, cues))
}

/// `words` with every word that a negation denies blanked: the word after
/// "not" or "never", and in French the word between a subject (or "ne")
/// and "pas".
fn without_denied(words: &[String]) -> Vec<String> {
    const BEFORE: [&str; 2] = ["not", "never"];
    const SUBJECTS: [&str; 8] = ["je", "j", "on", "ne", "n", "il", "elle", "tu"];
    let mut out = words.to_vec();
    for i in 1..words.len() {
        let previous = words[i - 1].as_str();
        let denied = BEFORE.contains(&previous)
            || (SUBJECTS.contains(&previous) && words.get(i + 1).is_some_and(|w| w == "pas"));
        if denied {
            out[i].clear();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reading of `text` after `earlier`; for a text whose earlier
    /// messages are not read, the same as reading it alone.
    fn crisis(earlier: &[&str], text: &str) -> Option<CrisisKind> {
        let found = assess_in_conversation(earlier, text).crisis;
        if !reads_earlier(text) {
            assert_eq!(
                found,
                assess(text).crisis,
                "{text:?} is read alone, with what came before or not"
            );
        }
        found
    }

    #[test]
    fn a_farewell_completing_earlier_signs_is_a_crisis() {
        let earlier = [
            "I've been giving away my books and my guitar to friends this week",
            "my sister will take my cat, she promised to look after him",
        ];
        assert_eq!(crisis(&[], "thanks for everything, really"), None);
        assert_eq!(
            crisis(&earlier, "thanks for everything, really"),
            Some(CrisisKind::SelfHarm)
        );
        let french = [
            "j'ai donné mes plantes et ma console à mes potes",
            "ma voisine va s'occuper de mon chat",
        ];
        assert_eq!(
            crisis(&french, "merci pour tout, vraiment"),
            Some(CrisisKind::SelfHarm)
        );
    }

    #[test]
    fn a_method_asked_then_its_giveaway_is_a_crisis() {
        let earlier = ["how high is the viaduct over the river, roughly"];
        assert_eq!(
            crisis(
                &earlier,
                "i'll take the bus there tonight, don't tell anyone"
            ),
            Some(CrisisKind::SelfHarm)
        );
        assert_eq!(
            crisis(&earlier, "wow. is there a viewpoint for photos?"),
            None
        );
        let roast = ["how long does a chicken take to roast"];
        assert_eq!(crisis(&roast, "i already bought one, tonight"), None);
        let cat = ["how high can a cat jump"];
        assert_eq!(crisis(&cat, "i already bought a tall cat tree"), None);
    }

    #[test]
    fn a_move_denied_explains_nothing() {
        let earlier = [
            "gave my books and my guitar to my friends this week",
            "my sister is taking the cat, i already asked her",
        ];
        assert_eq!(
            crisis(
                &earlier,
                "no i'm not moving. i left a letter for my mum on the desk"
            ),
            Some(CrisisKind::SelfHarm)
        );
        assert_eq!(
            crisis(
                &earlier,
                "i'm moving to lyon. i left a letter for my mum on the desk"
            ),
            None
        );
    }

    #[test]
    fn the_same_signs_around_a_move_are_not() {
        let earlier = [
            "we're moving to Lisbon next month, so I'm giving away most of my furniture",
            "my neighbour will take my cat, the new flat doesn't allow pets",
        ];
        assert_eq!(crisis(&earlier, "thanks for everything, really"), None);
        assert_eq!(
            crisis(
                &earlier,
                "the new flat has a tiny kitchen, which pans should I keep?"
            ),
            None
        );
    }

    #[test]
    fn an_ordinary_message_or_a_crisis_alone_needs_no_earlier_message() {
        assert!(!reads_earlier("what can I cook with rice and eggs?"));
        assert!(!reads_earlier("I want to kill myself"));
        assert!(reads_earlier("thanks for everything, really"));
    }

    #[test]
    fn a_message_that_adds_no_sign_completes_nothing() {
        let earlier = [
            "gave away my guitar",
            "my brother will look after my dog",
            "sorry for everything",
        ];
        assert_eq!(crisis(&earlier, "what's a good soup for tonight?"), None);
    }

    #[test]
    fn someone_at_the_door_after_a_threat_is_danger() {
        let earlier = ["my ex hit me last week and said he'd kill me, he has a gun"];
        assert_eq!(
            crisis(&earlier, "he's outside my door now"),
            Some(CrisisKind::Danger)
        );
        assert_eq!(crisis(&[], "a parcel is outside my door now"), None);
    }
}
