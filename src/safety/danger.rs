//! Immediate danger from someone else: a partner or parent hitting or
//! threatening the user, someone breaking in, a stranger following them.
//!
//! It is a crisis of its own ([`super::CrisisKind::Danger`]): the user needs
//! an emergency number and a domestic-violence line, not a suicide line. The
//! concepts below, in English and French, make the danger frames read by
//! [`super::frames`]: someone, and what they are doing to the speaker, with
//! nothing around that makes it a game, a film, a joke about a broken bowl,
//! or something long past.

use super::concepts::FICTION;
use super::frames::Frame;
use crate::lang::{Words, words};

/// Someone other than the speaker.
pub(super) static ASSAILANT: Words = Words::named("assailant");

/// A stranger, rather than someone who lives there.
pub(super) static STRANGER: Words = Words::named("stranger");

/// Inside the home, where a stranger has no business.
pub(super) static INSIDE: Words = Words::named("inside");

/// Watching the speaker's home.
pub(super) static WATCHING: Words = Words::named("watching");

/// Violence or a threat aimed at the speaker, now or again and again.
pub(super) static ASSAULT: Words = Words::named("assault");

/// Violent acts, as single words, for someone else's blows told in any
/// words ("threw a chair at me", "il me casse le bras").
pub(super) static VIOLENT: Words = Words::named("violent");

/// The speaker as the target of those acts.
pub(super) static AT_ME: Words = Words::named("at_me");

/// What makes such a sentence no blow: kindness, errands, encouragement,
/// idioms, games.
pub(super) static NOT_A_BLOW: Words = Words::named("not_a_blow");

/// Someone getting in, or outside and not leaving.
pub(super) static INTRUSION: Words = Words::named("intrusion");

/// Things broken into, not homes with someone inside.
pub(super) static PROPERTY: Words = Words::named("property");

/// Someone outside, waiting, not leaving.
pub(super) static LURKING: Words = Words::named("lurking");

/// Threats to kill that are often a joke ("my mum's going to kill me"):
/// they count with a sign that this one is not.
pub(super) static KILL_THREAT: Words = Words::named("kill_threat");

/// Someone else saying they will kill the speaker.
pub(super) static THREAT_TO_KILL_ME: Words = Words::named("threat_to_kill_me");

/// The crisis cues such a threat holds.
pub(super) static KILL_ME: Words = Words::named("kill_me");

/// Signs that a threat is meant: a weapon, the police, terror, blows.
pub(super) static SERIOUS: Words = Words::named("serious");

/// Hiding, barricaded.
pub(super) static HIDING: Words = Words::named("hiding");

/// Fear, a weapon, rage, a call for help: what makes a situation dangerous.
pub(super) static ALARM: Words = Words::named("alarm");

/// Being followed.
pub(super) static FOLLOWED: Words = Words::named("followed");

/// Following online, or a pet or a toddler following: no danger.
pub(super) static ONLINE_AND_PETS: Words = Words::named("online_and_pets");

/// A weapon in someone's hands.
pub(super) static WEAPON: Words = Words::named("weapon");

/// Play, sport, a game or a joke: no danger.
pub(super) static PLAY: Words = Words::named("play");

/// Laughter, children, affection, games: blows that are no danger.
pub(super) static HARMLESS_CONTACT: Words = Words::named("harmless_contact");

/// Long past: a memory, not a danger now.
pub(super) static PAST: Words = Words::named("past");

/// Unambiguous phrases: someone is attacking the speaker.
pub(super) static DANGER: Words = Words::named("danger");

/// The danger frames: someone and what they are doing to the speaker.
pub(super) static FRAMES: &[Frame] = &[
    Frame {
        name: "someone hurting or threatening me",
        concepts: &[&ASSAILANT, &ASSAULT],
        window: 6,
        unless: &PLAY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "someone's blows at me",
        concepts: &[&ASSAILANT, &VIOLENT, &AT_ME],
        window: 4,
        unless: &NOT_A_BLOW,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT, &PLAY],
    },
    Frame {
        name: "someone getting in",
        concepts: &[&ASSAILANT, &INTRUSION],
        window: 8,
        unless: &PROPERTY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "a threat to kill, meant",
        concepts: &[&ASSAILANT, &KILL_THREAT, &SERIOUS],
        window: 20,
        unless: &PLAY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "someone outside who will not leave",
        concepts: &[&ASSAILANT, &LURKING, &ALARM],
        window: 14,
        unless: &PLAY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "a stranger inside",
        concepts: &[&STRANGER, &INSIDE, &ALARM],
        window: 20,
        unless: &PLAY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "a stranger watching my home",
        concepts: &[&STRANGER, &WATCHING],
        window: 14,
        unless: &PLAY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "an ex who knows where I live",
        concepts: &[
            words!("frame_ex_who_knows_where_i_live_concept_1"),
            words!("frame_ex_who_knows_where_i_live_concept_2"),
        ],
        window: 10,
        unless: &Words::Fixed(&[]),
        context: &[&FICTION, &PAST],
    },
    Frame {
        name: "hiding from someone",
        concepts: &[&HIDING, &ALARM],
        window: 16,
        unless: &PLAY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "someone following me",
        concepts: &[&ASSAILANT, &FOLLOWED],
        window: 6,
        unless: &ONLINE_AND_PETS,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "a threat from someone outside",
        concepts: &[&ASSAILANT, &KILL_THREAT, &LURKING],
        window: 16,
        unless: &PLAY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "followed and afraid",
        concepts: &[&FOLLOWED, &ALARM],
        window: 16,
        unless: words!("frame_followed_and_afraid_unless"),
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
    Frame {
        name: "a weapon in someone's hands",
        concepts: &[&ASSAILANT, &WEAPON, &ALARM],
        window: 12,
        unless: &PLAY,
        context: &[&FICTION, &PAST, &HARMLESS_CONTACT],
    },
];
