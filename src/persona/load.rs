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
    let sources = paths
        .into_iter()
        .map(|path| {
            let text = read_regular_file(&path);
            (path, text)
        })
        .collect();
    Ok(from_sources(sources, PersonaSource::Dir(dir.to_path_buf())))
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
            let persona = check_name(&path, &text, &id, &origin)
                .and_then(|()| parse_persona(&path, &text))?;
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

/// Checks one file's shape, then reads it with serde.
pub(super) fn parse_persona(path: &Path, text: &str) -> Result<Persona, Vec<Diagnostic>> {
    let problems = check_document(path, text, PERSONA_FIELDS);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut persona = toml_edit::de::from_str::<Persona>(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![Diagnostic::at(
            path,
            text,
            offset,
            e.message().trim().to_string(),
        )]
    })?;
    persona.compile_lore().map_err(|problems| {
        problems
            .into_iter()
            .map(|p| {
                let offset = lore_key_offset(text, &p).unwrap_or(0);
                Diagnostic::at(path, text, offset, format!("lore: {}", p.message))
            })
            .collect::<Vec<_>>()
    })?;
    Ok(persona)
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
