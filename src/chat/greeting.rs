//! The greeting a user sees when a conversation opens: the one picked for
//! them among the persona's greetings, its macros expanded with their
//! display name, their time zone and the clock. Every front end shows this
//! one, and it is the one the model is told the conversation opened with.

use chrono::{DateTime, Utc};

use super::{ChatService, TurnError};
use crate::persona::Persona;
use crate::persona::macros::greeting_seen;
use crate::store::Conversation;

impl ChatService {
    /// The greeting `user` sees from `persona` now: picked for them, with
    /// `{{user}}` their display name, `{{time}}` and the like in their time
    /// zone, and `{{idle_duration}}` the time since the conversation's last
    /// message.
    pub async fn greeting(&self, user: &str, persona: &Persona) -> Result<String, TurnError> {
        let previous = self
            .store
            .step()?
            .conversation(user, &persona.id)
            .await?
            .as_ref()
            .and_then(last_message_at);
        let scene = self.scene(Some(user), persona, previous, &[]).await?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;
    use crate::clock::Clock;
    use crate::config::ChatConfig;
    use crate::followup::policy::FollowUpPolicy;
    use crate::prompt::Prompts;
    use crate::safety::SafetyConfig;
    use crate::store::{Message, StoreAccess};

    #[tokio::test]
    async fn the_greeting_names_the_user_and_keeps_their_clock_and_the_time_since_the_last_message()
    {
        let dir = tempfile::tempdir().expect("a temp dir");
        let now: DateTime<Utc> = "2026-12-04T18:30:00Z".parse().expect("an instant");
        let chat = ChatService::new(
            StoreAccess::on_demand(dir.path()),
            Arc::new(Prompts::builtin().expect("the built-in templates load")),
            Clock::fixed(now),
            ChatConfig::default(),
            FollowUpPolicy::default(),
            SafetyConfig::default(),
        );
        let mut chef = (*crate::persona::Personas::builtin()
            .get("chef")
            .expect("chef"))
        .clone();
        chef.greeting = "{{user}}, it is {{time}}; {{idle_duration}}.".to_string();
        assert_eq!(
            chat.greeting("ana", &chef).await.expect("a greeting"),
            "User, it is 18:30; just now.",
            "a user who never wrote: the default name, the default time zone"
        );

        let store = chat.store().hold().expect("the store");
        store
            .update_user("ana", now, &|u| {
                u.display_name = Some("Ana".to_string());
                u.timezone = Some("Asia/Tokyo".to_string());
            })
            .expect("settings saved");
        let earlier = Message::from_user("hello", now - TimeDelta::hours(3));
        store
            .append(
                "ana",
                &chef.id,
                &earlier,
                &crate::store::AppendEffects::NONE,
            )
            .expect("a message stored");
        drop(store);
        assert_eq!(
            chat.greeting("ana", &chef).await.expect("a greeting"),
            "Ana, it is 03:30; 3 hours."
        );
    }
}
