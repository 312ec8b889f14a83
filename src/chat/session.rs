//! What a front end without a long-lived session (the one-shot CLI, the
//! server) shows around a turn: the AI notice when it is due and a break
//! reminder for minors, both rebuilt from the user's stored messages.

use super::{ChatService, TurnError};
use crate::locale;
use crate::persona::Persona;
use crate::safety::disclosure::{Reminders, for_one_shot};
use crate::store::Role;

/// How many recent messages per conversation are enough to rebuild a
/// session: a message a minute for the three hours a break reminder needs,
/// with both sides.
const RECENT_FOR_SESSIONS: usize = 1_000;

/// The persona's AI notice: its own wording, or the built-in one in its
/// language.
pub fn notice_text(persona: &Persona) -> String {
    persona
        .ai_notice
        .clone()
        .unwrap_or_else(|| locale::ai_notice(&persona.language, &persona.name))
}

impl ChatService {
    /// The reminders due before `user`'s next message: the session is the
    /// person's, across every persona, as the console would have lived it.
    pub fn reminders(&self, user: &str) -> Result<Reminders, TurnError> {
        let minor = self.is_minor(user)?;
        let mut earlier = Vec::new();
        for conversation in self.store.user_conversations(user)? {
            let recent = self
                .store
                .recent_messages(&conversation, RECENT_FOR_SESSIONS)?;
            earlier.extend(
                recent
                    .into_iter()
                    .filter(|m| m.role == Role::User)
                    .map(|m| m.at),
            );
        }
        earlier.sort();
        Ok(for_one_shot(
            &earlier,
            self.clock.now(),
            minor,
            &self.safety,
        ))
    }
}

/// What a turn produces, in order, for a front end to render: the notices
/// due, the reply's text as it arrives, then how it ended.
#[derive(Debug)]
pub enum TurnEvent {
    /// The AI notice, when it is due (a session's start, after a long gap,
    /// every few hours).
    Notice(String),
    /// A suggestion to take a break, for minors after hours of chatting.
    BreakReminder(String),
    /// The next piece of the persona's reply.
    Delta(String),
    /// The reply, stored; its kind says whose words these are.
    Finished(super::Reply),
    /// No reply: refused, or the model failed (the user's message is kept).
    Failed(TurnError),
}

impl ChatService {
    /// Runs a whole turn on its own task, so it finishes (and its reply is
    /// stored) even if the one who asked goes away; `keep` is held until
    /// then (a store handle, a count of turns in flight). Events arrive on
    /// the returned channel.
    pub fn spawn_turn(
        self,
        user: String,
        persona: std::sync::Arc<Persona>,
        model: std::sync::Arc<dyn crate::model::ChatModel>,
        text: String,
        keep: impl Send + 'static,
    ) -> tokio::sync::mpsc::UnboundedReceiver<TurnEvent> {
        let (events, receiver) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let _keep = keep;
            // The notices go out with the turn's first words, so a refused
            // message gets the refusal alone.
            let mut notices = match self.reminders(&user) {
                Ok(reminders) => {
                    let mut notices = Vec::new();
                    if reminders.notice {
                        notices.push(TurnEvent::Notice(notice_text(&persona)));
                    }
                    if reminders.take_a_break {
                        let reminder = locale::take_a_break(&persona.language).to_string();
                        notices.push(TurnEvent::BreakReminder(reminder));
                    }
                    notices
                }
                Err(error) => {
                    let _ = events.send(TurnEvent::Failed(error));
                    return;
                }
            };
            let send = |event: TurnEvent, notices: &mut Vec<TurnEvent>| {
                for notice in notices.drain(..) {
                    let _ = events.send(notice);
                }
                let _ = events.send(event);
            };
            let mut on_delta =
                |delta: &str| send(TurnEvent::Delta(delta.to_string()), &mut notices);
            let never = std::pin::pin!(std::future::pending::<()>());
            let ended = self
                .turn(&user, &persona, model.as_ref(), &text, &mut on_delta, never)
                .await;
            let mut notices = std::mem::take(&mut notices);
            match ended {
                Ok(reply) => send(TurnEvent::Finished(reply), &mut notices),
                Err(error @ TurnError::Input(_)) => send(TurnEvent::Failed(error), &mut Vec::new()),
                Err(error) => send(TurnEvent::Failed(error), &mut notices),
            }
        });
        receiver
    }
}
