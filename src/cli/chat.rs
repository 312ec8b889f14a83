//! `troupe chat PERSONA`: the console, or one message with `--message`.

use clap::Args;
use serde::Serialize;

use super::{default_user, print_json};
use crate::app::App;
use crate::chat::Reply;
use crate::console::{Console, Input};
use crate::error::Error;

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
    /// With --message: print {"persona","user","reply","model"} as JSON.
    #[arg(long, requires = "message")]
    pub json: bool,
}

/// The `--json` output of a one-shot message.
#[derive(Debug, Serialize)]
struct JsonReply<'a> {
    persona: &'a str,
    user: &'a str,
    reply: &'a str,
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
    app.check_user(&user)?;
    let persona = app.persona(&args.persona)?;
    let chat = app.chat_service(app.store_access());
    let Some(message) = args.message else {
        let mut console = Console::new(app, chat, &user, persona)?;
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
        return Ok(i32::from(
            outcome.failed_turns + outcome.refused_messages > 0,
        ));
    };
    let model = app.model_for(&persona)?;
    if !args.json
        && let Some(followup) = chat.take_unseen_followup(&user, &persona)?
    {
        errln!(
            "{}",
            crate::locale::while_away(&persona.language, &persona.name)
        );
        errln!(
            "{}: {}",
            persona.name,
            crate::console::printable(&followup.shown_text())
        );
    }
    let notice = crate::chat::notice_text(&persona);
    let break_reminder = chat
        .reminders(&user)?
        .take_a_break
        .then(|| crate::locale::take_a_break(&persona.language));
    if !args.json {
        errln!("[{notice}]");
        if let Some(notice) = model.session_notice(&persona.language) {
            errln!("[{notice}]");
        }
        if let Some(reminder) = break_reminder {
            errln!("[{reminder}]");
        }
    }
    let reply: Reply = if args.json {
        chat.turn_whole(&user, &persona, model.as_ref(), &message)
            .await?
    } else {
        let mut out = std::io::stdout();
        let mut streamed = false;
        let mut on_delta = |delta: &str| {
            use std::io::Write;
            streamed = true;
            let _ = write!(out, "{}", crate::console::printable(delta));
            let _ = out.flush();
        };
        let reply = chat
            .turn(
                &user,
                &persona,
                model.as_ref(),
                &message,
                &mut on_delta,
                std::pin::pin!(std::future::pending()),
            )
            .await;
        if !streamed && let Ok(whole) = &reply {
            // A crisis reply comes whole.
            outln!("{}", crate::console::printable(&whole.text));
        } else {
            outln!();
        }
        if let Err(crate::chat::TurnError::Model { disclaimers, .. }) = &reply {
            // What arrived before the break still gets its disclaimers.
            for line in disclaimers {
                outln!("— {line}");
            }
        }
        reply?
    };
    if args.json {
        print_json(&JsonReply {
            persona: &persona.id,
            user: &user,
            reply: &reply.text,
            model: &reply.model,
            disclaimers: &reply.disclaimers,
            notice: &notice,
            break_reminder,
        })?;
    } else {
        for line in &reply.disclaimers {
            outln!("— {line}");
        }
    }
    Ok(0)
}
