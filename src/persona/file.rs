//! The persona file format: the serde types creators write, and the shape
//! [`crate::schema`] checks them against before serde reads them.

use serde::{Deserialize, Serialize};

use super::lore::{LORE_FIELDS, LOREBOOK_FIELDS, LoreEntry, LoreProblem, LoreSettings, Lorebook};
use crate::schema::{Field, Shape};

/// One persona, as a creator writes it in `personas/ID.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Persona {
    /// The persona's id: its file name without `.toml`, lower-case.
    #[serde(skip_deserializing)]
    pub id: String,
    /// The name users see, e.g. "Chef Marco".
    pub name: String,
    /// One line saying who this persona is, shown in `personas list`.
    pub description: String,
    /// The language the persona speaks, as a code such as `en` or `fr`.
    pub language: String,
    /// Personality and tone, in the creator's words; goes into the system prompt.
    pub voice: String,
    /// The first thing the persona says in each session.
    pub greeting: String,
    /// Other first messages: each new conversation opens with one of the
    /// greetings, picked for it once and the same ever after (see
    /// [`Persona::greeting_for`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternate_greetings: Vec<String>,
    /// Areas of expertise; the persona stays within them and topics about
    /// them weigh more.
    #[serde(default)]
    pub expertise: Vec<String>,
    /// Example exchanges that show the model (and the offline backend) how
    /// the persona answers.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// Extra disclaimer lines the creator wants shown with proactive messages.
    #[serde(default)]
    pub disclaimers: Vec<String>,
    /// Replaces the standard "you are talking to an AI" notice, e.g. for a
    /// creator's AI extension that must say it is not the creator.
    #[serde(default)]
    pub ai_notice: Option<String>,
    /// Model settings for this persona.
    #[serde(default)]
    pub model: PersonaModel,
    /// Follow-up settings for this persona.
    #[serde(default)]
    pub followups: PersonaFollowups,
    /// Minors may not talk to this persona.
    #[serde(default)]
    pub adults_only: bool,
    /// This persona's own disclaimer texts, in its language.
    #[serde(default)]
    pub safety: crate::safety::DisclaimerTexts,
    /// What a Character Card this persona was imported from holds that a
    /// persona has no field for; export writes it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<super::card::PersonaCard>,
    /// The lorebook's entries (`[[lore]]`): knowledge that goes into the
    /// prompt on the turns that mention its keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lore: Vec<LoreEntry>,
    /// How the lorebook is scanned (`[lorebook]`).
    #[serde(default)]
    pub lorebook: LoreSettings,
    /// The lorebook compiled for scanning, built once when the persona is
    /// loaded (see [`Persona::compile_lore`]).
    #[serde(skip)]
    pub compiled_lore: std::sync::Arc<Lorebook>,
}

impl Persona {
    /// Every greeting the persona may open with: `greeting`, then the
    /// alternate ones.
    pub fn greetings(&self) -> Vec<&str> {
        std::iter::once(self.greeting.as_str())
            .chain(self.alternate_greetings.iter().map(String::as_str))
            .collect()
    }

    /// The greeting the conversation of `user` with this persona opens
    /// with: one of [`Persona::greetings`], picked by a hash of the user
    /// and persona ids, so it is the same every time the conversation is
    /// opened, in every front end, and across releases.
    pub fn greeting_for(&self, user: &str) -> &str {
        pick_greeting(&self.greetings(), user, &self.id)
    }

    /// The compiled lorebook; empty until [`Persona::compile_lore`] ran.
    pub fn lorebook(&self) -> &Lorebook {
        &self.compiled_lore
    }

    /// Compiles the `[[lore]]` entries for scanning: once per load, and
    /// again after the entries change. An invalid regex key is a problem
    /// naming the entry and key.
    pub fn compile_lore(&mut self) -> Result<(), Vec<LoreProblem>> {
        self.compiled_lore = std::sync::Arc::new(Lorebook::compile(&self.lore, &self.lorebook)?);
        Ok(())
    }
}

/// One example exchange: what a user says and how the persona answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Example {
    /// The user's line.
    pub user: String,
    /// The persona's answer.
    pub persona: String,
}

/// Model settings a persona may set; unset ones come from the backend.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PersonaModel {
    /// A backend named in the deployment config (`[models.NAME]`).
    pub backend: Option<String>,
    /// A model id that overrides the backend's own (e.g. `gpt-4o-mini`).
    pub name: Option<String>,
    /// Sampling temperature, 0.0 to 2.0.
    pub temperature: Option<f32>,
    /// The longest reply, in tokens.
    pub max_tokens: Option<u32>,
}

/// Follow-up settings a persona may set; they can only make the
/// deployment's policy stricter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PersonaFollowups {
    /// Whether this persona sends follow-ups at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Minimum user messages in the window before a follow-up.
    pub min_user_messages: Option<u32>,
    /// The window, in days, in which those messages count.
    pub window_days: Option<u32>,
    /// Minimum silence, in hours, since the user's last message.
    pub min_silence_hours: Option<u32>,
    /// Extra quiet hours (local start hour), on top of the deployment's.
    pub quiet_hours_start: Option<u32>,
    /// Extra quiet hours (local end hour), on top of the deployment's.
    pub quiet_hours_end: Option<u32>,
    /// A follow-up used when the model fails; may mention `{{ topic }}`.
    pub fallback: Option<String>,
}

impl Default for PersonaFollowups {
    fn default() -> Self {
        Self {
            enabled: true,
            min_user_messages: None,
            window_days: None,
            min_silence_hours: None,
            quiet_hours_start: None,
            quiet_hours_end: None,
            fallback: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// The greeting of `greetings` (never empty: the first is the persona's
/// own) that the conversation of `user` with `persona` opens with, for
/// front ends that hold a persona's summary rather than the persona.
pub fn pick_greeting<'a>(greetings: &[&'a str], user: &str, persona: &str) -> &'a str {
    let seed = fnv1a(format!("{user}\u{0}{persona}").as_bytes());
    greetings
        .get((seed % greetings.len().max(1) as u64) as usize)
        .copied()
        .unwrap_or_default()
}

/// The 64-bit FNV-1a hash: stable across platforms and releases, unlike
/// the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Checks a language code: two or three lower-case letters, optionally a region.
pub fn language_code(text: &str) -> Result<(), String> {
    let mut parts = text.split('-');
    let lang = parts.next().unwrap_or_default();
    let region = parts.next();
    let lang_ok = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_lowercase());
    let region_ok =
        region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()));
    if lang_ok && region_ok && parts.next().is_none() {
        Ok(())
    } else {
        Err(format!(
            "is {text:?}, which is not a language code; write one like \"en\", \"fr\" or \"pt-BR\""
        ))
    }
}

/// Wordings that deny being an AI, after normalising (lower case, no
/// accents or punctuation).
const DENIALS: &[&str] = &[
    "not an ai",
    "not ai",
    "isn t an ai",
    "isnt an ai",
    "never an ai",
    "not artificial",
    "pas une ia",
    "pas un ia",
    "pas d ia",
    "pas une intelligence artificielle",
    "jamais une ia",
];

/// Claims to be a person, which count unless negated ("an AI, not a
/// human" is honest).
const HUMAN_CLAIMS: &[&str] = &[
    "real person",
    "real human",
    "a human",
    "a person",
    "vraie personne",
    "personne reelle",
    "vrai humain",
    "un humain",
    "une humaine",
    "un etre humain",
];

/// Words that negate the claim right after them.
const NEGATIONS: &[&str] = &["not", "no", "never", "nor", "pas", "non", "jamais", "ni"];

/// The AI notice may be reworded but must still say it is an AI, and must
/// not take it back ("a real person, definitely not an AI").
fn mentions_ai(text: &str) -> Result<(), String> {
    let words = crate::safety::detect::normalise(text);
    let plain = format!(" {} ", words.join(" "));
    let found = |phrase: &str| plain.contains(&format!(" {phrase} "));
    if let Some(denial) = DENIALS.iter().find(|d| found(d)) {
        return Err(format!(
            "must say plainly that the persona is an AI, and it says {denial:?}"
        ));
    }
    for claim in HUMAN_CLAIMS {
        let length = claim.split(' ').count();
        for start in 0..words.len() {
            if words[start..].len() < length || words[start..start + length].join(" ") != *claim {
                continue;
            }
            let before = &words[start.saturating_sub(2)..start];
            if !before.iter().any(|w| NEGATIONS.contains(&w.as_str())) {
                return Err(format!(
                    "must say plainly that the persona is an AI, and it claims {claim:?}"
                ));
            }
        }
    }
    let says_ai = text.split(|c: char| !c.is_alphanumeric()).any(|w| {
        matches!(w, "AI" | "IA" | "KI")
            || w.eq_ignore_ascii_case("artificial")
            || w.eq_ignore_ascii_case("artificielle")
    });
    if says_ai {
        Ok(())
    } else {
        Err("must say that the persona is an AI (e.g. \"an AI\", \"une IA\")".to_string())
    }
}

const EXAMPLE_FIELDS: &[Field] = &[
    Field::required("user", Shape::Text(None)),
    Field::required("persona", Shape::Text(None)),
];

const MODEL_FIELDS: &[Field] = &[
    Field::optional("backend", Shape::Text(None)),
    Field::optional("name", Shape::Text(None)),
    Field::optional("temperature", Shape::Number(0.0, 2.0)),
    Field::optional("max_tokens", Shape::Integer(1, 200_000)),
];

const FOLLOWUP_FIELDS: &[Field] = &[
    Field::optional("enabled", Shape::Bool),
    Field::optional(
        "min_user_messages",
        Shape::Integer(1, crate::store::RECENT_USER_TIMES as i64),
    ),
    Field::optional("window_days", Shape::Integer(1, 3_650)),
    Field::optional("min_silence_hours", Shape::Integer(1, 24 * 3_650)),
    Field::optional("quiet_hours_start", Shape::Integer(0, 23)),
    Field::optional("quiet_hours_end", Shape::Integer(0, 23)),
    Field::optional("fallback", Shape::Text(None)),
];

const SAFETY_FIELDS: &[Field] = &[
    Field::optional("general", Shape::Text(None)),
    Field::optional("medical", Shape::Text(None)),
    Field::optional("psychological", Shape::Text(None)),
    Field::optional("legal", Shape::Text(None)),
];

/// Every key a persona file may hold, and its shape.
pub const PERSONA_FIELDS: &[Field] = &[
    Field::required("name", Shape::Text(None)),
    Field::required("description", Shape::Text(None)),
    Field::required("language", Shape::Text(Some(language_code))),
    Field::required("voice", Shape::Text(None)),
    Field::required("greeting", Shape::Text(None)),
    Field::optional("alternate_greetings", Shape::TextList),
    Field::optional("expertise", Shape::TextList),
    Field::optional("examples", Shape::TableList(EXAMPLE_FIELDS)),
    Field::optional("disclaimers", Shape::TextList),
    Field::optional("ai_notice", Shape::Text(Some(mentions_ai))),
    Field::optional("model", Shape::Table(MODEL_FIELDS)),
    Field::optional("followups", Shape::Table(FOLLOWUP_FIELDS)),
    Field::optional("adults_only", Shape::Bool),
    Field::optional("safety", Shape::Table(SAFETY_FIELDS)),
    Field::optional("card", Shape::Table(super::card::CARD_FIELDS)),
    Field::optional("lore", Shape::TableList(LORE_FIELDS)),
    Field::optional("lorebook", Shape::Table(LOREBOOK_FIELDS)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ai_notice_must_still_say_ai() {
        assert!(mentions_ai("You are chatting with the AI extension of Jade.").is_ok());
        assert!(mentions_ai("Vous parlez à une IA.").is_ok());
        assert!(mentions_ai("You are chatting with Jade!").is_err());
        assert!(
            mentions_ai("You are chatting with Sam, a real person and definitely not an AI.")
                .is_err()
        );
        assert!(mentions_ai("Ceci n'est pas une IA : c'est Jade en personne.").is_err());
        for honest in [
            "You are chatting with Chef Marco, an AI, not a human.",
            "Élise est une IA, pas un humain.",
            "You are chatting with Jade's AI, not a real person.",
            "An AI: there is no AI-free mode here.",
        ] {
            assert!(mentions_ai(honest).is_ok(), "{honest}");
        }
    }

    #[test]
    fn each_conversation_keeps_the_greeting_picked_for_it() {
        let mut chef = (*crate::persona::Personas::builtin().get("chef").unwrap()).clone();
        assert_eq!(
            chef.greeting_for("ana"),
            chef.greeting,
            "one greeting: always it"
        );
        chef.alternate_greetings = vec!["Ciao!".to_string(), "Buonasera!".to_string()];
        let users: Vec<String> = (0..60).map(|n| format!("user{n}")).collect();
        let picked: Vec<&str> = users.iter().map(|u| chef.greeting_for(u)).collect();
        for greeting in chef.greetings() {
            assert!(
                picked.contains(&greeting),
                "{greeting} is picked for someone"
            );
        }
        let again: Vec<&str> = users.iter().map(|u| chef.greeting_for(u)).collect();
        assert_eq!(picked, again);
        assert_eq!(
            chef.greeting_for("ana"),
            "Buonasera!",
            "stable across releases"
        );
    }

    #[test]
    fn language_codes_accept_plain_and_regional_forms() {
        assert!(language_code("en").is_ok());
        assert!(language_code("pt-BR").is_ok());
        assert!(language_code("French").is_err());
        assert!(language_code("en-us").is_err());
    }
}
