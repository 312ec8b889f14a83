//! Personas: the characters creators define as TOML files, one per file, and
//! the catalog the runtime loads them into.
//!
//! A persona's id is its file name (`personas/chef.toml` is `chef`). Files
//! are checked against [`file::PERSONA_FIELDS`] first, so a creator sees
//! every problem at once as `file:line:column: message`.

mod file;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use file::{
    Example, PERSONA_FIELDS, Persona, PersonaFollowups, PersonaModel,
    language_code as check_language,
};

use crate::schema::{Diagnostic, check_document};

/// Where a catalog was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonaSource {
    /// The `personas/` directory embedded in the binary.
    Builtin,
    /// A directory given with `--personas` or `TROUPE_PERSONAS`.
    Dir(PathBuf),
}

/// Every persona a deployment offers, by id.
#[derive(Debug, Clone)]
pub struct Personas {
    /// Personas by id, sorted so listings are stable.
    by_id: BTreeMap<String, Arc<Persona>>,
    /// Where they came from, for messages.
    source: PersonaSource,
    /// Each persona's file and text, to position later checks.
    files: BTreeMap<String, (PathBuf, String)>,
}

/// Why personas could not be loaded or found.
#[derive(Debug, thiserror::Error)]
pub enum PersonaError {
    /// One or more files have problems; each line is `file:line:column: message`.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    /// A file or directory could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory holds no persona files.
    #[error("no persona files (*.toml) in {0}; add one or point --personas at another directory")]
    Empty(PathBuf),
    /// No persona has this id.
    #[error("there is no persona \"{id}\"; available: {available} (see `troupe personas list`)")]
    NotFound {
        /// The id asked for.
        id: String,
        /// The ids that exist, comma-separated.
        available: String,
    },
}

impl Personas {
    /// The personas built into the binary.
    pub fn builtin() -> Result<Self, PersonaError> {
        let files = crate::builtin::PERSONAS
            .iter()
            .filter(|(name, _)| name.ends_with(".toml"))
            .map(|(name, text)| (Path::new("personas").join(name), text.to_string()))
            .collect();
        Self::from_sources(files, PersonaSource::Builtin)
    }

    /// Loads every `*.toml` file in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, PersonaError> {
        let read_err = |source| PersonaError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
            })
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(PersonaError::Empty(dir.to_path_buf()));
        }
        let mut files = Vec::with_capacity(paths.len());
        let mut unreadable = Vec::new();
        for path in paths {
            match fs::read_to_string(&path) {
                Ok(text) => files.push((path, text)),
                // Reported with every other problem, not instead of them.
                Err(e) => unreadable.push(Diagnostic::at(
                    &path,
                    "",
                    0,
                    format!("could not read the file: {e}"),
                )),
            }
        }
        let loaded = Self::from_sources(files, PersonaSource::Dir(dir.to_path_buf()));
        match (loaded, unreadable.is_empty()) {
            (loaded, true) => loaded,
            (Ok(_), false) => Err(PersonaError::Invalid(unreadable)),
            (Err(PersonaError::Invalid(mut problems)), false) => {
                problems.append(&mut unreadable);
                problems
                    .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
                Err(PersonaError::Invalid(problems))
            }
            (Err(other), false) => Err(other),
        }
    }

    /// Parses and validates every file, collecting all problems before failing.
    fn from_sources(
        files: Vec<(PathBuf, String)>,
        source: PersonaSource,
    ) -> Result<Self, PersonaError> {
        let mut by_id = BTreeMap::new();
        let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
        let mut problems = Vec::new();
        let mut loaded = BTreeMap::new();
        for (path, text) in files {
            let id = persona_id(&path);
            if let Err(message) = crate::ids::check_id("persona id", &id) {
                problems.push(Diagnostic::at(
                    &path,
                    &text,
                    0,
                    format!("file name: {message}"),
                ));
                continue;
            }
            if let Some(first) = origin.get(&id) {
                let message = format!(
                    "duplicate persona id \"{id}\" (also defined by {}); rename one of the files",
                    first.display()
                );
                problems.push(Diagnostic::at(&path, &text, 0, message));
                continue;
            }
            origin.insert(id.clone(), path.clone());
            match parse_persona(&path, &text) {
                Ok(mut persona) => {
                    persona.id = id.clone();
                    by_id.insert(id.clone(), Arc::new(persona));
                    loaded.insert(id, (path, text));
                }
                Err(mut diagnostics) => problems.append(&mut diagnostics),
            }
        }
        if problems.is_empty() {
            Ok(Self {
                by_id,
                source,
                files: loaded,
            })
        } else {
            Err(PersonaError::Invalid(problems))
        }
    }

    /// Runs a deployment-level check on every persona; `problems` returns
    /// (table, key, message) triples, each reported at that key.
    pub fn check_each(
        &self,
        problems: impl Fn(&Persona) -> Vec<(&'static str, &'static str, String)>,
    ) -> Result<(), PersonaError> {
        let mut diagnostics = Vec::new();
        for (id, persona) in &self.by_id {
            let Some((path, text)) = self.files.get(id) else {
                continue;
            };
            for (table, key, message) in problems(persona) {
                let offset = key_offset(text, table, key).unwrap_or(0);
                diagnostics.push(Diagnostic::at(path, text, offset, message));
            }
        }
        if diagnostics.is_empty() {
            Ok(())
        } else {
            diagnostics
                .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
            Err(PersonaError::Invalid(diagnostics))
        }
    }

    /// The persona with this id.
    pub fn get(&self, id: &str) -> Result<Arc<Persona>, PersonaError> {
        self.by_id
            .get(&id.to_lowercase())
            .cloned()
            .ok_or_else(|| PersonaError::NotFound {
                id: id.to_string(),
                available: self.ids().join(", "),
            })
    }

    /// All personas, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Persona>> {
        self.by_id.values()
    }

    /// All ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.by_id.keys().cloned().collect()
    }

    /// How many personas there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the catalog is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The file `id` was read from, as written (for creators' views).
    pub fn file_text(&self, id: &str) -> Option<&str> {
        self.files.get(id).map(|(_, text)| text.as_str())
    }

    /// Where the catalog came from.
    pub fn source(&self) -> &PersonaSource {
        &self.source
    }
}

/// Where `key` of `[table]` sits in a persona file.
fn key_offset(text: &str, table: &str, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let table = doc.as_table().get(table)?.as_table_like()?;
    let (key, _) = table.get_key_value(key)?;
    key.span().map(|s| s.start)
}

/// A persona's id: its file stem, lower-cased.
fn persona_id(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// Checks one file's shape, then reads it with serde.
fn parse_persona(path: &Path, text: &str) -> Result<Persona, Vec<Diagnostic>> {
    let problems = check_document(path, text, PERSONA_FIELDS);
    if !problems.is_empty() {
        return Err(problems);
    }
    toml_edit::de::from_str::<Persona>(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![Diagnostic::at(
            path,
            text,
            offset,
            e.message().trim().to_string(),
        )]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_personas_load_and_cover_the_three_shipped_characters() {
        let personas = Personas::builtin().unwrap();
        assert_eq!(personas.ids(), ["chef", "creator", "decor"]);
        assert_eq!(personas.get("decor").unwrap().language, "fr");
        assert!(personas.get("CHEF").is_ok());
    }

    #[test]
    fn unknown_persona_lists_the_available_ones() {
        let err = Personas::builtin()
            .unwrap()
            .get("pirate")
            .unwrap_err()
            .to_string();
        assert!(err.contains("chef, creator, decor"), "{err}");
    }

    #[test]
    fn duplicate_ids_differing_in_case_are_reported() {
        let good = "name='a'\ndescription='b'\nlanguage='en'\nvoice='c'\ngreeting='d'\n";
        let files = vec![
            (PathBuf::from("p/Chef.toml"), good.to_string()),
            (PathBuf::from("p/chef.toml"), good.to_string()),
        ];
        let err = Personas::from_sources(files, PersonaSource::Builtin).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p/chef.toml:1:1: duplicate persona id \"chef\""),
            "{err}"
        );
    }
}
