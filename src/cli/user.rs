//! `troupe user set|show`: a user's settings.

use chrono_tz::Tz;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::print_json;
use crate::app::App;
use crate::error::Error;
use crate::store::Conversation;

/// The `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Change a user's settings.
    Set(SetArgs),
    /// Show a user's settings and conversations.
    Show(ShowArgs),
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Allowed.
    On,
    /// Not allowed.
    Off,
}

/// Arguments of `user set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The user.
    pub user: String,
    /// The user's time zone, an IANA name such as Europe/Paris ("default" clears it).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Mark the user as a minor: no follow-ups, break reminders, no adults-only personas.
    #[arg(long, conflicts_with = "adult")]
    pub minor: bool,
    /// Mark the user as an adult again.
    #[arg(long)]
    pub adult: bool,
    /// The user's language (en, fr, pt-BR…), for crisis resources ("default" clears it).
    #[arg(long, value_name = "CODE")]
    pub language: Option<String>,
    /// Allow or refuse follow-ups from every persona.
    #[arg(long, value_enum, value_name = "on|off")]
    pub followups: Option<Switch>,
}

/// Arguments of `user show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The user.
    pub user: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `user show --json`.
#[derive(Debug, Serialize)]
struct UserView {
    id: String,
    timezone: String,
    minor: bool,
    language: Option<String>,
    followups: &'static str,
    conversations: Vec<ConversationView>,
}

/// One conversation in `user show`.
#[derive(Debug, Serialize)]
struct ConversationView {
    persona: String,
    user_messages: u64,
    followups_sent: u64,
    followups: &'static str,
}

/// Runs a `user` subcommand.
pub fn run(app: &App, command: UserCommand) -> Result<i32, Error> {
    let store = app.open_store()?;
    match command {
        UserCommand::Set(args) => {
            app.check_user(&args.user)?;
            let timezone = match args.timezone.as_deref() {
                None => None,
                Some("default") => Some(None),
                Some(tz) => {
                    tz.parse::<Tz>().map_err(|_| {
                        Error::Usage(format!(
                            "unknown time zone \"{tz}\"; use an IANA name like Europe/Paris or America/New_York"
                        ))
                    })?;
                    Some(Some(tz.to_string()))
                }
            };
            let language = match args.language.as_deref() {
                None => None,
                Some("default") => Some(None),
                Some(code) => {
                    crate::persona::check_language(code)
                        .map_err(|e| Error::Usage(format!("--language {e}")))?;
                    Some(Some(code.to_string()))
                }
            };
            let minor = match (args.minor, args.adult) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            store.update_user(&args.user, app.clock.now(), &|user| {
                if let Some(tz) = &timezone {
                    user.timezone = tz.clone();
                }
                if let Some(minor) = minor {
                    user.minor = minor;
                }
                if let Some(language) = &language {
                    user.language = language.clone();
                }
                if let Some(switch) = args.followups {
                    user.followups_off = switch == Switch::Off;
                }
            })?;
            outln!("updated {}", args.user);
        }
        UserCommand::Show(args) => {
            app.check_user(&args.user)?;
            let record = store.user(&args.user)?.ok_or_else(|| {
                Error::NotFound(format!(
                    "there is no user \"{}\" in {}",
                    args.user,
                    app.data_dir.display()
                ))
            })?;
            let conversations: Vec<ConversationView> = app
                .personas
                .iter()
                .filter_map(|p| store.conversation(&args.user, &p.id).transpose())
                .map(|c| c.map(view))
                .collect::<Result<_, _>>()?;
            let view = UserView {
                id: record.id,
                timezone: record.timezone.unwrap_or_else(|| {
                    format!("{} (default)", app.config.followups.default_timezone)
                }),
                minor: record.minor,
                language: record.language,
                followups: if record.followups_off { "off" } else { "on" },
                conversations,
            };
            if args.json {
                print_json(&view)?;
            } else {
                let minor = if view.minor { ", minor" } else { "" };
                let language = view.language.as_deref().unwrap_or("the persona's");
                outln!(
                    "{}  time zone: {}, language: {language}{minor}, follow-ups {}",
                    view.id,
                    view.timezone,
                    view.followups
                );
                for c in &view.conversations {
                    outln!(
                        "  {:<10} {} messages, {} follow-up(s) sent, follow-ups {}",
                        c.persona,
                        c.user_messages,
                        c.followups_sent,
                        c.followups
                    );
                }
            }
        }
    }
    Ok(0)
}

fn view(c: Conversation) -> ConversationView {
    ConversationView {
        persona: c.persona,
        user_messages: c.user_messages,
        followups_sent: c.followups_sent,
        followups: if c.opted_out { "off (STOP)" } else { "on" },
    }
}
