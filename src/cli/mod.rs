//! The command line: flags parsed once into [`Settings`], then one thin
//! function per subcommand (one file each) calling the library.

mod chat;
mod dev;
mod followups;
mod history;
pub(crate) mod maintenance;
mod models;
mod personas;
mod rights;
mod serve;
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
#[command(name = "troupe", version, about, long_about = None)]
pub struct Cli {
    /// Where conversations are stored [default: the per-user data dir, e.g. ~/.local/share/troupe].
    #[arg(long, global = true, env = "TROUPE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A directory of persona files replacing the built-in personas.
    #[arg(long, global = true, env = "TROUPE_PERSONAS", value_name = "DIR")]
    pub personas: Option<PathBuf>,
    /// A directory of prompt templates overriding the built-in ones by file name.
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
    Chat(chat::ChatArgs),
    /// Serve the HTTP API, the OpenAI-compatible endpoint and the web console.
    Serve(serve::ServeArgs),
    /// Print a stored conversation.
    History(history::HistoryArgs),
    /// List, show and check personas.
    #[command(subcommand)]
    Personas(personas::PersonasCommand),
    /// Find, explain and send follow-ups to users who have gone quiet.
    #[command(subcommand)]
    Followups(followups::FollowupsCommand),
    /// Show the topics a user talked about with a persona.
    Topics(topics::TopicsArgs),
    /// Set or show a user's settings (time zone).
    #[command(subcommand)]
    User(user::UserCommand),
    /// List model backends and check that they answer.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// Tokens and latency per persona and model.
    Usage(usage::UsageArgs),
    /// Everything stored about a user, as one JSON document.
    Export(rights::ExportArgs),
    /// Erase everything stored about a user, unrecoverably.
    Erase(rights::EraseArgs),
    /// Housekeeping: purge messages past the retention period.
    #[command(subcommand)]
    Maintenance(maintenance::MaintenanceCommand),
    /// The anonymous safety log.
    #[command(subcommand)]
    Safety(maintenance::SafetyCommand),
    /// Developer tools: synthetic data for demos and benchmarks.
    #[command(subcommand)]
    Dev(dev::DevCommand),
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
            | Command::Safety(_) => false,
        }
    }
}

impl Cli {
    /// Resolves flags, env vars and defaults into settings.
    pub fn settings(&self) -> Settings {
        let config_path = self.config.clone().or_else(|| {
            let local = PathBuf::from("troupe.toml");
            // Anything there but a missing file is read, so a directory or an
            // unreadable file is an error rather than silently ignored.
            local.exists().then_some(local)
        });
        Settings {
            data_dir: self.data_dir.clone().unwrap_or_else(default_data_dir),
            personas_dir: self.personas.clone(),
            prompts_dir: self.prompts.clone(),
            config_path,
            now: self.now.clone(),
            model: self.model.clone(),
        }
    }

    /// Runs the command; returns the process exit code.
    pub async fn run(self) -> Result<i32, Error> {
        let settings = self.settings();
        if let Command::Personas(personas::PersonasCommand::Check(args)) = &self.command {
            return Ok(personas::check(args, &settings));
        }
        let app = App::new(&settings)?;
        if self.command.needs_personas() {
            app.personas.require_any()?;
            for line in app.personas.warnings() {
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
            Command::Dev(command) => dev::run(&app, command),
            Command::Models(command) => models::run(&app, command).await,
            Command::Usage(args) => usage::run(&app, args).await,
            Command::Export(args) => rights::export(&app, args).await,
            Command::Erase(args) => rights::erase(&app, args).await,
            Command::Maintenance(command) => maintenance::maintenance(&app, command),
            Command::Safety(command) => maintenance::safety(&app, command).await,
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
pub(crate) fn reach(app: &App) -> Result<Reach<'_>, Error> {
    let reach = Reach::connect(app)?;
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
