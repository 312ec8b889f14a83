//! Character Cards: the format SillyTavern, RisuAI, Chub and others use to
//! share characters, read into a [`Card`] and written back.
//!
//! One file per concern: [`json`] reads the three JSON dialects (V1 bare
//! fields, V2 `chara_card_v2`, V3 `chara_card_v3`) leniently and writes V2
//! and V3; [`png`] finds a card in (and puts one into) a PNG's text chunks;
//! [`charx`] reads the `card.json` of a CHARX archive; [`mapping`] turns a
//! card into a persona and a persona back into a card; [`table`] is the
//! `[card]` table of a persona file that keeps what a persona has no place
//! for, so that card → persona → card loses nothing; `render` writes the
//! persona file, `prepare` works out an import (from a file or uploaded
//! bytes) before it is written, and `import` holds the import and export
//! services.
//!
//! Real cards are messy, so reading never stops at the first oddity: what
//! was ignored or coerced is collected as warnings, and only input that
//! cannot be a card is refused, with a [`CardError`] saying why.

pub mod book;
pub mod charx;
mod import;
pub mod json;
pub mod mapping;
pub mod png;
mod prepare;
mod render;
pub mod rest;
pub mod table;

use std::path::Path;

use serde_json::{Map, Value};

pub use import::{
    CardFormat, ImportError, Imported, LoreImported, export_json, export_png, import_card,
    import_cards, import_lorebooks, persona_id,
};
pub use mapping::{ImportReport, card_from_persona, persona_from_card};
pub use prepare::{ImportSource, PreparedImport, prepare_import};
pub use table::{CARD_FIELDS, PersonaCard};

/// The largest card file read, in bytes: anything bigger is refused before
/// it is parsed (real cards, avatar included, are a few MiB at most).
pub const MAX_CARD_BYTES: usize = 20 * 1024 * 1024;

/// Which dialect a card was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardSpec {
    /// Bare top-level fields, no `spec`.
    V1,
    /// `spec: "chara_card_v2"`, fields under `data`.
    V2,
    /// `spec: "chara_card_v3"`, fields under `data`.
    V3,
}

impl CardSpec {
    /// The name creators know it by, for reports.
    pub fn label(self) -> &'static str {
        match self {
            CardSpec::V1 => "Character Card V1",
            CardSpec::V2 => "Character Card V2",
            CardSpec::V3 => "Character Card V3",
        }
    }
}

/// A character card, read leniently: every field a card may hold, with the
/// ones Troupe does not interpret kept as they were.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Card {
    /// The character's name.
    pub name: String,
    /// Who the character is; the main text of most cards.
    pub description: String,
    /// A summary of the character's personality.
    pub personality: String,
    /// The situation the conversation takes place in.
    pub scenario: String,
    /// The character's first message.
    pub first_mes: String,
    /// Example dialogue, in `<START>` blocks of `{{user}}:`/`{{char}}:` lines.
    pub mes_example: String,
    /// Notes from the creator for the user, not for the model.
    pub creator_notes: String,
    /// A system prompt the card asks for, in place of the frontend's
    /// (kept in the persona's `[card]` table, which the prompts read).
    pub system_prompt: String,
    /// Instructions a card wants after the history (kept in the
    /// persona's `[card]` table, which chat turns read).
    pub post_history_instructions: String,
    /// Other first messages the user may pick from (kept, not used yet).
    pub alternate_greetings: Vec<String>,
    /// The card's tags, e.g. "fantasy" or "NSFW".
    pub tags: Vec<String>,
    /// Who made the card.
    pub creator: String,
    /// The card's own version text.
    pub character_version: String,
    /// A V3 nickname used in place of the name in macros.
    pub nickname: Option<String>,
    /// The embedded lorebook, kept as it was (lorebook matching is not
    /// supported yet).
    pub character_book: Option<Value>,
    /// Every `extensions` key, kept as it was.
    pub extensions: Map<String, Value>,
    /// Any other key under `data` (V3's `assets`, `group_only_greetings`,
    /// `source`, dates, or a tool's own keys), kept as it was.
    pub other: Map<String, Value>,
    /// Keys beside `spec`/`spec_version`/`data` at the top level that are
    /// not copies of the V1 fields, kept as they were.
    pub outside: Map<String, Value>,
}

/// A card as read from a file: the card, its dialect, and what was ignored
/// or coerced on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadCard {
    /// The card.
    pub card: Card,
    /// The dialect it was written in.
    pub spec: CardSpec,
    /// What the reader ignored or read differently from how it was written.
    pub warnings: Vec<String>,
}

/// Why a file could not be read as a card.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The file is over [`MAX_CARD_BYTES`].
    #[error("the file is {size} bytes, over the {max} bytes a card may be; is it really a character card?", max = MAX_CARD_BYTES)]
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
    /// The JSON text does not parse.
    #[error("the card is not valid JSON: {0}")]
    Json(String),
    /// The JSON parses but holds nothing a card holds.
    #[error("this is not a character card: {0}")]
    NotACard(String),
    /// A PNG whose chunks are broken, or that holds no card.
    #[error("{0}")]
    Png(String),
    /// A CHARX archive that could not be read.
    #[error("the CHARX archive could not be read: {0}")]
    Charx(String),
    /// The bytes are neither JSON, PNG nor a CHARX archive.
    #[error(
        "the file is neither a card's JSON, a PNG nor a CHARX archive; export the character as a V2 or V3 card (.json or .png) and import that"
    )]
    UnknownFormat,
    /// The file could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Reads a card from a file: JSON, PNG or CHARX, told apart by content.
/// Files over [`MAX_CARD_BYTES`] are refused before they are read.
pub fn read_card_file(path: &Path) -> Result<ReadCard, CardError> {
    let read_error = |source| CardError::Read {
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_CARD_BYTES as u64 {
        return Err(CardError::TooLarge { size });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    read_card(&bytes)
}

/// Reads a card from the bytes of a JSON, PNG or CHARX file.
pub fn read_card(bytes: &[u8]) -> Result<ReadCard, CardError> {
    if bytes.len() > MAX_CARD_BYTES {
        return Err(CardError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    if bytes.starts_with(png::SIGNATURE) {
        return png::read(bytes);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return charx::read(bytes);
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => json::read_slice(text),
        _ => Err(CardError::UnknownFormat),
    }
}
