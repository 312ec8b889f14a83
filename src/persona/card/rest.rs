//! A card's lorebook stored once: the `[[lore]]` entries, plus the book's
//! rest (`[card] book_rest`), which holds only what the entries do not
//! say: the book's own keys (name, description, extensions, settings as
//! written) and, per entry, its id, comment and extensions, any key Troupe
//! does not read, and any value written in a form the entry cannot give
//! back (a number as a string, keys as one comma-separated text…).
//!
//! Export joins the two: each entry's keys from the `[[lore]]` entry, over
//! its rest. An entry that no longer reads the same as it did with its
//! rest's values (it was edited) takes the entry's values instead. Entries
//! the import left out (no content) are kept whole, with their place in
//! the book, so an unedited book comes back exactly as it was.
//!
//! The split is checked when it is made: a book whose join would not give
//! it back exactly (entries keyed by name, not listed) is kept whole in
//! `[card] character_book` instead, as imports did before.

use serde_json::{Map, Value, json};

use super::book::{
    apply_settings, entry_fields, entry_value, extension_fields, read_character_book, read_entry,
};
use crate::persona::lore::{LoreEntry, LoreSettings};

/// The key of an entry's rest listing the keys the entry says but the
/// card's entry did not have (`extensions.KEY` for one in `extensions`).
const ABSENT: &str = "troupe_absent";

/// The key of the book's rest holding the entries the import left out,
/// each as `[place, entry]`.
const LEFT_OUT: &str = "troupe_left_out";

/// The rest of `book` once its entries are `[[lore]]`; `None` when it
/// cannot be split exactly (keep it whole then).
pub fn split(book: &Value) -> Option<Value> {
    let object = book.as_object()?;
    let Some(Value::Array(entries)) = object.get("entries") else {
        return None;
    };
    if object.contains_key(LEFT_OUT) {
        return None;
    }
    let mut rests = Vec::new();
    let mut left_out = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        match read_entry(entry, n, &mut Vec::new()) {
            Some(lore) => rests.push(entry_rest(entry.as_object()?, &lore)?),
            None => left_out.push(json!([n, entry])),
        }
    }
    let mut rest = object.clone();
    rest.insert("entries".into(), Value::Array(rests));
    if !left_out.is_empty() {
        rest.insert(LEFT_OUT.into(), Value::Array(left_out));
    }
    let rest = Value::Object(rest);
    let read = read_character_book(book);
    (join(&rest, &read.entries, &read.settings) == *book).then_some(rest)
}

/// The `character_book` that `entries` and `settings` make over `rest`.
pub fn join(rest: &Value, entries: &[LoreEntry], settings: &LoreSettings) -> Value {
    let mut book = rest.as_object().cloned().unwrap_or_default();
    let left_out = match book.remove(LEFT_OUT) {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    let rests = match book.get("entries") {
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    };
    let mut written: Vec<Value> = entries
        .iter()
        .enumerate()
        .map(|(n, e)| joined_entry(e, n, rests.get(n).and_then(Value::as_object)))
        .collect();
    for item in left_out {
        if let Some([place, entry]) = item.as_array().map(Vec::as_slice)
            && let Some(place) = place.as_u64().map(|p| p as usize)
        {
            written.insert(place.min(written.len()), entry.clone());
        }
    }
    book.insert("entries".into(), Value::Array(written));
    let mut book = Value::Object(book);
    if read_character_book(&book).settings != *settings
        && let Some(object) = book.as_object_mut()
    {
        apply_settings(object, settings);
    }
    book
}

/// `rest` as the text `[card] book_rest` holds: the book's own keys, then
/// one line per entry, so a big book's rest stays small and can be read
/// entry by entry.
pub fn rest_text(rest: &Value) -> String {
    let Some(object) = rest.as_object() else {
        return rest.to_string();
    };
    let mut lines = Vec::new();
    for (key, value) in object {
        match value {
            Value::Array(items) if key == "entries" || key == LEFT_OUT => {
                let items: Vec<String> = items.iter().map(|i| format!("    {i}")).collect();
                lines.push(format!("  {}: [\n{}\n  ]", json!(key), items.join(",\n")));
            }
            _ => lines.push(format!("  {}: {value}", json!(key))),
        }
    }
    format!("{{\n{}\n}}", lines.join(",\n"))
}

/// What `entry` holds beyond what `lore` (read from it) says; `None` when
/// it uses the key this module marks absent keys with.
fn entry_rest(entry: &Map<String, Value>, lore: &LoreEntry) -> Option<Value> {
    if entry.contains_key(ABSENT) {
        return None;
    }
    let mut rest = entry.clone();
    let mut absent = Vec::new();
    let mut said = entry_fields(lore);
    if let Some(name) = &lore.name {
        said.push(("comment", json!(name)));
    }
    for (key, value) in said {
        match entry.get(key) {
            Some(written) if *written == value => {
                rest.remove(key);
            }
            Some(_) => {}
            None => absent.push(key.to_string()),
        }
    }
    match rest.get_mut("extensions").and_then(Value::as_object_mut) {
        Some(extensions) => {
            for (key, value) in extension_fields(lore) {
                match extensions.get(key) {
                    Some(written) if *written == value => {
                        extensions.remove(key);
                    }
                    Some(_) => {}
                    None => absent.push(format!("extensions.{key}")),
                }
            }
        }
        None if !entry.contains_key("extensions") => absent.push("extensions".to_string()),
        None => {}
    }
    if !absent.is_empty() {
        rest.insert(ABSENT.into(), json!(absent));
    }
    Some(Value::Object(rest))
}

/// Entry `n` of the book: `lore`'s keys over `rest`, as the card wrote
/// them when the entry still reads the same that way; otherwise rebuilt
/// from `lore` over `rest`'s id, comment and extensions.
fn joined_entry(lore: &LoreEntry, n: usize, rest: Option<&Map<String, Value>>) -> Value {
    let Some(rest) = rest else {
        return entry_value(lore, n, None);
    };
    let mut entry = rest.clone();
    let absent: Vec<String> = match entry.remove(ABSENT) {
        Some(Value::Array(keys)) => keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let is_absent = |key: &str| absent.iter().any(|a| a == key);
    let mut said = entry_fields(lore);
    if let Some(name) = &lore.name {
        said.push(("comment", json!(name)));
    }
    for (key, value) in said {
        if !is_absent(key) {
            entry.entry(key).or_insert(value);
        }
    }
    if !is_absent("extensions") {
        let extensions = entry.entry("extensions").or_insert_with(|| json!({}));
        if let Some(extensions) = extensions.as_object_mut() {
            for (key, value) in extension_fields(lore) {
                if !is_absent(&format!("extensions.{key}")) {
                    extensions.entry(key).or_insert(value);
                }
            }
        }
    }
    let entry = Value::Object(entry);
    if read_entry(&entry, n, &mut Vec::new()).as_ref() == Some(lore) {
        return entry;
    }
    let mut kept = rest.clone();
    kept.remove(ABSENT);
    entry_value(lore, n, Some(&kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Value {
        json!({"name": "Marches", "scan_depth": 4, "extensions": {"tool": 1}, "entries": [
            {"id": 7, "keys": "north, cold", "content": "The north is cold.", "enabled": true,
             "insertion_order": 10, "comment": "North", "extensions": {"selectiveLogic": 0, "depth": 4}},
            {"keys": ["empty"], "content": ""},
            {"uid": "x", "keys": ["south"], "content": "The south is warm.", "priority": "5",
             "position": "after_char", "constant": false}
        ]})
    }

    #[test]
    fn a_book_is_split_into_what_the_entries_do_not_say_and_joined_back_exactly() {
        let book = book();
        let rest = split(&book).expect("an entry list splits");
        let text = rest.to_string();
        assert!(
            !text.contains("The north is cold"),
            "content is stored once: {text}"
        );
        assert!(
            text.contains("\"depth\":4") && text.contains("\"uid\":\"x\""),
            "{text}"
        );
        assert!(
            text.contains("north, cold"),
            "keys written as text are kept: {text}"
        );
        let read = read_character_book(&book);
        assert_eq!(join(&rest, &read.entries, &read.settings), book);
        let text = rest_text(&rest);
        assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(rest));
        assert!(
            text.contains("\n    {\"extensions\":{\"depth\":4},\"id\":7"),
            "{text}"
        );
    }

    #[test]
    fn an_edited_entry_is_written_from_the_entry_keeping_its_id_and_extensions() {
        let rest = split(&book()).expect("splits");
        let mut read = read_character_book(&book());
        read.entries[0].keys = vec!["snow".to_string()];
        read.entries[0].content = "Snow falls.".to_string();
        let joined = join(&rest, &read.entries, &read.settings);
        let first = &joined["entries"][0];
        assert_eq!(first["keys"], json!(["snow"]));
        assert_eq!(first["content"], "Snow falls.");
        assert_eq!(
            (&first["id"], &first["extensions"]["depth"]),
            (&json!(7), &json!(4))
        );
        assert_eq!(
            joined["entries"][1],
            json!({"keys": ["empty"], "content": ""})
        );
        assert_eq!(joined["entries"][2]["content"], "The south is warm.");
    }

    #[test]
    fn entries_keyed_by_name_are_not_split() {
        let book = json!({"entries": {"0": {"keys": ["a"], "content": "A"}}});
        assert_eq!(split(&book), None);
    }
}
