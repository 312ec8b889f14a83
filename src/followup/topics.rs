//! Topics: what a user talks about, extracted from their messages as they
//! arrive, so a follow-up can pick up the thread.
//!
//! Extraction is keyword-phrase based (in the spirit of RAKE): stop words and
//! punctuation split a message into candidate phrases of one to three words
//! ("saffron risotto"), in English and French. Phrases that touch the
//! persona's expertise weigh double, longer phrases weigh more, and every
//! score halves each week without a new mention, so recent subjects lead.
//! Anything said alongside health, crisis or other emotionally charged
//! subjects is marked sensitive and never used as a follow-up hook.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::lang::Words;
use crate::store::Topic;

/// A score halves after this many days without a new mention.
const HALF_LIFE_DAYS: f64 = 7.0;

/// Topics kept per conversation; the weakest go first.
const MAX_TOPICS: usize = 40;

/// Words that carry no topic: articles, pronouns, auxiliaries, common verbs
/// and adverbs, in every language (`[topics] stop_words` in
/// `lang/<language>/words.toml`).
static STOP_WORDS: Words = Words::named("topics.stop_words");

/// French elisions stripped from the front of a word (`l'huile` → `huile`).
const ELISIONS: &[&str] = &[
    "l'", "d'", "j'", "qu'", "n'", "s'", "c'", "m'", "t'", "l’", "d’", "j’", "qu’", "n’", "s’",
    "c’", "m’", "t’",
];

/// A phrase found in one message, with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The phrase, lower-case.
    pub phrase: String,
    /// How much this mention counts.
    pub weight: f64,
}

/// A topic ranked at some instant, as `troupe topics` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedTopic {
    /// The phrase.
    pub phrase: String,
    /// The score now, after decay.
    pub score: f64,
    /// Times mentioned.
    pub mentions: u32,
    /// When last mentioned.
    pub last_mentioned: DateTime<Utc>,
    /// Never used as a follow-up hook.
    pub sensitive: bool,
}

/// Whether a text touches health, crisis or other charged subjects (see
/// [`crate::safety::detect`]): such messages are never follow-up hooks.
pub fn is_sensitive(text: &str) -> bool {
    crate::safety::assess(text).is_sensitive()
}

/// Words no follow-up may pick up as a topic, whatever the detector made of
/// the message around them: death, self-harm and what goes with them, in
/// every language (`[topics] charged` in `lang/<language>/words.toml`).
/// Exact forms, so a cutting board, a blood orange, pillows or a harmonious
/// palette stay good hooks.
static CHARGED: Words = Words::named("topics.charged");

/// Whether a topic phrase holds a [`CHARGED`] word.
fn is_charged(phrase: &str) -> bool {
    phrase.split_whitespace().any(|word| {
        let plain = crate::safety::detect::normalise(word).concat();
        CHARGED.contains(&plain.as_str())
    })
}

/// Lower-case words of a text, with French elisions removed, split at
/// anything that is not a letter, digit, apostrophe or hyphen.
fn words(lower: &str) -> impl Iterator<Item = &str> {
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’' || c == '-'))
        .map(|w| {
            let w = w.trim_matches(|c| c == '\'' || c == '’' || c == '-');
            ELISIONS.iter().find_map(|e| w.strip_prefix(e)).unwrap_or(w)
        })
}

fn is_stop(word: &str) -> bool {
    word.chars().count() < 3 || word.chars().all(|c| c.is_numeric()) || STOP_WORDS.contains(&word)
}

/// French connectors kept inside a phrase ("risotto au safran", "huile d'olive").
const CONNECTORS: &[&str] = &["de", "du", "des", "au", "aux", "à", "d'"];

/// The most content words in one phrase.
const MAX_PHRASE_WORDS: usize = 3;

/// The candidate phrases of one message. Punctuation and stop words end a
/// phrase; French connectors may join two content words; a phrase holds at
/// most three content words.
pub fn extract(text: &str, expertise: &[String]) -> Vec<Candidate> {
    let lower = text.to_lowercase().replace('’', "'");
    let expertise_words: Vec<String> = expertise
        .iter()
        .flat_map(|area| {
            words(&area.to_lowercase())
                .filter(|w| !is_stop(w))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut candidates: Vec<Candidate> = Vec::new();
    for clause in lower.split([
        '.', ',', ';', ':', '!', '?', '(', ')', '"', '«', '»', '\n', '/',
    ]) {
        let mut phrase = Phrase::default();
        for token in tokens(clause) {
            if CONNECTORS.contains(&token) {
                phrase.connect(token);
            } else if is_stop(token) {
                phrase.flush(&mut candidates, &expertise_words);
            } else {
                if phrase.content.len() == MAX_PHRASE_WORDS {
                    phrase.flush(&mut candidates, &expertise_words);
                }
                phrase.add(token);
            }
        }
        phrase.flush(&mut candidates, &expertise_words);
    }
    candidates
}

/// Words of a clause, with `d'` split off as a connector and other elisions dropped.
fn tokens(clause: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for raw in clause.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-')) {
        let word = raw.trim_matches(|c| c == '\'' || c == '-');
        if word.is_empty() {
            continue;
        }
        if let Some(rest) = word.strip_prefix("d'") {
            out.push("d'");
            out.push(rest);
        } else {
            out.push(
                ELISIONS
                    .iter()
                    .find_map(|e| word.strip_prefix(e))
                    .unwrap_or(word),
            );
        }
    }
    out
}

/// A phrase being built from consecutive tokens.
#[derive(Default)]
struct Phrase<'a> {
    /// Content words and the connectors between them, in order.
    parts: Vec<&'a str>,
    /// The content words alone.
    content: Vec<&'a str>,
    /// A connector waiting for the next content word.
    pending: Option<&'a str>,
}

impl<'a> Phrase<'a> {
    fn connect(&mut self, connector: &'a str) {
        if self.content.is_empty() || self.content.len() == MAX_PHRASE_WORDS {
            self.pending = None;
        } else {
            self.pending = Some(connector);
        }
    }

    fn add(&mut self, word: &'a str) {
        if let Some(connector) = self.pending.take() {
            self.parts.push(connector);
        }
        self.parts.push(word);
        self.content.push(word);
    }

    fn flush(&mut self, candidates: &mut Vec<Candidate>, expertise: &[String]) {
        if !self.content.is_empty() {
            let mut text = String::new();
            for part in &self.parts {
                if !text.is_empty() && !text.ends_with('\'') {
                    text.push(' ');
                }
                text.push_str(part);
            }
            push(candidates, text, &self.content, expertise);
        }
        *self = Self::default();
    }
}

fn push(candidates: &mut Vec<Candidate>, phrase: String, words: &[&str], expertise: &[String]) {
    let touches_expertise = words
        .iter()
        .any(|w| expertise.iter().any(|e| e == w || stem_eq(e, w)));
    let weight =
        (1.0 + 0.5 * (words.len() as f64 - 1.0)) * if touches_expertise { 2.0 } else { 1.0 };
    match candidates.iter_mut().find(|c| c.phrase == phrase) {
        Some(existing) => existing.weight = existing.weight.max(weight),
        None => candidates.push(Candidate { phrase, weight }),
    }
}

/// Singular and plural count as the same word ("risotto"/"risottos").
fn stem_eq(a: &str, b: &str) -> bool {
    a.trim_end_matches('s') == b.trim_end_matches('s')
}

/// A topic's score at `now`, halving every [`HALF_LIFE_DAYS`].
fn decayed(topic: &Topic, now: DateTime<Utc>) -> f64 {
    let days = (now - topic.updated_at).num_seconds().max(0) as f64 / 86_400.0;
    topic.score * 0.5f64.powf(days / HALF_LIFE_DAYS)
}

/// Folds one message's candidates into a conversation's topics at `now`.
pub fn fold(
    topics: &mut Vec<Topic>,
    candidates: &[Candidate],
    sensitive: bool,
    now: DateTime<Utc>,
) {
    for candidate in candidates {
        // A longer phrase also counts as a mention of the shorter topics it
        // contains: "vert sauge assombrit" mentions "vert sauge".
        for topic in topics
            .iter_mut()
            .filter(|t| contains_phrase(&candidate.phrase, &t.phrase))
        {
            topic.score = decayed(topic, now) + candidate.weight;
            topic.mentions += 1;
            topic.updated_at = now;
            topic.sensitive |= sensitive;
        }
        let phrase_sensitive =
            sensitive || is_sensitive(&candidate.phrase) || is_charged(&candidate.phrase);
        match topics.iter_mut().find(|t| t.phrase == candidate.phrase) {
            Some(topic) => {
                topic.score = decayed(topic, now) + candidate.weight;
                topic.mentions += 1;
                topic.updated_at = now;
                topic.sensitive |= phrase_sensitive;
            }
            None => topics.push(Topic {
                phrase: candidate.phrase.clone(),
                score: candidate.weight,
                mentions: 1,
                updated_at: now,
                sensitive: phrase_sensitive,
            }),
        }
    }
    if topics.len() > MAX_TOPICS {
        topics.sort_by(|a, b| decayed(b, now).total_cmp(&decayed(a, now)));
        topics.truncate(MAX_TOPICS);
    }
}

/// Whether `inner` is a shorter phrase inside `outer`, on word boundaries.
fn contains_phrase(outer: &str, inner: &str) -> bool {
    outer.len() > inner.len() && format!(" {outer} ").contains(&format!(" {inner} "))
}

/// Topics ranked by their score at `now`, strongest first.
pub fn ranked(topics: &[Topic], now: DateTime<Utc>) -> Vec<RankedTopic> {
    let mut ranked: Vec<RankedTopic> = topics
        .iter()
        .map(|t| RankedTopic {
            phrase: t.phrase.clone(),
            score: (decayed(t, now) * 100.0).round() / 100.0,
            mentions: t.mentions,
            last_mentioned: t.updated_at,
            sensitive: t.sensitive,
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.phrase.cmp(&b.phrase))
    });
    ranked
}

/// The best topics to mention in a follow-up: ranked, never sensitive, and
/// not contained in a stronger phrase already chosen.
pub fn hooks(topics: &[Topic], now: DateTime<Utc>, count: usize) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    for topic in ranked(topics, now).into_iter().filter(|t| !t.sensitive) {
        if chosen
            .iter()
            .any(|c| c.contains(&topic.phrase) || topic.phrase.contains(c.as_str()))
        {
            continue;
        }
        chosen.push(topic.phrase);
        if chosen.len() == count {
            break;
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn phrases(text: &str) -> Vec<String> {
        extract(text, &[]).into_iter().map(|c| c.phrase).collect()
    }

    #[test]
    fn death_and_self_harm_words_are_never_hooks_but_kitchen_words_are() {
        for phrase in ["unalive myself", "kill", "sleeping pills", "mort"] {
            assert!(is_charged(phrase), "{phrase}");
        }
        for phrase in [
            "cutting board",
            "blood orange salad",
            "pillows",
            "harmonious palette",
            "killer recipe",
            "du cachet",
        ] {
            assert!(!is_charged(phrase), "{phrase}");
        }
    }

    #[test]
    fn multi_word_phrases_survive_and_stop_words_go() {
        assert_eq!(
            phrases("I made a saffron risotto yesterday!"),
            ["saffron risotto"]
        );
        assert_eq!(
            phrases("Je voudrais repeindre le salon en vert sauge"),
            ["repeindre", "salon", "vert sauge"]
        );
        assert_eq!(
            phrases("l'huile d'olive, c'est la base"),
            ["huile d'olive", "base"]
        );
        assert_eq!(phrases("un risotto au safran"), ["risotto au safran"]);
    }

    #[test]
    fn expertise_and_longer_phrases_weigh_more() {
        let expertise = vec!["risotto".to_string()];
        let found = extract("mushroom risottos and bread", &expertise);
        assert_eq!(
            found[0],
            Candidate {
                phrase: "mushroom risottos".into(),
                weight: 3.0
            }
        );
        assert_eq!(
            found[1],
            Candidate {
                phrase: "bread".into(),
                weight: 1.0
            }
        );
    }

    #[test]
    fn recent_mentions_outrank_old_ones() {
        let start = Utc::now();
        let mut topics = Vec::new();
        fold(&mut topics, &extract("sourdough bread", &[]), false, start);
        fold(
            &mut topics,
            &extract("paella", &[]),
            false,
            start + Duration::days(21),
        );
        let top = hooks(&topics, start + Duration::days(21), 2);
        assert_eq!(top, ["paella", "sourdough bread"]);
    }

    #[test]
    fn charged_subjects_are_never_hooks() {
        let now = Utc::now();
        let mut topics = Vec::new();
        let text = "My mother died last week, I want to cook her lasagna";
        assert!(is_sensitive(text));
        fold(&mut topics, &extract(text, &[]), is_sensitive(text), now);
        fold(
            &mut topics,
            &extract("Ma dépression revient", &[]),
            is_sensitive("Ma dépression revient"),
            now,
        );
        fold(&mut topics, &extract("tarte tatin", &[]), false, now);
        assert_eq!(hooks(&topics, now, 5), ["tarte tatin"]);
        assert!(
            ranked(&topics, now)
                .iter()
                .any(|t| t.phrase == "lasagna" && t.sensitive)
        );
    }

    #[test]
    fn repeated_mentions_accumulate() {
        let now = Utc::now();
        let mut topics = Vec::new();
        for _ in 0..3 {
            fold(&mut topics, &extract("pizza dough", &[]), false, now);
        }
        assert_eq!(topics.len(), 1);
        assert_eq!(topics[0].mentions, 3);
        assert!((topics[0].score - 4.5).abs() < 1e-9);
    }
}
