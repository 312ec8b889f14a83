//! Personas: the characters creators define as TOML files, one per file, and
//! the catalog the runtime loads them into.
//!
//! A persona's id is its file name (`personas/chef.toml` is `chef`). Files
//! are checked against [`file::PERSONA_FIELDS`] first, so a creator sees
//! every problem at once as `file:line:column: message`.
//!
//! One broken file does not take the others down: the catalog holds the
//! valid personas and [`SkippedPersona`]s for the rest, which `personas
//! check` reports in full and the runtime reports in one line each.
//!
//! A long-running process serves a [`LivePersonas`], which a reload
//! replaces whole while requests keep their snapshot (`live`).

pub mod card;
mod file;
mod live;
mod load;
pub mod lore;
pub mod macros;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use file::{
    Example, PERSONA_FIELDS, Persona, PersonaFollowups, PersonaModel,
    language_code as check_language, pick_greeting,
};
pub use live::{DirStamp, LivePersonas, PersonaChanges};

use crate::schema::Diagnostic;

/// Where a catalog was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonaSource {
    /// The `personas/` directory embedded in the binary.
    Builtin,
    /// A directory given with `--personas` or `TROUPE_PERSONAS`.
    Dir(PathBuf),
}

/// Every persona a deployment offers, by id, and the files it skipped.
#[derive(Debug, Clone)]
pub struct Personas {
    /// Personas by id, sorted so listings are stable.
    by_id: BTreeMap<String, Arc<Persona>>,
    /// Where they came from, for messages.
    source: PersonaSource,
    /// Each persona's file and text, to position later checks.
    files: BTreeMap<String, (PathBuf, String)>,
    /// The files left out for their problems, in file order.
    skipped: Vec<SkippedPersona>,
    /// Why no file could be read at all (an unreadable or empty directory).
    unavailable: Option<String>,
}

/// A persona file left out of the catalog, with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPersona {
    /// The id its file name gives, if it gives a valid one.
    pub id: Option<String>,
    /// The file, as named.
    pub file: PathBuf,
    /// Its problems, each `file:line:column: message`; never empty.
    pub problems: Vec<Diagnostic>,
}

impl SkippedPersona {
    /// One line for a log or a terminal: the first problem, and where to
    /// see the others.
    pub fn summary(&self) -> String {
        let first = self
            .problems
            .first()
            .map_or_else(|| self.file.display().to_string(), ToString::to_string);
        let rest = match self.problems.len() {
            0 | 1 => "run `troupe personas check` once it is fixed".to_string(),
            n => format!("1 of {n} problems; run `troupe personas check` for all of them"),
        };
        format!("skipping {first} ({rest})")
    }
}

/// Why personas could not be loaded or found.
#[derive(Debug, thiserror::Error)]
pub enum PersonaError {
    /// One or more files have problems; each line is `file:line:column: message`.
    #[error("{}", lines(.0))]
    Invalid(Vec<Diagnostic>),
    /// Every persona file has problems, so there is no persona to use.
    #[error("no persona could be loaded; fix these problems (`troupe personas check` lists them again):\n{}", lines(.0))]
    NoneLoaded(Vec<Diagnostic>),
    /// The persona asked for exists, but its file has problems.
    #[error("the persona \"{id}\" is not available: its file has problems; fix them (`troupe personas check` lists them again):\n{}", lines(.problems))]
    Broken {
        /// The id asked for.
        id: String,
        /// Every problem in its file.
        problems: Vec<Diagnostic>,
    },
    /// No persona file could be read at all.
    #[error("no persona could be loaded: {0}")]
    Unavailable(String),
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

/// Diagnostics, one a line.
fn lines(problems: &[Diagnostic]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Personas {
    /// The personas built into the binary.
    pub fn builtin() -> Self {
        load::builtin()
    }

    /// Loads every `*.toml` regular file in `dir`: the valid ones, and the
    /// others as [`SkippedPersona`]s. Fails only if the directory cannot
    /// be read or holds no `*.toml` file.
    pub fn load_dir(dir: &Path) -> Result<Self, PersonaError> {
        load::load_dir(dir)
    }

    /// A catalog with no persona, for a runtime that must go on without
    /// them (user rights never depend on personas): `error` is why.
    pub fn unavailable(source: PersonaSource, error: &PersonaError) -> Self {
        Self {
            by_id: BTreeMap::new(),
            source,
            files: BTreeMap::new(),
            skipped: Vec::new(),
            unavailable: Some(error.to_string()),
        }
    }

    /// The personas of `dir` (the built-in ones when `None`), checked
    /// strictly: a problem in any file, or a setting `config` cannot give a
    /// persona, fails with every problem. `troupe personas check` and
    /// `troupe doctor` report this; the runtime skips broken files instead.
    pub fn check(dir: Option<&Path>, config: &crate::config::Config) -> Result<Self, PersonaError> {
        let mut personas = match dir {
            Some(dir) => Self::load_dir(dir)?,
            None => Self::builtin(),
        };
        personas.skip_each(|p| config.persona_problems(p));
        match personas.problems() {
            problems if problems.is_empty() => Ok(personas),
            problems => Err(PersonaError::Invalid(problems)),
        }
    }

    /// Runs a deployment-level check on every persona; `problems` returns
    /// (table, key, message) triples, each reported at that key, and a
    /// persona with any is skipped like a broken file.
    pub fn skip_each(
        &mut self,
        problems: impl Fn(&Persona) -> Vec<(&'static str, &'static str, String)>,
    ) {
        let mut failing = Vec::new();
        for (id, persona) in &self.by_id {
            let Some((path, text)) = self.files.get(id) else {
                continue;
            };
            let mut diagnostics: Vec<Diagnostic> = problems(persona)
                .into_iter()
                .map(|(table, key, message)| {
                    let offset = key_offset(text, table, key).unwrap_or(0);
                    Diagnostic::at(path, text, offset, message)
                })
                .collect();
            if diagnostics.is_empty() {
                continue;
            }
            diagnostics.sort_by_key(|d| (d.line, d.column));
            failing.push(SkippedPersona {
                id: Some(id.clone()),
                file: path.clone(),
                problems: diagnostics,
            });
        }
        for skipped in failing {
            if let Some(id) = &skipped.id {
                self.by_id.remove(id);
                self.files.remove(id);
            }
            self.skipped.push(skipped);
        }
        self.skipped.sort_by(|a, b| a.file.cmp(&b.file));
    }

    /// The files left out for their problems, in file order.
    pub fn skipped(&self) -> &[SkippedPersona] {
        &self.skipped
    }

    /// Every problem of every skipped file, in file order.
    pub fn problems(&self) -> Vec<Diagnostic> {
        self.skipped
            .iter()
            .flat_map(|s| s.problems.iter().cloned())
            .collect()
    }

    /// What was left out, one line each, for a terminal or a log: why no
    /// persona could be read, or each skipped file's first problem.
    pub fn warnings(&self) -> Vec<String> {
        match &self.unavailable {
            Some(reason) => vec![format!("no persona could be loaded: {reason}")],
            None => self.skipped.iter().map(SkippedPersona::summary).collect(),
        }
    }

    /// Fails, with every problem, when there is no persona to use.
    pub fn require_any(&self) -> Result<(), PersonaError> {
        if self.by_id.is_empty() {
            Err(self.none_loaded())
        } else {
            Ok(())
        }
    }

    /// Why the catalog is empty.
    fn none_loaded(&self) -> PersonaError {
        match &self.unavailable {
            Some(reason) => PersonaError::Unavailable(reason.clone()),
            None if self.skipped.is_empty() => {
                PersonaError::Unavailable("there are no persona files".to_string())
            }
            None => PersonaError::NoneLoaded(self.problems()),
        }
    }

    /// The persona with this id; one whose file was skipped is
    /// [`PersonaError::Broken`], with its problems.
    pub fn get(&self, id: &str) -> Result<Arc<Persona>, PersonaError> {
        let wanted = id.to_lowercase();
        if let Some(persona) = self.by_id.get(&wanted) {
            return Ok(Arc::clone(persona));
        }
        if let Some(skipped) = self
            .skipped
            .iter()
            .find(|s| s.id.as_deref() == Some(wanted.as_str()))
        {
            return Err(PersonaError::Broken {
                id: wanted,
                problems: skipped.problems.clone(),
            });
        }
        self.require_any()?;
        Err(PersonaError::NotFound {
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

    /// The ids of the loaded personas and of the skipped files, sorted:
    /// a user's conversations with a persona whose file broke are still
    /// theirs to see.
    pub fn known_ids(&self) -> Vec<String> {
        let skipped = self.skipped.iter().filter_map(|s| s.id.clone());
        let mut ids: Vec<String> = self.by_id.keys().cloned().chain(skipped).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// How many personas there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no persona was loaded.
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

/// Checks a persona file's text as `personas check` does and reads it;
/// `path` only names the file in the problems.
pub fn parse_persona_text(path: &Path, text: &str) -> Result<Persona, Vec<Diagnostic>> {
    load::parse_persona(path, text)
}

/// Checks a lore file's text (`ID.lore.toml`) as loading does and returns
/// how many entries it holds; `path` only names the file in the problems.
pub fn check_lore_text(path: &Path, text: &str) -> Result<usize, Vec<Diagnostic>> {
    load::check_lore_text(path, text)
}

pub use load::LORE_SUFFIX;

/// Where `key` of `[table]` sits in a persona file.
fn key_offset(text: &str, table: &str, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let table = doc.as_table().get(table)?.as_table_like()?;
    let (key, _) = table.get_key_value(key)?;
    key.span().map(|s| s.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name='a'\ndescription='b'\nlanguage='en'\nvoice='c'\ngreeting='d'\n";

    fn catalog(files: &[(&str, &str)]) -> Personas {
        let sources = files
            .iter()
            .map(|(path, text)| (PathBuf::from(path), Ok(text.to_string())))
            .collect();
        load::from_sources(sources, PersonaSource::Builtin)
    }

    #[test]
    fn builtin_personas_load_and_cover_the_three_shipped_characters() {
        let personas = Personas::builtin();
        assert_eq!(personas.ids(), ["chef", "creator", "decor"]);
        assert!(personas.skipped().is_empty());
        assert_eq!(personas.get("decor").unwrap().language, "fr");
        assert!(personas.get("CHEF").is_ok());
    }

    #[test]
    fn unknown_persona_lists_the_available_ones() {
        let err = Personas::builtin().get("pirate").unwrap_err().to_string();
        assert!(err.contains("chef, creator, decor"), "{err}");
    }

    #[test]
    fn duplicate_ids_differing_in_case_are_reported() {
        let personas = catalog(&[("p/Chef.toml", GOOD), ("p/chef.toml", GOOD)]);
        assert_eq!(personas.ids(), ["chef"]);
        let problems = personas.problems();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .starts_with("p/chef.toml:1:1: duplicate persona id \"chef\""),
            "{problems:?}"
        );
    }

    #[test]
    fn a_broken_file_is_skipped_and_the_valid_ones_load() {
        let personas = catalog(&[("p/bad.toml", "name = 3\n"), ("p/good.toml", GOOD)]);
        assert_eq!(personas.ids(), ["good"]);
        let skipped = personas.skipped();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].id.as_deref(), Some("bad"));
        assert!(skipped[0].problems.len() > 1, "{skipped:?}");
        let warnings = personas.warnings();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with(
                "skipping p/bad.toml:1:1: missing required field \"description\" (1 of 5 problems"
            ),
            "{warnings:?}"
        );
        assert!(warnings[0].ends_with("run `troupe personas check` for all of them)"));
        assert_eq!(personas.known_ids(), ["bad", "good"]);
    }

    #[test]
    fn asking_for_a_broken_persona_names_its_file_and_problems() {
        let personas = catalog(&[("p/bad.toml", "name = 3\n"), ("p/good.toml", GOOD)]);
        let err = personas.get("Bad").unwrap_err();
        assert!(matches!(err, PersonaError::Broken { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("the persona \"bad\" is not available: its file has problems")
                && text.contains("\np/bad.toml:1:8: \"name\" must be a string"),
            "{text}"
        );
    }

    #[test]
    fn with_no_valid_persona_every_problem_is_the_error() {
        let personas = catalog(&[("p/bad.toml", "name = 3\n"), ("p/worse.toml", "x")]);
        assert!(personas.is_empty());
        let err = personas.require_any().unwrap_err().to_string();
        assert!(err.starts_with("no persona could be loaded; fix these problems"));
        assert!(
            err.contains("p/bad.toml:1:8:") && err.contains("p/worse.toml:"),
            "{err}"
        );
        let unknown = personas.get("chef").unwrap_err();
        assert!(
            matches!(unknown, PersonaError::NoneLoaded(_)),
            "{unknown:?}"
        );
    }

    #[test]
    fn an_unreadable_file_is_skipped_with_the_reason() {
        let sources = vec![
            (
                PathBuf::from("p/lost.toml"),
                Err("could not read the file: gone".to_string()),
            ),
            (PathBuf::from("p/lost.TOML"), Ok(GOOD.to_string())),
        ];
        let personas = load::from_sources(sources, PersonaSource::Builtin);
        assert_eq!(personas.ids(), ["lost"], "an unreadable file claims no id");
        assert_eq!(
            personas.problems()[0].to_string(),
            "p/lost.toml:1:1: could not read the file: gone"
        );
    }

    #[test]
    fn a_persona_with_deployment_problems_is_skipped_at_the_key() {
        let mut personas = catalog(&[
            ("p/a.toml", GOOD),
            ("p/b.toml", &format!("{GOOD}[model]\nbackend = 'nowhere'\n")),
        ]);
        personas.skip_each(|p| match &p.model.backend {
            Some(_) => vec![("model", "backend", "no such backend".to_string())],
            None => Vec::new(),
        });
        assert_eq!(personas.ids(), ["a"]);
        assert_eq!(personas.file_text("b"), None);
        assert_eq!(
            personas.problems()[0].to_string(),
            "p/b.toml:7:1: no such backend"
        );
        assert!(matches!(
            personas.get("b"),
            Err(PersonaError::Broken { .. })
        ));
    }

    #[test]
    fn an_unavailable_catalog_says_why_when_asked_for_a_persona() {
        let why = PersonaError::Empty(PathBuf::from("p"));
        let personas = Personas::unavailable(PersonaSource::Dir(PathBuf::from("p")), &why);
        let err = personas.get("chef").unwrap_err().to_string();
        assert!(
            err.starts_with("no persona could be loaded: no persona files"),
            "{err}"
        );
        assert_eq!(personas.warnings().len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_and_links_to_them_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe.toml"))
            .status()
            .unwrap();
        assert!(made.success());
        std::fs::create_dir(dir.path().join("folder.toml")).unwrap();
        std::fs::write(dir.path().join("real.txt"), GOOD).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real.txt"), dir.path().join("linked.toml"))
            .unwrap();
        let personas = Personas::load_dir(dir.path()).unwrap();
        assert_eq!(personas.ids(), ["linked"]);
        let problems: Vec<String> = personas
            .problems()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("folder.toml:1:1: is a directory, not a regular file"));
        assert!(problems[1].contains("pipe.toml:1:1: is a FIFO (named pipe), not a regular file"));
    }
}
