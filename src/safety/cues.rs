//! The phrase lists the detector reads with ([`super::detect`]): idioms that
//! only look alarming, and the cues of each subject and of crisis, in
//! English and French. The words themselves are data, in
//! `lang/words/cues.toml` (and chat shorthand in `lang/words/shorthand.toml`;
//! see [`crate::lang`]); this module names the lists and holds the rules
//! that combine them. Cues use the syntax of [`super::detect`]: words,
//! `word*` for every word it starts, `*ending` for every word it ends, `?`
//! for any one word, `#` for a number of 10 or more. Adding a phrase is a
//! data change; the labelled sets in `tests/data/` say whether it helped.

use crate::lang::Words;

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
        phrases: &Words::Fixed(&["overdose*", "od"]),
        near: &TREATS,
        before: 0,
        after: 4,
        unless: &DRUGS,
    },
    NearIdiom {
        phrases: &Words::Fixed(&[
            "va me tuer",
            "vont me tuer",
            "will kill me",
            "gonna kill me",
            "going to kill me",
            "ll kill me",
            "would kill me",
            "d kill me",
        ]),
        near: &PEOPLE,
        before: 3,
        after: 0,
        unless: &super::danger::SERIOUS,
    },
    NearIdiom {
        phrases: &Words::Fixed(&[
            "committed suicide",
            "commit suicide",
            "s est suicide*",
            "suicide*",
            "suicidal",
        ]),
        near: &Words::Fixed(&[
            "basil",
            "plant*",
            "basilic",
            "cactus",
            "orchid*",
            "monstera",
            "succulent*",
            "phone",
            "tel",
            "telephone",
            "battery",
            "batterie",
            "laptop",
            "printer",
            "imprimante",
            "starter",
            "levain",
            "souffle",
            "cake",
            "gateau",
        ]),
        before: 4,
        after: 2,
        unless: &Words::Fixed(&[]),
    },
    NearIdiom {
        phrases: &Words::Fixed(&["better off if i"]),
        near: &Words::Fixed(&[
            "singing",
            "cooking",
            "baking",
            "talking",
            "complaining",
            "lol",
            "haha*",
            "mdr",
        ]),
        before: 0,
        after: 6,
        unless: &Words::Fixed(&[]),
    },
    NearIdiom {
        phrases: &Words::Fixed(&["en ai fini avec", "done with", "over with"]),
        near: &TREATS,
        before: 0,
        after: 4,
        unless: &Words::Fixed(&[]),
    },
    NearIdiom {
        phrases: &Words::Fixed(&["en ai fini avec", "done with", "over with"]),
        near: &HOME_PROJECTS,
        before: 0,
        after: 4,
        unless: &Words::Fixed(&[]),
    },
    NearIdiom {
        phrases: &Words::Fixed(&["end it all", "en finir"]),
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

pub(super) static PSYCHOLOGICAL: Words = Words::named("psychological");

/// A loss: a person or pet together with a death word.
pub(super) const PSYCHOLOGICAL_PAIRS: &[(&[&str], &[&str])] = &[(
    &[
        "mother",
        "father",
        "mom",
        "mum",
        "dad",
        "wife",
        "husband",
        "son",
        "daughter",
        "brother",
        "sister",
        "friend",
        "grandma",
        "grandmother",
        "grandpa",
        "grandfather",
        "dog",
        "cat",
        "mere",
        "pere",
        "maman",
        "papa",
        "mari",
        "femme",
        "fils",
        "fille",
        "frere",
        "soeur",
        "ami",
        "amie",
        "chien",
        "chat",
    ],
    &[
        "died",
        "passed",
        "funeral",
        "decede*",
        "mort",
        "morte",
        "enterrement",
        "obseques",
    ],
)];

pub(super) static LEGAL: Words = Words::named("legal");

pub(super) static CRISIS: Words = Words::named("crisis");

/// Self-injury cues of [`CRISIS`] that a recovery long past explains.
pub(super) static INJURY_CUES: Words = Words::named("injury_cues");

/// A recovery: self-injury long past.
pub(super) static RECOVERED: Words = Words::named("recovered");

/// Signs that it is happening again now.
pub(super) static RECENT: Words = Words::named("recent");

/// Cues that signal crisis only together.
pub(super) const CRISIS_PAIRS: &[(&[&str], &[&str])] = &[
    (
        &["on purpose"],
        &["burn*", "cut*", "stepping", "step", "jump*", "scratch*"],
    ),
    (&["crashed the car", "crash the car"], &["relief"]),
    (
        &[
            "drove at #",
            "driving at #",
            "roule a #",
            "drove fast",
            "sans ceinture",
            "no seatbelt",
        ],
        &[
            "hoping something would happen",
            "hoping something happens",
            "qu il arrive quelque chose",
            "qu il m arrive quelque chose",
        ],
    ),
    (
        &[
            "walked into the sea",
            "entree dans la mer",
            "entre dans la mer",
        ],
        &["clothes on", "habille*", "turned back", "demi tour"],
    ),
    (
        &["rechute", "relapsed", "relapse"],
        &["plus profond", "deeper", "cut", "coupe*", "cutting"],
    ),
    (
        &[
            "stop eating",
            "stopped eating",
            "mange plus rien",
            "arrete de manger",
        ],
        &[
            "end on its own",
            "finira tout seul",
            "it ll just end",
            "ca finira",
        ],
    ),
    (
        &["my funeral", "mon enterrement", "mes obseques"],
        &[
            "in advance",
            "a l avance",
            "ready",
            "pret",
            "prete",
            "soon",
            "bientot",
        ],
    ),
    (
        &["aucun avenir pour moi", "no future for me"],
        &[
            "arrete d essayer",
            "stop trying",
            "stopped trying",
            "tout essaye",
            "tried everything",
        ],
    ),
    (
        &[
            "know how this ends",
            "sais comment ca finit",
            "sais comment ca va finir",
        ],
        &["no point", "sert a rien", "therapy", "therapie", "psy"],
    ),
    (
        &["me brule"],
        &["cigarette*", "expres", "sentir quelque", "punir"],
    ),
];
