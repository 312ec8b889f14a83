//! An import worked out before anything is written: the persona file a
//! card (or an uploaded persona file) becomes, its id and the report of
//! what was mapped and ignored. `troupe personas import` and the server's
//! `POST /v1/personas/import` both make one, then write it (or, for a dry
//! run, only show it).
//!
//! An upload is told apart by content, as a card file is: PNG, CHARX and
//! JSON are cards; text that reads as TOML (or is named `*.toml`) is a
//! persona file, checked as `personas check` checks one and kept as it is.

use std::path::{Path, PathBuf};

use super::import::{ImportError, persona_id, write_new};
use super::mapping::{Draft, ImportReport, persona_from_card};
use super::{CardError, CardSpec, ReadCard, read_card, render};
use crate::persona::LORE_SUFFIX;
use crate::schema::MAX_SOURCE_BYTES;

/// What an upload was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    /// A character card in this dialect.
    Card(CardSpec),
    /// A Troupe persona file (TOML), kept as it is.
    PersonaFile,
}

impl ImportSource {
    /// The name creators know it by, for reports.
    pub fn label(self) -> &'static str {
        match self {
            ImportSource::Card(spec) => spec.label(),
            ImportSource::PersonaFile => "Troupe persona file (TOML)",
        }
    }
}

/// A persona file ready to be written, with what its import did.
#[derive(Debug, Clone)]
pub struct PreparedImport {
    /// The persona id, which names the file (`ID.toml`).
    pub id: String,
    /// The persona's name.
    pub name: String,
    /// What the upload was read as.
    pub source: ImportSource,
    /// What was mapped, kept aside and ignored (empty for a persona file,
    /// which is taken as it is).
    pub report: ImportReport,
    /// The persona file's text, checked as every persona file is.
    pub text: String,
    /// The lore file's text (`ID.lore.toml`), when a card's lorebook is too
    /// big to stay in the persona file (see [`MAX_SOURCE_BYTES`]).
    pub lore: Option<String>,
    /// What the problems and reports call the uploaded file.
    pub shown: String,
}

impl PreparedImport {
    /// The persona file's name, `ID.toml`.
    pub fn file_name(&self) -> String {
        format!("{}.toml", self.id)
    }

    /// Writes the persona file into `into`, replacing one that exists only
    /// when `replace`; returns the file written.
    ///
    /// A card replacing a persona brings all of its lore: a lore file the
    /// replaced persona left (`ID.lore.toml`) would load with it, so it is
    /// moved aside to `ID.lore.toml.replaced` first. A persona file (TOML)
    /// is taken as it is, with the lore file beside it.
    pub fn write(&self, into: &Path, replace: bool) -> Result<PathBuf, ImportError> {
        let file = into.join(self.file_name());
        let lore_file = into.join(format!("{}{LORE_SUFFIX}", self.id));
        let Some(lore) = &self.lore else {
            if replace && file.exists() && matches!(self.source, ImportSource::Card(_)) {
                self.set_aside(&lore_file)?;
            }
            write_new(&file, &self.text, replace, &self.shown)?;
            return Ok(file);
        };
        // Neither file is written unless both may be: a persona file
        // without its lore, or lore beside another persona, would load.
        for taken in [&file, &lore_file] {
            if taken.exists() && !replace {
                return Err(ImportError::Exists {
                    card: self.shown.clone(),
                    file: taken.display().to_string(),
                });
            }
        }
        write_new(&lore_file, lore, replace, &self.shown)?;
        write_new(&file, &self.text, replace, &self.shown)?;
        Ok(file)
    }

    /// Moves the lore file `lore_file`, if there is one, to
    /// `ID.lore.toml.replaced`, where it no longer loads.
    fn set_aside(&self, lore_file: &Path) -> Result<(), ImportError> {
        if !lore_file.exists() {
            return Ok(());
        }
        let mut aside = lore_file.as_os_str().to_owned();
        aside.push(".replaced");
        std::fs::rename(lore_file, &aside).map_err(|source| ImportError::Write {
            path: lore_file.display().to_string(),
            source,
        })
    }
}

/// Works out the persona file for the bytes of an uploaded file: a card
/// (JSON, PNG, CHARX) or a persona file (TOML). `file_name` is the name the
/// upload came with, if any: it names a nameless card's persona, heads the
/// written file's comment and gives a persona file its id. `language` is
/// the language of a card's character (cards do not say; default English).
pub fn prepare_import(
    bytes: &[u8],
    file_name: Option<&str>,
    language: Option<&str>,
) -> Result<PreparedImport, ImportError> {
    let file_name = file_name.map(base_name).filter(|n| !n.is_empty());
    let shown = file_name
        .clone()
        .unwrap_or_else(|| "the upload".to_string());
    if let Some(language) = language {
        crate::persona::check_language(language).map_err(ImportError::Language)?;
    }
    let named_toml = file_name
        .as_deref()
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(".toml"));
    if !named_toml {
        match read_card(bytes) {
            Ok(read) => {
                let name = file_name.as_deref().unwrap_or("upload");
                return prepare_card(&read, name, language, Path::new(""), &shown);
            }
            Err(CardError::UnknownFormat) => {}
            Err(source) => {
                return Err(ImportError::Card {
                    path: shown,
                    source,
                });
            }
        }
    }
    let text = std::str::from_utf8(bytes)
        .ok()
        .filter(|text| named_toml || reads_as_toml(text))
        .ok_or_else(|| ImportError::NotCardNorPersona {
            path: shown.clone(),
        })?;
    prepare_persona_file(text, file_name.as_deref(), &shown)
}

/// Works out the persona file for a card read from `file_name` (its stem
/// names a nameless card); the checks name the file as it would be in `dir`.
pub(super) fn prepare_card(
    read: &ReadCard,
    file_name: &str,
    language: Option<&str>,
    dir: &Path,
    shown: &str,
) -> Result<PreparedImport, ImportError> {
    let stem = Path::new(file_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (draft, mut report) = persona_from_card(read, language, &stem);
    let id = persona_id(&draft.name)
        .or_else(|| persona_id(&stem))
        .unwrap_or_else(|| "card".to_string());
    let file = dir.join(format!("{id}.toml"));
    let (text, lore) = persona_and_lore(&draft, file_name);
    let invalid = |problems| ImportError::Invalid {
        card: shown.to_string(),
        problems,
    };
    crate::persona::parse_persona_text(&file, &text).map_err(invalid)?;
    if let Some(lore) = &lore {
        let lore_name = format!("{id}{LORE_SUFFIX}");
        crate::persona::check_lore_text(&dir.join(&lore_name), lore).map_err(invalid)?;
        let moved = format!("character_book → lore in {lore_name}");
        for line in &mut report.mapped {
            if line.starts_with("character_book → lore") {
                *line = line.replacen("character_book → lore", &moved, 1);
            }
        }
    }
    Ok(PreparedImport {
        id,
        name: draft.name,
        source: ImportSource::Card(read.spec),
        report,
        text,
        lore,
        shown: shown.to_string(),
    })
}

/// The persona file for `draft`, and its lore file when the lorebook would
/// take the persona file past the size persona files may have: lore files
/// may be bigger.
fn persona_and_lore(draft: &Draft, file_name: &str) -> (String, Option<String>) {
    let text = render::persona_toml(draft, file_name);
    if (text.len() as u64) <= MAX_SOURCE_BYTES || draft.lore.is_empty() {
        return (text, None);
    }
    let lore = render::lore_toml(
        &draft.lore,
        &draft.lorebook,
        &[std::path::PathBuf::from(file_name)],
    );
    let without = Draft {
        lore: Vec::new(),
        lorebook: Default::default(),
        ..draft.clone()
    };
    (render::persona_toml(&without, file_name), Some(lore))
}

/// Checks an uploaded persona file and keeps it as it is. Its id is the
/// upload's file stem, as for any persona file, else made from its name.
fn prepare_persona_file(
    text: &str,
    file_name: Option<&str>,
    shown: &str,
) -> Result<PreparedImport, ImportError> {
    let from_stem = file_name
        .and_then(|n| Path::new(n).file_stem())
        .map(|s| s.to_string_lossy().to_lowercase())
        .filter(|stem| crate::ids::check_id("persona id", stem).is_ok());
    let id = from_stem
        .or_else(|| declared_name(text).and_then(|name| persona_id(&name)))
        .unwrap_or_else(|| "persona".to_string());
    let file = PathBuf::from(format!("{id}.toml"));
    let persona = crate::persona::parse_persona_text(&file, text).map_err(|problems| {
        ImportError::Invalid {
            card: shown.to_string(),
            problems,
        }
    })?;
    let report = ImportReport {
        language: (persona.language.clone(), false),
        adults_only: persona.adults_only,
        ..ImportReport::default()
    };
    Ok(PreparedImport {
        id,
        name: persona.name,
        source: ImportSource::PersonaFile,
        report,
        text: text.to_string(),
        lore: None,
        shown: shown.to_string(),
    })
}

/// The `name` a persona file's text declares, if it parses and has one.
fn declared_name(text: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    doc.get("name")?.as_str().map(str::to_string)
}

/// The last component of an uploaded file's name, as browsers and tools
/// may send a whole path; control characters removed.
fn base_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    last.chars().filter(|c| !c.is_control()).collect()
}

/// Whether a text parses as a TOML document with at least one key.
fn reads_as_toml(text: &str) -> bool {
    text.parse::<toml_edit::DocumentMut>()
        .is_ok_and(|doc| !doc.as_table().is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn card_bytes() -> Vec<u8> {
        json!({"spec": "chara_card_v2", "data": {"name": "Gwen", "description": "A knight.",
               "personality": "blunt", "first_mes": "Well met."}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_json_card_upload_becomes_a_persona_file_named_for_the_character() {
        let prepared =
            prepare_import(&card_bytes(), Some("C:\\cards\\gwen.json"), None).expect("a card");
        assert_eq!(prepared.id, "gwen");
        assert_eq!(prepared.source, ImportSource::Card(CardSpec::V2));
        assert!(prepared.text.contains("Character Card gwen.json"));
        assert!(
            prepared
                .report
                .mapped
                .iter()
                .any(|m| m == "personality → voice")
        );
    }

    #[test]
    fn a_persona_file_upload_is_kept_as_it_is_and_named_by_its_stem() {
        let text = "name = \"Night Owl\"\ndescription = \"Up late.\"\nlanguage = \"en\"\nvoice = \"Calm.\"\ngreeting = \"Hi.\"\n";
        let prepared = prepare_import(text.as_bytes(), Some("Owl.toml"), None).expect("a file");
        assert_eq!(prepared.id, "owl");
        assert_eq!(prepared.source, ImportSource::PersonaFile);
        assert_eq!(prepared.text, text);
        let unnamed = prepare_import(text.as_bytes(), None, None).expect("a file");
        assert_eq!(unnamed.id, "night-owl");
    }

    #[test]
    fn text_that_is_neither_a_card_nor_a_persona_file_is_refused_plainly() {
        let error = prepare_import(b"hello there", Some("notes.txt"), None).unwrap_err();
        assert!(
            matches!(error, ImportError::NotCardNorPersona { .. }),
            "{error}"
        );
        assert!(error.to_string().starts_with("notes.txt: "), "{error}");
        let broken = prepare_import(b"name = ", Some("x.toml"), None).unwrap_err();
        assert!(matches!(broken, ImportError::Invalid { .. }), "{broken}");
        assert!(broken.to_string().contains("x.toml:1:"), "{broken}");
    }
}
