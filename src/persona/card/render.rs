//! A persona draft written as a persona file (TOML), in the order a
//! creator reads one: who the persona is, its examples, then what the
//! card kept aside.

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use super::PersonaCard;
use super::mapping::Draft;
use crate::persona::lore::{LoreEntry, LorePosition, LoreSettings, SelectiveLogic};

/// The persona file for `draft`, headed by a comment naming its source.
pub fn persona_toml(draft: &Draft, source: &str) -> String {
    let mut doc = DocumentMut::new();
    doc["name"] = value(draft.name.as_str());
    doc["description"] = value(draft.description.as_str());
    doc["language"] = value(draft.language.as_str());
    doc["voice"] = value(draft.voice.as_str());
    doc["greeting"] = value(draft.greeting.as_str());
    if !draft.alternate_greetings.is_empty() {
        doc["alternate_greetings"] = value(
            draft
                .alternate_greetings
                .iter()
                .map(String::as_str)
                .collect::<toml_edit::Array>(),
        );
    }
    if draft.adults_only {
        doc["adults_only"] = value(true);
    }
    if !draft.examples.is_empty() {
        let mut examples = ArrayOfTables::new();
        for example in &draft.examples {
            let mut table = Table::new();
            table["user"] = value(example.user.as_str());
            table["persona"] = value(example.persona.as_str());
            examples.push(table);
        }
        doc["examples"] = Item::ArrayOfTables(examples);
    }
    if draft.lorebook != LoreSettings::default() {
        doc["lorebook"] = Item::Table(lorebook_table(&draft.lorebook));
    }
    if !draft.lore.is_empty() {
        doc["lore"] = Item::ArrayOfTables(lore_tables(&draft.lore));
    }
    doc["card"] = Item::Table(card_table(&draft.card));
    let source = source.replace(['\n', '\r'], " ");
    format!(
        "# Imported from the Character Card {source} by `troupe personas import`.\n# [card] keeps what the card holds that a persona has no field for; `troupe personas export` writes it back.\n{doc}"
    )
}

/// The `[card]` table: every kept value that is set.
fn card_table(card: &PersonaCard) -> Table {
    let mut table = Table::new();
    let texts = [
        ("spec", &card.spec),
        ("scenario", &card.scenario),
        ("system_prompt", &card.system_prompt),
        ("post_history_instructions", &card.post_history_instructions),
        ("creator_notes", &card.creator_notes),
        ("creator", &card.creator),
        ("character_version", &card.character_version),
        ("nickname", &card.nickname),
        ("mes_example", &card.mes_example),
    ];
    for (key, text) in texts {
        if let Some(text) = text {
            table[key] = value(text.as_str());
        }
    }
    let lists = [
        ("alternate_greetings", &card.alternate_greetings),
        ("tags", &card.tags),
        ("empty", &card.empty),
    ];
    for (key, list) in lists {
        if !list.is_empty() {
            table[key] = value(
                list.iter()
                    .map(String::as_str)
                    .collect::<toml_edit::Array>(),
            );
        }
    }
    let objects = [
        ("character_book", &card.character_book),
        ("book_rest", &card.book_rest),
        ("extensions", &card.extensions),
        ("data", &card.data),
        ("outside", &card.outside),
    ];
    for (key, json) in objects {
        if let Some(json) = json {
            table[key] = value(json.as_str());
        }
    }
    table
}

/// A lore file (`ID.lore.toml`) holding `entries`, headed by a comment
/// naming the lorebooks they came from.
pub fn lore_toml(
    entries: &[LoreEntry],
    settings: &LoreSettings,
    sources: &[std::path::PathBuf],
) -> String {
    let mut doc = DocumentMut::new();
    doc["lorebook"] = Item::Table(lorebook_table(settings));
    if !entries.is_empty() {
        doc["lore"] = Item::ArrayOfTables(lore_tables(entries));
    }
    let names: Vec<String> = sources
        .iter()
        .map(|p| {
            p.file_name()
                .map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
                .replace(['\n', '\r'], " ")
        })
        .collect();
    format!(
        "# Lore imported from {} by `troupe personas import --lore-for`.\n# Loaded with the persona file of the same name; its entries follow the persona file's own [[lore]].\n{doc}",
        names.join(", ")
    )
}

/// The `[lorebook]` table.
pub fn lorebook_table(settings: &LoreSettings) -> Table {
    let mut table = Table::new();
    table["scan_depth"] = value(i64::from(settings.scan_depth));
    table["budget_chars"] = value(i64::from(settings.budget_chars));
    table["recursive"] = value(settings.recursive);
    table
}

/// `[[lore]]` tables, each with the keys that differ from the defaults.
pub fn lore_tables(entries: &[LoreEntry]) -> ArrayOfTables {
    let mut tables = ArrayOfTables::new();
    for entry in entries {
        let mut table = Table::new();
        if let Some(name) = &entry.name {
            table["name"] = value(name.as_str());
        }
        let list = |items: &[String]| {
            value(
                items
                    .iter()
                    .map(String::as_str)
                    .collect::<toml_edit::Array>(),
            )
        };
        table["keys"] = list(&entry.keys);
        if !entry.secondary_keys.is_empty() {
            table["secondary_keys"] = list(&entry.secondary_keys);
            let logic = match entry.logic {
                SelectiveLogic::AndAny => "and_any",
                SelectiveLogic::AndAll => "and_all",
                SelectiveLogic::NotAny => "not_any",
                SelectiveLogic::NotAll => "not_all",
            };
            table["logic"] = value(logic);
        }
        table["content"] = value(entry.content.as_str());
        let flags = [
            ("case_sensitive", entry.case_sensitive, false),
            ("whole_words", entry.whole_words, false),
            ("regex", entry.regex, false),
            ("constant", entry.constant, false),
            ("enabled", entry.enabled, true),
        ];
        for (key, set, default) in flags {
            if set != default {
                table[key] = value(set);
            }
        }
        for (key, number) in [("order", entry.order), ("priority", entry.priority)] {
            if number != 0 {
                table[key] = value(number);
            }
        }
        if entry.position == LorePosition::BeforeCharacter {
            table["position"] = value("before_character");
        }
        tables.push(table);
    }
    tables
}
