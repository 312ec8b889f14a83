//! Detecting medical, psychological and legal subjects, and the two kinds
//! of crisis (suicidal ideation or self-harm; immediate danger from someone
//! else), in English and French.
//!
//! Text is normalised (lower case, accents and punctuation removed, French
//! elisions split), then matched against cue phrases: a cue is a sequence of
//! words, where a word ending in `*` matches any word it starts (so `diagnos*`
//! covers diagnosis, diagnosed, diagnostiqué). Idioms that only look
//! alarming ("dying to try", "mort de rire", "pain au chocolat") are blanked
//! out before matching, and a few cues only count together with another
//! ("on purpose" with "burned"). The phrases themselves are in
//! [`super::cues`]; the labelled sets in `tests/data/` measure it.

use std::collections::BTreeSet;

use super::classifier::{self, Classifier};
use super::cues::{
    AVOCADO_CONTEXT, CRISIS, CRISIS_PAIRS, IDIOMS, INJURY_CUES, LEGAL, LEGAL_OVER_OTHER_SUBJECTS,
    MEDICAL, MEDICAL_ELSEWHERE, MEDICAL_FOR_THE_MIND, NEAR_IDIOMS, PSYCHOLOGICAL,
    PSYCHOLOGICAL_ELSEWHERE, PSYCHOLOGICAL_PAIRS, RECENT, RECOVERED,
};
use super::matcher::{self, matching_cues};
pub(super) use super::matcher::{any_cue, has_cue_at, word_matches};
use super::meaning::{self, MeaningReader, PieceVectors};
use super::{conversation, danger, frames};
use crate::lang::Words;

use serde::{Deserialize, Serialize};

/// A subject on which a persona's answer is no substitute for a professional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Subject {
    /// Health, symptoms, medication, pregnancy, injuries.
    Medical,
    /// Mental health, grief, anxiety, eating disorders.
    Psychological,
    /// Contracts, landlords, courts, immigration, employment law.
    Legal,
}

impl Subject {
    /// Every subject, in a fixed order.
    pub const ALL: [Subject; 3] = [Subject::Medical, Subject::Psychological, Subject::Legal];

    /// The subject's name as used in config keys and the labelled sets.
    pub fn name(self) -> &'static str {
        match self {
            Self::Medical => "medical",
            Self::Psychological => "psychological",
            Self::Legal => "legal",
        }
    }
}

/// A crisis the protocol answers, each kind with its own reply and resources.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CrisisKind {
    /// Suicidal ideation or self-harm: crisis lines.
    SelfHarm,
    /// Immediate danger from someone else (a partner or parent hitting or
    /// threatening the user, someone breaking in): emergency numbers and
    /// domestic-violence lines.
    Danger,
}

impl CrisisKind {
    /// Every kind, in a fixed order.
    pub const ALL: [CrisisKind; 2] = [CrisisKind::SelfHarm, CrisisKind::Danger];

    /// The kind's name on the wire and in the labelled sets (`self_harm`,
    /// `danger`).
    pub fn name(self) -> &'static str {
        match self {
            Self::SelfHarm => "self_harm",
            Self::Danger => "danger",
        }
    }

    /// The safety log's kind for a referral of this kind.
    pub fn referral(self) -> &'static str {
        match self {
            Self::SelfHarm => "crisis_referral",
            Self::Danger => "danger_referral",
        }
    }
}

/// What a text touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// Sensitive subjects found.
    pub subjects: BTreeSet<Subject>,
    /// The crisis found, if any: the crisis protocol answers it.
    pub crisis: Option<CrisisKind>,
}

impl Assessment {
    /// Whether anything sensitive was found.
    pub fn is_sensitive(&self) -> bool {
        self.is_crisis() || !self.subjects.is_empty()
    }

    /// Whether the crisis protocol answers the text, whatever the kind.
    pub fn is_crisis(&self) -> bool {
        self.crisis.is_some()
    }
}

/// How many recent assessments are remembered: a chat turn reads the
/// user's message for the crisis protocol, its topics and its disclaimers,
/// so the same text comes back several times within a few microseconds.
const REMEMBERED: usize = 32;

/// Recently assessed texts and what was found, newest last.
type Remembered = std::sync::Mutex<std::collections::VecDeque<(String, Assessment)>>;

/// Assesses one text (the same text always gets the same assessment; the
/// most recent ones are remembered rather than read again).
pub fn assess(text: &str) -> Assessment {
    static RECENT: std::sync::OnceLock<Remembered> = std::sync::OnceLock::new();
    let recent = RECENT.get_or_init(Remembered::default);
    if let Ok(recent) = recent.lock()
        && let Some((_, found)) = recent.iter().rev().find(|(seen, _)| seen == text)
    {
        return found.clone();
    }
    let found = assess_afresh(text);
    if let Ok(mut recent) = recent.lock() {
        if recent.len() == REMEMBERED {
            recent.pop_front();
        }
        recent.push_back((text.to_string(), found.clone()));
    }
    found
}

/// Reads one text for sensitive subjects and crisis.
fn assess_afresh(text: &str) -> Assessment {
    let words = words(text);
    let mut subjects = BTreeSet::new();
    for (subject, cues) in [
        (Subject::Medical, &MEDICAL),
        (Subject::Psychological, &PSYCHOLOGICAL),
        (Subject::Legal, &LEGAL),
    ] {
        if any_cue(&words, cues) {
            subjects.insert(subject);
        }
    }
    if any_pair(&words, PSYCHOLOGICAL_PAIRS) {
        subjects.insert(Subject::Psychological);
    }
    if mentions_lawyer(&words) {
        subjects.insert(Subject::Legal);
    }
    if subjects.contains(&Subject::Medical) && any_cue(&words, &MEDICAL_ELSEWHERE) {
        subjects.remove(&Subject::Medical);
    }
    if subjects.contains(&Subject::Psychological) && any_cue(&words, &PSYCHOLOGICAL_ELSEWHERE) {
        subjects.remove(&Subject::Psychological);
    }
    // The mind's subject speaks for the body's signs it brings: one
    // disclaimer, the one that points to the right professional.
    if subjects.contains(&Subject::Psychological) && any_cue(&words, &MEDICAL_FOR_THE_MIND) {
        subjects.remove(&Subject::Medical);
    }
    if subjects.contains(&Subject::Legal) && any_cue(&words, &LEGAL_OVER_OTHER_SUBJECTS) {
        subjects.remove(&Subject::Medical);
        subjects.remove(&Subject::Psychological);
    }
    let crisis = crisis_by_rules_in(&words).or_else(|| crisis_by_readers(text, &words, &subjects));
    Assessment { subjects, crisis }
}

/// The crisis the learned readers find where the rules found none: the
/// word reader alone, or the meaning reader and the word reader together
/// (surer when the message is about the mind).
fn crisis_by_readers(
    text: &str,
    words: &[String],
    subjects: &BTreeSet<Subject>,
) -> Option<CrisisKind> {
    let features = classifier::features_of(words);
    let reader = Classifier::shipped();
    reader.crisis_kind(&features).or_else(|| {
        MeaningReader::shipped().crisis_kind(
            text,
            reader.probability(&features),
            meaning::threshold(subjects),
        )
    })
}

/// The crisis the cue phrases or the frames alone find (without the learned
/// reader): what cross-validation of the reader adds to.
pub fn crisis_by_rules(text: &str) -> Option<CrisisKind> {
    crisis_by_rules_in(&words(text))
}

/// [`crisis_by_rules`] on words already read. Danger comes first: someone
/// hurting the user now needs the emergency number before anything else.
fn crisis_by_rules_in(words: &[String]) -> Option<CrisisKind> {
    if any_cue(words, &danger::DANGER) {
        return Some(CrisisKind::Danger);
    }
    let frame = frames::crisis(words);
    if frame == Some(CrisisKind::Danger) {
        return frame;
    }
    if crisis_cue(words) || any_pair(words, CRISIS_PAIRS) || conversation::farewell_in(words) {
        return Some(CrisisKind::SelfHarm);
    }
    frame
}

/// Whether a crisis cue matches: self-injury told as a recovery long past
/// ("I used to cut myself in high school") does not, unless it is
/// happening again.
fn crisis_cue(words: &[String]) -> bool {
    crisis_cues(words).next().is_some()
}

/// The crisis cues that match, but for self-injury long past and for
/// someone else threatening to kill the speaker ("il va me tuer": danger's
/// to read, not a wish to die).
fn crisis_cues(words: &[String]) -> impl Iterator<Item = &'static str> {
    let recovered = any_cue(words, &RECOVERED) && !any_cue(words, &RECENT);
    let threatened = any_cue(words, &danger::THREAT_TO_KILL_ME);
    matching_cues(words, &CRISIS)
        .into_iter()
        .filter(move |cue| !(recovered && INJURY_CUES.contains(cue)))
        .filter(move |cue| !(threatened && danger::KILL_ME.contains(cue)))
}

/// What found a crisis in `text`, layer by layer, for whoever tunes the
/// detector: each danger cue, crisis cue and pair that matches, the first
/// frame found, the word reader's probability when its gate opens, and the
/// meaning reader's when the two readers together reach their threshold.
/// Every layer that would find one is listed, even where an earlier layer
/// already decided.
pub fn crisis_reasons(text: &str) -> Vec<String> {
    let words = words(text);
    let mut reasons: Vec<String> = matching_cues(&words, &danger::DANGER)
        .into_iter()
        .map(|cue| format!("danger cue \"{cue}\""))
        .collect();
    reasons.extend(crisis_cues(&words).map(|cue| format!("crisis cue \"{cue}\"")));
    reasons.extend(
        CRISIS_PAIRS
            .iter()
            .filter(|(a, b)| any_cue(&words, a) && any_cue(&words, b))
            .map(|(a, b)| format!("crisis pair {:?} + {:?}", &a[..], &b[..])),
    );
    if conversation::farewell_in(&words) {
        reasons.push("farewell signs".to_string());
    }
    if let Some((name, kind)) = frames::found(&words) {
        reasons.push(format!("frame \"{name}\" ({})", kind.name()));
    }
    let features = classifier::features_of(&words);
    let reader = Classifier::shipped();
    let p = reader.probability(&features);
    if let Some(kind) = reader.crisis_kind(&features) {
        reasons.push(format!("reader {p:.2} ({})", kind.name()));
    }
    let meaning = MeaningReader::shipped();
    let threshold = meaning::threshold(&assess(text).subjects);
    if let Some(vector) = PieceVectors::embedded().and_then(|pieces| pieces.text_vector(text))
        && let Some(kind) = meaning.crisis_kind_of(&vector, p, threshold)
    {
        reasons.push(format!(
            "meaning reader {:.2}, with the word reader {:.2} ({})",
            meaning.probability(&vector),
            meaning.together(&vector, p),
            kind.name()
        ));
    }
    reasons
}

/// The words of a text as every detector reads them: normalised, shorthand
/// written out, idioms blanked.
pub(super) fn words(text: &str) -> Vec<String> {
    neutralised(&expanded(normalise(text)))
}

/// Lower case, accents removed, apostrophes and punctuation turned into
/// spaces, split into words.
pub fn normalise(text: &str) -> Vec<String> {
    let mut plain = String::with_capacity(text.len());
    for c in text.to_lowercase().chars().filter_map(plain_form) {
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' => plain.push('a'),
            'é' | 'è' | 'ê' | 'ë' => plain.push('e'),
            'î' | 'ï' | 'í' => plain.push('i'),
            'ô' | 'ö' | 'ó' => plain.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => plain.push('u'),
            'ç' => plain.push('c'),
            'œ' => plain.push_str("oe"),
            'æ' => plain.push_str("ae"),
            'ñ' => plain.push('n'),
            c if c.is_alphanumeric() => plain.push(c),
            _ => plain.push(' '),
        }
    }
    plain.split_whitespace().map(str::to_string).collect()
}

/// The character a reader sees: invisible formatting characters (zero-width
/// spaces, joiners, direction marks) dropped, full-width letters and digits
/// made plain, and Cyrillic and Greek letters that look like Latin ones
/// read as those, so "kіll" with a Cyrillic "і" reads as "kill".
pub(super) fn plain_form(c: char) -> Option<char> {
    let plain = match c {
        '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{00AD}' => return None,
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        'а' | 'α' => 'a',
        'е' | 'ε' => 'e',
        'о' | 'ο' => 'o',
        'р' | 'ρ' => 'p',
        'с' | 'ϲ' => 'c',
        'у' | 'γ' => 'y',
        'х' | 'χ' => 'x',
        'і' | 'ι' => 'i',
        'ј' => 'j',
        'ѕ' => 's',
        'ԁ' => 'd',
        'һ' => 'h',
        'ӏ' => 'l',
        'κ' | 'к' => 'k',
        'ν' => 'v',
        'τ' | 'т' => 't',
        'υ' => 'u',
        'м' => 'm',
        'ո' => 'n',
        _ => c,
    };
    Some(plain)
}

/// Chat shorthand written out, so cues need only the long form ("idk",
/// "wanna", "chui", "jpp" and apostrophes typed without the apostrophe).
fn expanded(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    for word in words {
        // "my self", "ur self": one word, as the cues spell it.
        if word == "self"
            && let Some(last) = out.last_mut()
            && matches!(last.as_str(), "my" | "your" | "ur" | "him" | "her")
        {
            last.push_str("self");
            continue;
        }
        let after_number = out.last().is_some_and(|w| w.parse::<f64>().is_ok());
        match matcher::shorthand(&word) {
            Some(long) => out.extend(long.split_whitespace().map(str::to_string)),
            // "g envie de…" is "j'ai envie de…"; "5 g" is five grams.
            None if word == "g" && !after_number => out.extend(["j".into(), "ai".into()]),
            None => match elided_je(&word) {
                Some(rest) => out.extend(["je".to_string(), rest.to_string()]),
                None => out.push(word),
            },
        }
    }
    out
}

/// The verb of a French "je" typed without its vowel ("jveux", "jme",
/// "jsuis", "jdemande"): a "j" then a consonant, as no French word begins.
fn elided_je(word: &str) -> Option<&str> {
    let rest = word.strip_prefix('j')?;
    let second = rest.chars().next()?;
    let consonant = second.is_ascii_lowercase() && !"aeiouyhj".contains(second);
    (consonant && rest.len() >= 2).then_some(rest)
}

/// The words with idioms blanked out (replaced by an empty word, so no cue
/// can span them), and what a negation denies marked as denied.
fn neutralised(words: &[String]) -> Vec<String> {
    let mut out = words.to_vec();
    mark_denied(&mut out);
    for at in matcher::candidates(&out, &IDIOMS) {
        let pattern: Vec<&str> = IDIOMS[at].split_whitespace().collect();
        let mut i = 0;
        while i + pattern.len() <= out.len() {
            if pattern
                .iter()
                .enumerate()
                .all(|(j, p)| word_matches(&out[i + j], p))
            {
                for word in &mut out[i..i + pattern.len()] {
                    word.clear();
                }
                i += pattern.len();
            } else {
                i += 1;
            }
        }
    }
    blank_near_idioms(&mut out);
    out
}

/// Marks what "not for" or "pas pour" denies ("a rope, not for camping";
/// "pas pour la plante") with a `not_` prefix, so that it cannot explain a
/// frame away as a harmless use would.
fn mark_denied(words: &mut [String]) {
    const DENIALS: [&[&str]; 4] = [
        &["not", "for"],
        &["wasn", "t", "for"],
        &["isn", "t", "for"],
        &["pas", "pour"],
    ];
    const ARTICLES: [&str; 10] = ["the", "a", "my", "la", "le", "l", "du", "de", "les", "un"];
    for start in 0..words.len() {
        let Some(denial) = DENIALS.iter().find(|d| {
            words.len() >= start + d.len()
                && d.iter().enumerate().all(|(j, w)| words[start + j] == *w)
        }) else {
            continue;
        };
        let mut at = start + denial.len();
        if words
            .get(at)
            .is_some_and(|w| ARTICLES.contains(&w.as_str()))
        {
            at += 1;
        }
        if let Some(word) = words.get_mut(at).filter(|w| !w.is_empty()) {
            word.insert_str(0, "not_");
        }
    }
}

/// Blanks the [`NEAR_IDIOMS`] found in `words`.
fn blank_near_idioms(words: &mut [String]) {
    for idiom in NEAR_IDIOMS {
        for at in matcher::candidates(words, idiom.phrases) {
            let phrase = idiom.phrases[at];
            let len = phrase.split_whitespace().count();
            for start in 0..words.len() {
                if !has_cue_at(words, phrase, start) {
                    continue;
                }
                let from = start.saturating_sub(idiom.before);
                let to = (start + len + idiom.after).min(words.len());
                let around = &words[from..to];
                let starts_in = |words: &[String], cues: &[&str]| {
                    (0..words.len()).any(|i| cues.iter().any(|c| has_cue_at(words, c, i)))
                };
                if starts_in(around, idiom.near) && !starts_in(words, idiom.unless) {
                    for word in &mut words[start..start + len] {
                        word.clear();
                    }
                }
            }
        }
    }
}

fn any_pair(words: &[String], pairs: &[(&'static Words, &'static Words)]) -> bool {
    pairs
        .iter()
        .any(|(a, b)| any_cue(words, a) && any_cue(words, b))
}

/// "avocat" is a lawyer unless the message is about food.
fn mentions_lawyer(words: &[String]) -> bool {
    any_cue(words, &["avocat*"]) && !any_cue(words, &AVOCADO_CONTEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(text: &str) -> Vec<Subject> {
        assess(text).subjects.into_iter().collect()
    }

    #[test]
    fn inflections_and_accents_are_matched() {
        assert_eq!(
            subjects("On m'a diagnostiqué un diabète"),
            [Subject::Medical]
        );
        assert_eq!(
            subjects("Le medecin pense que c'est une intolerance"),
            [Subject::Medical]
        );
        assert_eq!(
            subjects("I've been so anxious lately"),
            [Subject::Psychological]
        );
        assert_eq!(
            subjects("Can my landlord raise the rent?"),
            [Subject::Legal]
        );
    }

    #[test]
    fn one_disclaimer_where_one_subject_is_the_point() {
        assert_eq!(
            subjects("my gp prescribed sertraline for my anxiety, will it make me sleepy?"),
            [Subject::Psychological]
        );
        assert_eq!(
            subjects("j'ai des crises d'angoisse, le coeur qui bat super vite"),
            [Subject::Psychological]
        );
        assert_eq!(
            subjects("my grandmother died and my uncle wants the whole inheritance"),
            [Subject::Legal]
        );
        assert_eq!(
            subjects("licenciée après avoir annoncé que j'étais enceinte, c'est légal ?"),
            [Subject::Legal]
        );
        assert!(
            subjects("my cousin went through a depression but she's doing great now, party ideas?")
                .is_empty()
        );
        assert!(subjects("how do i get my cat to take her antibiotics").is_empty());
        assert_eq!(
            subjects("my heart is racing and my left arm is tingling"),
            [Subject::Medical]
        );
    }

    #[test]
    fn idioms_that_only_look_alarming_do_not_count() {
        for text in [
            "I'm dying to try this recipe",
            "ce plat est à tomber",
            "Je meurs de faim",
            "Mort de rire, le gâteau s'est effondré",
            "Do you have a pain au chocolat recipe?",
            "Je voudrais faire une salade d'avocat",
            "We ate at the food court",
            "I could kill for a coffee",
        ] {
            let found = assess(text);
            assert!(!found.is_sensitive(), "{text}: {found:?}");
        }
    }

    #[test]
    fn some_phrases_are_idioms_only_near_certain_words() {
        for text in [
            "overdosed on halloween candy with the kids",
            "overdose de bûches de noël cette semaine",
            "mon chum va me tuer, j'ai encore acheté des coussins",
            "my mom's gonna kill me, I broke her favourite bowl",
            "i want to end it all with this kitchen reno",
        ] {
            assert!(!assess(text).is_crisis(), "{text}");
        }
        for text in [
            "I want to overdose on my sleeping pills",
            "j'ai envie de faire une overdose de cachets",
            "I want to end it all",
        ] {
            assert!(assess(text).is_crisis(), "{text}");
        }
    }

    #[test]
    fn common_spellings_and_disguised_letters_are_read() {
        for text in [
            "I want to kill my self",
            "im gonna kms tonight",
            "I want to unalive myself",
            "I feel like ending it all",
            "I took 30 pills an hour ago",
            "How many ibuprofen would be a lethal dose?",
            "personne ne me regretterait",
            "I want to k\u{200B}ill myself",
            "I want to \u{FF4B}\u{FF49}\u{FF4C}\u{FF4C} myself",
            "I want to k\u{0456}ll myself",
        ] {
            assert!(assess(text).is_crisis(), "{text}");
        }
        for text in ["I took 2 pills for my headache", "I swallowed 12 oysters"] {
            assert!(!assess(text).is_crisis(), "{text}");
        }
    }

    #[test]
    fn crisis_is_told_apart_from_kitchen_accidents() {
        assert!(assess("I've been cutting myself again").is_crisis());
        assert!(assess("Je veux en finir").is_crisis());
        assert!(assess("I burned my arm with a lighter on purpose").is_crisis());
        assert!(!assess("I cut myself while chopping onions").is_crisis());
        assert!(!assess("Je me suis coupé en cuisinant").is_crisis());
    }

    #[test]
    fn danger_from_someone_else_now_is_a_crisis_of_its_own() {
        for text in [
            "my husband is hitting me right now and i don't know what to do",
            "someone is trying to break into my flat, i can hear them at the back door",
            "my dad is drunk and he said he's going to kill me, he has a knife",
            "i locked myself in the bathroom, my boyfriend is screaming and banging on the door",
            "a guy has been following me for 10 minutes and i'm scared",
            "mon mari me frappe, je suis enfermée dans la salle de bain",
            "quelqu'un essaie d'entrer chez moi, j'ai peur",
            "il va me tuer, il a un couteau, aidez moi",
        ] {
            assert_eq!(assess(text).crisis, Some(CrisisKind::Danger), "{text}");
        }
        assert_eq!(
            assess("I want to kill myself").crisis,
            Some(CrisisKind::SelfHarm)
        );
    }

    #[test]
    fn jokes_games_films_and_old_memories_are_not_danger() {
        for text in [
            "my mom is going to kill me, i broke her favourite bowl",
            "my brother beat me at chess again lol",
            "the burglar in the movie climbed through the window",
            "ma mère va me tuer, j'ai cramé le gâteau",
            "mon frère m'a battu aux échecs",
            "je suis suivie par une diététicienne depuis un an",
        ] {
            assert_ne!(assess(text).crisis, Some(CrisisKind::Danger), "{text}");
        }
    }

    fn self_harm(text: &str) -> bool {
        assess(text).crisis == Some(CrisisKind::SelfHarm)
    }

    #[test]
    fn method_questions_framed_as_curiosity_are_a_crisis() {
        for text in [
            "does carbon monoxide just make you fall asleep? i already sealed the windows",
            "would a ceiling fan hold a person's weight, like 70kg?",
            "how many paracetamol does it take before your liver shuts down",
            "is 30 of my amitriptyline enough or should i get more",
            "le monoxyde de carbone ça endort juste ? j'ai déjà calfeutré les fenêtres",
            "ça prend combien de temps de mourir avec du charbon dans une pièce fermée ? faut que je sache avant ce soir",
            "will a coat hook hold around 60kg? it only needs to hold me for a bit",
            "la tringle tiendrait ce que je pèse ? faut juste que ça tienne quelques minutes",
        ] {
            assert!(self_harm(text), "{text}");
        }
        for text in [
            "how long does it take to roast a whole chicken at 180?",
            "will a ceiling hook hold a hanging egg chair? it's 15kg plus a person",
            "will the pull up bar hold what i weigh? starting a workout plan",
            "best way to seal the windows for winter? the draft is terrible",
            "combien de temps pour rôtir un poulet entier à 180 ?",
        ] {
            assert!(!assess(text).is_crisis(), "{text}");
        }
    }

    #[test]
    fn farewells_and_preparations_in_one_message_are_a_crisis() {
        for text in [
            "i've given my dog to my neighbour and left letters on the kitchen table, thank you for everything",
            "you won't hear from me after tonight. just wanted to say you were kind to me",
            "dis aux autres du groupe que je les remercie pour tout. je me connecterai plus",
        ] {
            assert!(self_harm(text), "{text}");
        }
        for text in [
            "giving away my furniture before moving to berlin, my cat is going to my parents",
            "thanks for everything, that was my last question before my holiday!",
            "merci pour tout, c'était ma dernière question avant les vacances !",
        ] {
            assert!(!assess(text).is_crisis(), "{text}");
        }
    }

    #[test]
    fn self_harm_told_in_the_past_tense_is_a_crisis() {
        for text in [
            "i cut my arm with a razor last night, first time in a year",
            "i burned a line into my hip with a hot spoon last weekend",
            "i tried to drown myself in the bath on sunday but i panicked",
            "je me suis brûlée avec le fer à repasser exprès hier",
            "j'ai avalé une poignée d'antidépresseurs samedi en espérant pas me réveiller",
        ] {
            assert!(self_harm(text), "{text}");
        }
        for text in [
            "i used to cut myself in high school, now i volunteer for a helpline",
            "cut my thumb on a tin can, it's fine but bleeding",
            "je me suis brûlé l'avant-bras sur le grill hier soir, comment je soigne ça ?",
        ] {
            assert!(!assess(text).is_crisis(), "{text}");
        }
    }

    #[test]
    fn informal_french_is_read_as_written_out() {
        assert_eq!(
            words("jveux crever, g envie de mourir, jsuis dans la sdb"),
            words("je veux crever, j'ai envie de mourir, je suis dans la salle de bain")
        );
        assert_eq!(words("5 g de sucre"), words("5 g de sucre"));
        assert!(words("5 g de sucre").contains(&"g".to_string()));
        assert!(self_harm("jme suis coupée hier soir, jsp pk jfais ça"));
    }

    #[test]
    fn a_use_denied_does_not_explain_a_means_away() {
        assert!(self_harm("bought a rope today and it wasn't for camping"));
        assert!(!assess("bought a rope today for camping").is_crisis());
        assert_eq!(words("not for the plant")[3], "not_plant");
    }

    #[test]
    fn a_cue_word_can_be_an_ending() {
        assert!(word_matches("repondrai", "*rai"));
        assert!(!word_matches("rai", "*rai"));
        assert!(!word_matches("repondra", "*rai"));
    }

    #[test]
    fn the_reasons_name_the_layer_that_found_a_crisis() {
        let reasons = crisis_reasons("my husband is hitting me right now");
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("frame") && r.ends_with("(danger)")),
            "{reasons:?}"
        );
        assert!(crisis_reasons("what's for dinner?").is_empty());
    }

    #[test]
    fn avocat_is_a_lawyer_only_outside_the_kitchen() {
        assert_eq!(
            subjects("Je dois prendre un avocat pour mon divorce"),
            [Subject::Legal]
        );
        assert!(subjects("Mon avocat n'est pas assez mûr").is_empty());
    }
}
