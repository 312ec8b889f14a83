//! What a front end without a long-lived session (the one-shot CLI, the
//! server) shows around a turn: the AI notice when it is due and a break
//! reminder for minors, both rebuilt from the user's stored messages; and a
//! turn as a sequence of [`TurnEvent`]s for such front ends to render.

use std::sync::Arc;

use super::{ChatService, Stop, TurnError};
use crate::locale;
use crate::model::ChatModel;
use crate::persona::Persona;
use crate::safety::disclosure::{Disclosure, Reminders, replay};
use crate::store::Role;
use crate::store::SessionMarks;

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
    pub async fn reminders(&self, user: &str) -> Result<Reminders, TurnError> {
        Ok(self.session_after(user, self.clock.now()).await?.0)
    }

    /// The reminders due for `user`'s message at `now`, and the session's
    /// marks after it (stored with the message). The marks kept with the
    /// user say where the session stands; a user with none yet (stored by
    /// an earlier version) has it rebuilt from their messages' times.
    pub(super) async fn session_after(
        &self,
        user: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Reminders, SessionMarks), TurnError> {
        let record = self.store.step()?.user(user).await?;
        self.session_after_of(user, record.as_ref(), now).await
    }

    /// [`ChatService::session_after`] for a user whose `record` was read
    /// already in this step of the turn.
    pub(super) async fn session_after_of(
        &self,
        user: &str,
        record: Option<&crate::store::User>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Reminders, SessionMarks), TurnError> {
        let minor = record.is_some_and(|u| u.minor);
        if let Some(marks) = record.and_then(|u| u.session) {
            let mut session = Disclosure::resume(&marks, minor, &self.safety);
            let reminders = session.on_message(now);
            return Ok((reminders, session.marks()));
        }
        let times = self.session_times(user, now).await?;
        let (reminders, session) = replay(&times, now, minor, &self.safety);
        Ok((reminders, session.marks()))
    }

    /// The times of `user`'s messages that can belong to the session going
    /// on at `now`, oldest first: the times each conversation keeps in its
    /// record, or its messages when its session began before those.
    async fn session_times(
        &self,
        user: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<chrono::DateTime<chrono::Utc>>, TurnError> {
        let store = self.store.step()?;
        let conversations = store.user_conversations(user).await?;
        let mut times: Vec<_> = conversations
            .iter()
            .flat_map(|c| c.recent_user_times.iter().copied())
            .collect();
        times.sort();
        let after_gap =
            chrono::Duration::minutes(i64::from(self.safety.notice_after_gap_minutes.max(1)));
        let start = session_start(&times, now, after_gap);
        let complete = conversations.iter().all(|c| {
            let kept = c.recent_user_times.len() as u64 >= c.user_messages;
            kept || start.is_some_and(|s| c.recent_user_times.first().is_some_and(|o| *o < s))
        });
        if complete {
            return Ok(times);
        }
        drop(store);
        self.user_message_times(&conversations).await
    }

    /// Every user-message time of `conversations`, read from their
    /// messages (the most recent ones), oldest first.
    async fn user_message_times(
        &self,
        conversations: &[crate::store::Conversation],
    ) -> Result<Vec<chrono::DateTime<chrono::Utc>>, TurnError> {
        let store = self.store.step()?;
        let mut times = Vec::new();
        for conversation in conversations {
            let recent = store
                .recent_messages(conversation, RECENT_FOR_SESSIONS)
                .await?;
            times.extend(
                recent
                    .into_iter()
                    .filter(|m| m.role == Role::User)
                    .map(|m| m.at),
            );
        }
        times.sort();
        Ok(times)
    }
}

/// The first message of the session going on at `now`: the one after the
/// last silence of `after_gap` or more; `None` when `times` hold no such
/// silence (the session may have begun before them).
fn session_start(
    times: &[chrono::DateTime<chrono::Utc>],
    now: chrono::DateTime<chrono::Utc>,
    after_gap: chrono::Duration,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut next = now;
    for at in times.iter().rev() {
        if next - *at >= after_gap {
            return Some(next);
        }
        next = *at;
    }
    None
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
    /// A whole turn as events, for a front end without a session of its
    /// own: the notices due (sent with the turn's first words, so a refused
    /// message gets the refusal alone), the reply as it arrives, then how
    /// it ended. `stop` ends the reply early, as in [`ChatService::turn`].
    pub async fn turn_events(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        model: &dyn ChatModel,
        text: &str,
        on_event: &mut (dyn FnMut(TurnEvent) + Send),
        stop: Stop<'_>,
    ) {
        let mut notices = match self.notices_due(user, persona).await {
            Ok(notices) => notices,
            Err(error) => return on_event(TurnEvent::Failed(error)),
        };
        let ended = {
            let mut on_delta = |delta: &str| {
                notices.drain(..).for_each(&mut *on_event);
                on_event(TurnEvent::Delta(delta.to_string()));
            };
            self.turn(user, persona, model, text, &mut on_delta, stop)
                .await
        };
        finish_events(notices, ended, on_event);
    }

    /// The events of [`ChatService::reply_again`]: the new reply as it
    /// arrives, then how it ended (no notice: the message was already
    /// answered once in this session).
    async fn again_events(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        model: &dyn ChatModel,
        on_event: &mut (dyn FnMut(TurnEvent) + Send),
    ) {
        let ended = {
            let mut on_delta = |delta: &str| on_event(TurnEvent::Delta(delta.to_string()));
            let never = std::pin::pin!(std::future::pending::<()>());
            self.reply_again(user, persona, model, &mut on_delta, never)
                .await
        };
        finish_events(Vec::new(), ended, on_event);
    }

    /// [`ChatService::turn_events`] for a front end that shows the reply
    /// only once it is whole: the model is asked for the whole reply at
    /// once, so no piece of it travels alone.
    pub async fn whole_turn_events(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        model: &dyn ChatModel,
        text: &str,
        on_event: &mut (dyn FnMut(TurnEvent) + Send),
    ) {
        let notices = match self.notices_due(user, persona).await {
            Ok(notices) => notices,
            Err(error) => return on_event(TurnEvent::Failed(error)),
        };
        let ended = self.turn_whole(user, persona, model, text).await;
        finish_events(notices, ended, on_event);
    }

    /// The AI notice and the break reminder, when due before `user`'s next
    /// message.
    async fn notices_due(
        &self,
        user: &str,
        persona: &Persona,
    ) -> Result<Vec<TurnEvent>, TurnError> {
        let reminders = self.reminders(user).await?;
        let mut notices = Vec::new();
        if reminders.notice {
            notices.push(TurnEvent::Notice(notice_text(persona)));
        }
        if reminders.take_a_break {
            let reminder = locale::take_a_break(&persona.language).to_string();
            notices.push(TurnEvent::BreakReminder(reminder));
        }
        Ok(notices)
    }

    /// Runs a whole turn on its own task, so it finishes (and its reply is
    /// stored) even if the one who asked goes away; `keep` is held until
    /// then (a store handle, a count of turns in flight). Events arrive on
    /// the returned channel.
    pub fn spawn_turn(
        self,
        turn: SpawnedTurn,
        keep: impl Send + 'static,
    ) -> tokio::sync::mpsc::UnboundedReceiver<TurnEvent> {
        let (events, receiver) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let _keep = keep;
            let mut on_event = |event| {
                let _ = events.send(event);
            };
            let SpawnedTurn {
                user,
                persona,
                model,
                text,
                streamed,
                again,
                stop,
            } = turn;
            let model = model.as_ref();
            if again {
                self.again_events(&user, &persona, model, &mut on_event)
                    .await;
            } else if streamed {
                // A reader who goes away does not stop the reply (it is
                // stored and waits in the history); only `stop` does, as
                // Ctrl-C does in a local console.
                let stopped = std::pin::pin!(async move {
                    match stop {
                        Some(stop) => stop.notified().await,
                        None => std::future::pending().await,
                    }
                });
                self.turn_events(&user, &persona, model, &text, &mut on_event, stopped)
                    .await;
            } else {
                self.whole_turn_events(&user, &persona, model, &text, &mut on_event)
                    .await;
            }
        });
        receiver
    }
}

/// A turn to run on its own task ([`ChatService::spawn_turn`]).
pub struct SpawnedTurn {
    /// Who writes.
    pub user: String,
    /// To whom.
    pub persona: Arc<Persona>,
    /// The persona's model.
    pub model: Arc<dyn ChatModel>,
    /// What they wrote.
    pub text: String,
    /// Whether the reply is shown as it is written (deltas), or whole.
    pub streamed: bool,
    /// The message is the conversation's last one, asked again
    /// ([`ChatService::is_retry`]): answer it anew without storing it twice.
    pub again: bool,
    /// Stops a streamed reply when notified (what was written so far is
    /// kept, marked interrupted); `None`: it runs to its end.
    pub stop: Option<Arc<tokio::sync::Notify>>,
}

/// The end of a turn's events: the notices (unless the message was
/// refused), then the reply or the failure.
fn finish_events(
    mut notices: Vec<TurnEvent>,
    ended: Result<super::Reply, TurnError>,
    on_event: &mut (dyn FnMut(TurnEvent) + Send),
) {
    match ended {
        Err(error @ TurnError::Input(_)) => on_event(TurnEvent::Failed(error)),
        ended => {
            notices.drain(..).for_each(&mut *on_event);
            on_event(match ended {
                Ok(reply) => TurnEvent::Finished(reply),
                Err(error) => TurnEvent::Failed(error),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration, Utc};

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(minutes)
    }

    #[test]
    fn the_session_starts_after_the_last_long_silence() {
        let hour = Duration::minutes(60);
        let times = [at(0), at(10), at(100), at(110)];
        assert_eq!(session_start(&times, at(120), hour), Some(at(100)));
        assert_eq!(
            session_start(&times, at(200), hour),
            Some(at(200)),
            "a new session"
        );
        assert_eq!(
            session_start(&times[2..], at(120), hour),
            None,
            "it may have begun earlier"
        );
        assert_eq!(session_start(&[], at(5), hour), None);
    }
}
