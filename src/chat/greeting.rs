//! The greeting a user sees when a conversation opens: the one picked for
//! them among the persona's greetings, its macros expanded with their
//! display name, their time zone and the clock. Every front end shows this
//! one, and it is the one the model is told the conversation opened with.

use chrono::{DateTime, Utc};

use super::{ChatService, TurnError};
use crate::persona::Persona;
use crate::persona::macros::greeting_seen;
use crate::prompt::Scene;
use crate::store::Conversation;

impl ChatService {
    /// The greeting `user` sees from `persona` now: picked for them, with
    /// `{{user}}` their display name, `{{time}}` and the like in their time
    /// zone, and `{{idle_duration}}` the time since the conversation's last
    /// message.
    pub fn greeting(&self, user: &str, persona: &Persona) -> Result<String, TurnError> {
        let store = self.store.hold()?;
        let record = store.user(user)?;
        let previous = store
            .conversation(user, &persona.id)?
            .as_ref()
            .and_then(last_message_at);
        let scene = Scene::new(
            persona,
            record.as_ref(),
            self.policy.default_tz(),
            self.clock.now(),
            previous,
            Vec::new(),
        );
        Ok(greeting_seen(persona, user, &scene.macros))
    }
}

/// When anyone last wrote in `conversation`: the user, the persona or a
/// follow-up.
fn last_message_at(conversation: &Conversation) -> Option<DateTime<Utc>> {
    [
        conversation.last_user_at,
        conversation.last_assistant_at,
        conversation.last_followup_at,
    ]
    .into_iter()
    .flatten()
    .max()
}
