//! Reading persona files: the built-in ones or a directory of them, into a
//! [`Personas`] catalog of the valid ones plus the skipped broken ones.
//!
//! Only regular files (or symlinks to them) are read: anything else named
//! `*.toml` (a FIFO, a socket, a directory) is a problem of its own, never
//! opened, so a stray FIFO cannot make a command wait forever.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lore::LoreProblem;
use super::{PERSONA_FIELDS, Persona, PersonaError, PersonaSource, Personas, SkippedPersona};
use crate::schema::{Diagnostic, check_document};

/// One `*.toml` entry of a personas directory: its text, or why it could
/// not be read.
type Source = (PathBuf, Result<String, String>);

/// Loads every `*.toml` file in `dir`; fails only when the directory
/// cannot be read or holds no such file.
pub(super) fn load_dir(dir: &Path) -> Result<Personas, PersonaError> {
    let read_err = |source| PersonaError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let (lore_paths, mut paths): (Vec<PathBuf>, Vec<PathBuf>) = fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        })
        .partition(|p| lore_owner(p).is_some());
    paths.sort();
    if paths.is_empty() {
        return Err(PersonaError::Empty(dir.to_path_buf()));
    }
    let sources = paths
        .into_iter()
        .map(|path| {
            let text = read_regular_file(&path);
            (path, text)
        })
        .collect();
    let lore = lore_paths
        .into_iter()
        .filter_map(|path| {
            let owner = lore_owner(&path)?;
            let text = read_lore_file(&path);
            Some((owner, (path, text)))
        })
        .collect();
    Ok(from_sources_with_lore(
        sources,
        &lore,
        PersonaSource::Dir(dir.to_path_buf()),
    ))
}

/// The suffix of a lore file: `chef.lore.toml` holds the lore of `chef`.
pub const LORE_SUFFIX: &str = ".lore.toml";

/// The persona id a lore file belongs to, if `path` is one.
fn lore_owner(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    name.strip_suffix(LORE_SUFFIX).map(str::to_string)
}

/// A lore file's text, read with the lore files' own size limit.
fn read_lore_file(path: &Path) -> Result<String, String> {
    let metadata = fs::metadata(path).map_err(|e| format!("could not read the file: {e}"))?;
    if !metadata.is_file() {
        return Err(format!(
            "is {}, not a regular file; only regular files are read as lore, so remove it or rename it",
            kind(&metadata.file_type())
        ));
    }
    crate::schema::read_lore_source(path).map_err(|e| format!("could not read the file: {e}"))
}

/// The personas built into the binary.
pub(super) fn builtin() -> Personas {
    let sources = crate::builtin::PERSONAS
        .iter()
        .filter(|(name, _)| name.ends_with(".toml"))
        .map(|(name, text)| (Path::new("personas").join(name), Ok(text.to_string())))
        .collect();
    from_sources(sources, PersonaSource::Builtin)
}

/// The text of `path` if it is a regular file (symlinks are followed);
/// otherwise, or if it cannot be read, what stops it, for a diagnostic.
///
/// The type is checked before opening: opening a FIFO for reading waits
/// for a writer that may never come.
pub(super) fn read_regular_file(path: &Path) -> Result<String, String> {
    let metadata = fs::metadata(path).map_err(|e| format!("could not read the file: {e}"))?;
    if !metadata.is_file() {
        return Err(format!(
            "is {}, not a regular file; only regular files are read as personas, so remove it or rename it",
            kind(&metadata.file_type())
        ));
    }
    crate::schema::read_source(path).map_err(|e| format!("could not read the file: {e}"))
}

/// What a file that is not a regular file is, in words.
fn kind(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "something else"
    }
}

/// Parses and validates every file; the valid ones make the catalog, the
/// others are skipped with every problem found in them.
pub(super) fn from_sources(sources: Vec<Source>, source: PersonaSource) -> Personas {
    from_sources_with_lore(sources, &BTreeMap::new(), source)
}

/// [`from_sources`], with each persona's lore file (by persona id) read
/// into its lorebook.
fn from_sources_with_lore(
    sources: Vec<Source>,
    lore: &BTreeMap<String, Source>,
    source: PersonaSource,
) -> Personas {
    let mut catalog = Personas {
        by_id: BTreeMap::new(),
        source,
        files: BTreeMap::new(),
        skipped: Vec::new(),
        unavailable: None,
    };
    let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, text) in sources {
        let id = persona_id(&path);
        let readable = text.is_ok();
        let checked = text.map_err(|message| vec![Diagnostic::at(&path, "", 0, message)]);
        let parsed = checked.and_then(|text| {
            check_name(&path, &text, &id, &origin)?;
            let persona = match lore.get(&id) {
                Some(lore_file) => parse_with_lore(&path, &text, lore_file)?,
                None => parse_persona(&path, &text)?,
            };
            Ok((persona, text))
        });
        // A file that could not be read claims no id: a readable one with
        // the same name is not a duplicate of it.
        if readable && crate::ids::check_id("persona id", &id).is_ok() {
            origin.entry(id.clone()).or_insert_with(|| path.clone());
        }
        match parsed {
            Ok((mut persona, text)) => {
                persona.id = id.clone();
                catalog.by_id.insert(id.clone(), Arc::new(persona));
                catalog.files.insert(id, (path, text));
            }
            Err(problems) => catalog.skipped.push(SkippedPersona {
                id: crate::ids::check_id("persona id", &id).ok().map(|()| id),
                file: path,
                problems,
            }),
        }
    }
    catalog
}

/// Checks that a file's name makes an id, and one no earlier file took.
fn check_name(
    path: &Path,
    text: &str,
    id: &str,
    origin: &BTreeMap<String, PathBuf>,
) -> Result<(), Vec<Diagnostic>> {
    if let Err(message) = crate::ids::check_id("persona id", id) {
        let message = format!("file name: {message}");
        return Err(vec![Diagnostic::at(path, text, 0, message)]);
    }
    if let Some(first) = origin.get(id) {
        let message = format!(
            "duplicate persona id \"{id}\" (also defined by {}); rename one of the files",
            first.display()
        );
        return Err(vec![Diagnostic::at(path, text, 0, message)]);
    }
    Ok(())
}

/// A persona's id: its file stem, lower-cased.
fn persona_id(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// Checks one file's shape, then reads it with serde and compiles its lore.
pub(super) fn parse_persona(path: &Path, text: &str) -> Result<Persona, Vec<Diagnostic>> {
    let mut persona = read_checked::<Persona>(path, text, PERSONA_FIELDS)?;
    persona
        .compile_lore()
        .map_err(|problems| lore_diagnostics(problems, &[(path, text, usize::MAX)]))?;
    Ok(persona)
}

/// Checks a TOML text's shape, then reads it with serde.
fn read_checked<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    fields: &[crate::schema::Field],
) -> Result<T, Vec<Diagnostic>> {
    let problems = check_document(path, text, fields);
    if !problems.is_empty() {
        return Err(problems);
    }
    toml_edit::de::from_str::<T>(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![Diagnostic::at(
            path,
            text,
            offset,
            e.message().trim().to_string(),
        )]
    })
}

/// What a lore file holds: entries, and the book's settings when the
/// persona file sets none.
#[derive(serde::Deserialize)]
struct LoreFile {
    #[serde(default)]
    lore: Vec<super::lore::LoreEntry>,
    #[serde(default)]
    lorebook: Option<super::lore::LoreSettings>,
}

/// Every key a lore file may hold.
const LORE_FILE_FIELDS: &[crate::schema::Field] = &[
    crate::schema::Field::optional(
        "lore",
        crate::schema::Shape::TableList(super::lore::LORE_FIELDS),
    ),
    crate::schema::Field::optional(
        "lorebook",
        crate::schema::Shape::Table(super::lore::LOREBOOK_FIELDS),
    ),
];

/// Reads a persona file and its lore file: the lore file's entries come
/// after the persona file's own, and its `[lorebook]` counts when the
/// persona file has none.
fn parse_with_lore(
    path: &Path,
    text: &str,
    (lore_path, lore_text): &Source,
) -> Result<Persona, Vec<Diagnostic>> {
    let mut persona = read_checked::<Persona>(path, text, PERSONA_FIELDS)?;
    let lore_text = lore_text
        .as_ref()
        .map_err(|message| vec![Diagnostic::at(lore_path, "", 0, message.clone())])?;
    let file = read_checked::<LoreFile>(lore_path, lore_text, LORE_FILE_FIELDS)?;
    let own = persona.lore.len();
    persona.lore.extend(file.lore);
    let has_settings =
        toml_edit::ImDocument::parse(text).is_ok_and(|doc| doc.as_table().contains_key("lorebook"));
    if let (Some(settings), false) = (file.lorebook, has_settings) {
        persona.lorebook = settings;
    }
    persona.compile_lore().map_err(|problems| {
        lore_diagnostics(
            problems,
            &[(path, text, own), (lore_path, lore_text, usize::MAX)],
        )
    })?;
    Ok(persona)
}

/// Checks a lore file's text as loading does: its shape, and that every
/// regex key compiles; `path` only names the file in the problems.
pub(super) fn check_lore_text(path: &Path, text: &str) -> Result<usize, Vec<Diagnostic>> {
    let file = read_checked::<LoreFile>(path, text, LORE_FILE_FIELDS)?;
    let settings = file.lorebook.unwrap_or_default();
    super::lore::Lorebook::compile(&file.lore, &settings)
        .map_err(|problems| lore_diagnostics(problems, &[(path, text, usize::MAX)]))?;
    Ok(file.lore.len())
}

/// Lore problems as diagnostics: `files` are (path, text, entries in it)
/// in the order their entries were joined.
fn lore_diagnostics(problems: Vec<LoreProblem>, files: &[(&Path, &str, usize)]) -> Vec<Diagnostic> {
    problems
        .into_iter()
        .map(|mut problem| {
            let mut at = files[files.len() - 1];
            for file in files {
                if problem.entry < file.2 {
                    at = *file;
                    break;
                }
                problem.entry -= file.2;
            }
            let offset = lore_key_offset(at.1, &problem).unwrap_or(0);
            Diagnostic::at(at.0, at.1, offset, format!("lore: {}", problem.message))
        })
        .collect()
}

/// Where the key a lore problem is about sits in the file.
fn lore_key_offset(text: &str, problem: &LoreProblem) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let entries = doc.as_table().get("lore")?.as_array_of_tables()?;
    let entry = entries.get(problem.entry)?;
    let list = if problem.secondary {
        "secondary_keys"
    } else {
        "keys"
    };
    let keys = entry.get(list)?;
    let key = keys.as_array().and_then(|a| a.get(problem.key));
    key.and_then(toml_edit::Value::span)
        .or_else(|| keys.span())
        .map(|s| s.start)
}
