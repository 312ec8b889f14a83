//! Lorebooks as cards carry them: a card's `character_book`, a standalone
//! `lorebook_v3` file and SillyTavern's World Info JSON, read leniently
//! into `[[lore]]` entries, and entries written back as a `character_book`.
//!
//! What a lore entry has no field for (ids, comments, a tool's
//! extensions) stays in the card's kept `character_book` JSON; export
//! writes that JSON back as it was while the entries still read the same,
//! so card → persona → card is exact, and rebuilds the book from the
//! entries once a creator has edited them.

use serde_json::{Map, Value, json};

use crate::persona::lore::{LoreEntry, LorePosition, LoreSettings, SelectiveLogic, regex_problem};

/// A book read into lore: its entries, its settings, and what was coerced
/// or left out on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadBook {
    /// The entries, in the book's order.
    pub entries: Vec<LoreEntry>,
    /// The book's scan depth, budget and recursion.
    pub settings: LoreSettings,
    /// What the reader ignored or read differently from how it was written.
    pub warnings: Vec<String>,
}

/// Characters per token, to turn a card's `token_budget` into a budget in
/// characters (and back): the rough figure for English text.
pub const CHARS_PER_TOKEN: u32 = 4;

/// Reads a `character_book` (or a `lorebook_v3`'s `data`) object.
pub fn read_character_book(book: &Value) -> ReadBook {
    let mut read = ReadBook::default();
    let Some(book) = book.as_object() else {
        read.warnings
            .push("the lorebook is not an object; ignored".to_string());
        return read;
    };
    read.settings = settings(book, &mut read.warnings);
    let entries = match book.get("entries") {
        Some(Value::Array(entries)) => entries.clone(),
        Some(Value::Object(by_key)) => by_key.values().cloned().collect(),
        _ => Vec::new(),
    };
    for (n, entry) in entries.iter().enumerate() {
        match read_entry(entry, n, &mut read.warnings) {
            Some(entry) => read.entries.push(entry),
            None => read.warnings.push(format!(
                "lorebook entry {n} has no content or keys; left out"
            )),
        }
    }
    read
}

/// The `n`th entry of a `character_book` as a lore entry, disabled when its
/// pattern cannot be used; `None` when it has no content.
pub(super) fn read_entry(entry: &Value, n: usize, warnings: &mut Vec<String>) -> Option<LoreEntry> {
    let mut entry = card_entry(entry.as_object()?, n, warnings)?;
    if let Some(problem) = regex_problem(&entry).filter(|_| entry.enabled) {
        warnings.push(format!(
            "lorebook entry {n}: {problem}; the entry is disabled"
        ));
        entry.enabled = false;
    }
    Some(entry)
}

/// Reads a standalone lorebook file: `lorebook_v3` (`{"spec":
/// "lorebook_v3", "data": {…}}`), SillyTavern World Info (`{"entries":
/// {"0": {…}}}`), or a bare `character_book` object.
pub fn read_lorebook(value: &Value) -> Result<ReadBook, String> {
    let Some(top) = value.as_object() else {
        return Err("the lorebook is not a JSON object".to_string());
    };
    if let Some(data) = top.get("data").filter(|d| d.is_object()) {
        return Ok(read_character_book(data));
    }
    match top.get("entries") {
        Some(Value::Object(entries)) if is_world_info(entries) => Ok(read_world_info(entries)),
        Some(Value::Array(_) | Value::Object(_)) => Ok(read_character_book(value)),
        _ => Err(
            "it has no \"entries\": neither a lorebook_v3 file, a character book nor SillyTavern World Info"
                .to_string(),
        ),
    }
}

/// Whether an `entries` object is SillyTavern's World Info (entries with
/// `key`, not `keys`).
fn is_world_info(entries: &Map<String, Value>) -> bool {
    entries
        .values()
        .filter_map(Value::as_object)
        .any(|e| e.contains_key("key") || e.contains_key("uid"))
}

/// Reads SillyTavern World Info entries, in their `order` then `uid`.
fn read_world_info(entries: &Map<String, Value>) -> ReadBook {
    let mut read = ReadBook::default();
    let mut list: Vec<(&String, &Map<String, Value>)> = entries
        .iter()
        .filter_map(|(k, v)| v.as_object().map(|o| (k, o)))
        .collect();
    list.sort_by_key(|(k, e)| {
        (
            number(e.get("uid")).unwrap_or(i64::MAX),
            k.parse::<i64>().ok(),
        )
    });
    for (key, e) in list {
        let content = text(e.get("content"));
        let keys = texts(e.get("key"));
        if content.trim().is_empty() {
            read.warnings
                .push(format!("World Info entry {key} has no content; left out"));
            continue;
        }
        read.entries.push(LoreEntry {
            name: Some(text(e.get("comment"))).filter(|c| !c.trim().is_empty()),
            secondary_keys: if flag(e.get("selective")).unwrap_or(true) {
                texts(e.get("keysecondary"))
            } else {
                Vec::new()
            },
            logic: logic(number(e.get("selectiveLogic"))),
            content,
            case_sensitive: flag(e.get("caseSensitive")).unwrap_or(false),
            whole_words: flag(e.get("matchWholeWords")).unwrap_or(false),
            regex: false,
            constant: flag(e.get("constant")).unwrap_or(false),
            enabled: !flag(e.get("disable")).unwrap_or(false),
            order: number(e.get("order")).unwrap_or(0),
            priority: 0,
            position: match number(e.get("position")) {
                Some(0) => LorePosition::BeforeCharacter,
                _ => LorePosition::AfterCharacter,
            },
            keys,
        });
    }
    read
}

/// The book's scan depth, budget and recursion, numbers read leniently.
fn settings(book: &Map<String, Value>, warnings: &mut Vec<String>) -> LoreSettings {
    let mut settings = LoreSettings::default();
    if let Some(depth) = number(book.get("scan_depth")) {
        match u32::try_from(depth) {
            Ok(depth) if depth >= 1 => settings.scan_depth = depth.min(1_000),
            _ => warnings.push(format!(
                "the lorebook's scan_depth {depth} is not a positive number; used {}",
                settings.scan_depth
            )),
        }
    }
    if let Some(tokens) = number(book.get("token_budget")).and_then(|t| u32::try_from(t).ok()) {
        settings.budget_chars = tokens.saturating_mul(CHARS_PER_TOKEN).clamp(1, 1_000_000);
    }
    settings.recursive = flag(book.get("recursive_scanning")).unwrap_or(false);
    settings
}

/// One `character_book` entry; `None` when it has neither content nor keys.
fn card_entry(e: &Map<String, Value>, n: usize, warnings: &mut Vec<String>) -> Option<LoreEntry> {
    let extensions = e.get("extensions").and_then(Value::as_object);
    let extension = |key: &str| extensions.and_then(|x| x.get(key));
    let content = text(e.get("content"));
    let keys = texts(e.get("keys"));
    if content.trim().is_empty() {
        if !keys.is_empty() {
            warnings.push(format!(
                "lorebook entry {n} has keys but no content; left out"
            ));
        }
        return None;
    }
    let selective = flag(e.get("selective")).unwrap_or(false);
    let position = match e.get("position").and_then(Value::as_str) {
        Some("before_char") => LorePosition::BeforeCharacter,
        _ => LorePosition::AfterCharacter,
    };
    Some(LoreEntry {
        name: [e.get("comment"), e.get("name")]
            .into_iter()
            .map(text)
            .find(|t| !t.trim().is_empty()),
        keys,
        secondary_keys: if selective {
            texts(e.get("secondary_keys"))
        } else {
            Vec::new()
        },
        logic: logic(number(extension("selectiveLogic"))),
        content,
        case_sensitive: flag(e.get("case_sensitive")).unwrap_or(false),
        whole_words: flag(extension("match_whole_words")).unwrap_or(false),
        regex: flag(e.get("use_regex")).unwrap_or(false),
        constant: flag(e.get("constant")).unwrap_or(false),
        enabled: flag(e.get("enabled")).unwrap_or(true),
        order: number(e.get("insertion_order")).unwrap_or(0),
        priority: number(e.get("priority")).unwrap_or(0),
        position,
    })
}

/// SillyTavern's `selectiveLogic` number as a logic.
fn logic(n: Option<i64>) -> SelectiveLogic {
    match n {
        Some(1) => SelectiveLogic::NotAll,
        Some(2) => SelectiveLogic::NotAny,
        Some(3) => SelectiveLogic::AndAll,
        _ => SelectiveLogic::AndAny,
    }
}

/// A logic as SillyTavern's `selectiveLogic` number.
fn logic_number(logic: SelectiveLogic) -> i64 {
    match logic {
        SelectiveLogic::AndAny => 0,
        SelectiveLogic::NotAll => 1,
        SelectiveLogic::NotAny => 2,
        SelectiveLogic::AndAll => 3,
    }
}

/// A text: a string, or a number's or boolean's text; empty otherwise.
fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => crate::terminal::printable(s).into_owned(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        _ => String::new(),
    }
}

/// A list of texts: an array, or one string split at commas.
fn texts(value: Option<&Value>) -> Vec<String> {
    let items: Vec<String> = match value {
        Some(Value::Array(items)) => items.iter().map(|v| text(Some(v))).collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A number: an integer, a float (truncated) or a numeric string.
fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

/// A flag: a boolean, a number (non-zero) or "true"/"false".
fn flag(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The `character_book` for a persona's lore: `kept` (the card's own
/// book) as it was when the entries still read the same from it;
/// otherwise a book built from the entries, keeping `kept`'s other keys
/// and each entry's ids and extensions where the entry is still there.
pub fn write_character_book(
    entries: &[LoreEntry],
    settings: &LoreSettings,
    kept: Option<&Value>,
) -> Option<Value> {
    if let Some(kept) = kept {
        let read = read_character_book(kept);
        if read.entries == entries && read.settings == *settings {
            return Some(kept.clone());
        }
    }
    if entries.is_empty() && kept.is_none() {
        return None;
    }
    let mut book = kept.and_then(Value::as_object).cloned().unwrap_or_default();
    let old: Vec<Value> = match book.get("entries") {
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    };
    apply_settings(&mut book, settings);
    let written = entries
        .iter()
        .enumerate()
        .map(|(n, e)| entry_value(e, n, old.get(n).and_then(Value::as_object)))
        .collect();
    book.insert("entries".into(), Value::Array(written));
    Some(Value::Object(book))
}

/// Writes `settings` into a `character_book`'s own keys.
pub(super) fn apply_settings(book: &mut Map<String, Value>, settings: &LoreSettings) {
    book.insert("scan_depth".into(), json!(settings.scan_depth));
    book.insert(
        "token_budget".into(),
        json!(settings.budget_chars / CHARS_PER_TOKEN),
    );
    book.insert("recursive_scanning".into(), json!(settings.recursive));
    book.entry("extensions").or_insert_with(|| json!({}));
}

/// One entry as a `character_book` entry, over `old`'s keys (its id,
/// comment and extensions) when there was one in its place.
pub(super) fn entry_value(e: &LoreEntry, n: usize, old: Option<&Map<String, Value>>) -> Value {
    let mut out = old.cloned().unwrap_or_default();
    let mut extensions = out
        .get("extensions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (key, value) in extension_fields(e) {
        extensions.insert(key.into(), value);
    }
    let mut fields = entry_fields(e);
    fields.push(("extensions", Value::Object(extensions)));
    for (key, value) in fields {
        out.insert(key.to_string(), value);
    }
    out.entry("id").or_insert_with(|| json!(n));
    match &e.name {
        Some(name) => {
            out.insert("comment".into(), json!(name));
        }
        None => {
            out.remove("comment");
        }
    }
    Value::Object(out)
}

/// The `extensions` keys of a `character_book` entry that a lore entry
/// says: SillyTavern's selective logic and whole-word matching.
pub(super) fn extension_fields(e: &LoreEntry) -> [(&'static str, Value); 2] {
    [
        ("selectiveLogic", json!(logic_number(e.logic))),
        ("match_whole_words", json!(e.whole_words)),
    ]
}

/// The keys of a `character_book` entry that a lore entry says, besides
/// its extensions and its comment (its name).
pub(super) fn entry_fields(e: &LoreEntry) -> Vec<(&'static str, Value)> {
    vec![
        ("keys", json!(e.keys)),
        ("secondary_keys", json!(e.secondary_keys)),
        ("selective", json!(!e.secondary_keys.is_empty())),
        ("content", json!(e.content)),
        ("case_sensitive", json!(e.case_sensitive)),
        ("use_regex", json!(e.regex)),
        ("constant", json!(e.constant)),
        ("enabled", json!(e.enabled)),
        ("insertion_order", json!(e.order)),
        ("priority", json!(e.priority)),
        (
            "position",
            json!(match e.position {
                LorePosition::BeforeCharacter => "before_char",
                LorePosition::AfterCharacter => "after_char",
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_book_is_read_leniently() {
        let book = json!({
            "scan_depth": "6", "token_budget": 100, "recursive_scanning": true,
            "entries": [
                {"keys": "dragon, wyrm", "content": "Dragons.", "enabled": true, "insertion_order": "3",
                 "selective": true, "secondary_keys": ["gold"], "position": "before_char",
                 "extensions": {"selectiveLogic": 2, "match_whole_words": true}, "comment": "dragons"},
                {"keys": ["x"], "content": null},
                {"keys": ["regex"], "content": "R", "use_regex": true, "case_sensitive": null}
            ]
        });
        let read = read_character_book(&book);
        assert_eq!(read.settings.scan_depth, 6);
        assert_eq!(read.settings.budget_chars, 400);
        assert!(read.settings.recursive);
        assert_eq!(read.entries.len(), 2, "{:?}", read.warnings);
        let dragon = &read.entries[0];
        assert_eq!(dragon.keys, ["dragon", "wyrm"]);
        assert_eq!(dragon.logic, SelectiveLogic::NotAny);
        assert_eq!(dragon.order, 3);
        assert!(dragon.whole_words);
        assert_eq!(dragon.position, LorePosition::BeforeCharacter);
        assert_eq!(dragon.name.as_deref(), Some("dragons"));
        assert!(read.entries[1].regex);
        assert!(read.warnings[0].contains("entry 1 has keys but no content"));
    }

    #[test]
    fn world_info_entries_become_lore() {
        let wi = json!({"entries": {
            "1": {"uid": 1, "key": ["castle"], "keysecondary": [], "comment": "Castle",
                  "content": "A ruin.", "constant": false, "order": 100, "position": 0,
                  "disable": false, "selectiveLogic": 0},
            "0": {"uid": 0, "key": ["sun"], "content": "Hot.", "disable": true, "position": 1}
        }});
        let read = read_lorebook(&wi).expect("world info");
        assert_eq!(read.entries.len(), 2);
        assert_eq!(read.entries[0].keys, ["sun"]);
        assert!(!read.entries[0].enabled);
        assert_eq!(read.entries[1].position, LorePosition::BeforeCharacter);
        assert_eq!(read.entries[1].order, 100);
    }

    #[test]
    fn a_lorebook_v3_file_is_read_and_junk_is_refused() {
        let v3 =
            json!({"spec": "lorebook_v3", "data": {"entries": [{"keys": ["a"], "content": "A"}]}});
        assert_eq!(read_lorebook(&v3).expect("v3").entries.len(), 1);
        assert!(read_lorebook(&json!({"hello": 1})).is_err());
        assert!(read_lorebook(&json!([1])).is_err());
    }

    #[test]
    fn an_unchanged_book_is_written_back_as_it_was_and_an_edited_one_is_rebuilt() {
        let book = json!({"name": "N", "scan_depth": 50,
            "entries": [{"keys": ["north"], "content": "Cold.", "id": 7, "position": null,
                         "extensions": {"x": 1}}]});
        let read = read_character_book(&book);
        assert_eq!(
            write_character_book(&read.entries, &read.settings, Some(&book)),
            Some(book.clone())
        );
        let mut edited = read.entries.clone();
        edited[0].content = "Very cold.".to_string();
        let written = write_character_book(&edited, &read.settings, Some(&book)).expect("a book");
        assert_eq!(written["name"], "N");
        assert_eq!(written["entries"][0]["content"], "Very cold.");
        assert_eq!(written["entries"][0]["id"], 7);
        assert_eq!(written["entries"][0]["extensions"]["x"], 1);
        let again = read_character_book(&written);
        assert_eq!(again.entries, edited);
        assert_eq!(again.settings, read.settings);
    }
}
