//! The command line: flags parsed once into [`Settings`], then one thin
//! function per subcommand (one file each) calling the library.

mod chat;
mod completions;
mod dev;
mod doctor;
mod followups;
mod history;
mod init;
pub(crate) mod maintenance;
mod man;
mod models;
mod personas;
mod progress;
mod rights;
mod serve;
mod store;
mod store_copy;
mod style;
mod topics;
mod usage;
mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::{App, Settings};
use crate::error::Error;
use crate::reach::Reach;

/// Troupe: AI personas you can chat with, defined as TOML files.
#[derive(Debug, Parser)]
#[command(
    name = "troupe",
    version,
    about,
    long_about = None,
    after_help = "Example: troupe init my-personas && cd my-personas && troupe chat starter"
)]
pub struct Cli {
    /// Where conversations are stored [default: the per-user data dir, e.g. ~/.local/share/troupe].
    // Read as text so that an empty value reaches `settings`, which says
    // what to do about it, instead of being refused as a missing flag value.
    #[arg(
        long,
        global = true,
        env = "TROUPE_DATA_DIR",
        value_name = "DIR",
        value_parser = clap::builder::OsStringValueParser::new()
    )]
    pub data_dir: Option<std::ffi::OsString>,
    /// A directory of persona files replacing the built-in personas [default: ./personas when present].
    #[arg(long, global = true, env = "TROUPE_PERSONAS", value_name = "DIR")]
    pub personas: Option<PathBuf>,
    /// A directory of prompt templates overriding the built-in ones by file name [default: ./prompts when present].
    #[arg(long, global = true, env = "TROUPE_PROMPTS", value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    /// The deployment config [default: ./troupe.toml when present].
    #[arg(long, global = true, env = "TROUPE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Fix the clock at this RFC 3339 instant (e.g. 2026-11-26T09:00:00Z).
    #[arg(long, global = true, env = "TROUPE_NOW", value_name = "RFC3339")]
    pub now: Option<String>,
    /// Use this model backend (a [models.NAME] of the config, or "offline").
    #[arg(long, global = true, value_name = "NAME")]
    pub model: Option<String>,
    /// Log more to stderr (-v: info, -vv: debug); RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Chat with a persona.
    #[command(after_help = "Example: troupe chat chef --message \"I have rice and two eggs\"")]
    Chat(chat::ChatArgs),
    /// Serve the HTTP API, the OpenAI-compatible endpoint and the web console.
    #[command(after_help = "Example: troupe serve --listen 127.0.0.1:8080")]
    Serve(serve::ServeArgs),
    /// Print a stored conversation.
    #[command(after_help = "Example: troupe history --user ana --persona chef --json")]
    History(history::HistoryArgs),
    /// List, show, check, import and export personas.
    #[command(subcommand, after_help = "Example: troupe personas list")]
    Personas(personas::PersonasCommand),
    /// Find, explain and send follow-ups to users who have gone quiet.
    #[command(subcommand, after_help = "Example: troupe followups due")]
    Followups(followups::FollowupsCommand),
    /// Show the topics a user talked about with a persona.
    #[command(after_help = "Example: troupe topics --user ana --persona chef")]
    Topics(topics::TopicsArgs),
    /// Set or show a user's settings (time zone).
    #[command(
        subcommand,
        after_help = "Example: troupe user set ana --timezone Europe/Paris"
    )]
    User(user::UserCommand),
    /// List model backends and check that they answer.
    #[command(subcommand, after_help = "Example: troupe models check")]
    Models(models::ModelsCommand),
    /// Tokens and latency per persona and model.
    #[command(after_help = "Example: troupe usage --since 2026-11-01 --json")]
    Usage(usage::UsageArgs),
    /// Everything stored about a user, as one JSON document.
    #[command(after_help = "Example: troupe export --user ana > ana.json")]
    Export(rights::ExportArgs),
    /// Erase everything stored about a user, unrecoverably.
    #[command(after_help = "Example: troupe erase --user ana")]
    Erase(rights::EraseArgs),
    /// Housekeeping: purge messages past the retention period.
    #[command(subcommand, after_help = "Example: troupe maintenance purge")]
    Maintenance(maintenance::MaintenanceCommand),
    /// The anonymous safety log.
    #[command(subcommand, after_help = "Example: troupe safety report --by week")]
    Safety(maintenance::SafetyCommand),
    /// The store: back it up, check it, recover it.
    #[command(
        subcommand,
        after_help = "Example: troupe store backup /backups/troupe-2026-12-01"
    )]
    Store(store::StoreCommand),
    /// Developer tools: synthetic data for demos and benchmarks.
    #[command(
        subcommand,
        after_help = "Example: troupe dev populate --conversations 10000"
    )]
    Dev(dev::DevCommand),
    /// Create a project: troupe.toml, a starter persona and the prompt templates.
    #[command(after_help = "Example: troupe init my-personas")]
    Init(init::InitArgs),
    /// Check the config, personas, model backends, data dir and clock, and say how to fix each problem.
    #[command(after_help = "Example: troupe doctor --json")]
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example: troupe completions bash > ~/.local/share/bash-completion/completions/troupe"
    )]
    Completions(completions::CompletionsArgs),
    /// Print the man page, or write one per command into a directory.
    #[command(after_help = "Example: troupe man --dir ~/.local/share/man/man1")]
    Man(man::ManArgs),
}

impl Command {
    /// Whether the command works with personas, so fails without any and
    /// warns about skipped ones. Users' rights and settings, reports and
    /// housekeeping never depend on personas; the server logs what it
    /// skipped and starts even without a persona, for those.
    fn needs_personas(&self) -> bool {
        match self {
            Command::Chat(_)
            | Command::History(_)
            | Command::Personas(_)
            | Command::Followups(_)
            | Command::Topics(_)
            | Command::Models(_)
            | Command::Dev(_) => true,
            Command::Serve(_)
            | Command::User(_)
            | Command::Usage(_)
            | Command::Export(_)
            | Command::Erase(_)
            | Command::Maintenance(_)
            | Command::Safety(_)
            | Command::Init(_)
            | Command::Doctor(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Store(_) => false,
        }
    }
}

impl Cli {
    /// Resolves flags, env vars and defaults into settings; an empty data
    /// dir is a usage error.
    pub fn settings(&self) -> Result<Settings, Error> {
        let config_path = self.config.clone().or_else(|| {
            let local = PathBuf::from("troupe.toml");
            // Anything there but a missing file is read, so a directory or an
            // unreadable file is an error rather than silently ignored.
            local.exists().then_some(local)
        });
        // A project's folders (see `troupe init`), like its troupe.toml.
        let local_dir = |name: &str| {
            let dir = PathBuf::from(name);
            dir.is_dir().then_some(dir)
        };
        Ok(Settings {
            data_dir: data_dir(self.data_dir.as_deref())?,
            personas_dir: self.personas.clone().or_else(|| local_dir("personas")),
            prompts_dir: self.prompts.clone().or_else(|| local_dir("prompts")),
            language_dir: local_dir("lang"),
            config_path,
            now: self.now.clone(),
            model: self.model.clone(),
        })
    }

    /// Runs the command; returns the process exit code.
    pub async fn run(self) -> Result<i32, Error> {
        let settings = self.settings()?;
        // These work without an app: they report on, or create, what an
        // app is built from.
        if let Command::Personas(command) = &self.command
            && let Some(code) = personas::run_without_app(command, &settings)
        {
            return Ok(code);
        }
        match &self.command {
            Command::Init(args) => return init::run(args),
            Command::Doctor(args) => return doctor::run(args, &settings).await,
            Command::Completions(args) => return completions::run(args),
            Command::Man(args) => return man::run(args),
            _ => {}
        }
        let app = App::new(&settings)?;
        if self.command.needs_personas() {
            app.personas().require_any()?;
            for line in app.personas().warnings() {
                errln!("troupe: {line}");
            }
        }
        match self.command {
            Command::Serve(args) => serve::run(app, args).await,
            Command::Chat(args) => chat::run(&app, args).await,
            Command::History(args) => history::run(&app, args).await,
            Command::Personas(command) => personas::run(&app, command),
            Command::Followups(command) => followups::run(&app, command).await,
            Command::Topics(args) => topics::run(&app, args).await,
            Command::User(command) => user::run(&app, command).await,
            Command::Dev(command) => dev::run(&app, command).await,
            Command::Models(command) => models::run(&app, command).await,
            Command::Usage(args) => usage::run(&app, args).await,
            Command::Export(args) => rights::export(&app, args).await,
            Command::Erase(args) => rights::erase(&app, args).await,
            Command::Maintenance(command) => maintenance::maintenance(&app, command).await,
            Command::Safety(command) => maintenance::safety(&app, command).await,
            Command::Store(command) => store::run(&app, command).await,
            Command::Init(_) | Command::Doctor(_) | Command::Completions(_) | Command::Man(_) => {
                unreachable!("handled before the app is built")
            }
        }
    }
}

/// The data dir `--data-dir` or `TROUPE_DATA_DIR` names, else the default;
/// an empty one is refused, saying where it came from (an unset shell
/// variable expands to nothing, and the default dir would show another
/// store's conversations).
fn data_dir(given: Option<&std::ffi::OsStr>) -> Result<PathBuf, Error> {
    match given {
        None => Ok(default_data_dir()),
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        Some(_) => {
            let flag_given = std::env::args_os()
                .any(|a| a == "--data-dir" || a.to_string_lossy().starts_with("--data-dir="));
            let default = default_data_dir();
            Err(Error::Usage(if flag_given {
                format!(
                    "--data-dir is empty; name the directory where conversations are stored, or leave the flag out to use the default, {}",
                    default.display()
                )
            } else {
                format!(
                    "TROUPE_DATA_DIR is set but empty; set it to the directory where conversations are stored, or unset it (`unset TROUPE_DATA_DIR`) to use the default, {}",
                    default.display()
                )
            }))
        }
    }
}

/// The per-user data dir: `$XDG_DATA_HOME/troupe`, `~/.local/share/troupe`
/// or the platform's equivalent; `./troupe-data` if none is known.
fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("troupe"))
        .unwrap_or_else(|| PathBuf::from("troupe-data"))
}

/// The user id when `--user` is not given: `$TROUPE_USER` (which must be a
/// valid id: a typo must not file one person's messages under another),
/// else the login name, else `me`.
pub(crate) fn default_user() -> Result<String, Error> {
    if let Some(chosen) = std::env::var("TROUPE_USER").ok().filter(|u| !u.is_empty()) {
        crate::ids::check_id("TROUPE_USER", &chosen).map_err(Error::Usage)?;
        return Ok(chosen);
    }
    Ok(["USER", "USERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|u| crate::ids::check_id("user id", u).is_ok())
        .unwrap_or_else(|| "me".to_string()))
}

/// Where the command's data is (see [`Reach`]); going through a server,
/// says so when `--now` or `--model` was given, since they apply here only.
pub(crate) async fn reach(app: &App) -> Result<Reach<'_>, Error> {
    let reach = Reach::connect(app).await?;
    if let Some(address) = reach.server_address()
        && (app.clock.is_fixed() || app.model_flag().is_some())
    {
        errln!(
            "troupe: going through the server at {address} that holds {}; it keeps its own clock and models, so --now and --model do not apply",
            app.data_dir.display()
        );
    }
    Ok(reach)
}

/// Prints a value as pretty JSON on stdout, with the characters a terminal
/// must not see escaped (see [`crate::terminal::json_escaped`]).
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Terminal(e.to_string()))?;
    outln!("{}", crate::terminal::json_escaped(&text));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    /// Splits an example into words as a shell would (double quotes only),
    /// up to its first `>` or `&&`.
    fn words(example: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut word = String::new();
        let mut quoted = false;
        for c in example.chars() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if word == ">" || word == "&&" {
                        return words;
                    }
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        if !word.is_empty() && word != ">" && word != "&&" {
            words.push(word);
        }
        words
    }

    #[test]
    fn every_command_has_a_one_line_summary_and_an_example_that_parses() {
        let mut root = Cli::command();
        root.build();
        let mut pending = vec![("troupe".to_string(), root)];
        let mut seen = 0;
        while let Some((path, command)) = pending.pop() {
            let about = command
                .get_about()
                .map(|a| a.to_string())
                .unwrap_or_default();
            assert!(
                !about.trim().is_empty() && !about.contains('\n'),
                "`{path}` needs a one-line summary, not {about:?}"
            );
            let after = command
                .get_after_help()
                .map(|a| a.to_string())
                .unwrap_or_default();
            let example = after.strip_prefix("Example: ").unwrap_or_else(|| {
                panic!("`{path} --help` needs an \"Example: …\" after the options, not {after:?}")
            });
            assert!(
                example.starts_with(&path),
                "the example of `{path}` runs another command: {example}"
            );
            if let Err(e) = Cli::try_parse_from(words(example)) {
                panic!("the example of `{path}` does not parse: {example}\n{e}");
            }
            seen += 1;
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                pending.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
        }
        assert!(seen > 30, "only {seen} commands were walked");
    }

    /// Every command `troupe` runs, as `troupe personas list`: the leaves
    /// of clap's command tree.
    fn leaf_commands() -> Vec<String> {
        let mut root = Cli::command();
        root.build();
        let mut pending = vec![("troupe".to_string(), root)];
        let mut leaves = Vec::new();
        while let Some((path, command)) = pending.pop() {
            let subs: Vec<_> = command
                .get_subcommands()
                .filter(|s| s.get_name() != "help")
                .cloned()
                .collect();
            for sub in &subs {
                pending.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
            if subs.is_empty() {
                leaves.push(path);
            }
        }
        leaves.sort();
        leaves
    }

    #[test]
    fn the_manual_s_command_list_and_the_command_line_agree() {
        let page = include_str!("../../docs/src/cli.md");
        let leaves = leaf_commands();
        // Every command is documented…
        for command in &leaves {
            assert!(
                page.contains(&format!("`{command} ")) || page.contains(&format!("`{command}`")),
                "docs/src/cli.md does not document `{command}`"
            );
        }
        // …and every command the page names exists.
        for named in page.split('`').filter(|t| t.starts_with("troupe ")) {
            let words: Vec<&str> = named
                .split_whitespace()
                .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
                .collect();
            let exists = (1..=words.len()).rev().any(|n| {
                let path = words[..n].join(" ");
                leaves.contains(&path)
            });
            assert!(
                exists,
                "docs/src/cli.md names `{named}`, which troupe does not have"
            );
        }
    }
}
