//! A persona draft written as a persona file (TOML), in the order a
//! creator reads one: who the persona is, its examples, then what the
//! card kept aside.

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use super::PersonaCard;
use super::mapping::Draft;

/// The persona file for `draft`, headed by a comment naming its source.
pub fn persona_toml(draft: &Draft, source: &str) -> String {
    let mut doc = DocumentMut::new();
    doc["name"] = value(draft.name.as_str());
    doc["description"] = value(draft.description.as_str());
    doc["language"] = value(draft.language.as_str());
    doc["voice"] = value(draft.voice.as_str());
    doc["greeting"] = value(draft.greeting.as_str());
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
