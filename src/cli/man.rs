//! `troupe man [--dir DIR]`: man pages, `troupe(1)` on stdout, or one page
//! per command written into a directory.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_mangen::Man;

use super::Cli;
use crate::error::Error;

/// Arguments of `troupe man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write troupe.1 and a page per subcommand (troupe-chat.1, …) into DIR.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints `troupe(1)`, or writes every page into `--dir` and lists them.
pub fn run(args: &ManArgs) -> Result<i32, Error> {
    let Some(dir) = &args.dir else {
        let mut page = Vec::new();
        Man::new(Cli::command())
            .render(&mut page)
            .map_err(|e| Error::Terminal(e.to_string()))?;
        use std::io::Write as _;
        std::io::stdout()
            .write_all(&page)
            .map_err(|e| Error::Terminal(e.to_string()))?;
        return Ok(0);
    };
    for path in write_pages(dir)? {
        outln!("wrote {}", path.display());
    }
    Ok(0)
}

/// Writes a page for `troupe` and for every subcommand into `dir` (created
/// if needed); returns the files written.
pub fn write_pages(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let failed = |e: std::io::Error| {
        Error::Usage(format!(
            "could not write man pages into {}: {e}; choose a writable --dir",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut written = Vec::new();
    let mut pending = vec![command];
    while let Some(command) = pending.pop() {
        pending.extend(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .cloned(),
        );
        written.push(Man::new(command).generate_to(dir).map_err(failed)?);
    }
    written.sort();
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_man_page_is_written_for_troupe_and_every_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let pages = write_pages(dir.path()).unwrap();
        let names: Vec<String> = pages
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect();
        for page in ["troupe.1", "troupe-doctor.1", "troupe-personas-check.1"] {
            assert!(names.iter().any(|n| n == page), "{page} missing: {names:?}");
        }
        let doctor = std::fs::read_to_string(dir.path().join("troupe-doctor.1")).unwrap();
        assert!(doctor.contains("Example: troupe doctor"), "{doctor}");
    }
}
