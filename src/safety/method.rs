//! Questions about a method, framed as curiosity or a practical matter:
//! how long something takes, whether it "just makes you fall asleep",
//! whether a fixture would hold a person's weight, whether it hurts. The
//! question alone is often innocent (how long does a chicken take to roast);
//! the means asked about and the detail that gives it away ("need to know
//! by tonight", "I already sealed the windows", "asking for me") are not.
//! The concepts below, in English and French, make the method frames read
//! by [`super::frames`], with kitchens, workshops and stories explaining
//! them away.

use super::concepts::{CRAFT, FICTION};
use super::frames::Frame;
use crate::lang::{Words, words};

/// A question about how it goes: how long, how many, does it hurt.
pub(super) static HOW: Words = Words::named("how");

/// A means of dying, or what it does to a body.
pub(super) static MEANS: Words = Words::named("method_means");

/// Means with no innocent reading in such a question.
pub(super) static GRAVE_MEANS: Words = Words::named("grave_means");

/// What gives the question away: a deadline, the speaker, what is ready.
pub(super) static TELL: Words = Words::named("tell");

/// Medicines by name, the ones people keep enough of to harm themselves.
pub(super) static DRUGS: Words = Words::named("drugs");

/// Keeping a count of them, or getting more.
pub(super) static STOCKPILE: Words = Words::named("stockpile");

/// Something a body could hang from.
pub(super) static FIXTURE: Words = Words::named("fixture");

/// A person's weight, hanging.
pub(super) static PERSON_WEIGHT: Words = Words::named("person_weight");

/// The asker's own weight, held for a short while.
pub(super) static OWN_WEIGHT: Words = Words::named("own_weight");

/// Cutting, and a body part that gives it away.
pub(super) static CUT: Words = Words::named("cut");

/// Where such cuts are made.
pub(super) static VEINS: Words = Words::named("veins");

/// Food, furniture, wellbeing: what such questions usually are about.
pub(super) static KITCHEN_AND_HOME: Words = Words::named("harmless");

/// The method frames.
pub(super) static FRAMES: &[Frame] = &[
    Frame {
        name: "a grave method asked about",
        concepts: &[&HOW, &GRAVE_MEANS],
        window: 14,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &KITCHEN_AND_HOME],
    },
    Frame {
        name: "a method asked about, with a tell",
        concepts: &[&HOW, &MEANS, &TELL],
        window: 16,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &KITCHEN_AND_HOME, &CRAFT],
    },
    Frame {
        name: "a fixture to hang from",
        concepts: &[&FIXTURE, &PERSON_WEIGHT],
        window: 12,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &KITCHEN_AND_HOME, &CRAFT],
    },
    Frame {
        name: "a fixture to hold the asker's own weight for a while",
        concepts: &[&FIXTURE, &OWN_WEIGHT],
        window: 16,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &CRAFT],
    },
    Frame {
        name: "medicines counted or stocked",
        concepts: &[&DRUGS, &STOCKPILE],
        window: 8,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &KITCHEN_AND_HOME],
    },
    Frame {
        name: "a ligature tied to a fixture",
        concepts: &[
            words!("frame_ligature_tied_to_a_fixture_concept_1"),
            &FIXTURE,
        ],
        window: 8,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &CRAFT],
    },
    Frame {
        name: "how deep to cut",
        concepts: &[&HOW, &CUT, &VEINS],
        window: 10,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &KITCHEN_AND_HOME],
    },
];
