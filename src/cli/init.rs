//! `troupe init [DIR]`: a new project to start from (see [`crate::project`]).

use std::path::PathBuf;

use clap::Args;

use crate::error::Error;
use crate::project;

/// Arguments of `troupe init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project directory, created if needed [default: the current directory].
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// Runs `troupe init`: writes the project's files, says which were kept,
/// and prints the next three commands.
pub fn run(args: &InitArgs) -> Result<i32, Error> {
    let report = project::init(&args.dir)?;
    for path in &report.created {
        outln!("created {}", path.display());
    }
    for path in &report.kept {
        outln!("kept    {} (it exists; not overwritten)", path.display());
    }
    outln!();
    outln!("Next:");
    let notes = [
        "check personas/starter.toml after each edit",
        "check the config, personas, model backends and data dir",
        "chat with the starter persona",
    ];
    for (command, note) in project::next_commands(&args.dir).iter().zip(notes) {
        outln!("  {command:<40} # {note}");
    }
    Ok(0)
}
