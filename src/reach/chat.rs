//! Chat through a [`Reach`]: a turn as [`TurnEvent`]s (streamed) or whole,
//! the greeting a user sees, the follow-up they have not seen yet, and who
//! may talk to an adults-only persona.

use crate::chat::view::TurnReply;
use crate::chat::{Stop, TurnEvent, adults_only, notice_text};
use crate::error::Error;
use crate::locale;
use crate::report::PersonaSummary;
use crate::store::Message;

use super::Reach;

/// Whether a turn's events include the AI notice and the break reminder
/// when they are due, rebuilt from the user's stored messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notices {
    /// Included: for a front end without a session of its own (one message
    /// from the command line).
    Included,
    /// Left out: the front end keeps its own session (the console shows the
    /// notice when it opens and keeps time itself).
    LeftOut,
}

impl Reach<'_> {
    /// Whether `user` is marked as a minor (a user who never wrote is not).
    pub async fn is_minor(&self, user: &str) -> Result<bool, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.user(user).await?.is_some_and(|u| u.minor)),
            Reach::Local { chat, .. } => Ok(chat.is_minor(user).await?),
        }
    }

    /// Refuses a minor an adults-only persona, with the refusal a turn gives.
    pub async fn check_access(&self, user: &str, persona: &PersonaSummary) -> Result<(), Error> {
        if persona.adults_only && self.is_minor(user).await? {
            return Err(adults_only(&persona.name).into());
        }
        Ok(())
    }

    /// The follow-up `user` has not seen yet from `persona`, marking it seen.
    pub async fn take_unseen_followup(
        &self,
        user: &str,
        persona: &PersonaSummary,
    ) -> Result<Option<Message>, Error> {
        match self {
            Reach::Server { client, .. } => {
                Ok(client.take_unseen_followup(user, &persona.id).await?)
            }
            Reach::Local { app, chat } => {
                let persona = app.persona(&persona.id)?;
                Ok(chat.take_unseen_followup(user, &persona).await?)
            }
        }
    }

    /// The greeting `user` sees when their conversation with `persona`
    /// opens: picked for them, macros expanded (see
    /// [`crate::chat::ChatService::greeting`]).
    pub async fn greeting(&self, user: &str, persona: &PersonaSummary) -> Result<String, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.greeting(user, &persona.id).await?),
            Reach::Local { app, chat } => {
                let persona = app.persona(&persona.id)?;
                Ok(chat.greeting(user, &persona).await?)
            }
        }
    }

    /// A turn: `text` from `user` to `persona`, each event handed to
    /// `on_event` as it comes, the last one [`TurnEvent::Finished`] or
    /// [`TurnEvent::Failed`]. `stop` ends the reply early (here, the partial
    /// reply is kept marked interrupted; through a server, the server
    /// finishes it and keeps it).
    pub async fn turn(
        &self,
        user: &str,
        persona: &PersonaSummary,
        text: &str,
        notices: Notices,
        on_event: &mut (dyn FnMut(TurnEvent) + Send),
        stop: Stop<'_>,
    ) -> Result<(), Error> {
        match self {
            Reach::Server { client, .. } => {
                let mut forward = |event: TurnEvent| {
                    let notice =
                        matches!(event, TurnEvent::Notice(_) | TurnEvent::BreakReminder(_));
                    if notices == Notices::Included || !notice {
                        on_event(event);
                    }
                };
                client
                    .stream_turn(user, &persona.id, text, &mut forward, stop)
                    .await;
            }
            Reach::Local { app, chat } => {
                let persona = app.persona(&persona.id)?;
                let model = app.model_for(&persona)?;
                if notices == Notices::Included {
                    chat.turn_events(user, &persona, model.as_ref(), text, on_event, stop)
                        .await;
                    return Ok(());
                }
                let mut on_delta = |delta: &str| on_event(TurnEvent::Delta(delta.to_string()));
                let ended = chat
                    .turn(user, &persona, model.as_ref(), text, &mut on_delta, stop)
                    .await;
                on_event(match ended {
                    Ok(reply) => TurnEvent::Finished(reply),
                    Err(error) => TurnEvent::Failed(error),
                });
            }
        }
        Ok(())
    }

    /// A whole turn, answered in one piece, with the notices due before it.
    pub async fn turn_whole(
        &self,
        user: &str,
        persona: &PersonaSummary,
        text: &str,
    ) -> Result<TurnReply, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.turn(user, &persona.id, text).await?),
            Reach::Local { app, chat } => {
                let persona = app.persona(&persona.id)?;
                let model = app.model_for(&persona)?;
                let reminders = chat.reminders(user).await?;
                let reply = chat
                    .turn_whole(user, &persona, model.as_ref(), text)
                    .await?;
                Ok(TurnReply {
                    notice: reminders.notice.then(|| notice_text(&persona)),
                    break_reminder: reminders
                        .take_a_break
                        .then(|| locale::take_a_break(&persona.language).to_string()),
                    reply: reply.into(),
                })
            }
        }
    }
}
