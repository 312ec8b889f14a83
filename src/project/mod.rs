//! A Troupe project: a directory holding `troupe.toml`, a `personas/`
//! folder and a `prompts/` folder, which every command run from it uses.
//! [`init`] creates one for `troupe init`: the config with every setting
//! commented at its default ([`template`]), a starter persona to edit, and
//! the built-in prompt templates to override. It never overwrites a file.
//! [`new_persona`] writes one more persona from the same starter, for
//! `troupe personas new`.

mod config_docs;
mod scaffold;
mod template;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use scaffold::{ScaffoldError, ScaffoldLanguage, new_persona, persona_scaffold};
pub use template::config_template;

/// The starter persona `troupe init` writes, commented key by key.
pub const STARTER_PERSONA: &str = include_str!("starter.toml");

/// The starter persona's id (its file name without `.toml`).
pub const STARTER_ID: &str = "starter";

/// What [`init`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct InitReport {
    /// The files it wrote.
    pub created: Vec<PathBuf>,
    /// The files that were there already and were left untouched.
    pub kept: Vec<PathBuf>,
}

/// A project file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error(
    "could not create {path}: {source}; check that its folder is writable, or choose another with `troupe init DIR`"
)]
pub struct InitError {
    /// The file or folder.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Every file of a new project, relative to its directory, with its text.
pub fn project_files() -> Vec<(PathBuf, String)> {
    let mut files = vec![
        (PathBuf::from("troupe.toml"), config_template()),
        (
            Path::new("personas").join(format!("{STARTER_ID}.toml")),
            STARTER_PERSONA.to_string(),
        ),
    ];
    for (name, text) in crate::builtin::PROMPTS {
        files.push((Path::new("prompts").join(name), text.to_string()));
    }
    files
}

/// Creates a project in `dir` (and `dir` itself if needed). A file that
/// exists already is kept as it is and listed in [`InitReport::kept`].
pub fn init(dir: &Path) -> Result<InitReport, InitError> {
    let mut report = InitReport::default();
    for (relative, text) in project_files() {
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| InitError {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        if write_new(&path, &text)? {
            report.created.push(path);
        } else {
            report.kept.push(path);
        }
    }
    Ok(report)
}

/// Writes `text` to `path` unless something is there already (checked and
/// created in one step, so nothing is ever overwritten); `false` if it was.
fn write_new(path: &Path, text: &str) -> Result<bool, InitError> {
    let error = |source| InitError {
        path: path.to_path_buf(),
        source,
    };
    let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(error(e)),
    };
    file.write_all(text.as_bytes()).map_err(error)?;
    file.sync_all().map_err(error)?;
    Ok(true)
}

/// The three commands to run next, from the directory `troupe init` was run
/// in: into the project, check the persona, check everything, chat.
pub fn next_commands(dir: &Path) -> [String; 3] {
    let here = dir == Path::new(".") || dir.as_os_str().is_empty();
    let cd = if here {
        String::new()
    } else {
        format!("cd {} && ", shell_word(&dir.display().to_string()))
    };
    [
        format!("{cd}troupe personas check"),
        "troupe doctor".to_string(),
        format!("troupe chat {STARTER_ID}"),
    ]
}

/// `text` quoted for a POSIX shell when it needs to be.
fn shell_word(text: &str) -> String {
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./~".contains(c));
    if plain && !text.is_empty() {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_persona_is_valid_and_says_what_each_key_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("starter.toml");
        std::fs::write(&file, STARTER_PERSONA).unwrap();
        let personas = crate::persona::Personas::load_dir(dir.path()).unwrap();
        assert!(personas.problems().is_empty(), "{:?}", personas.problems());
        let persona = personas.get(STARTER_ID).unwrap();
        assert!(!persona.examples.is_empty() && !persona.expertise.is_empty());
        let comments = STARTER_PERSONA
            .lines()
            .filter(|l| l.starts_with('#'))
            .count();
        let keys = STARTER_PERSONA
            .lines()
            .filter(|l| l.contains(" = ") && !l.starts_with('#'))
            .count();
        assert!(comments >= keys, "{comments} comment lines for {keys} keys");
    }

    #[test]
    fn init_writes_every_file_once_and_keeps_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("new");
        let first = init(&project).unwrap();
        assert_eq!(first.created.len(), project_files().len());
        assert!(first.kept.is_empty());
        let config = project.join("troupe.toml");
        std::fs::write(&config, "# mine\n").unwrap();
        std::fs::remove_file(project.join("prompts/system.tera")).unwrap();
        let second = init(&project).unwrap();
        assert_eq!(second.created, vec![project.join("prompts/system.tera")]);
        assert!(second.kept.contains(&config));
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    }

    #[test]
    fn the_next_commands_go_into_the_project_first() {
        let [first, second, third] = next_commands(Path::new("my bots"));
        assert_eq!(first, "cd 'my bots' && troupe personas check");
        assert_eq!(second, "troupe doctor");
        assert_eq!(third, "troupe chat starter");
        assert_eq!(next_commands(Path::new("."))[0], "troupe personas check");
    }
}
