//! `troupe user set|show`: a user's settings.

use clap::{Args, Subcommand, ValueEnum};

use super::print_json;
use crate::app::App;
use crate::error::Error;
use crate::report::SettingsChange;

/// The `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Change a user's settings.
    #[command(
        after_help = "Example: troupe user set ana --name Ana --timezone Europe/Paris --language fr"
    )]
    Set(SetArgs),
    /// Show a user's settings and conversations.
    #[command(after_help = "Example: troupe user show ana --json")]
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
    /// The name personas call the user by, `{{user}}` in persona texts ("default" clears it).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
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

/// Runs a `user` subcommand.
pub async fn run(app: &App, command: UserCommand) -> Result<i32, Error> {
    let reach = super::reach(app).await?;
    match command {
        UserCommand::Set(mut args) => {
            args.user = reach.user_id(&args.user).await?;
            let minor = match (args.minor, args.adult) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let change = SettingsChange {
                display_name: args.name,
                timezone: args.timezone,
                minor,
                language: args.language,
                followups: args.followups.map(|s| s == Switch::On),
            };
            reach.update_user(&args.user, change).await?;
            outln!("updated {}", args.user);
        }
        UserCommand::Show(mut args) => {
            args.user = reach.user_id(&args.user).await?;
            let view = reach
                .user(&args.user)
                .await?
                .ok_or_else(|| no_user(app, &args.user))?;
            if args.json {
                print_json(&view)?;
            } else {
                let minor = if view.minor { ", minor" } else { "" };
                let language = view.language.as_deref().unwrap_or("the persona's");
                let name = view.display_name.as_deref().unwrap_or("User (default)");
                outln!(
                    "{}  name: {name}, time zone: {}, language: {language}{minor}, follow-ups {}",
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

/// A user who never wrote, named with the store looked in.
pub(crate) fn no_user(app: &App, user: &str) -> Error {
    Error::NotFound(format!(
        "there is no user \"{user}\" in {}",
        app.store_place()
    ))
}
