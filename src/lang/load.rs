//! Reading the language files: the built-in ones, a deployment's directory
//! over them, each parsed and checked with its problems at `file:line`.
//!
//! Parsed strings are kept for the life of the process (the data is loaded
//! once, at start), so the detector holds plain `&'static str` slices.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, Item, Table, Value};

use super::LangData;
use crate::schema::{edit_distance, line_column};

/// The directory of the detector's words; every other one is a language.
const WORDS: &str = "words";

/// The table of shorthand in a words file.
const SHORTHAND: &str = "shorthand";

/// Language data that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LangError {
    /// A file has a problem at a line.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file as the user knows it (`lang/words/cues.toml` or the
        /// deployment's path).
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A deployment's files left out an English text, which every language
    /// falls back to.
    #[error(
        "the English texts have no \"{key}\", which every language falls back to: put it back in the lang/en/ file that replaced the built-in one"
    )]
    Missing {
        /// The text's key (`crisis.danger`).
        key: String,
    },
    /// A directory or file could not be read.
    #[error("could not read language data in {path}: {source} (check [safety] language_dir)")]
    Read {
        /// What could not be read.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another directory's data is already in use in this process.
    #[error(
        "language data from {} is already in use, so {} cannot be loaded too; run one deployment per process",
        loaded.as_ref().map_or_else(|| "the built-in files".to_string(), |p| p.display().to_string()),
        wanted.display()
    )]
    AlreadyLoaded {
        /// The directory asked for.
        wanted: PathBuf,
        /// The directory in use, if not the built-in files alone.
        loaded: Option<PathBuf>,
    },
}

/// One file to read: its name below `lang/`, how to show it, its text.
struct Source {
    name: String,
    shown: String,
    text: &'static str,
}

/// The built-in files with `dir`'s over them: a file of the same name
/// replaces the built-in one, any other extends the data.
pub(super) fn merge(
    builtin: &'static [(&'static str, &'static str)],
    dir: Option<&Path>,
) -> Result<LangData, LangError> {
    let known = match dir {
        Some(_) => builtin_names(builtin)?,
        None => Known::default(),
    };
    let overrides = match dir {
        Some(dir) => read_dir(dir)?,
        None => Vec::new(),
    };
    let mut sources: Vec<Source> = builtin
        .iter()
        .filter(|(name, _)| !overrides.iter().any(|o| o.name == *name))
        .map(|(name, text)| Source {
            name: (*name).to_string(),
            shown: format!("lang/{name}"),
            text,
        })
        .collect();
    sources.extend(overrides);
    let mut merged = Merged::default();
    for source in &sources {
        merged.read(source, &known)?;
    }
    if let Some(key) = known.texts.iter().find(|key| {
        !merged
            .texts
            .get(super::FALLBACK_LANGUAGE)
            .is_some_and(|texts| texts.contains_key(key.as_str()))
    }) {
        return Err(LangError::Missing { key: key.clone() });
    }
    Ok(merged.finish())
}

/// What the built-in files define: a deployment's files may only fill
/// those lists and texts (a list nobody reads is a typo).
#[derive(Default)]
struct Known {
    /// Every list name.
    lists: BTreeSet<String>,
    /// Every text key, of any language.
    texts: BTreeSet<String>,
}

/// The lists and texts of the built-in files.
fn builtin_names(builtin: &'static [(&'static str, &'static str)]) -> Result<Known, LangError> {
    let mut merged = Merged::default();
    let everything = Known::default();
    for (name, text) in builtin {
        let source = Source {
            name: (*name).to_string(),
            shown: format!("lang/{name}"),
            text,
        };
        merged.read(&source, &everything)?;
    }
    Ok(Known {
        lists: merged.lists.keys().map(|k| (*k).to_string()).collect(),
        texts: merged
            .texts
            .values()
            .flat_map(|texts| texts.keys().map(|k| (*k).to_string()))
            .collect(),
    })
}

/// Every `*.toml` file one directory below `dir`, sorted by name.
fn read_dir(dir: &Path) -> Result<Vec<Source>, LangError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LangError::Read { path, source }
    };
    let mut files = Vec::new();
    for group in fs::read_dir(dir).map_err(read_err(dir))? {
        let group = group.map_err(read_err(dir))?.path();
        if !group.is_dir() {
            continue;
        }
        for file in fs::read_dir(&group).map_err(read_err(&group))? {
            let path = file.map_err(read_err(&group))?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut sources = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).map_err(read_err(&path))?;
        let name = path
            .strip_prefix(dir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        sources.push(Source {
            name,
            shown: path.display().to_string(),
            text: Box::leak(text.into_boxed_str()),
        });
    }
    Ok(sources)
}

/// The directory a file's name starts with: `words` or a language code.
fn group(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

/// A file's TOML, or its syntax error at its line.
fn parse(source: &Source) -> Result<ImDocument<&'static str>, LangError> {
    ImDocument::parse(source.text).map_err(|e| {
        let message = e.message().trim().to_string();
        invalid(source, e.span().map_or(0, |s| s.start), message)
    })
}

/// A problem at byte `offset` of `source`.
fn invalid(source: &Source, offset: usize, message: String) -> LangError {
    LangError::Invalid {
        file: source.shown.clone(),
        line: line_column(source.text, offset).0,
        message,
    }
}

/// The data read so far, before it is frozen into [`LangData`].
#[derive(Default)]
struct Merged {
    lists: HashMap<&'static str, Vec<&'static str>>,
    shorthand: Vec<(&'static str, &'static str)>,
    texts: HashMap<&'static str, HashMap<&'static str, &'static str>>,
}

impl Merged {
    /// Reads one file into the data.
    fn read(&mut self, source: &Source, known: &Known) -> Result<(), LangError> {
        let doc = parse(source)?;
        let group = group(&source.name);
        if group == WORDS {
            self.read_words(source, doc.as_table(), known)
        } else if is_language_code(group) {
            let language = leak(group);
            self.read_texts(source, language, "", doc.as_table(), known)
        } else {
            Err(invalid(
                source,
                0,
                format!(
                    "\"{group}\" is neither words/ nor a language code (en, fr, pt-BR): move the file into one of those directories"
                ),
            ))
        }
    }

    /// A words file: lists of cues, and a `[shorthand]` table.
    fn read_words(
        &mut self,
        source: &Source,
        table: &Table,
        known: &Known,
    ) -> Result<(), LangError> {
        for (name, item) in table {
            let at = item.span().map_or(0, |s| s.start);
            match item {
                Item::Table(shorthand) if name == SHORTHAND => {
                    self.read_shorthand(source, shorthand)?;
                }
                Item::Value(Value::Array(cues)) => {
                    if !known.lists.is_empty() && !known.lists.contains(name) {
                        return Err(invalid(
                            source,
                            at,
                            unknown_name("list", name, &known.lists),
                        ));
                    }
                    let list = self.lists.entry(leak(name)).or_default();
                    for cue in cues {
                        list.push(checked_cue(source, cue)?);
                    }
                }
                _ => {
                    return Err(invalid(
                        source,
                        at,
                        format!(
                            "\"{name}\" should be a list of cues (name = [\"cue\", …]) or the [shorthand] table"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `short = "long form"` pairs.
    fn read_shorthand(&mut self, source: &Source, table: &Table) -> Result<(), LangError> {
        for (short, item) in table {
            let at = item.span().map_or(0, |s| s.start);
            let Some(long) = item.as_str() else {
                return Err(invalid(
                    source,
                    at,
                    format!("shorthand \"{short}\" should be a text: {short} = \"long form\""),
                ));
            };
            check_words(short).map_err(|m| invalid(source, at, m))?;
            check_words(long).map_err(|m| invalid(source, at, m))?;
            if short.contains(' ') {
                let message = format!("shorthand \"{short}\" should be one word");
                return Err(invalid(source, at, message));
            }
            self.shorthand.push((leak(short), leak(long)));
        }
        Ok(())
    }

    /// A language's texts, flattened into `table.key` names.
    fn read_texts(
        &mut self,
        source: &Source,
        language: &'static str,
        prefix: &str,
        table: &Table,
        known: &Known,
    ) -> Result<(), LangError> {
        for (key, item) in table {
            let name = format!("{prefix}{key}");
            match item {
                Item::Table(inner) => {
                    self.read_texts(source, language, &format!("{name}."), inner, known)?;
                }
                Item::Value(Value::String(text)) => {
                    if !known.texts.is_empty() && !known.texts.contains(&name) {
                        let at = item.span().map_or(0, |s| s.start);
                        let message = unknown_name("text", &name, &known.texts);
                        return Err(invalid(source, at, message));
                    }
                    if let Some(unknown) = unknown_placeholder(text.value()) {
                        let at = item.span().map_or(0, |s| s.start);
                        let message = format!(
                            "\"{name}\" holds {unknown}, which Troupe does not fill in: only {{persona}} and {{topic}} are (write {{ and }} around nothing else)"
                        );
                        return Err(invalid(source, at, message));
                    }
                    self.texts
                        .entry(language)
                        .or_default()
                        .insert(leak(&name), leak(text.value()));
                }
                Item::Value(Value::Array(words)) => {
                    if !known.lists.is_empty() && !known.lists.contains(&name) {
                        let at = item.span().map_or(0, |s| s.start);
                        let message = unknown_name("list", &name, &known.lists);
                        return Err(invalid(source, at, message));
                    }
                    let list = self.lists.entry(leak(&name)).or_default();
                    for word in words {
                        list.push(checked_word(source, word)?);
                    }
                }
                _ => {
                    let at = item.span().map_or(0, |s| s.start);
                    let message =
                        format!("\"{name}\" should be a text in quotes or a list of words");
                    return Err(invalid(source, at, message));
                }
            }
        }
        Ok(())
    }

    /// Freezes the lists for the life of the process.
    fn finish(self) -> LangData {
        LangData {
            lists: self
                .lists
                .into_iter()
                .map(|(name, cues)| (name, &*Vec::leak(cues)))
                .collect(),
            shorthand: Vec::leak(self.shorthand),
            texts: self.texts,
            source: None,
        }
    }
}

/// One cue of a list, checked.
fn checked_cue(source: &Source, cue: &Value) -> Result<&'static str, LangError> {
    let at = cue.span().map_or(0, |s| s.start);
    let Some(text) = cue.as_str() else {
        return Err(invalid(
            source,
            at,
            "a cue should be a text in quotes".to_string(),
        ));
    };
    check_words(text).map_err(|m| invalid(source, at, m))?;
    Ok(leak(text))
}

/// One word of a language's word list: lower case (accents allowed), no
/// spaces around it.
fn checked_word(source: &Source, word: &Value) -> Result<&'static str, LangError> {
    let at = word.span().map_or(0, |s| s.start);
    let problem = match word.as_str() {
        None => Some("a word should be a text in quotes".to_string()),
        Some(text) if text.trim().is_empty() || text.trim() != text => Some(format!(
            "word \"{text}\" is empty or has spaces around it: write it alone"
        )),
        Some(text) if text.to_lowercase() != text => Some(format!(
            "word \"{text}\" can never match: messages are read lower-cased; write \"{}\"",
            text.to_lowercase()
        )),
        Some(_) => None,
    };
    match (problem, word.as_str()) {
        (None, Some(text)) => Ok(leak(text)),
        (problem, _) => Err(invalid(source, at, problem.unwrap_or_default())),
    }
}

/// Whether `cue` is written as the detector reads text: lower case, no
/// accents or punctuation, single spaces; `*`, `?` and `#` as the syntax.
fn check_words(cue: &str) -> Result<(), String> {
    if cue.trim().is_empty() {
        return Err("an empty cue matches nothing: remove it".to_string());
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || " *?#_".contains(c);
    if cue.chars().all(allowed) && cue.split(' ').all(|w| !w.is_empty()) {
        return Ok(());
    }
    let wildcards: String = cue.chars().filter(|c| "*?#".contains(*c)).collect();
    let plain = crate::safety::detect::normalise(cue).join(" ");
    Err(format!(
        "cue \"{cue}\" can never match: the detector reads text lower-cased, without accents or punctuation, one space between words; write \"{plain}\"{}",
        if wildcards.is_empty() {
            ""
        } else {
            " with its * ? # put back"
        }
    ))
}

/// The message for a list or text no built-in file defines, with the
/// closest name.
fn unknown_name(what: &str, name: &str, known: &BTreeSet<String>) -> String {
    let closest = known
        .iter()
        .min_by_key(|k| edit_distance(name, k))
        .map_or_else(String::new, |k| format!(" (did you mean \"{k}\"?)"));
    format!("there is no {what} \"{name}\" that Troupe reads{closest}")
}

/// The first `{name}` in `text` other than `{persona}` and `{topic}`.
fn unknown_placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(at) = rest.find('{') {
        rest = &rest[at..];
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        let found = &rest[..end];
        if found != "{persona}" && found != "{topic}" {
            return Some(found);
        }
        rest = &rest[end..];
    }
    None
}

/// Whether a directory name is a language code (`en`, `fr`, `pt-BR`).
fn is_language_code(name: &str) -> bool {
    let mut parts = name.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// A string kept for the life of the process.
fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}
