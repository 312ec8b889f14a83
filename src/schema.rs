//! Checks a TOML document against a declared shape and reports every problem
//! at once, each with its `file:line:column`.
//!
//! Serde stops at the first error and loses positions for semantic problems;
//! creators fixing a persona file want the whole list. Persona files and the
//! deployment config both declare their shape as [`Field`] tables and run
//! through [`check_document`] before serde reads them. `source` reads
//! such files with a bound; `text` finds, in string values, the characters
//! a terminal must not see.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use toml_edit::{ImDocument, Item, TableLike, Value};

mod source;
mod text;

pub use source::{MAX_LORE_BYTES, MAX_SOURCE_BYTES, SourceError, read_lore_source, read_source};
use text::{unprintable, unprintable_problem};

/// One problem in a source file, positioned for an editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at byte `offset` of `source`.
    pub fn at(file: &Path, source: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(source, offset);
        Self {
            file: file.display().to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Converts a byte offset into a 1-based (line, column) pair, counting
/// columns in characters so non-ASCII text lines up in editors.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// An extra check on a string value; the error completes "\"key\" …".
pub type TextCheck = fn(&str) -> Result<(), String>;

/// The shape a value must have.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// A non-empty string, optionally checked further.
    Text(Option<TextCheck>),
    /// A list of non-empty strings.
    TextList,
    /// A number (integer or float) within an inclusive range.
    Number(f64, f64),
    /// An integer within an inclusive range.
    Integer(i64, i64),
    /// `true` or `false`.
    Bool,
    /// A table with the given fields.
    Table(&'static [Field]),
    /// An array of tables (`[[name]]`), each with the given fields.
    TableList(&'static [Field]),
    /// A table whose keys are names the user chooses, each a table with the
    /// given fields (`[models.main]`, `[models.backup]`).
    NamedTables(&'static [Field]),
    /// Like [`Shape::NamedTables`], keyed by language code
    /// (`[safety.crisis.fr]`): a misspelt key would otherwise be silently
    /// ignored.
    LanguageTables(&'static [Field]),
}

/// One key a table may hold.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The key as written in TOML.
    pub name: &'static str,
    /// What its value must look like.
    pub shape: Shape,
    /// Whether the key must be present.
    pub required: bool,
}

impl Field {
    /// A key that must be present.
    pub const fn required(name: &'static str, shape: Shape) -> Self {
        Self {
            name,
            shape,
            required: true,
        }
    }

    /// A key that may be left out.
    pub const fn optional(name: &'static str, shape: Shape) -> Self {
        Self {
            name,
            shape,
            required: false,
        }
    }
}

/// Parses `source` and checks it against `fields`, returning every problem.
/// A syntax error stops the check, since nothing after it can be trusted.
pub fn check_document(file: &Path, source: &str, fields: &[Field]) -> Vec<Diagnostic> {
    let doc = match ImDocument::parse(source) {
        Ok(doc) => doc,
        Err(err) => {
            let offset = err.span().map_or(0, |s| s.start);
            let message = format!("TOML syntax error: {}", err.message().trim());
            return vec![Diagnostic::at(file, source, offset, message)];
        }
    };
    let mut problems = Problems {
        source,
        list: Vec::new(),
    };
    check_table(doc.as_table(), 0..0, "", fields, &mut problems);
    problems.list.sort_by_key(|(offset, _)| *offset);
    problems
        .list
        .into_iter()
        .map(|(offset, message)| Diagnostic::at(file, source, offset, message))
        .collect()
}

/// The problems found so far, each at a byte offset of `source`.
struct Problems<'s> {
    /// The document's text, to place a problem inside a value.
    source: &'s str,
    /// (offset, message) pairs.
    list: Vec<(usize, String)>,
}

impl Problems<'_> {
    fn push(&mut self, problem: (usize, String)) {
        self.list.push(problem);
    }
}

fn check_table(
    table: &dyn TableLike,
    table_span: Range<usize>,
    prefix: &str,
    fields: &[Field],
    out: &mut Problems<'_>,
) {
    for (key, item) in table.iter() {
        let key_span = table
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .unwrap_or(table_span.clone());
        let path = format!("{prefix}{key}");
        match fields.iter().find(|f| f.name == key) {
            Some(field) => check_item(item, key_span, &path, field.shape, out),
            None => out.push((key_span.start, unknown_key(&path, key, fields))),
        }
    }
    for field in fields.iter().filter(|f| f.required) {
        if !table.contains_key(field.name) {
            let message = format!("missing required field \"{prefix}{}\"", field.name);
            out.push((table_span.start, message));
        }
    }
}

fn unknown_key(path: &str, key: &str, fields: &[Field]) -> String {
    let suggestion = fields
        .iter()
        .map(|f| (edit_distance(key, f.name), f.name))
        .filter(|(d, name)| *d <= 2.max(name.len() / 3))
        .min();
    match suggestion {
        Some((_, name)) => format!("unknown field \"{path}\" (did you mean \"{name}\"?)"),
        None => {
            let known: Vec<_> = fields.iter().map(|f| f.name).collect();
            format!(
                "unknown field \"{path}\"; expected one of: {}",
                known.join(", ")
            )
        }
    }
}

fn check_item(
    item: &Item,
    key_span: Range<usize>,
    path: &str,
    shape: Shape,
    out: &mut Problems<'_>,
) {
    let span = item.span().unwrap_or(key_span.clone());
    match shape {
        Shape::Table(fields) => match item.as_table_like() {
            Some(table) => check_table(table, span, &format!("{path}."), fields, out),
            None => out.push((span.start, format!("\"{path}\" must be a table"))),
        },
        Shape::NamedTables(fields) | Shape::LanguageTables(fields) => match item.as_table_like() {
            Some(table) => {
                for (name, inner) in table.iter() {
                    let inner_path = format!("{path}.{name}");
                    if matches!(shape, Shape::LanguageTables(_))
                        && let Err(e) = crate::persona::check_language(name)
                    {
                        let at = inner.span().unwrap_or(span.clone()).start;
                        out.push((at, format!("the key of \"{inner_path}\" {e}")));
                    }
                    check_item(inner, span.clone(), &inner_path, Shape::Table(fields), out);
                }
            }
            None => out.push((span.start, format!("\"{path}\" must be a table"))),
        },
        Shape::TableList(fields) => match item.as_array_of_tables() {
            Some(tables) => {
                for (i, table) in tables.iter().enumerate() {
                    let table_span = table.span().unwrap_or(span.clone());
                    check_table(table, table_span, &format!("{path}[{i}]."), fields, out);
                }
            }
            None => out.push((
                span.start,
                format!("\"{path}\" must be a list of tables, written [[{path}]]"),
            )),
        },
        _ => match item.as_value() {
            Some(value) => check_value(value, span, path, shape, out),
            None => out.push((
                span.start,
                format!("\"{path}\" must be a value, not a table"),
            )),
        },
    }
}

fn check_value(
    value: &Value,
    span: Range<usize>,
    path: &str,
    shape: Shape,
    out: &mut Problems<'_>,
) {
    let span = value.span().unwrap_or(span);
    let at = span.start;
    let problem = match shape {
        Shape::Text(extra) => match value.as_str() {
            Some(text) if text.trim().is_empty() => Some(format!("\"{path}\" must not be empty")),
            Some(text) if unprintable(text).is_some() => {
                out.push(unprintable_problem(out.source, span.clone(), path, text));
                None
            }
            Some(text) => extra
                .and_then(|check| check(text).err())
                .map(|e| format!("\"{path}\" {e}")),
            None => Some(format!("\"{path}\" must be a string")),
        },
        Shape::TextList => match value.as_array() {
            Some(items) => {
                for item in items.iter() {
                    let item_at = item.span().map_or(at, |s| s.start);
                    match item.as_str() {
                        Some(t) if t.trim().is_empty() => out.push((
                            item_at,
                            format!("\"{path}\" must not contain empty strings"),
                        )),
                        Some(t) if unprintable(t).is_some() => {
                            let item_span = item.span().unwrap_or(span.clone());
                            out.push(unprintable_problem(out.source, item_span, path, t));
                        }
                        Some(_) => {}
                        None => {
                            out.push((item_at, format!("\"{path}\" must contain only strings")))
                        }
                    }
                }
                None
            }
            None => Some(format!(
                "\"{path}\" must be a list of strings, like [\"a\", \"b\"]"
            )),
        },
        Shape::Number(min, max) => {
            let number = value
                .as_float()
                .or_else(|| value.as_integer().map(|i| i as f64));
            match number {
                Some(n) if n >= min && n <= max => None,
                Some(n) => Some(format!(
                    "\"{path}\" is {n}, but must be between {min} and {max}"
                )),
                None => Some(format!("\"{path}\" must be a number")),
            }
        }
        Shape::Integer(min, max) => match value.as_integer() {
            Some(n) if n >= min && n <= max => None,
            Some(n) => Some(format!(
                "\"{path}\" is {n}, but must be between {min} and {max}"
            )),
            None => Some(format!("\"{path}\" must be a whole number")),
        },
        Shape::Bool => value
            .as_bool()
            .is_none()
            .then(|| format!("\"{path}\" must be true or false")),
        Shape::Table(_)
        | Shape::TableList(_)
        | Shape::NamedTables(_)
        | Shape::LanguageTables(_) => Some(format!("\"{path}\" must be a table")),
    };
    if let Some(message) = problem {
        out.push((at, message));
    }
}

/// Levenshtein distance, for "did you mean" suggestions on short keys.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: &[Field] = &[Field::optional("temperature", Shape::Number(0.0, 2.0))];
    const FIELDS: &[Field] = &[
        Field::required("name", Shape::Text(None)),
        Field::optional("tags", Shape::TextList),
        Field::optional("model", Shape::Table(INNER)),
    ];

    fn check(source: &str) -> Vec<String> {
        check_document(Path::new("p.toml"), source, FIELDS)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn line_and_column_count_characters_from_one() {
        assert_eq!(line_column("ab\ncdé\nx", 0), (1, 1));
        assert_eq!(line_column("ab\ncdé\nx", 3), (2, 1));
        assert_eq!(line_column("ab\ncdé\nx", 8), (3, 1));
    }

    #[test]
    fn misspelled_key_gets_a_suggestion_at_its_position() {
        let errors = check("name = \"x\"\n[model]\ntemprature = 1.0\n");
        assert_eq!(
            errors,
            ["p.toml:3:1: unknown field \"model.temprature\" (did you mean \"temperature\"?)"]
        );
    }

    #[test]
    fn every_problem_is_reported_in_file_order() {
        let errors = check("tags = [\"a\", \"\"]\n[model]\ntemperature = 9\n");
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("p.toml:1:1: missing required field \"name\""));
        assert!(errors[1].contains("must not contain empty strings"));
        assert!(errors[2].starts_with("p.toml:3:15:"), "{errors:?}");
    }

    #[test]
    fn syntax_error_is_positioned() {
        let errors = check("name = \"x\"\noops =\n");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("p.toml:2:"), "{errors:?}");
        assert!(errors[0].contains("TOML syntax error"));
    }

    #[test]
    fn control_and_bidi_characters_are_refused_at_the_escape_that_writes_them() {
        let errors =
            check("name = \"Chef \\u001b]52;c;eA==\\u0007\"\ntags = [\"ok\", \"a\u{202E}b\"]\n");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("p.toml:1:14: \"name\" holds U+001B (ESC"),
            "{errors:?}"
        );
        assert!(errors[0].contains("at character 6"), "{errors:?}");
        assert!(
            errors[1].starts_with("p.toml:2:17: \"tags\" holds U+202E"),
            "{errors:?}"
        );
    }

    #[test]
    fn windows_line_ends_and_tabs_are_not_control_problems() {
        assert!(check("name = \"\"\"\r\na\tb\r\nc\"\"\"\r\n").is_empty());
        assert!(
            check("name = 'a \\u001b b'\n").is_empty(),
            "a literal string has no escapes"
        );
    }

    #[test]
    fn empty_and_mistyped_values_are_named() {
        let errors = check("name = \"  \"\ntags = \"a\"\n");
        assert!(errors[0].contains("\"name\" must not be empty"));
        assert!(errors[1].contains("\"tags\" must be a list of strings"));
    }
}
