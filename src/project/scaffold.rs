//! `troupe personas new`: a persona file to start from, made from the
//! starter persona `troupe init` writes (one template for both), renamed for
//! its id and set to its language. Like [`super::init`], it never
//! overwrites a file.

use std::path::{Path, PathBuf};

use super::{STARTER_ID, STARTER_PERSONA};

/// The starter persona's display name, replaced by the new persona's.
const STARTER_NAME: &str = "Pip";

/// The languages a new persona can start in: those Troupe has its own
/// notices, disclaimers and crisis texts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScaffoldLanguage {
    /// English.
    #[default]
    En,
    /// French.
    Fr,
}

impl ScaffoldLanguage {
    /// The language code written in the file.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }
}

/// Why a new persona file was not written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The id cannot name a persona file.
    #[error("{0}; persona ids are file names: lower-case letters, digits, '-', '_' and '.'")]
    Id(String),
    /// A file is already there; it is left as it is.
    #[error(
        "{} exists already and was left as it is; choose another id, or edit that file",
        .0.display()
    )]
    Exists(PathBuf),
    /// The folder or the file could not be written.
    #[error(
        "could not write {path}: {source}; check that the folder is writable, or choose another with --into"
    )]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The text of a new persona file for `id` in `language`: every key a
/// creator may set, explained, the optional ones commented at their
/// defaults, valid as written (`troupe personas check` passes on it).
pub fn persona_scaffold(id: &str, language: ScaffoldLanguage) -> String {
    let name = display_name(id);
    STARTER_PERSONA
        .replace(
            "A starter persona, written by `troupe init`",
            "A new persona, written by `troupe personas new`",
        )
        .replace(
            &format!("`{STARTER_ID}`, so you chat with"),
            &format!("`{id}`, so you chat with"),
        )
        .replace(
            &format!("`troupe chat {STARTER_ID}`"),
            &format!("`troupe chat {id}`"),
        )
        .replace(STARTER_NAME, &name)
        .replace(
            "\nlanguage = \"en\"\n",
            &format!("\nlanguage = \"{}\"\n", language.code()),
        )
}

/// A display name made from an id: `night-owl` → `Night Owl`.
fn display_name(id: &str) -> String {
    let words: Vec<String> = id
        .split(['-', '_', '.', '@'])
        .filter(|w| !w.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    if words.is_empty() {
        id.to_string()
    } else {
        words.join(" ")
    }
}

/// Writes a new persona file `DIR/ID.toml` (creating `dir` if needed) and
/// returns its path; an existing file is never overwritten.
pub fn new_persona(
    dir: &Path,
    id: &str,
    language: ScaffoldLanguage,
) -> Result<PathBuf, ScaffoldError> {
    crate::ids::check_id("persona id", id).map_err(ScaffoldError::Id)?;
    if id.contains('@') || id.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ScaffoldError::Id(format!(
            "the persona id {id:?} may not use '@' or upper-case letters"
        )));
    }
    std::fs::create_dir_all(dir).map_err(|source| ScaffoldError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(format!("{id}.toml"));
    match super::write_new(&path, &persona_scaffold(id, language)) {
        Ok(true) => Ok(path),
        Ok(false) => Err(ScaffoldError::Exists(path)),
        Err(error) => Err(ScaffoldError::Write {
            path,
            source: error.source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::{PERSONA_FIELDS, Personas};

    #[test]
    fn a_new_persona_is_valid_as_written_and_named_for_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = new_persona(dir.path(), "night-owl", ScaffoldLanguage::Fr).unwrap();
        assert_eq!(path, dir.path().join("night-owl.toml"));
        let personas = Personas::load_dir(dir.path()).unwrap();
        assert!(personas.problems().is_empty(), "{:?}", personas.problems());
        let persona = personas.get("night-owl").unwrap();
        assert_eq!(
            (persona.name.as_str(), persona.language.as_str()),
            ("Night Owl", "fr")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("`troupe chat night-owl`"));
        assert!(!text.contains(STARTER_NAME) && !text.contains(STARTER_ID));
    }

    #[test]
    fn a_new_persona_names_every_key_a_creator_may_set() {
        let text = persona_scaffold("ada", ScaffoldLanguage::En);
        // `[card]` holds what an imported Character Card brought; nobody
        // writes it by hand.
        for field in PERSONA_FIELDS.iter().filter(|f| f.name != "card") {
            let key = format!("{} =", field.name);
            let table = format!("[{}]", field.name);
            assert!(
                text.contains(&key) || text.contains(&table),
                "the scaffold does not mention `{}`",
                field.name
            );
        }
    }

    #[test]
    fn an_existing_file_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ada.toml");
        std::fs::write(&path, "# mine\n").unwrap();
        let error = new_persona(dir.path(), "ada", ScaffoldLanguage::En).unwrap_err();
        assert!(matches!(error, ScaffoldError::Exists(_)));
        assert!(error.to_string().contains("exists already"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
    }

    #[test]
    fn an_id_that_cannot_be_a_file_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["../up", "", "Ada", "a b"] {
            let error = new_persona(dir.path(), id, ScaffoldLanguage::En).unwrap_err();
            assert!(matches!(error, ScaffoldError::Id(_)), "{id}: {error}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
