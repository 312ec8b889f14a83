//! The commented `troupe.toml` that `troupe init` writes, generated from the
//! config's own schema ([`CONFIG_FIELDS`]) and defaults ([`Config::default`]):
//! it lists every key the config reads, with the value Troupe uses when the
//! key is left out, so it cannot drift from either.
//!
//! Its lines follow three conventions (the tests rely on them):
//! - `# key = value` and `# [table]`: a setting at its default; removing the
//!   `# ` changes nothing until the value is edited;
//! - `#   key = value` (indented): an example, for a setting with no default
//!   (a backend, a webhook) or whose default is computed elsewhere;
//! - any other `# ` line: an explanation.

use serde_json::Value;

use super::config_docs::{Doc, docs};
use crate::config::{CONFIG_FIELDS, Config};
use crate::schema::{Field, Shape};
#[cfg(test)]
use crate::server::config::WebhookConfig;

/// What the file says before its settings.
const PREAMBLE: &str = "\
# troupe.toml: the deployment config of this Troupe project.
#
# Every setting is listed with its default, commented out: remove the \"# \"
# in front of a setting (and of its [table] line) to change it. Settings
# with no default show an indented example instead: copy it without the \"#\".
# API keys never go in this file: a backend names the environment variable
# that holds its key. `troupe doctor` checks this file, and every problem is
# reported as file:line:column.
";

/// The commented `troupe.toml`: every key of the config, at its default or
/// with an example.
pub fn config_template() -> String {
    // Serializing plain data with derived impls cannot fail.
    let defaults = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
    let mut writer = Writer {
        docs: docs(),
        out: String::from(PREAMBLE),
    };
    writer.table("", CONFIG_FIELDS, &defaults);
    writer.out
}

/// Writes the template, table by table.
struct Writer {
    /// Every key's explanation.
    docs: Vec<Doc>,
    /// The text so far.
    out: String,
}

/// How wide explanations are wrapped.
const WIDTH: usize = 78;

impl Writer {
    fn doc(&self, path: &str) -> Option<&Doc> {
        self.docs.iter().find(|d| d.path == path)
    }

    /// Writes an explanation, wrapped, each line behind `prefix`.
    fn explain(&mut self, prefix: &str, text: &str) {
        let mut line = String::new();
        for word in text.split_whitespace() {
            if !line.is_empty() && prefix.len() + line.len() + 1 + word.len() > WIDTH {
                self.out.push_str(&format!("{prefix}{line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            self.out.push_str(&format!("{prefix}{line}\n"));
        }
    }

    /// The keys of table `path` (empty at the top): plain settings first, so
    /// that uncommenting one never lands it in a sub-table, then sub-tables.
    fn table(&mut self, path: &str, fields: &[Field], defaults: &Value) {
        for field in fields.iter().filter(|f| !is_table(f.shape)) {
            let key = join(path, field.name);
            self.out.push('\n');
            self.setting(&key, field, defaults.get(field.name));
        }
        for field in fields.iter().filter(|f| is_table(f.shape)) {
            let key = join(path, field.name);
            let text = self.doc(&key).map(|d| d.text.clone()).unwrap_or_default();
            self.out.push('\n');
            self.explain("# ", &text);
            match field.shape {
                // A table that is off unless written (`[safety.moderation]`):
                // an example, every key with its explanation.
                Shape::Table(inner) if defaults.get(field.name).is_none_or(Value::is_null) => {
                    self.table_example(&key, inner);
                }
                Shape::Table(inner) => {
                    self.out.push_str(&format!("# [{key}]\n"));
                    let empty = Value::Null;
                    self.table(&key, inner, defaults.get(field.name).unwrap_or(&empty));
                }
                Shape::NamedTables(inner) | Shape::LanguageTables(inner) => {
                    self.named_example(&key, field.shape, inner);
                }
                _ => {}
            }
        }
    }

    /// One key: its explanation, then the key at its default, or an example.
    fn setting(&mut self, key: &str, field: &Field, default: Option<&Value>) {
        let (text, example) = match self.doc(key) {
            Some(d) => (d.text.clone(), d.example.clone()),
            None => (String::new(), None),
        };
        self.explain("# ", &format!("{text}{}", allowed(field.shape)));
        let name = field.name;
        match (example, default.and_then(toml_literal)) {
            (None, Some(value)) => self.out.push_str(&format!("# {name} = {value}\n")),
            (example, _) => {
                let value = value_or_blank(example);
                self.out.push_str(&format!("#   {name} = {value}\n"));
            }
        }
    }

    /// The example of a table with no default, every key with its
    /// explanation.
    fn table_example(&mut self, key: &str, fields: &[Field]) {
        self.out.push_str(&format!("#   [{key}]\n"));
        for field in fields {
            let path = format!("{key}.{}", field.name);
            let (text, value) = match self.doc(&path) {
                Some(d) => (d.text.clone(), d.example.clone()),
                None => (String::new(), None),
            };
            self.explain("#   # ", &format!("{text}{}", allowed(field.shape)));
            self.out
                .push_str(&format!("#   {} = {}\n", field.name, value_or_blank(value)));
        }
    }

    /// The example of a table the user names (`[models.main]`), every key
    /// with its explanation.
    fn named_example(&mut self, key: &str, shape: Shape, fields: &[Field]) {
        let name = self
            .doc(key)
            .and_then(|d| d.example.clone())
            .unwrap_or_else(|| "NAME".to_string());
        let placeholder = if matches!(shape, Shape::LanguageTables(_)) {
            "LANG"
        } else {
            "NAME"
        };
        self.out.push_str(&format!("#   [{key}.{name}]\n"));
        for field in fields {
            let path = format!("{key}.{placeholder}.{}", field.name);
            let (text, value) = match self.doc(&path) {
                Some(d) => (d.text.clone(), d.example.clone()),
                None => (String::new(), None),
            };
            self.explain("#   # ", &format!("{text}{}", allowed(field.shape)));
            self.out
                .push_str(&format!("#   {} = {}\n", field.name, value_or_blank(value)));
        }
    }
}

/// `""` where a key has neither a default nor an example (a test makes sure
/// none is left so).
fn value_or_blank(value: Option<String>) -> String {
    value.unwrap_or_else(|| "\"\"".to_string())
}

fn is_table(shape: Shape) -> bool {
    matches!(
        shape,
        Shape::Table(_) | Shape::NamedTables(_) | Shape::LanguageTables(_) | Shape::TableList(_)
    )
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The values the schema allows, when it says more than the type.
fn allowed(shape: Shape) -> String {
    match shape {
        Shape::Integer(min, max) => format!(" Allowed: {min} to {max}."),
        Shape::Number(min, max) => format!(" Allowed: {min:.1} to {max:.1}."),
        Shape::Bool => " Allowed: true or false.".to_string(),
        _ => String::new(),
    }
}

/// A default as TOML; `None` for a default that is unset (`null`).
fn toml_literal(value: &Value) -> Option<String> {
    match value {
        Value::Null | Value::Object(_) => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        // A JSON string is a TOML basic string: the same quotes and escapes.
        Value::String(_) => Some(value.to_string()),
        Value::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(toml_literal).collect();
            Some(format!("[{}]", items?.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Whether a line is a commented setting or table header at its default.
    fn is_default_setting(line: &str) -> bool {
        let Some(rest) = line.strip_prefix("# ") else {
            return false;
        };
        let key: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        let header = rest.starts_with('[')
            && rest.ends_with(']')
            && rest[1..rest.len() - 1]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.');
        header || (!key.is_empty() && rest[key.len()..].starts_with(" = "))
    }

    /// The template with its default settings uncommented.
    fn defaults_uncommented(template: &str) -> String {
        template
            .lines()
            .map(|line| {
                if is_default_setting(line) {
                    &line[2..]
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The template with its default settings and its examples uncommented.
    fn everything_uncommented(template: &str) -> String {
        defaults_uncommented(template)
            .lines()
            .map(|line| match line.strip_prefix("#   ") {
                Some(rest) if !rest.starts_with('#') => rest,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_template_uncommented_reads_as_the_defaults() {
        let template = config_template();
        let uncommented = defaults_uncommented(&template);
        assert_ne!(uncommented, template, "nothing was uncommented");
        let config = Config::parse(Path::new("troupe.toml"), &uncommented)
            .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        assert_eq!(config, Config::default());
    }

    #[test]
    fn the_template_with_its_examples_uncommented_is_a_valid_config() {
        let everything = everything_uncommented(&config_template());
        let config = Config::parse(Path::new("troupe.toml"), &everything)
            .unwrap_or_else(|e| panic!("{e}\n{everything}"));
        assert_eq!(config.default_model.as_deref(), Some("main"));
        assert_eq!(config.models["main"].provider, "openai");
        assert!(config.server.webhooks.contains_key("crm"));
    }

    /// Checks that every key of `defaults` (a struct serialized) is at
    /// `path` in `doc`; a map's entries are checked against `element`.
    fn assert_keys_present(doc: &toml_edit::Item, defaults: &Value, path: &str) {
        let Value::Object(keys) = defaults else {
            return;
        };
        for (key, value) in keys {
            let here = format!("{path}.{key}");
            let item = doc
                .get(key)
                .unwrap_or_else(|| panic!("{here} is missing from the template"));
            assert_keys_present(item, value, &here);
        }
    }

    #[test]
    fn every_key_of_the_config_structs_appears_in_the_template() {
        let everything = everything_uncommented(&config_template());
        let doc: toml_edit::DocumentMut = everything.parse().unwrap();
        let root = doc.as_item();
        assert_keys_present(root, &value(&Config::default()), "");
        let first = |table: &str, map: &str| -> toml_edit::Item {
            root[table][map]
                .as_table_like()
                .and_then(|t| t.iter().next().map(|(_, item)| item.clone()))
                .unwrap_or_else(|| panic!("{table}.{map} has no example"))
        };
        let models = root["models"]
            .as_table_like()
            .and_then(|t| t.iter().next().map(|(_, item)| item.clone()))
            .expect("a backend example");
        assert_keys_present(
            &models,
            &value(&crate::config::BackendConfig::default()),
            "models.NAME",
        );
        assert_keys_present(
            &first("server", "webhooks"),
            &value(&WebhookConfig::default()),
            "server.webhooks.NAME",
        );
        assert_keys_present(
            &first("safety", "disclaimers"),
            &value(&crate::safety::DisclaimerTexts::default()),
            "safety.disclaimers.LANG",
        );
        let crisis = crate::safety::CrisisText {
            message: Some(String::new()),
            danger: Some(String::new()),
        };
        assert_keys_present(
            &first("safety", "crisis"),
            &value(&crisis),
            "safety.crisis.LANG",
        );
    }

    /// A config struct as JSON, for the key walk.
    fn value<T: serde::Serialize>(config: &T) -> Value {
        serde_json::to_value(config).unwrap()
    }

    /// Every key path of a schema, with `NAME`/`LANG` for named tables.
    fn schema_paths(path: &str, fields: &[Field], out: &mut Vec<String>) {
        for field in fields {
            let key = join(path, field.name);
            out.push(key.clone());
            match field.shape {
                Shape::Table(inner) => schema_paths(&key, inner, out),
                Shape::NamedTables(inner) => schema_paths(&format!("{key}.NAME"), inner, out),
                Shape::LanguageTables(inner) => schema_paths(&format!("{key}.LANG"), inner, out),
                _ => {}
            }
        }
    }

    #[test]
    fn every_key_the_config_accepts_is_explained_and_every_explanation_is_a_key() {
        let mut paths = Vec::new();
        schema_paths("", CONFIG_FIELDS, &mut paths);
        let docs = docs();
        for path in &paths {
            let found = docs.iter().find(|d| d.path == path);
            assert!(
                found.is_some_and(|d| !d.text.is_empty()),
                "{path} has no explanation"
            );
        }
        for d in &docs {
            assert!(paths.iter().any(|p| p == d.path), "{} is not a key", d.path);
        }
    }

    #[test]
    fn explanations_never_look_like_settings() {
        for line in config_template().lines() {
            if line.starts_with("# ") && !is_default_setting(line) {
                let rest = &line[2..];
                assert!(
                    !rest.contains(" = ") || rest.starts_with("  "),
                    "an explanation reads like a setting: {line}"
                );
            }
        }
    }
}
