//! From a card to a persona and back.
//!
//! What a persona already has is mapped: name, description, personality →
//! voice, first message → greeting, example dialogue → examples. The rest
//! goes into the persona's `[card]` table ([`PersonaCard`]) so that export
//! writes it back. Nothing in a card touches a persona's safety settings:
//! the AI notice, disclaimers and crisis protocol stay Troupe's.

use serde_json::Value;

use super::{Card, PersonaCard, ReadCard};
use crate::persona::lore::{LoreEntry, LoreSettings};
use crate::persona::{Example, Persona};

/// The language given to imported personas when none is chosen: cards do
/// not say which language their character speaks.
pub const DEFAULT_LANGUAGE: &str = "en";

/// A persona made from a card, before it is written as a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// The persona's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its language code.
    pub language: String,
    /// Its voice (the card's personality).
    pub voice: String,
    /// Its greeting (the card's first message).
    pub greeting: String,
    /// Its example exchanges.
    pub examples: Vec<Example>,
    /// Whether the card is marked NSFW.
    pub adults_only: bool,
    /// What the card holds that the persona has no field for.
    pub card: PersonaCard,
    /// The card's alternate greetings.
    pub alternate_greetings: Vec<String>,
    /// The card's lorebook entries.
    pub lore: Vec<LoreEntry>,
    /// How its lorebook is scanned.
    pub lorebook: LoreSettings,
}

/// What an import did with a card, for the creator to review.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Card fields mapped to persona fields, as `card → persona`.
    pub mapped: Vec<String>,
    /// Card fields kept aside in the persona's `[card]` table.
    pub kept: Vec<String>,
    /// Card fields that were empty and what stands in for them.
    pub stand_ins: Vec<String>,
    /// The language the persona got, and whether it was the default.
    pub language: (String, bool),
    /// Whether the persona is adults-only because the card is marked NSFW.
    pub adults_only: bool,
    /// What the reader ignored or coerced.
    pub warnings: Vec<String>,
}

/// Makes a persona draft from a card read from a file; `fallback_name`
/// names a card without a name (the file's stem).
pub fn persona_from_card(
    read: &ReadCard,
    language: Option<&str>,
    fallback_name: &str,
) -> (Draft, ImportReport) {
    let card = &read.card;
    let mut report = ImportReport {
        warnings: read.warnings.clone(),
        ..ImportReport::default()
    };
    let mut kept = PersonaCard {
        spec: Some(spec_name(read.spec).to_string()),
        ..PersonaCard::default()
    };
    let name = mapped(&mut report, &mut kept, "name", &card.name, "name", || {
        fallback_name.to_string()
    });
    let description = mapped(
        &mut report,
        &mut kept,
        "description",
        &card.description,
        "description",
        || format!("{name}, a character from a Character Card."),
    );
    let voice = mapped(
        &mut report,
        &mut kept,
        "personality",
        &card.personality,
        "voice",
        || format!("Stay true to {name} as described above."),
    );
    let greeting = mapped(
        &mut report,
        &mut kept,
        "first_mes",
        &card.first_mes,
        "greeting",
        || format!("Hello, I'm {name}."),
    );
    let examples = parse_examples(&card.mes_example);
    if !examples.is_empty() {
        let count = match examples.len() {
            1 => "1 exchange".to_string(),
            n => format!("{n} exchanges"),
        };
        report
            .mapped
            .push(format!("mes_example → examples ({count})"));
    }
    if !card.mes_example.trim().is_empty() && render_examples(&examples) != card.mes_example {
        kept.mes_example = Some(card.mes_example.clone());
        report.kept.push("mes_example (as written)".to_string());
    }
    if !card.alternate_greetings.is_empty() {
        report.mapped.push(format!(
            "alternate_greetings → alternate_greetings ({})",
            card.alternate_greetings.len()
        ));
    }
    keep_rest(card, &mut kept, &mut report);
    let book = card
        .character_book
        .as_ref()
        .map(super::book::read_character_book)
        .unwrap_or_default();
    if !book.entries.is_empty() {
        let count = match book.entries.len() {
            1 => "1 entry".to_string(),
            n => format!("{n} entries"),
        };
        report
            .mapped
            .push(format!("character_book → lore ({count})"));
    }
    report.warnings.extend(book.warnings);
    let (language, defaulted) = match language {
        Some(chosen) => (chosen.to_string(), false),
        None => (DEFAULT_LANGUAGE.to_string(), true),
    };
    report.language = (language.clone(), defaulted);
    report.adults_only = is_nsfw(&card.tags, &card.extensions);
    let draft = Draft {
        name,
        description,
        language,
        voice,
        greeting,
        examples,
        adults_only: report.adults_only,
        card: kept,
        alternate_greetings: card.alternate_greetings.clone(),
        lore: book.entries,
        lorebook: book.settings,
    };
    (draft, report)
}

/// Maps one text field, or records it as empty and returns a stand-in.
fn mapped(
    report: &mut ImportReport,
    kept: &mut PersonaCard,
    field: &str,
    value: &str,
    target: &str,
    stand_in: impl FnOnce() -> String,
) -> String {
    if !value.trim().is_empty() {
        report.mapped.push(format!("{field} → {target}"));
        return value.to_string();
    }
    let text = stand_in();
    report
        .stand_ins
        .push(format!("{field} is empty; {target} is \"{text}\""));
    kept.empty.push(field.to_string());
    text
}

/// Moves every field a persona has no place for into `[card]`.
fn keep_rest(card: &Card, kept: &mut PersonaCard, report: &mut ImportReport) {
    let mut text = |field: &str, value: &str, slot: &mut Option<String>| {
        if !value.trim().is_empty() {
            *slot = Some(value.to_string());
            report.kept.push(field.to_string());
        }
    };
    text("scenario", &card.scenario, &mut kept.scenario);
    text(
        "system_prompt",
        &card.system_prompt,
        &mut kept.system_prompt,
    );
    text(
        "post_history_instructions",
        &card.post_history_instructions,
        &mut kept.post_history_instructions,
    );
    text(
        "creator_notes",
        &card.creator_notes,
        &mut kept.creator_notes,
    );
    text("creator", &card.creator, &mut kept.creator);
    text(
        "character_version",
        &card.character_version,
        &mut kept.character_version,
    );
    text(
        "nickname",
        card.nickname.as_deref().unwrap_or_default(),
        &mut kept.nickname,
    );
    kept.tags = card.tags.clone();
    let json = |value: &Value| serde_json::to_string_pretty(value).ok();
    // The entries become [[lore]]; only what they do not say is kept
    // beside them, so a big book is not stored twice.
    match card
        .character_book
        .as_ref()
        .map(|b| (b, super::rest::split(b)))
    {
        Some((_, Some(rest))) => kept.book_rest = Some(super::rest::rest_text(&rest)),
        Some((book, None)) => kept.character_book = json(book),
        None => {}
    }
    let object = |map: &serde_json::Map<String, Value>| {
        (!map.is_empty())
            .then(|| json(&Value::Object(map.clone())))
            .flatten()
    };
    kept.extensions = object(&card.extensions);
    kept.data = object(&card.other);
    kept.outside = object(&card.outside);
    for (field, present) in [
        ("tags", !kept.tags.is_empty()),
        (
            "character_book",
            kept.character_book.is_some() || kept.book_rest.is_some(),
        ),
    ] {
        if present {
            report.kept.push(field.to_string());
        }
    }
    report
        .kept
        .extend(card.extensions.keys().map(|k| format!("extensions.{k}")));
    report
        .kept
        .extend(card.other.keys().map(|k| format!("data.{k}")));
    report.kept.extend(card.outside.keys().cloned());
}

/// The `spec` value of a dialect.
fn spec_name(spec: super::CardSpec) -> &'static str {
    match spec {
        super::CardSpec::V1 => "chara_card_v1",
        super::CardSpec::V2 => "chara_card_v2",
        super::CardSpec::V3 => "chara_card_v3",
    }
}

/// Whether a card is marked NSFW: an `NSFW` tag, or an `nsfw` extension
/// (at the top of `extensions` or in a tool's own object) that is set.
pub fn is_nsfw(tags: &[String], extensions: &serde_json::Map<String, Value>) -> bool {
    let set = |value: &Value| match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
        _ => false,
    };
    let flagged = |map: &serde_json::Map<String, Value>| {
        map.iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("nsfw") && set(v))
    };
    tags.iter().any(|t| t.trim().eq_ignore_ascii_case("nsfw"))
        || flagged(extensions)
        || extensions
            .values()
            .filter_map(Value::as_object)
            .any(flagged)
}

/// The card a persona makes: its own fields, and everything its `[card]`
/// table kept, back where it came from.
pub fn card_from_persona(persona: &Persona) -> Card {
    let kept = persona.card.clone().unwrap_or_default();
    let empty = |field: &str| kept.empty.iter().any(|e| e == field);
    let text = |field: &str, value: &str| {
        if empty(field) {
            String::new()
        } else {
            value.to_string()
        }
    };
    let extensions = PersonaCard::object(kept.extensions.as_deref());
    let mut tags = kept.tags.clone();
    if persona.adults_only && !is_nsfw(&tags, &extensions) {
        tags.push("NSFW".to_string());
    }
    Card {
        name: text("name", &persona.name),
        description: text("description", &persona.description),
        personality: text("personality", &persona.voice),
        first_mes: text("first_mes", &persona.greeting),
        mes_example: kept
            .mes_example
            .clone()
            .unwrap_or_else(|| render_examples(&persona.examples)),
        scenario: kept.scenario.clone().unwrap_or_default(),
        creator_notes: kept.creator_notes.clone().unwrap_or_default(),
        system_prompt: kept.system_prompt.clone().unwrap_or_default(),
        post_history_instructions: kept.post_history_instructions.clone().unwrap_or_default(),
        // Older imports kept them in [card]; a persona's own list wins.
        alternate_greetings: if persona.alternate_greetings.is_empty() {
            kept.alternate_greetings.clone()
        } else {
            persona.alternate_greetings.clone()
        },
        tags,
        creator: kept.creator.clone().unwrap_or_default(),
        character_version: kept.character_version.clone().unwrap_or_default(),
        nickname: kept.nickname.clone(),
        character_book: match kept.rest() {
            Some(rest) => Some(super::rest::join(&rest, &persona.lore, &persona.lorebook)),
            None => super::book::write_character_book(
                &persona.lore,
                &persona.lorebook,
                kept.book().as_ref(),
            ),
        },
        extensions,
        other: PersonaCard::object(kept.data.as_deref()),
        outside: PersonaCard::object(kept.outside.as_deref()),
    }
}

/// Who speaks a line of example dialogue.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Speaker {
    User,
    Character,
}

/// The tags that open a user's line and a character's line.
const USER_TAGS: &[&str] = &["{{user}}:", "<user>:"];
const CHARACTER_TAGS: &[&str] = &["{{char}}:", "<bot>:", "<char>:"];

/// Reads `<START>` blocks of `{{user}}:`/`{{char}}:` lines into example
/// exchanges: each user line answered by a character line is one. Lines
/// without a tag continue the line before; narration before any tag is
/// left out.
pub fn parse_examples(text: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    for block in split_blocks(text) {
        let mut turns: Vec<(Speaker, String)> = Vec::new();
        for line in block.lines() {
            if let Some(rest) = strip_tag(line, USER_TAGS) {
                turns.push((Speaker::User, rest.trim_start().to_string()));
            } else if let Some(rest) = strip_tag(line, CHARACTER_TAGS) {
                turns.push((Speaker::Character, rest.trim_start().to_string()));
            } else if let Some((_, last)) = turns.last_mut() {
                last.push('\n');
                last.push_str(line);
            }
        }
        for pair in turns.windows(2) {
            let [(Speaker::User, user), (Speaker::Character, persona)] = pair else {
                continue;
            };
            let (user, persona) = (user.trim(), persona.trim());
            if !user.is_empty() && !persona.is_empty() {
                examples.push(Example {
                    user: user.to_string(),
                    persona: persona.to_string(),
                });
            }
        }
    }
    examples
}

/// The text of each `<START>` block (the tag matched in any case).
fn split_blocks(text: &str) -> Vec<&str> {
    // ASCII lower-casing keeps every byte offset, so positions found in
    // the lower-cased copy are positions in the text.
    let lower = text.to_ascii_lowercase();
    let mut starts: Vec<usize> = lower.match_indices("<start>").map(|(i, _)| i).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut blocks = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let block = &text[*start..end];
        blocks.push(strip_tag(block, &["<start>"]).unwrap_or(block));
    }
    blocks
}

/// The rest of `line` after one of `tags` (matched in any case).
fn strip_tag<'a>(line: &'a str, tags: &[&str]) -> Option<&'a str> {
    tags.iter().find_map(|tag| {
        let head = line.get(..tag.len())?;
        head.eq_ignore_ascii_case(tag).then(|| &line[tag.len()..])
    })
}

/// Example exchanges as a card's example dialogue.
pub fn render_examples(examples: &[Example]) -> String {
    examples
        .iter()
        .map(|e| {
            format!(
                "<START>\n{{{{user}}}}: {}\n{{{{char}}}}: {}",
                e.user, e.persona
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_dialogue_becomes_exchanges_in_any_case_of_tag() {
        let text = "<START>\n{{user}}: Hi\n{{char}}: Hello!\nHow are you?\n<start>\n*waves*\n<USER>: Bye\n<BOT>: See you";
        let examples = parse_examples(text);
        assert_eq!(examples.len(), 2);
        assert_eq!(examples[0].user, "Hi");
        assert_eq!(examples[0].persona, "Hello!\nHow are you?");
        assert_eq!(examples[1].persona, "See you");
    }

    #[test]
    fn rendered_examples_read_back_the_same() {
        let examples = vec![Example {
            user: "Ça va ?".to_string(),
            persona: "Très bien.".to_string(),
        }];
        assert_eq!(parse_examples(&render_examples(&examples)), examples);
    }

    #[test]
    fn nsfw_is_read_from_tags_and_extensions() {
        let none = serde_json::Map::new();
        assert!(is_nsfw(&["nsfw".to_string()], &none));
        let ext = serde_json::json!({"chub": {"nsfw": "true"}});
        assert!(is_nsfw(&[], ext.as_object().expect("an object")));
        let off = serde_json::json!({"nsfw": false});
        assert!(!is_nsfw(
            &["fantasy".to_string()],
            off.as_object().expect("an object")
        ));
    }
}
