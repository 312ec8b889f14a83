//! The JSON of a card, read leniently and written as V2 or V3.
//!
//! Reading goes through a `serde_json::Value` and takes each field with a
//! tolerant reader: a missing field or a `null` is empty, a number where
//! text belongs becomes its text, a single string where a list belongs
//! becomes a list, and anything else is ignored with a warning. Keys the
//! card format does not define are kept, so nothing is lost on the way
//! back out.

use serde_json::{Map, Value};

use super::{Card, CardError, CardSpec, ReadCard};

/// The fields V1 cards hold at the top level, which V2 and V3 writers copy
/// beside `data` for old readers.
const V1_FIELDS: &[&str] = &[
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
];

/// Reads a card from JSON text.
pub fn read_slice(bytes: &[u8]) -> Result<ReadCard, CardError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| CardError::Json(e.to_string()))?;
    read_value(value)
}

/// Reads a card from parsed JSON: V2 or V3 when it has a `data` object,
/// V1 when its fields are at the top level.
pub fn read_value(value: Value) -> Result<ReadCard, CardError> {
    let Value::Object(mut top) = value else {
        return Err(CardError::NotACard(
            "the JSON is not an object with the character's fields".to_string(),
        ));
    };
    let mut warnings = Vec::new();
    let spec_text = top.remove("spec").unwrap_or(Value::Null);
    top.remove("spec_version");
    if spec_text.as_str() == Some("lorebook_v3") {
        return Err(not_a_card_but_lore());
    }
    let data = match top.remove("data") {
        Some(Value::Object(data)) => Some(data),
        Some(Value::Null) | None => None,
        Some(other) => {
            warnings.push(format!(
                "\"data\" is {}, not an object; read the top-level fields instead",
                kind(&other)
            ));
            None
        }
    };
    let (spec, card) = match data {
        Some(data) => {
            let spec = nested_spec(&spec_text, &mut warnings);
            (spec, nested(data, top, &mut warnings))
        }
        None => {
            if top.contains_key("entries") {
                return Err(not_a_card_but_lore());
            }
            if !V1_FIELDS.iter().any(|f| top.contains_key(*f)) {
                return Err(CardError::NotACard(
                    "it has no \"data\" object and none of a card's fields (name, description, personality, first_mes, …)".to_string(),
                ));
            }
            if !spec_text.is_null() {
                warnings.push(format!(
                    "the card says spec {spec_text} but has no \"data\" object; read it as V1"
                ));
            }
            let mut fields = Fields::new(top, "", &mut warnings);
            let card = fields.card();
            (CardSpec::V1, card)
        }
    };
    Ok(ReadCard {
        card,
        spec,
        warnings,
    })
}

/// The refusal of a lorebook given as a card, saying how to import it.
fn not_a_card_but_lore() -> CardError {
    CardError::NotACard(
        "it is a lorebook; import it into a persona with `troupe personas import FILE --lore-for ID`"
            .to_string(),
    )
}

/// The dialect a card with a `data` object declares.
fn nested_spec(spec: &Value, warnings: &mut Vec<String>) -> CardSpec {
    match spec.as_str() {
        Some("chara_card_v3") => CardSpec::V3,
        Some("chara_card_v2") => CardSpec::V2,
        _ => {
            warnings.push(format!(
                "unknown spec {spec}; read as a V2 card since it has a \"data\" object"
            ));
            CardSpec::V2
        }
    }
}

/// Reads the fields under `data`; the top-level copies fill only fields
/// `data` lacks, and other top-level keys are kept.
fn nested(
    mut data: Map<String, Value>,
    mut top: Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Card {
    for field in V1_FIELDS {
        let Some(copy) = top.remove(*field) else {
            continue;
        };
        let inner = data.get(*field).filter(|v| !is_blank(v));
        match inner {
            None if !is_blank(&copy) => {
                warnings.push(format!(
                    "data.{field} is missing; used the top-level \"{field}\" instead"
                ));
                data.insert((*field).to_string(), copy);
            }
            Some(inner) if !is_blank(&copy) && *inner != copy => warnings.push(format!(
                "the top-level \"{field}\" differs from data.{field}; used data.{field}"
            )),
            _ => {}
        }
    }
    let mut fields = Fields::new(data, "data.", warnings);
    let mut card = fields.card();
    card.outside = top;
    card
}

/// Whether a value says nothing: null or blank text.
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A value's kind, in words, for warnings.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A card's fields being taken out of an object one by one; what is left
/// at the end is kept as it was.
struct Fields<'a> {
    /// The keys not taken yet.
    map: Map<String, Value>,
    /// `data.` for V2 and V3, empty for V1: how warnings name a field.
    prefix: &'static str,
    /// Where warnings go.
    warnings: &'a mut Vec<String>,
}

impl<'a> Fields<'a> {
    fn new(map: Map<String, Value>, prefix: &'static str, warnings: &'a mut Vec<String>) -> Self {
        Self {
            map,
            prefix,
            warnings,
        }
    }

    /// Takes every field of a card; the rest becomes [`Card::other`].
    fn card(&mut self) -> Card {
        let mut card = Card {
            name: self.text("name"),
            description: self.text("description"),
            personality: self.text("personality"),
            scenario: self.text("scenario"),
            first_mes: self.text("first_mes"),
            mes_example: self.text("mes_example"),
            creator_notes: self.text("creator_notes"),
            system_prompt: self.text("system_prompt"),
            post_history_instructions: self.text("post_history_instructions"),
            alternate_greetings: self.list("alternate_greetings", false),
            tags: self.list("tags", true),
            creator: self.text("creator"),
            character_version: self.text("character_version"),
            nickname: Some(self.text("nickname")).filter(|n| !n.is_empty()),
            character_book: self.book(),
            extensions: self.extensions(),
            ..Card::default()
        };
        card.other = std::mem::take(&mut self.map);
        card
    }

    fn warn(&mut self, key: &str, what: String) {
        self.warnings.push(format!("{}{key} {what}", self.prefix));
    }

    /// A text field: null or missing is empty, a number or a boolean is
    /// read as its text, anything else is ignored.
    fn text(&mut self, key: &str) -> String {
        match self.map.remove(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => self.printable(key, text),
            Some(scalar @ (Value::Number(_) | Value::Bool(_))) => {
                let text = scalar.to_string();
                self.warn(
                    key,
                    format!("is {}; read as the text \"{text}\"", kind(&scalar)),
                );
                text
            }
            Some(other) => {
                self.warn(key, format!("is {}, not text; ignored", kind(&other)));
                String::new()
            }
        }
    }

    /// `text` without the characters that never reach a terminal (control
    /// characters but newlines and tabs, bidirectional controls), which no
    /// persona text may hold; says so when there were any.
    fn printable(&mut self, key: &str, text: String) -> String {
        match crate::terminal::printable(&text) {
            std::borrow::Cow::Borrowed(_) => text,
            std::borrow::Cow::Owned(clean) => {
                self.warn(
                    key,
                    "holds control or bidirectional characters, which no persona text may hold; removed".to_string(),
                );
                clean
            }
        }
    }

    /// A list of texts: null or missing is empty; a single text is one
    /// item (or, for tags, split at commas); empty items are dropped.
    fn list(&mut self, key: &str, split_commas: bool) -> Vec<String> {
        let items = match self.map.remove(key) {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(Value::String(text)) if split_commas => {
                self.warn(key, "is text, not a list; split at commas".to_string());
                text.split(',')
                    .map(|t| Value::String(t.trim().to_string()))
                    .collect()
            }
            Some(Value::String(text)) => {
                self.warn(
                    key,
                    "is text, not a list; read as a list of one".to_string(),
                );
                vec![Value::String(text)]
            }
            Some(other) => {
                self.warn(key, format!("is {}, not a list; ignored", kind(&other)));
                return Vec::new();
            }
        };
        let mut texts = Vec::new();
        for item in items {
            match item {
                Value::String(text) if text.trim().is_empty() => {
                    self.warn(key, "holds an empty item; dropped".to_string());
                }
                Value::String(text) => {
                    let text = self.printable(key, text);
                    texts.push(text);
                }
                Value::Number(n) => texts.push(n.to_string()),
                Value::Null => {}
                other => self.warn(key, format!("holds {}; dropped", kind(&other))),
            }
        }
        texts
    }

    /// The lorebook, kept whole when it is an object.
    fn book(&mut self) -> Option<Value> {
        match self.map.remove("character_book") {
            None | Some(Value::Null) => None,
            Some(book @ Value::Object(_)) => Some(book),
            Some(other) => {
                self.warn(
                    "character_book",
                    format!("is {}, not an object; ignored", kind(&other)),
                );
                None
            }
        }
    }

    /// The extensions object, kept whole.
    fn extensions(&mut self) -> Map<String, Value> {
        match self.map.remove("extensions") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(extensions)) => extensions,
            Some(other) => {
                self.warn(
                    "extensions",
                    format!("is {}, not an object; ignored", kind(&other)),
                );
                Map::new()
            }
        }
    }
}

/// A card as V2 or V3 JSON. A V2 card also carries the V1 fields at the
/// top level for old readers; every kept key goes back where it was.
pub fn to_value(card: &Card, spec: CardSpec) -> Value {
    let mut data = Map::new();
    let text = |t: &str| Value::String(t.to_string());
    let list = |l: &[String]| Value::Array(l.iter().map(|t| text(t)).collect());
    data.insert("name".into(), text(&card.name));
    data.insert("description".into(), text(&card.description));
    data.insert("personality".into(), text(&card.personality));
    data.insert("scenario".into(), text(&card.scenario));
    data.insert("first_mes".into(), text(&card.first_mes));
    data.insert("mes_example".into(), text(&card.mes_example));
    data.insert("creator_notes".into(), text(&card.creator_notes));
    data.insert("system_prompt".into(), text(&card.system_prompt));
    data.insert(
        "post_history_instructions".into(),
        text(&card.post_history_instructions),
    );
    data.insert(
        "alternate_greetings".into(),
        list(&card.alternate_greetings),
    );
    data.insert("tags".into(), list(&card.tags));
    data.insert("creator".into(), text(&card.creator));
    data.insert("character_version".into(), text(&card.character_version));
    data.insert("extensions".into(), Value::Object(card.extensions.clone()));
    if let Some(book) = &card.character_book {
        data.insert("character_book".into(), book.clone());
    }
    if let Some(nickname) = &card.nickname {
        data.insert("nickname".into(), text(nickname));
    }
    for (key, value) in &card.other {
        data.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let mut top = Map::new();
    let (name, version) = match spec {
        CardSpec::V3 => {
            data.entry("group_only_greetings")
                .or_insert_with(|| Value::Array(Vec::new()));
            ("chara_card_v3", "3.0")
        }
        CardSpec::V1 | CardSpec::V2 => {
            for field in V1_FIELDS {
                if let Some(value) = data.get(*field) {
                    top.insert((*field).to_string(), value.clone());
                }
            }
            ("chara_card_v2", "2.0")
        }
    };
    for (key, value) in &card.outside {
        top.entry(key.clone()).or_insert_with(|| value.clone());
    }
    top.insert("spec".into(), text(name));
    top.insert("spec_version".into(), text(version));
    top.insert("data".into(), Value::Object(data));
    Value::Object(top)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(value: Value) -> ReadCard {
        read_value(value).expect("a card")
    }

    #[test]
    fn a_v1_card_is_read_from_its_top_level_fields() {
        let read = read(json!({"name": "Ada", "description": "A tinkerer.", "first_mes": "Hi!"}));
        assert_eq!(read.spec, CardSpec::V1);
        assert_eq!(read.card.name, "Ada");
        assert_eq!(read.card.first_mes, "Hi!");
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    }

    #[test]
    fn nulls_numbers_and_strings_in_the_wrong_places_are_read_with_warnings() {
        let read = read(json!({
            "spec": "chara_card_v2",
            "data": {
                "name": "Ada", "description": null, "character_version": 2,
                "tags": "fantasy, robots", "alternate_greetings": null,
                "extensions": null, "character_book": null, "scenario": {"x": 1}
            }
        }));
        assert_eq!(read.card.description, "");
        assert_eq!(read.card.character_version, "2");
        assert_eq!(read.card.tags, ["fantasy", "robots"]);
        assert!(read.card.extensions.is_empty());
        assert_eq!(read.card.character_book, None);
        let warnings = read.warnings.join("\n");
        assert!(
            warnings.contains("data.character_version is a number; read as the text \"2\""),
            "{warnings}"
        );
        assert!(
            warnings.contains("data.tags is text, not a list; split at commas"),
            "{warnings}"
        );
        assert!(
            warnings.contains("data.scenario is an object, not text; ignored"),
            "{warnings}"
        );
    }

    #[test]
    fn top_level_copies_fill_gaps_and_lose_to_data_when_they_differ() {
        let read = read(json!({
            "spec": "chara_card_v2", "name": "Old", "first_mes": "Hello", "avatar": "none",
            "data": {"name": "New", "description": "d"}
        }));
        assert_eq!(read.card.name, "New");
        assert_eq!(read.card.first_mes, "Hello");
        assert_eq!(read.card.outside.get("avatar"), Some(&json!("none")));
        let warnings = read.warnings.join("\n");
        assert!(warnings.contains("the top-level \"name\" differs from data.name; used data.name"));
        assert!(warnings.contains("data.first_mes is missing; used the top-level \"first_mes\""));
    }

    #[test]
    fn unknown_keys_and_extensions_survive_a_write_and_a_read() {
        let original = json!({
            "spec": "chara_card_v3", "spec_version": "3.0",
            "data": {
                "name": "Ada", "description": "d", "personality": "", "scenario": "",
                "first_mes": "hi", "mes_example": "", "creator_notes": "", "system_prompt": "",
                "post_history_instructions": "", "alternate_greetings": [], "tags": [],
                "creator": "", "character_version": "", "group_only_greetings": [],
                "extensions": {"chub": {"expressions": null, "id": 7}},
                "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
                "nickname": "Addy"
            }
        });
        let read = read(original.clone());
        assert_eq!(to_value(&read.card, CardSpec::V3), original);
    }

    #[test]
    fn what_is_not_a_card_is_refused() {
        assert!(matches!(
            read_value(json!([1, 2])),
            Err(CardError::NotACard(_))
        ));
        assert!(matches!(
            read_value(json!({"hello": "world"})),
            Err(CardError::NotACard(_))
        ));
        assert!(matches!(read_slice(b"{oops"), Err(CardError::Json(_))));
    }
}
