//! The `[card]` table of a persona file: what a Character Card holds that
//! a persona has no field for yet, kept so that exporting the persona gives
//! the card back unchanged.
//!
//! Texts and lists are plain TOML. The lorebook, the extensions and any
//! other key are kept as JSON text, since cards hold `null`s and shapes TOML
//! cannot say; Troupe does not interpret them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schema::{Field, Shape};

/// What a persona imported from a card keeps of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PersonaCard {
    /// The dialect the card was read from (`chara_card_v2`, …), for the record.
    pub spec: Option<String>,
    /// The situation the conversation takes place in; goes into the system prompt.
    pub scenario: Option<String>,
    /// The card's own system prompt: it replaces Troupe's main prompt
    /// (`{{original}}` standing for it), Troupe's rules still following it
    /// (see [`crate::prompt::card`]).
    pub system_prompt: Option<String>,
    /// Instructions the card wants after the history: sent after the
    /// user's message in every chat turn, not in follow-ups.
    pub post_history_instructions: Option<String>,
    /// Other first messages, as imports before the persona's own
    /// `alternate_greetings` kept them; export reads them when the persona
    /// has none.
    pub alternate_greetings: Vec<String>,
    /// Notes from the card's creator for its users.
    pub creator_notes: Option<String>,
    /// The card's tags; `personas show` lists them.
    pub tags: Vec<String>,
    /// Who made the card.
    pub creator: Option<String>,
    /// The card's own version.
    pub character_version: Option<String>,
    /// A V3 nickname.
    pub nickname: Option<String>,
    /// The card's example dialogue as written, when the persona's examples
    /// cannot reproduce it exactly; export writes it back.
    pub mes_example: Option<String>,
    /// Card fields that were empty, whose persona counterparts hold a
    /// stand-in (a persona needs a description, a voice and a greeting).
    pub empty: Vec<String>,
    /// The lorebook, whole, as JSON text: as imports before
    /// `book_rest` kept it, and books whose entries are not a list.
    pub character_book: Option<String>,
    /// What the lorebook holds beyond the `[[lore]]` entries (its own
    /// keys; each entry's id, comment, extensions and the values the
    /// entries cannot say), as JSON text: export joins the two back into
    /// the card's `character_book` (see [`super::rest`]).
    pub book_rest: Option<String>,
    /// The card's `extensions`, as JSON text.
    pub extensions: Option<String>,
    /// Any other key of the card's `data`, as a JSON object.
    pub data: Option<String>,
    /// Top-level keys beside `data`, as a JSON object.
    pub outside: Option<String>,
}

impl PersonaCard {
    /// The lorebook, parsed; `None` when absent (or, in a file that skipped
    /// the check, unreadable).
    pub fn book(&self) -> Option<Value> {
        self.character_book
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
    }

    /// The lorebook's rest, parsed; `None` when absent.
    pub fn rest(&self) -> Option<Value> {
        self.book_rest
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
    }

    /// A JSON-object field, parsed; empty when absent.
    pub fn object(text: Option<&str>) -> Map<String, Value> {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }
}

/// Checks that a kept value is a JSON object.
fn json_object(text: &str) -> Result<(), String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(_) => Err("must be a JSON object, written as text".to_string()),
        Err(e) => Err(format!("is not valid JSON ({e}); fix it or remove the key")),
    }
}

/// Every key the `[card]` table may hold, checked leniently: texts, lists
/// of texts, and JSON objects that must parse.
pub const CARD_FIELDS: &[Field] = &[
    Field::optional("spec", Shape::Text(None)),
    Field::optional("scenario", Shape::Text(None)),
    Field::optional("system_prompt", Shape::Text(None)),
    Field::optional("post_history_instructions", Shape::Text(None)),
    Field::optional("alternate_greetings", Shape::TextList),
    Field::optional("creator_notes", Shape::Text(None)),
    Field::optional("tags", Shape::TextList),
    Field::optional("creator", Shape::Text(None)),
    Field::optional("character_version", Shape::Text(None)),
    Field::optional("nickname", Shape::Text(None)),
    Field::optional("mes_example", Shape::Text(None)),
    Field::optional("empty", Shape::TextList),
    Field::optional("character_book", Shape::Text(Some(json_object))),
    Field::optional("book_rest", Shape::Text(Some(json_object))),
    Field::optional("extensions", Shape::Text(Some(json_object))),
    Field::optional("data", Shape::Text(Some(json_object))),
    Field::optional("outside", Shape::Text(Some(json_object))),
];
