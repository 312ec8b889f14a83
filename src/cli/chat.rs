//! `troupe chat PERSONA`: the console, or one message with `--message`;
//! here, or through the server holding the data dir.

use clap::Args;
use serde::Serialize;

use super::{default_user, print_json};
use crate::app::App;
use crate::chat::TurnError;
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
    /// With --message: print {"persona","user","reply","kind","model",…} as JSON.
    #[arg(long, requires = "message")]
    pub json: bool,
}

/// The `--json` output of a one-shot message.
#[derive(Debug, Serialize)]
struct JsonReply<'a> {
    persona: &'a str,
    user: &'a str,
    reply: &'a str,
    /// Whose words: `persona`, `crisis` (Troupe's resources) or `control`.
    kind: crate::chat::ReplyKind,
    /// For a crisis reply: `self_harm` or `danger`.
    #[serde(skip_serializing_if = "Option::is_none")]
    crisis: Option<crate::safety::CrisisKind>,
    model: &'a str,
    disclaimers: &'a [String],
    notice: &'a str,
    /// For minors after hours of continued chatting: a suggestion to pause.
    break_reminder: Option<&'a str>,
}

/// Runs `troupe chat`.
pub async fn run(app: &App, args: ChatArgs) -> Result<i32, Error> {
    let user = match args.user.clone() {
        Some(user) => user,
        None => default_user()?,
    };
    let reach = super::reach(app)?;
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
    print_json(&JsonReply {
        persona: &persona.id,
        user,
        reply: &turn.reply.text,
        kind: turn.reply.kind,
        crisis: turn.reply.crisis,
        model: &turn.reply.model,
        disclaimers: &turn.reply.disclaimers,
        notice: &persona.ai_notice,
        break_reminder: turn.break_reminder.as_deref(),
    })?;
    Ok(0)
}
