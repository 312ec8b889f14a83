//! `troupe user set|show`: a user's settings.

use chrono_tz::Tz;
use clap::{Args, Subcommand};
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
    /// Show a user and their conversations.
    Show(ShowArgs),
}

/// Arguments of `user set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The user.
    pub user: String,
    /// The user's time zone, an IANA name such as Europe/Paris ("default" clears it).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
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
            if let Some(tz) = &args.timezone {
                let value = if tz == "default" {
                    None
                } else {
                    tz.parse::<Tz>().map_err(|_| {
                        Error::Usage(format!("unknown time zone \"{tz}\"; use an IANA name like Europe/Paris or America/New_York"))
                    })?;
                    Some(tz.as_str())
                };
                store.set_timezone(&args.user, value, app.clock.now())?;
            }
            println!("updated {}", args.user);
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
                conversations,
            };
            if args.json {
                print_json(&view)?;
            } else {
                println!("{}  time zone: {}", view.id, view.timezone);
                for c in &view.conversations {
                    println!(
                        "  {:<10} {} messages, {} follow-up(s) sent, follow-ups {}",
                        c.persona, c.user_messages, c.followups_sent, c.followups
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
