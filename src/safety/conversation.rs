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

use super::concepts::{DESPAIR, FICTION, LEAVE_TAKING, RESOLVED, THANKS, TRIP};
use super::danger::{ASSAULT, FOLLOWED, HIDING, INTRUSION, KILL_THREAT, LURKING, SERIOUS};
use super::detect::{Assessment, CrisisKind, any_cue, assess, words};
use crate::lang::Words;

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
        cues: &[&Words::Fixed(&[
            "giving away",
            "gave away",
            "given away",
            "giv* my ? to",
            "giv* my ? ? to",
            "gave my ? to",
            "gave my ? ? to",
            "gave my ? ? ? to",
            "gave my ? and my",
            "gave my ? ? and my",
            "giv* my ? and my",
            "giv* my ? ? and my",
            "donne* mon ? et mon",
            "donne* mon ? et ma",
            "donne* ma ? et mon",
            "donne* ma ? et ma",
            "donne* mes ? et mon",
            "donne* mes ? et ma",
            "want you to have my",
            "want you to keep my",
            "getting rid of all my",
            "got rid of all my",
            "selling all my",
            "sold all my",
            "donne* mes",
            "je veux que tu gardes",
            "debarrass* de toutes mes",
            "vendu toutes mes",
            "vends toutes mes",
            "leaving my ? to you",
            "leaving my ? ? to you",
            "want you to have",
            "labelled with names",
            "with names on them",
            "etiquete* avec des prenoms",
            "avec des prenoms",
            "envelopes with names",
            "who gets my things",
            "qui recupere mes affaires",
            "qui recupere mes",
            "leave my ? for my",
            "laisser mon ? a mon",
            "laisser ma ? a ma",
            "gave my ? and all my",
            "and all my ? to",
            "donne* ma ? et tous mes",
            "donne* mon ? et tous mes",
            "gets my",
            "recupere ma",
            "recupere mon",
            "recupere mes",
            "plantes donnees",
            "affaires donnees",
            "plants given",
            "sold my",
            "vendu mon",
            "vendu ma",
            "vendu mes",
            "cleared my room",
            "vide ma chambre",
        ])],
    },
    Signal {
        name: "arranging for pets",
        farewell: true,
        cues: &[&Words::Fixed(&[
            "look after my ?",
            "take care of my ?",
            "take my cat",
            "take my dog",
            "takes my cat",
            "takes my dog",
            "home for my ?",
            "rehom*",
            "feed my cat",
            "feed my dog",
            "walk my dog",
            "found someone for my ?",
            "s occuper de mon ?",
            "s occupe de mon ?",
            "occuper de ma ?",
            "garder mon chat",
            "garder mon chien",
            "garde mon chat",
            "garde mon chien",
            "prendre mon chat",
            "prendre mon chien",
            "prend mon chat",
            "prend mon chien",
            "famille pour mon ?",
            "famille pour ma ?",
            "confie* mon ?",
            "confie* ma ?",
            "adopter mon ?",
            "nourrir mon ?",
            "needs a new home",
            "need a new home",
            "new home for her",
            "new home for him",
            "nouvelle famille",
            "the cat goes to",
            "the dog goes to",
            "le chat chez",
            "le chien chez",
            "le chat va chez",
            "le chien va chez",
            "adopt my ?",
            "new family",
        ])],
    },
    Signal {
        name: "settling affairs",
        farewell: true,
        cues: &[&Words::Fixed(&[
            "my will",
            "testament",
            "passwords",
            "mots de passe",
            "life insurance",
            "assurance vie",
            "cancel* my subscriptions",
            "cancel* my phone",
            "cancel* my gym",
            "cancel* my lease",
            "closed my account*",
            "closed my bank",
            "papers in order",
            "affairs in order",
            "papiers en ordre",
            "affaires en ordre",
            "resilie*",
            "ferme mon compte",
            "my funeral",
            "mon enterrement",
            "mes obseques",
            "bank details",
            "paid my rent",
            "paye le loyer",
            "left the keys",
            "laisse les cles",
            "cancelled my phone",
            "resilie mon forfait",
            "deleted my accounts",
            "deleted all my",
            "supprime tous mes",
            "supprime mes comptes",
            "nothing left to sort",
            "plus rien a regler",
            "sent my best friend my passwords",
            "envoye mes codes",
            "planned for after",
            "prevu pour apres",
            "cancel* all my",
            "spare key",
            "double des cles",
            "check on the flat",
            "passe voir l appart",
            "bills paid",
            "factures payees",
            "everything s sorted",
            "tout est regle",
            "tout est en ordre",
            "my savings",
            "mon epargne",
            "password",
            "mot de passe",
            "laptop password",
            "bank cards",
            "pin code*",
            "cartes bancaires",
            "envelope for my",
            "enveloppe pour ma",
            "enveloppe pour mon",
            "rent is covered",
            "loyer",
            "labelled for",
            "etiquete pour",
            "he ll know what to do",
            "she ll know what to do",
            "il saura quoi faire",
            "elle saura quoi faire",
        ])],
    },
    Signal {
        name: "thanks and farewells",
        farewell: true,
        cues: &[
            &Words::Fixed(&[
                "goodbye",
                "good bye",
                "bye everyone",
                "farewell",
                "adieu*",
                "take care of yourself",
                "take care of urself",
                "prends soin de toi",
                "prenez soin de vous",
                "i love you all",
                "love you all",
                "je vous aime",
                "je t aime fort",
                "been a good friend",
                "you ve been so kind",
                "tu as ete tellement",
                "tu as ete si",
                "t as ete tellement",
                "merci d avoir ete",
                "thank you for being",
                "thanks for being",
                "au revoir",
                "i ll miss you",
                "tu vas me manquer",
                "vous allez me manquer",
                "bye",
                "this is goodbye",
                "c est un adieu",
                "remember me",
                "souvenez vous de moi",
                "souviens toi de moi",
                "take care",
                "you mattered to me",
                "wanted you to know",
                "voulais te le dire",
                "you ve been great",
                "tu as ete super",
                "t as ete top",
                "he ll understand later",
                "she ll understand later",
                "il comprendra plus tard",
                "elle comprendra plus tard",
                "look after yourself",
                "one person to know",
                "une personne sache",
                "wanted someone to know",
                "voulais que quelqu un sache",
                "i was grateful",
                "etais reconnaissant*",
                "you were kind to me",
                "were always kind",
                "gentil avec moi",
                "gentille avec moi",
                "best part of",
                "meilleur moment de",
                "remercie pour tout",
                "thanks for trying to help",
                "merci d avoir essaye",
                "thank you for the chats",
                "thanks for the chats",
                "merci pour les discussions",
                "kept me going",
                "m ont fait tenir",
                "something of me",
                "un truc de moi",
                "quelque chose de moi",
                "i loved them",
                "je les aimais",
                "i loved you",
                "je vous aimais",
                "je t aimais",
            ]),
            &THANKS,
        ],
    },
    Signal {
        name: "sorry for everything",
        farewell: true,
        cues: &[&Words::Fixed(&[
            "sorry for everything",
            "sorry about everything",
            "sorry for all",
            "sorry for being",
            "forgive me",
            "desole pour tout",
            "desolee pour tout",
            "pardon pour tout",
            "pardonne moi",
            "pardonnez moi",
            "desole d avoir ete",
            "desolee d avoir ete",
            "desole d etre",
            "desolee d etre",
            "sorry to everyone",
            "sorry i wasn t",
            "i m sorry i wasn t",
            "pardon a tous",
            "pardon de pas avoir",
            "pardon d avoir",
            "que je suis desole*",
            "i m sorry, i just",
            "tell my ? i m sorry",
            "desole pour le reste",
            "sorry for the rest",
            "apologise to everyone",
            "apologize to everyone",
            "m excuser aupres de tout le monde",
            "for all the stress i caused",
            "stress que j ai cause",
            "to everyone that i m sorry",
            "tout le monde que je suis desole*",
            "pardon d etre",
        ])],
    },
    Signal {
        name: "a last time",
        farewell: true,
        cues: &[&Words::Fixed(&[
            "last message",
            "won t hear from me",
            "not hear from me",
            "won t be around",
            "won t be here",
            "won t talk",
            "after tonight",
            "dernier message",
            "entendras plus parler de moi",
            "entendrez plus parler de moi",
            "plus de nouvelles de moi",
            "apres ce soir",
            "serai plus la",
            "last post",
            "last conversation",
            "last time i ll",
            "last video",
            "won t be around for",
            "won t be cooking",
            "won t be reading",
            "won t read",
            "not be here",
            "derniere conversation",
            "dernier post",
            "derniere video",
            "c est la derniere fois que je",
            "je serai pas la",
            "cuisinerai plus",
            "lirai pas",
            "i m going tonight",
            "je pars ce soir",
            "won t need it where",
            "won t need them where",
            "la ou je vais",
            "before i go",
            "avant de partir",
            "my last comment",
            "last comment",
            "dernier commentaire",
            "don t need them where i m going",
            "don t need it where i m going",
            "won t be ? the next",
            "won t be watching",
            "not be here for the next",
            "pas la pour la prochaine",
            "regarderai pas la prochaine",
            "verrai pas la prochaine",
            "after that it doesn t matter",
            "n aura plus d importance",
            "don t worry about replying",
            "pas besoin de repondre",
            "no need to reply",
            "reponds pas",
            "won t log in",
            "won t be online",
            "won t post",
            "won t message",
            "won t be answering",
            "won t answer",
            "never log in",
            "*rai plus",
            "*rai pas",
            "while i still can",
            "tant que je peux encore",
            "nearly time",
            "almost time",
            "bientot l heure",
            "presque l heure",
            "it ends tonight",
            "ends tonight",
            "se termine ce soir",
            "ca finit ce soir",
            "won t need the",
            "aurai pas besoin",
            "aurai plus besoin",
            "this is where i get off",
            "c est la que je descends",
            "longer than i expected",
            "plus longtemps que prevu",
            "nothing left for anyone",
            "for anyone to deal with",
            "plus rien a gerer",
            "last request",
            "derniere demande",
            "no more ? for me",
            "plus de ? pour moi",
            "won t see",
            "*ras plus",
            "*rez plus",
            "*ras pas",
            "phone will be off after",
            "tel sera eteint apres",
            "can t say it myself",
            "peux plus le dire",
            "entends parler de moi",
            "entendras parler de moi",
            "*ras surement plus",
            "*ras jamais plus",
            "*ras probablement plus",
            "probably won t see me",
            "won t see me",
        ])],
    },
    Signal {
        name: "not being there",
        farewell: true,
        cues: &[&Words::Fixed(&[
            "won t be around to",
            "won t be here to",
            "won t be there to",
            "serai pas la pour",
            "serai plus la pour",
            "ne serai pas la",
            "serai pas la",
        ])],
    },
    Signal {
        name: "letters left",
        farewell: true,
        cues: &[&Words::Fixed(&[
            "wrote letters",
            "written letters",
            "letter for",
            "letters for",
            "letter to my",
            "note for",
            "left a note",
            "leave a note",
            "lettre pour",
            "lettres pour",
            "lettre a ma",
            "lettre a mon",
            "ecrit des lettres",
            "laisse un mot",
            "laisser un mot",
            "wrote them a letter",
            "leur ai ecrit une lettre",
            "a note for each",
            "un mot pour chacun",
            "with a note",
            "avec un mot",
            "with a letter",
            "avec une lettre",
            "a message for each",
            "un message pour chacun",
            "scheduled them to send",
            "programme pour demain",
            "ecrit a mes parents",
            "the letter is",
            "la lettre est",
        ])],
    },
    Signal {
        name: "despair",
        farewell: false,
        cues: &[
            &Words::Fixed(&[
                "can t do this anymore",
                "can t anymore",
                "can t take it anymore",
                "tired of everything",
                "nothing matters",
                "no point",
                "burden",
                "tired of fighting",
                "j en peux plus",
                "marre de tout",
                "plus rien ne compte",
                "aucun sens",
                "fardeau",
                "sert a rien",
                "just can t anymore",
                "not enough anymore",
                "plus assez",
                "stop being a burden",
                "arrete d etre un poids",
                "un tel poids",
                "such a burden",
                "couldn t do it anymore",
                "y arrivais plus",
            ]),
            &DESPAIR,
        ],
    },
    Signal {
        name: "a reason held back",
        farewell: false,
        cues: &[&Words::Fixed(&[
            "can t explain why",
            "can t say why",
            "don t ask why",
            "peux pas expliquer pourquoi",
            "peux pas dire pourquoi",
            "demande pas pourquoi",
        ])],
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
fn pattern(earlier: &[&str], text: &str) -> Option<CrisisKind> {
    let now = words(text);
    let before: Vec<Vec<String>> = earlier.iter().map(|t| words(t)).collect();
    let all = || std::iter::once(&now).chain(&before);
    if all().any(|w| explained(w)) {
        return None;
    }
    if danger_completed(&now, &before) {
        return Some(CrisisKind::Danger);
    }
    let signals_now = signals(&now);
    if signals_now.is_empty() {
        return None;
    }
    let mut distinct: Vec<&str> = all().flat_map(|w| signals(w)).collect();
    distinct.sort_unstable();
    distinct.dedup();
    (distinct.len() >= PATTERN).then_some(CrisisKind::SelfHarm)
}

/// Whether someone is at the door, following or hiding now, after blows or
/// a meant threat earlier.
fn danger_completed(now: &[String], before: &[Vec<String>]) -> bool {
    let close = [&INTRUSION, &LURKING, &FOLLOWED, &HIDING]
        .iter()
        .any(|cues| any_cue(now, cues));
    close
        && before
            .iter()
            .any(|w| any_cue(w, &ASSAULT) || (any_cue(w, &KILL_THREAT) && any_cue(w, &SERIOUS)))
}

/// The names of the signals in one message's words.
fn signals(words: &[String]) -> Vec<&'static str> {
    SIGNALS
        .iter()
        .filter(|s| s.cues.iter().any(|cues| any_cue(words, cues)))
        .map(|s| s.name)
        .collect()
}

/// Whether one message holds what explains a pattern away.
fn explained(words: &[String]) -> bool {
    [&EXPLAINED, &TRIP, &LEAVE_TAKING, &FICTION]
        .iter()
        .any(|cues| any_cue(words, cues))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crisis(earlier: &[&str], text: &str) -> Option<CrisisKind> {
        assess_in_conversation(earlier, text).crisis
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
