//! Crisis signals that no single phrase carries.
//!
//! People rarely say "suicide". They say they would rather not wake up, that
//! everyone would manage fine without them, that they gave their things away
//! and it is time, that they need a bridge high enough. Each of those is a
//! *frame*: a few concepts (a wish and an ending, a means and a lethal
//! detail, a self-injury and the relief it brings) that must all appear
//! within a few words of each other. A concept is a list of cues in the
//! syntax of [`super::detect`]; the frames below follow the warning signs
//! that crisis lines teach (death wishes, burden, farewells, means,
//! self-injury, passive wishes) rather than particular sentences.

use super::concepts::{
    ABSENCE, ACCESS, ACCIDENT, ALL_STOP, BODY, BURDEN, BURDEN_ON, CARE, CEASE, CRAFT, DESPAIR,
    EDGE, FAREWELL, FICTION, FINALITY, FOR_GOOD, GONE_FOR_GOOD, GONE_SOON, HARM_TOOL, HEIGHTS,
    HELD_BACK, INJURY_RELIEF, LAST, LEAVE_TAKING, LETHAL_DOSE, LETHAL_HEIGHT, MEANS, NOT_WISHING,
    OTHERS_BETTER, PASSIVE_DEATH, PILLS, RESOLVED, SELF, SELF_INJURY, SETTLING, THANKS, THINGS,
    TRAINS, TRAPPED, TRIP, UNNOTICED, WELCOME, WISH,
};
use super::detect::CrisisKind;
use super::matcher::{any_cue, spans};
use super::{danger, method};
use crate::lang::{Words, words};

/// Concepts that must all be found with at most `window` words between them,
/// with none of the `unless` cues in or just around that stretch.
pub(super) struct Frame {
    /// What the frame stands for, for tests and debugging.
    pub(super) name: &'static str,
    /// Lists of cues; one cue of each must be found.
    pub(super) concepts: &'static [&'static Words],
    /// The most words between the first match's end and the last one's start.
    pub(super) window: usize,
    /// Cues that undo the frame when found in or within three words of it.
    pub(super) unless: &'static Words,
    /// Concepts that explain the frame away wherever they are in the text.
    pub(super) context: &'static [&'static Words],
}

/// The kind of crisis the first frame found stands for, if any.
pub(super) fn crisis(words: &[String]) -> Option<CrisisKind> {
    found(words).map(|(_, kind)| kind)
}

/// The first crisis frame found, if any, and its kind: danger from someone
/// else first, then suicide or self-harm. A message about a film, a game or
/// a book is read as fiction, and one about a dying plant or phone as just
/// that: frames infer, and these explain.
pub(super) fn found(words: &[String]) -> Option<(&'static str, CrisisKind)> {
    if !spans(words, &FICTION).is_empty() {
        return None;
    }
    if let Some(frame) = danger::FRAMES.iter().find(|f| frame_matches(words, f)) {
        return Some((frame.name, CrisisKind::Danger));
    }
    if !spans(words, &THINGS).is_empty() {
        return None;
    }
    FRAMES
        .iter()
        .chain(method::FRAMES)
        .find(|frame| frame_matches(words, frame))
        .map(|frame| (frame.name, CrisisKind::SelfHarm))
}

/// The names of the concepts found in the words: what the learned reader
/// ([`super::classifier`]) sees beside the words themselves.
pub(super) fn concepts(words: &[String]) -> impl Iterator<Item = &'static str> {
    CONCEPTS
        .iter()
        .filter(|(_, cues)| !spans(words, cues).is_empty())
        .map(|(name, _)| *name)
}

fn frame_matches(words: &[String], frame: &Frame) -> bool {
    // Most frames miss a concept: stop at the first one missing.
    let mut hits = Vec::with_capacity(frame.concepts.len());
    for cues in frame.concepts {
        let found = spans(words, cues);
        if found.is_empty() {
            return false;
        }
        hits.push(found);
    }
    if frame.context.iter().any(|c| any_cue(words, c)) {
        return false;
    }
    let mut chosen = Vec::with_capacity(hits.len());
    any_close_choice(words, frame, &hits, &mut chosen)
}

/// Tries every choice of one match per concept, depth first (matches are
/// few, messages short).
fn any_close_choice(
    words: &[String],
    frame: &Frame,
    hits: &[Vec<(usize, usize)>],
    chosen: &mut Vec<(usize, usize)>,
) -> bool {
    let Some(candidates) = hits.get(chosen.len()) else {
        let start = chosen.iter().map(|s| s.0).min().unwrap_or(0);
        let end = chosen.iter().map(|s| s.1).max().unwrap_or(0);
        let last_start = chosen.iter().map(|s| s.0).max().unwrap_or(0);
        let first_end = chosen.iter().map(|s| s.1).min().unwrap_or(0);
        return last_start.saturating_sub(first_end) <= frame.window
            && !spans(words, frame.unless)
                .iter()
                .any(|u| u.1 + 3 >= start && u.0 <= end + 3);
    };
    for &span in candidates {
        chosen.push(span);
        if any_close_choice(words, frame, hits, chosen) {
            return true;
        }
        chosen.pop();
    }
    false
}

/// Self-injury long past: "when I was 15", "years ago".
pub(super) static LONG_AGO: Words = Words::named("long_ago");

/// Saying a means is not for what it is usually for.
pub(super) static NOT_FOR_CRAFT: Words = Words::named("not_for_craft");

/// Last times that are ordinary: a last exam, a last day at work.
pub(super) static EVERYDAY_LASTS: Words = Words::named("everyday_lasts");

/// Concepts that set the context of a message but signal no crisis alone.
pub(super) const CONTEXT_ONLY: &[&str] = &[
    "wish",
    "not_wishing",
    "accident",
    "trip",
    "fiction",
    "access",
    "things",
    "thanks",
    "leave_taking",
    "craft",
    "gone_for_good",
    "assailant",
    "alarm",
    "serious",
    "play",
    "past",
    "how",
    "method_means",
    "tell",
    "fixture",
    "harmless",
    "recovered",
    "harmless_contact",
    "property",
    "everyday_reason",
    "drugs",
    "stockpile",
    "violent",
];

/// Crisis concepts, and the context concepts that explain them away when
/// deciding whether the learned reader may count (a goodbye before a trip, a
/// rope for macramé, disappearing for a few days).
pub(super) const EXPLAINED_BY: &[(&str, &[&str])] = &[
    ("cease", &["not_wishing"]),
    ("farewell", &["trip", "leave_taking"]),
    ("last", &["trip", "leave_taking"]),
    ("finality", &["trip", "leave_taking"]),
    ("gone_soon", &["trip", "leave_taking"]),
    ("gone_for_good", &["trip", "leave_taking"]),
    ("self_injury", &["accident", "recovered"]),
    ("injury_relief", &["accident", "recovered"]),
    ("edge", &["accident"]),
    ("means", &["craft"]),
    ("heights", &["craft"]),
    ("assault", &["play", "past", "harmless_contact"]),
    ("intrusion", &["play", "past", "property"]),
    ("followed", &["play", "past", "harmless_contact"]),
    ("lethal_dose", &["harmless"]),
    ("pills", &["harmless"]),
    ("settling", &["trip", "everyday_reason"]),
    ("kill_threat", &["play", "past"]),
    ("weapon", &["play"]),
    ("grave_means", &["harmless", "fiction"]),
    ("person_weight", &["harmless", "craft"]),
];

/// The concepts that stand for danger from someone else: a reader's crisis
/// verdict with one of them (and no suicide or self-harm concept) is danger.
pub(super) const DANGER_CONCEPTS: &[&str] = &[
    "assault",
    "intrusion",
    "hiding",
    "followed",
    "weapon",
    "kill_threat",
    "lurking",
];

/// Every concept, by name.
static CONCEPTS: &[(&str, &Words)] = &[
    ("assailant", &danger::ASSAILANT),
    ("assault", &danger::ASSAULT),
    ("intrusion", &danger::INTRUSION),
    ("hiding", &danger::HIDING),
    ("followed", &danger::FOLLOWED),
    ("weapon", &danger::WEAPON),
    ("kill_threat", &danger::KILL_THREAT),
    ("lurking", &danger::LURKING),
    ("alarm", &danger::ALARM),
    ("serious", &danger::SERIOUS),
    ("play", &danger::PLAY),
    ("past", &danger::PAST),
    ("how", &method::HOW),
    ("method_means", &method::MEANS),
    ("grave_means", &method::GRAVE_MEANS),
    ("tell", &method::TELL),
    ("fixture", &method::FIXTURE),
    ("person_weight", &method::PERSON_WEIGHT),
    ("drugs", &method::DRUGS),
    ("stockpile", &method::STOCKPILE),
    ("violent", &danger::VIOLENT),
    ("harmless", &method::KITCHEN_AND_HOME),
    ("recovered", &super::cues::RECOVERED),
    ("harmless_contact", &danger::HARMLESS_CONTACT),
    ("property", &danger::PROPERTY),
    ("everyday_reason", &super::conversation::EXPLAINED),
    ("wish", &WISH),
    ("cease", &CEASE),
    ("not_wishing", &NOT_WISHING),
    ("others_better", &OTHERS_BETTER),
    ("absence", &ABSENCE),
    ("unnoticed", &UNNOTICED),
    ("burden", &BURDEN),
    ("settling", &SETTLING),
    ("farewell", &FAREWELL),
    ("finality", &FINALITY),
    ("heights", &HEIGHTS),
    ("lethal_height", &LETHAL_HEIGHT),
    ("pills", &PILLS),
    ("lethal_dose", &LETHAL_DOSE),
    ("self_injury", &SELF_INJURY),
    ("injury_relief", &INJURY_RELIEF),
    ("accident", &ACCIDENT),
    ("passive_death", &PASSIVE_DEATH),
    ("welcome", &WELCOME),
    ("means", &MEANS),
    ("held_back", &HELD_BACK),
    ("access", &ACCESS),
    ("trains", &TRAINS),
    ("edge", &EDGE),
    ("all_stop", &ALL_STOP),
    ("for_good", &FOR_GOOD),
    ("trapped", &TRAPPED),
    ("resolved", &RESOLVED),
    ("gone_soon", &GONE_SOON),
    ("gone_for_good", &GONE_FOR_GOOD),
    ("trip", &TRIP),
    ("fiction", &FICTION),
    ("things", &THINGS),
    ("thanks", &THANKS),
    ("leave_taking", &LEAVE_TAKING),
    ("craft", &CRAFT),
    ("last", &LAST),
    ("despair", &DESPAIR),
];

static FRAMES: &[Frame] = &[
    Frame {
        name: "death wish",
        concepts: &[&SELF, &WISH, &CEASE],
        window: 5,
        unless: &NOT_WISHING,
        context: &[],
    },
    Frame {
        name: "better off without me",
        concepts: &[&OTHERS_BETTER, &ABSENCE],
        window: 10,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "nobody would notice",
        concepts: &[&UNNOTICED, &CEASE],
        window: 16,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "nobody would notice my absence",
        concepts: &[&UNNOTICED, &ABSENCE],
        window: 16,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "burden",
        concepts: &[&BURDEN, &BURDEN_ON],
        window: 4,
        unless: words!("frame_burden_unless"),
        context: &[],
    },
    Frame {
        name: "settling affairs",
        concepts: &[&SETTLING, &FINALITY],
        window: 20,
        unless: &Words::Fixed(&[]),
        context: &[&TRIP, &LEAVE_TAKING],
    },
    Frame {
        name: "farewells",
        concepts: &[&FAREWELL, &FINALITY],
        window: 20,
        unless: words!("frame_farewells_unless"),
        context: &[&TRIP, &LEAVE_TAKING],
    },
    Frame {
        name: "settling affairs and farewells",
        concepts: &[&SETTLING, &FAREWELL],
        window: 25,
        unless: &Words::Fixed(&[]),
        context: &[&TRIP, &LEAVE_TAKING],
    },
    Frame {
        name: "a height",
        concepts: &[&HEIGHTS, &LETHAL_HEIGHT],
        window: 16,
        unless: &Words::Fixed(&[]),
        context: &[&CRAFT],
    },
    Frame {
        name: "a dose",
        concepts: &[&PILLS, &LETHAL_DOSE],
        window: 10,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "self-injury",
        concepts: &[&SELF_INJURY, &INJURY_RELIEF],
        window: 16,
        unless: &ACCIDENT,
        context: &[&LONG_AGO],
    },
    Frame {
        name: "passive wish",
        concepts: &[&PASSIVE_DEATH, &WELCOME],
        window: 20,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "hoping for an accident",
        concepts: &[&WISH, &PASSIVE_DEATH],
        window: 6,
        unless: words!("frame_hoping_for_an_accident_unless"),
        context: &[],
    },
    Frame {
        name: "a means, reason held back",
        concepts: &[&MEANS, &HELD_BACK],
        window: 20,
        unless: &Words::Fixed(&[]),
        context: &[&CRAFT],
    },
    Frame {
        name: "a weapon within reach",
        concepts: &[words!("frame_weapon_within_reach_concept_1"), &ACCESS],
        window: 12,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "everything in the medicine cabinet",
        concepts: &[
            words!("frame_everything_in_the_medicine_cabinet_concept_1"),
            words!("frame_everything_in_the_medicine_cabinet_concept_2"),
        ],
        window: 10,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &method::KITCHEN_AND_HOME],
    },
    Frame {
        name: "into the sea, dressed",
        concepts: &[
            words!("frame_into_the_sea_dressed_concept_1"),
            words!("frame_into_the_sea_dressed_concept_2"),
        ],
        window: 16,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION],
    },
    Frame {
        name: "a tool to one's own body",
        concepts: &[&HARM_TOOL, &BODY],
        window: 5,
        unless: &ACCIDENT,
        context: &[&CARE, &FICTION, &LONG_AGO],
    },
    Frame {
        name: "a last meal, meant",
        concepts: &[
            words!("frame_last_meal_meant_concept_1"),
            words!("frame_last_meal_meant_concept_2"),
        ],
        window: 20,
        unless: &Words::Fixed(&[]),
        context: &[&TRIP, &LEAVE_TAKING, &EVERYDAY_LASTS],
    },
    Frame {
        name: "a means, and not for its usual use",
        concepts: &[&MEANS, &NOT_FOR_CRAFT],
        window: 12,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "a fixture, and not for its usual use",
        concepts: &[&method::FIXTURE, &NOT_FOR_CRAFT],
        window: 16,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "a fixture tested",
        concepts: &[&method::FIXTURE, words!("frame_fixture_tested_concept_1")],
        window: 10,
        unless: &Words::Fixed(&[]),
        context: &[
            &method::KITCHEN_AND_HOME,
            &CRAFT,
            words!("frame_fixture_tested_context"),
        ],
    },
    Frame {
        name: "at peace and ready",
        concepts: &[
            words!("frame_at_peace_and_ready_concept_1"),
            words!("frame_at_peace_and_ready_concept_2"),
        ],
        window: 20,
        unless: &Words::Fixed(&[]),
        context: &[&TRIP, &LEAVE_TAKING],
    },
    Frame {
        name: "a means, and things given away",
        concepts: &[&MEANS, &SETTLING],
        window: 25,
        unless: &Words::Fixed(&[]),
        context: &[&CRAFT, &TRIP],
    },
    Frame {
        name: "a farewell to everyone",
        concepts: &[words!("frame_farewell_to_everyone_concept_1")],
        window: 0,
        unless: &Words::Fixed(&[]),
        context: &[&TRIP, &LEAVE_TAKING],
    },
    Frame {
        name: "exhaust fumes",
        concepts: &[
            words!("frame_exhaust_fumes_concept_1"),
            words!("frame_exhaust_fumes_concept_2"),
        ],
        window: 8,
        unless: &Words::Fixed(&[]),
        context: &[&method::KITCHEN_AND_HOME, &TRIP],
    },
    Frame {
        name: "the edge of a platform",
        concepts: &[&TRAINS, &EDGE],
        window: 10,
        unless: &Words::Fixed(&[]),
        context: &[&CRAFT],
    },
    Frame {
        name: "everything to stop for good",
        concepts: &[&ALL_STOP, &FOR_GOOD],
        window: 4,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "trapped and resolved",
        concepts: &[&TRAPPED, &RESOLVED],
        window: 20,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
    Frame {
        name: "gone soon",
        concepts: &[&GONE_SOON, &GONE_FOR_GOOD],
        window: 12,
        unless: &TRIP,
        context: &[&LEAVE_TAKING],
    },
    Frame {
        name: "settling affairs twice",
        concepts: &[&SETTLING, words!("frame_settling_affairs_twice_concept_1")],
        window: 20,
        unless: &Words::Fixed(&[]),
        context: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::detect::words;

    fn frame(text: &str) -> Option<&'static str> {
        found(&words(text)).map(|(name, _)| name)
    }

    #[test]
    fn a_wish_to_stop_existing_is_a_death_wish() {
        for text in [
            "wish i could just stop existing",
            "some nights I just hope I dont wake up",
            "j'aimerais juste m'endormir et pas me réveiller",
        ] {
            assert_eq!(frame(text), Some("death wish"), "{text}");
        }
    }

    #[test]
    fn wanting_something_else_gone_or_not_dying_is_not() {
        for text in [
            "I want the clutter to disappear",
            "je veux faire disparaître ce mur",
            "I don't want to die of boredom at this party",
            "I'm going to die if I eat one more bite",
            "je vais mourir de chaud dans cette cuisine",
        ] {
            assert_eq!(frame(text), None, "{text}");
        }
    }

    #[test]
    fn others_better_off_without_the_speaker() {
        assert!(frame("my parents would be better off if i wasn't here").is_some());
        assert!(frame("ils seraient mieux sans moi").is_some());
        assert_eq!(frame("you'd be better off with a cast iron pan"), None);
    }

    #[test]
    fn settling_affairs_with_finality() {
        assert!(frame("gave away my guitar and my books, won't need them").is_some());
        assert!(frame("j'ai donné mes affaires, c'est le moment").is_some());
        assert_eq!(
            frame("I'm giving my old chairs away this weekend, what should I buy?"),
            None
        );
    }

    #[test]
    fn a_means_with_a_lethal_detail() {
        assert!(frame("which bridge near here is high enough to not survive").is_some());
        assert!(frame("how many sleeping pills would it take, all at once").is_some());
        assert!(frame("je mets les cachets de côté d'un coup").is_some());
        assert_eq!(frame("is the roof terrace big enough for a table?"), None);
        assert_eq!(frame("can I take two paracetamol for a headache?"), None);
    }

    #[test]
    fn self_injury_with_relief_but_not_kitchen_accidents() {
        assert!(frame("I burn my arms, it's the only thing that calms me").is_some());
        assert!(frame("je me griffe jusqu'au sang quand c'est trop").is_some());
        assert_eq!(frame("I burned my arm on the oven, the scar is ugly"), None);
        assert_eq!(frame("scratching my mosquito bites is such a relief"), None);
    }

    #[test]
    fn fiction_explains_what_a_frame_would_infer() {
        assert!(frame("the character says he wants to disappear forever").is_none());
    }

    #[test]
    fn concepts_are_named_for_the_learned_reader() {
        let found: Vec<_> = concepts(&words("I wrote letters to everyone, it's time")).collect();
        assert!(found.contains(&"farewell"), "{found:?}");
        assert!(found.contains(&"finality"), "{found:?}");
    }
}
