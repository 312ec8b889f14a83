//! `troupe completions SHELL`: the shell completion script, on stdout.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use crate::error::Error;

/// Arguments of `troupe completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script of `shell` for every command and flag.
pub fn run(args: &CompletionsArgs) -> Result<i32, Error> {
    let mut script = Vec::new();
    write(args.shell, &mut script);
    use std::io::Write as _;
    std::io::stdout()
        .write_all(&script)
        .map_err(|e| Error::Terminal(e.to_string()))?;
    Ok(0)
}

/// Writes the completion script of `shell` to `out`.
pub fn write(shell: Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut Cli::command(), "troupe", out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn a_completion_script_is_made_for_every_shell_and_knows_every_command() {
        for shell in Shell::value_variants() {
            let mut script = Vec::new();
            write(*shell, &mut script);
            let script = String::from_utf8(script).unwrap();
            for command in ["chat", "doctor", "init", "followups", "completions"] {
                assert!(
                    script.contains(command),
                    "{shell} completion lacks {command}"
                );
            }
        }
    }
}
