//! `troupe chat PERSONA`: the console, or one message with `--message`;
//! here, or through the server holding the data dir.

use clap::Args;
use serde::Serialize;

use super::{default_user, print_json};
use crate::app::App;
use crate::chat::TurnError;
use crate::chat::view::TurnReply;
use crate::console::render::{Ended, Layout, TurnPrinter};
use crate::console::{Console, Input};
use crate::error::Error;
use crate::reach::{Notices, Reach};
use crate::report::PersonaSummary;

/// Arguments of `troupe chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The persona to talk to (see `troupe personas list`).
    pub persona: String,
    /// Who is chatting [default: $TROUPE_USER, else your login name].
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// Send this one message, print the reply and exit.
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// With --message: print {"persona","user","notice","break_reminder","reply":{"kind","text",…}} as JSON.
    #[arg(long, requires = "message")]
    pub json: bool,
}

/// The `--json` output of a one-shot message: the HTTP API's answer to
/// `POST /v1/conversations/{user}/{persona}/messages`, the same type, with
/// the conversation it was said in (the route has it in its path).
#[derive(Debug, Serialize)]
struct JsonTurn<'a> {
    /// The persona's id.
    persona: &'a str,
    /// The user's id, as stored.
    user: &'a str,
    /// `notice`, `break_reminder` and `reply`, as the API names them.
    #[serde(flatten)]
    turn: &'a TurnReply,
}

/// Runs `troupe chat`.
pub async fn run(app: &App, args: ChatArgs) -> Result<i32, Error> {
    let user = match args.user.clone() {
        Some(user) => user,
        None => default_user()?,
    };
    let reach = super::reach(app).await?;
    let user = reach.user_id(&user).await?;
    let persona = reach.chat_persona(&args.persona).await?;
    match args.message {
        None => console(app, &reach, &user, persona).await,
        Some(message) if args.json => json_turn(&reach, &user, &persona, &message).await,
        Some(message) => one_shot(&reach, &user, &persona, &message).await,
    }
}

/// The console, until the user leaves; exit code 1 if a message got no
/// reply or was refused.
async fn console(
    app: &App,
    reach: &Reach<'_>,
    user: &str,
    persona: PersonaSummary,
) -> Result<i32, Error> {
    let mut console = Console::new(app, reach, user, persona).await?;
    let outcome = console.run(&mut Input::detect()).await?;
    if outcome.failed_turns > 0 {
        errln!(
            "troupe: {} message(s) got no reply; they are saved",
            outcome.failed_turns
        );
    }
    if outcome.refused_messages > 0 {
        errln!(
            "troupe: {} message(s) were refused and not saved",
            outcome.refused_messages
        );
    }
    Ok(i32::from(
        outcome.failed_turns + outcome.refused_messages > 0,
    ))
}

/// One message: the follow-up waiting for the user and the notices on
/// stderr, the reply streamed on stdout, then its disclaimers.
async fn one_shot(
    reach: &Reach<'_>,
    user: &str,
    persona: &PersonaSummary,
    message: &str,
) -> Result<i32, Error> {
    if let Some(followup) = reach.take_unseen_followup(user, persona).await? {
        errln!(
            "{}",
            crate::locale::while_away(&persona.language, &persona.name)
        );
        errln!("{}: {}", persona.name, followup.shown_text());
    }
    errln!("[{}]", persona.ai_notice);
    if let Some(notice) = &persona.backend_notice {
        errln!("[{notice}]");
    }
    let mut printer = TurnPrinter::new(Layout::OneShot, &persona.name);
    let mut ended = None;
    let mut on_event = |event| {
        if let Some(end) = printer.show(event) {
            ended = Some(end);
        }
    };
    let never = std::pin::pin!(std::future::pending());
    reach
        .turn(
            user,
            persona,
            message,
            Notices::Included,
            &mut on_event,
            never,
        )
        .await?;
    match ended {
        Some(Ended::Answered) => Ok(0),
        Some(Ended::Refused(error) | Ended::Failed(error)) => Err(error.into()),
        None => Err(Error::Turn(TurnError::Remote(
            "the turn ended without a reply".to_string(),
        ))),
    }
}

/// One message, answered as JSON.
async fn json_turn(
    reach: &Reach<'_>,
    user: &str,
    persona: &PersonaSummary,
    message: &str,
) -> Result<i32, Error> {
    let turn = reach.turn_whole(user, persona, message).await?;
    print_json(&JsonTurn {
        persona: &persona.id,
        user,
        turn: &turn,
    })?;
    Ok(0)
}
