//! The phrase lists the detector reads with ([`super::detect`]): idioms that
//! only look alarming, and the cues of each subject and of crisis, in
//! English and French. The words themselves are data, in
//! `lang/words/cues.toml` (and chat shorthand in `lang/words/shorthand.toml`;
//! see [`crate::lang`]); this module names the lists and holds the rules
//! that combine them. Cues use the syntax of [`super::detect`]: words,
//! `word*` for every word it starts, `*ending` for every word it ends, `?`
//! for any one word, `#` for a number of 10 or more. Adding a phrase is a
//! data change; the labelled sets in `tests/data/` say whether it helped.

use crate::lang::{Words, words};

/// A phrase that is only an idiom near certain words: "overdosed" near a
/// treat, "will kill me" after a person who might, "end it all" before a
/// renovation.
pub(super) struct NearIdiom {
    /// The phrases blanked out.
    pub(super) phrases: &'static Words,
    /// Words that make them idioms.
    pub(super) near: &'static Words,
    /// How many words before the phrase, and after it, `near` may start.
    pub(super) before: usize,
    pub(super) after: usize,
    /// Words that keep the phrase meant, wherever they are in the text.
    pub(super) unless: &'static Words,
}

pub(super) static NEAR_IDIOMS: &[NearIdiom] = &[
    NearIdiom {
        phrases: words!("near_idiom_overdose_phrases"),
        near: &TREATS,
        before: 0,
        after: 4,
        unless: &DRUGS,
    },
    NearIdiom {
        phrases: words!("near_idiom_va_me_tuer_phrases"),
        near: &PEOPLE,
        before: 3,
        after: 0,
        unless: &super::danger::SERIOUS,
    },
    NearIdiom {
        phrases: words!("near_idiom_committed_suicide_phrases"),
        near: words!("near_idiom_committed_suicide_near"),
        before: 4,
        after: 2,
        unless: &Words::Fixed(&[]),
    },
    NearIdiom {
        phrases: words!("near_idiom_better_off_if_i_phrases"),
        near: words!("near_idiom_better_off_if_i_near"),
        before: 0,
        after: 6,
        unless: &Words::Fixed(&[]),
    },
    NearIdiom {
        phrases: words!("near_idiom_en_ai_fini_avec_phrases"),
        near: &TREATS,
        before: 0,
        after: 4,
        unless: &Words::Fixed(&[]),
    },
    NearIdiom {
        phrases: words!("near_idiom_en_ai_fini_avec_phrases"),
        near: &HOME_PROJECTS,
        before: 0,
        after: 4,
        unless: &Words::Fixed(&[]),
    },
    NearIdiom {
        phrases: words!("near_idiom_end_it_all_phrases"),
        near: &HOME_PROJECTS,
        before: 0,
        after: 5,
        unless: &Words::Fixed(&[]),
    },
];

/// What people say they overdosed on without meaning drugs.
pub(super) static TREATS: Words = Words::named("treats");

/// Medicines and drugs, which keep "overdose" meant.
pub(super) static DRUGS: Words = Words::named("overdose_drugs");

/// People who "will kill me" in jest.
pub(super) static PEOPLE: Words = Words::named("people");

/// Home projects people want to "end it all" with.
pub(super) static HOME_PROJECTS: Words = Words::named("home_projects");

/// Idioms and food, decor or travel phrases that only look sensitive.
pub(super) static IDIOMS: Words = Words::named("idioms");

/// Words that make "avocat" an avocado.
pub(super) static AVOCADO_CONTEXT: Words = Words::named("avocado_context");

pub(super) static MEDICAL: Words = Words::named("medical");

/// Health talk about no one's health now: an animal's treatment at the vet,
/// an injury long healed. Medical cues alongside it get no disclaimer.
pub(super) static MEDICAL_ELSEWHERE: Words = Words::named("medical_elsewhere");

/// Conditions and medicines of the mind (panic attacks, depression,
/// antidepressants): a racing heart or a prescription beside them is the
/// psychological subject's, so the medical disclaimer stays out.
pub(super) static MEDICAL_FOR_THE_MIND: Words = Words::named("medical_for_the_mind");

pub(super) static PSYCHOLOGICAL: Words = Words::named("psychological");

/// Someone else's hard time that is over (a friend "doing great now", a
/// grandparent who died peacefully long ago): psychological cues alongside
/// it get no disclaimer.
pub(super) static PSYCHOLOGICAL_ELSEWHERE: Words = Words::named("psychological_elsewhere");

/// A loss: a person or pet together with a death word.
pub(super) static PSYCHOLOGICAL_PAIRS: &[(&Words, &Words)] = &[(
    words!("psychological_pair_first"),
    words!("psychological_pair_second"),
)];

pub(super) static LEGAL: Words = Words::named("legal");

/// The legal question itself (an estate after a death, a dismissal after
/// a pregnancy, a customer suing): a death or an illness beside it is the
/// occasion, not the subject, so only the legal disclaimer is given.
pub(super) static LEGAL_OVER_OTHER_SUBJECTS: Words = Words::named("legal_over_other_subjects");

pub(super) static CRISIS: Words = Words::named("crisis");

/// Self-injury cues of [`CRISIS`] that a recovery long past explains.
pub(super) static INJURY_CUES: Words = Words::named("injury_cues");

/// A recovery: self-injury long past.
pub(super) static RECOVERED: Words = Words::named("recovered");

/// Signs that it is happening again now.
pub(super) static RECENT: Words = Words::named("recent");

/// Cues that signal crisis only together.
pub(super) static CRISIS_PAIRS: &[(&Words, &Words)] = &[
    (
        words!("crisis_pair_1_first"),
        words!("crisis_pair_1_second"),
    ),
    (
        words!("crisis_pair_2_first"),
        words!("crisis_pair_2_second"),
    ),
    (
        words!("crisis_pair_3_first"),
        words!("crisis_pair_3_second"),
    ),
    (
        words!("crisis_pair_4_first"),
        words!("crisis_pair_4_second"),
    ),
    (
        words!("crisis_pair_5_first"),
        words!("crisis_pair_5_second"),
    ),
    (
        words!("crisis_pair_6_first"),
        words!("crisis_pair_6_second"),
    ),
    (
        words!("crisis_pair_7_first"),
        words!("crisis_pair_7_second"),
    ),
    (
        words!("crisis_pair_8_first"),
        words!("crisis_pair_8_second"),
    ),
    (
        words!("crisis_pair_9_first"),
        words!("crisis_pair_9_second"),
    ),
    (
        words!("crisis_pair_10_first"),
        words!("crisis_pair_10_second"),
    ),
    (
        words!("crisis_pair_11_first"),
        words!("crisis_pair_11_second"),
    ),
];
