//! Importing a card file as a persona file, and exporting a persona as a
//! card: the services `troupe personas import|export` call.
//!
//! An imported persona is written only once it passes the same check as
//! every persona file, so what lands in the directory always loads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::mapping::{ImportReport, card_from_persona};
use super::prepare::prepare_card;
use super::{CardError, CardSpec, json, png, read_card_file, render};
use crate::persona::Persona;
use crate::progress::{Progress, steps};
use crate::schema::Diagnostic;

/// A card imported as a persona file.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The persona id (the file's stem).
    pub id: String,
    /// The persona file written.
    pub file: PathBuf,
    /// The persona's name.
    pub name: String,
    /// The dialect the card was written in.
    pub spec: CardSpec,
    /// What was mapped, kept aside and ignored.
    pub report: ImportReport,
}

/// Why a card could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not a card Troupe can read.
    #[error("{path}: {source}")]
    Card {
        /// The card file.
        path: String,
        /// Why it could not be read.
        source: CardError,
    },
    /// The language chosen is not a language code.
    #[error("--language {0}")]
    Language(String),
    /// A persona file with that id already exists.
    #[error(
        "{card}: {file} already exists; pass --force to replace it, or --into another directory"
    )]
    Exists {
        /// The card file.
        card: String,
        /// The persona file in the way.
        file: String,
    },
    /// Two cards of one import make the same persona id.
    #[error(
        "{card}: makes the persona \"{id}\" like {other} before it; import it on its own with --into another directory"
    )]
    SameId {
        /// The card file.
        card: String,
        /// The id both make.
        id: String,
        /// The card imported first.
        other: String,
    },
    /// An uploaded file is neither a card nor a persona file.
    #[error(
        "{path}: this is neither a character card (JSON, PNG or CHARX) nor a Troupe persona file (TOML); export the character as a V2 or V3 card and upload that"
    )]
    NotCardNorPersona {
        /// What the upload is called.
        path: String,
    },
    /// The persona made from the card does not pass the persona check.
    #[error("{card}: the persona made from it does not pass the persona check:\n{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The card file.
        card: String,
        /// The problems, positioned in the file it would have written.
        problems: Vec<Diagnostic>,
    },
    /// A lorebook is imported for a persona that has no file there.
    #[error(
        "there is no persona file {file} to import the lore into; import or write the persona first, or pass --into its directory"
    )]
    NoPersona {
        /// The persona file looked for.
        file: String,
    },
    /// A file is not a lorebook Troupe can read.
    #[error("{path}: {message}")]
    Lorebook {
        /// The lorebook file.
        path: String,
        /// Why it could not be read.
        message: String,
    },
    /// The persona file could not be written.
    #[error("could not write {path}: {source}")]
    Write {
        /// The file or directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Imports each card file as [`import_card`] does, one result per file;
/// two cards that make the same persona id are never written over each
/// other, even with `force`. `progress` hears each card done.
pub fn import_cards(
    paths: &[PathBuf],
    into: &Path,
    language: Option<&str>,
    force: bool,
    progress: &mut dyn Progress,
) -> Vec<Result<Imported, ImportError>> {
    let mut written: BTreeMap<PathBuf, String> = BTreeMap::new();
    progress.begin("importing cards", Some(steps(paths.len())));
    paths
        .iter()
        .enumerate()
        .map(|(done, path)| {
            let imported = import(path, into, language, force, &written);
            progress.advance(steps(done + 1));
            let imported = imported?;
            written.insert(imported.file.clone(), path.display().to_string());
            Ok(imported)
        })
        .collect()
}

/// Imports the card at `path` into `into` as `ID.toml`, the id made from
/// the card's name. `language` defaults to English; an existing file is
/// replaced only with `force`.
pub fn import_card(
    path: &Path,
    into: &Path,
    language: Option<&str>,
    force: bool,
) -> Result<Imported, ImportError> {
    import(path, into, language, force, &BTreeMap::new())
}

/// Imports one card; `written` maps the files this batch wrote to their cards.
fn import(
    path: &Path,
    into: &Path,
    language: Option<&str>,
    force: bool,
    written: &BTreeMap<PathBuf, String>,
) -> Result<Imported, ImportError> {
    let shown = path.display().to_string();
    if let Some(language) = language {
        crate::persona::check_language(language).map_err(ImportError::Language)?;
    }
    let read = read_card_file(path).map_err(|source| ImportError::Card {
        path: shown.clone(),
        source,
    })?;
    let file_name = path
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    let prepared = prepare_card(&read, &file_name, language, into, &shown)?;
    let file = into.join(prepared.file_name());
    if let Some(other) = written.get(&file) {
        return Err(ImportError::SameId {
            card: shown,
            id: prepared.id,
            other: other.clone(),
        });
    }
    prepared.write(into, force)?;
    Ok(Imported {
        id: prepared.id,
        file,
        name: prepared.name,
        spec: read.spec,
        report: prepared.report,
    })
}

/// Writes a persona file, refusing to replace one unless `force`.
pub(super) fn write_new(
    file: &Path,
    text: &str,
    force: bool,
    card: &str,
) -> Result<(), ImportError> {
    let write_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| ImportError::Write { path, source }
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    }
    if file.exists() && !force {
        return Err(ImportError::Exists {
            card: card.to_string(),
            file: file.display().to_string(),
        });
    }
    std::fs::write(file, text).map_err(write_error(file))
}

/// A persona id made from a name: plain lower-case words joined by `-`
/// ("Élise Dubois" → `elise-dubois`); `None` when no letter or digit is
/// plain ASCII.
pub fn persona_id(name: &str) -> Option<String> {
    let words: Vec<String> = crate::safety::detect::normalise(name)
        .into_iter()
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut id = words.join("-");
    id.truncate(crate::ids::MAX_ID_LEN);
    let id = id.trim_end_matches('-').to_string();
    crate::ids::check_id("persona id", &id).ok().map(|()| id)
}

/// A standalone lorebook imported into a persona's lore file.
#[derive(Debug, Clone)]
pub struct LoreImported {
    /// The persona the lore is for.
    pub persona: String,
    /// The lore file written (`ID.lore.toml`).
    pub file: PathBuf,
    /// How many entries it holds.
    pub entries: usize,
    /// What the reader ignored or coerced.
    pub warnings: Vec<String>,
}

/// Imports standalone lorebooks (`lorebook_v3`, SillyTavern World Info, or
/// a bare character book) into `into/PERSONA.lore.toml`, the lore file
/// loaded with the persona `into/PERSONA.toml`: their entries one after
/// the other, the first book's settings. An existing lore file is
/// replaced only with `force`.
pub fn import_lorebooks(
    paths: &[PathBuf],
    into: &Path,
    persona: &str,
    force: bool,
) -> Result<LoreImported, ImportError> {
    let persona = persona.to_lowercase();
    let persona_file = into.join(format!("{persona}.toml"));
    if !persona_file.is_file() {
        return Err(ImportError::NoPersona {
            file: persona_file.display().to_string(),
        });
    }
    let mut entries = Vec::new();
    let mut settings = None;
    let mut warnings = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let book = read_lorebook_file(path).map_err(|message| ImportError::Lorebook {
            path: shown.clone(),
            message,
        })?;
        warnings.extend(book.warnings.into_iter().map(|w| format!("{shown}: {w}")));
        entries.extend(book.entries);
        settings.get_or_insert(book.settings);
    }
    let settings = settings.unwrap_or_default();
    let file = into.join(format!("{persona}{}", crate::persona::LORE_SUFFIX));
    let text = render::lore_toml(&entries, &settings, paths);
    crate::persona::check_lore_text(&file, &text).map_err(|problems| ImportError::Invalid {
        card: paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        problems,
    })?;
    write_new(&file, &text, force, &paths[0].display().to_string())?;
    Ok(LoreImported {
        persona,
        file,
        entries: entries.len(),
        warnings,
    })
}

/// Reads one standalone lorebook file.
fn read_lorebook_file(path: &Path) -> Result<super::book::ReadBook, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("could not read it: {e}"))?
        .len();
    if size > super::MAX_CARD_BYTES as u64 {
        return Err(format!(
            "the file is {size} bytes, too large for a lorebook"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("could not read it: {e}"))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the lorebook is not valid JSON: {e}"))?;
    super::book::read_lorebook(&value)
}

/// The card formats a persona can be exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardFormat {
    /// Character Card V2 (`chara_card_v2`).
    V2,
    /// Character Card V3 (`chara_card_v3`).
    V3,
}

/// A persona as a card's JSON text, pretty-printed.
pub fn export_json(persona: &Persona, format: CardFormat) -> String {
    let spec = match format {
        CardFormat::V2 => CardSpec::V2,
        CardFormat::V3 => CardSpec::V3,
    };
    let value = json::to_value(&card_from_persona(persona), spec);
    serde_json::to_string_pretty(&value).expect("a JSON value always serialises")
}

/// A persona as a PNG card holding both `chara` (V2) and `ccv3` (V3), on
/// `image` or on a generated default avatar.
pub fn export_png(persona: &Persona, image: Option<&[u8]>) -> Result<Vec<u8>, CardError> {
    let card = card_from_persona(persona);
    let v2 = json::to_value(&card, CardSpec::V2).to_string();
    let v3 = json::to_value(&card, CardSpec::V3).to_string();
    png::write(image, &v2, &v3)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::persona::Personas;
    use crate::persona::card::persona_from_card;

    #[test]
    fn a_card_with_empty_fields_and_free_form_examples_comes_back_unchanged() {
        let read = json::read_value(json!({
            "spec": "chara_card_v2",
            "data": {
                "name": "", "description": "", "personality": "", "first_mes": "",
                "mes_example": "*she waves*\n<START>\n{{user}}: hi\n{{char}}: hey\n{{user}}: and?",
                "tags": ["x"], "extensions": {"a": null}, "nickname": "N"
            }
        }))
        .expect("a card");
        let (draft, report) = persona_from_card(&read, None, "nameless");
        assert_eq!(draft.name, "nameless");
        assert_eq!(report.stand_ins.len(), 4, "{report:?}");
        let text = render::persona_toml(&draft, "c.json");
        let persona = crate::persona::parse_persona_text(Path::new("c.toml"), &text)
            .unwrap_or_else(|problems| panic!("{problems:?}\n{text}"));
        assert_eq!(persona.examples.len(), 1);
        assert_eq!(card_from_persona(&persona), read.card);
    }

    #[test]
    fn quotes_and_backslashes_survive_the_persona_file_and_control_characters_are_removed() {
        let read = json::read_value(json!({
            "spec": "chara_card_v2",
            "data": {
                "name": "Quote \"Q\" Master",
                "description": "He says \"\"\"hi\"\"\" and '''bye'''\r\nC:\\path\tfile \u{0} \u{1b}[31m 😀\n",
                "personality": "x\u{2028}y", "first_mes": "\"\"\"",
                "mes_example": "<START>\r\n{{user}}: a\r\n{{char}}: b",
                "tags": ["a\"b"], "extensions": {"k": "\u{0}\"\"\""}
            }
        }))
        .expect("a card");
        assert!(
            read.warnings.iter().any(|w| w.contains("control")),
            "{:?}",
            read.warnings
        );
        assert!(!read.card.description.contains('\u{1b}'));
        assert!(read.card.description.contains("\"\"\"hi\"\"\""));
        let (draft, _) = persona_from_card(&read, None, "q");
        let text = render::persona_toml(&draft, "q.json");
        let persona = crate::persona::parse_persona_text(Path::new("q.toml"), &text)
            .unwrap_or_else(|problems| panic!("{problems:?}\n{text}"));
        assert_eq!(card_from_persona(&persona), read.card);
    }

    #[test]
    fn a_persona_written_for_troupe_exports_as_a_card() {
        let mut chef = (*Personas::builtin().get("chef").expect("chef")).clone();
        chef.adults_only = true;
        let card = card_from_persona(&chef);
        assert_eq!(card.name, "Chef Marco");
        assert_eq!(card.personality, chef.voice);
        assert!(
            card.mes_example
                .starts_with("<START>\n{{user}}: I have leftover rice")
        );
        assert_eq!(card.tags, ["NSFW"], "adults-only personas are marked NSFW");
        let v3: serde_json::Value =
            serde_json::from_str(&export_json(&chef, CardFormat::V3)).expect("json");
        assert_eq!(v3["spec"], "chara_card_v3");
        assert_eq!(v3["data"]["first_mes"], chef.greeting.as_str());
    }

    #[test]
    fn ids_are_made_from_names_in_plain_letters() {
        assert_eq!(persona_id("Élise Dubois").as_deref(), Some("elise-dubois"));
        assert_eq!(
            persona_id("Captain  O'Neil!").as_deref(),
            Some("captain-o-neil")
        );
        assert_eq!(persona_id("花子"), None);
    }
}
