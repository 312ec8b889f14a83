//! Whether the user writes of themself as the one threatened or hurt.
//!
//! Moderation services flag violence without saying who it is done to: the
//! user threatening someone, a story, the news and a user in danger all
//! come back as `violence` (OpenAI) or S1 (Llama Guard). Troupe's crisis
//! protocol is for the last of these only, so a violence signal counts as
//! immediate danger when the message also has someone else doing something
//! to the user: a third person (he, she, they, someone, my husband, il,
//! elle, quelqu'un, mon mari…) followed within a few words by the user as
//! object (me, us; me, m', moi, nous). "He said he will kill me", "my
//! husband hits me", "il va me tuer" pass; "I want to hit him", "tell me
//! about the war" do not. The test is narrow on purpose: it only ever
//! confirms a flag the moderation service raised.

/// The most words between the other person and the user as object.
const WINDOW: usize = 8;

/// Who, other than the user, can be doing something to them.
const OTHERS: &[&str] = &[
    // English
    "he",
    "she",
    "they",
    "he's",
    "she's",
    "they're",
    "he'll",
    "she'll",
    "they'll",
    "someone",
    "somebody",
    "husband",
    "wife",
    "partner",
    "boyfriend",
    "girlfriend",
    "ex",
    "father",
    "dad",
    "stepdad",
    "stepfather",
    "mother",
    "mom",
    "mum",
    "stepmother",
    "brother",
    "sister",
    "uncle",
    "son",
    "neighbour",
    "neighbor",
    "boss",
    "man",
    "guy",
    "men",
    "people",
    "gang", // French
    "il",
    "elle",
    "ils",
    "elles",
    "on",
    "quelqu'un",
    "mari",
    "femme",
    "copain",
    "copine",
    "conjoint",
    "conjointe",
    "père",
    "beau-père",
    "mère",
    "frère",
    "soeur",
    "sœur",
    "oncle",
    "fils",
    "voisin",
    "patron",
    "type",
    "homme",
    "gens",
];

/// The user as object of what someone else does.
const USER_AS_OBJECT: &[&str] = &["me", "us", "m", "moi", "nous"];

/// Whether `text` has someone else doing something to the user (see the
/// module's documentation).
pub(crate) fn speaks_as_target(text: &str) -> bool {
    let words = words(text);
    words.iter().enumerate().any(|(i, word)| {
        OTHERS.contains(&word.as_str())
            && words
                .iter()
                .skip(i + 1)
                .take(WINDOW)
                .any(|w| USER_AS_OBJECT.contains(&w.as_str()))
    })
}

/// The lower-cased words of `text`; French elisions (`m'a`, `l'homme`) are
/// split after the apostrophe, except in `quelqu'un`.
fn words(text: &str) -> Vec<String> {
    let lowered = text.to_lowercase().replace('’', "'");
    let mut words = Vec::new();
    for raw in lowered.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-')) {
        let raw = raw.trim_matches(['\'', '-']);
        if raw.is_empty() {
            continue;
        }
        let english_contraction = ["'s", "'re", "'ll", "'m", "'d", "'ve", "'t"]
            .iter()
            .any(|tail| raw.ends_with(tail));
        match raw.split_once('\'') {
            Some((head, tail)) if raw != "quelqu'un" && !english_contraction => {
                words.push(head.to_string());
                words.push(tail.to_string());
            }
            _ => words.push(raw.to_string()),
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn someone_else_doing_something_to_the_user_is_the_user_as_target() {
        for text in [
            "He said he will kill me tonight",
            "my husband hits me when he drinks",
            "Someone is following me home and I'm scared",
            "they're going to hurt us",
            "Il va me tuer",
            "mon mari m'a menacé avec un couteau",
            "Quelqu’un me suit depuis la gare",
        ] {
            assert!(speaks_as_target(text), "{text}");
        }
    }

    #[test]
    fn the_user_threatening_someone_or_telling_a_story_is_not() {
        for text in [
            "I want to hit him so hard",
            "Tell me about the war in the film",
            "je vais le tuer",
            "the soldiers fought all night",
            "",
        ] {
            assert!(!speaks_as_target(text), "{text}");
        }
    }

    #[test]
    fn the_other_person_must_come_within_a_few_words_of_the_user() {
        assert!(!speaks_as_target(
            "he left the kitchen, the dog barked at the mailman and then the rain soaked me"
        ));
    }
}
