//! The offline backend: scripted replies composed from the persona file, so
//! a first run works with no API key and no network.
//!
//! It answers a greeting with the persona's greeting, a question close to one
//! of the persona's example exchanges with that example's answer, and
//! anything else by naming the persona's areas of expertise. It says plainly,
//! once per session, that its replies are scripted and how to connect a real
//! model.

use std::collections::HashSet;

use futures::StreamExt;
use futures::future::BoxFuture;

use super::Purpose;
use super::{
    ChatModel, ChatRequest, ChatRole, Completion, FinishReason, ModelError, ModelInfo, ReplyStream,
    StreamEvent,
};
use crate::persona::Persona;

/// Scripted replies drawn from the persona.
pub struct OfflineModel {
    /// What this backend is.
    info: ModelInfo,
}

impl Default for OfflineModel {
    fn default() -> Self {
        Self::new()
    }
}

impl OfflineModel {
    /// The offline backend.
    pub fn new() -> Self {
        Self {
            info: ModelInfo {
                backend: "offline".to_string(),
                provider: "offline".to_string(),
                model: "offline".to_string(),
                base_url: None,
            },
        }
    }
}

/// Words too common to tell one question from another.
const COMMON: &[&str] = &[
    "the", "and", "for", "you", "your", "with", "what", "how", "can", "have", "are", "this",
    "that", "some", "any", "les", "des", "une", "pour", "que", "qui", "avec", "dans", "est", "mon",
    "mes", "vous", "quoi", "faire",
];

fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !COMMON.contains(&w.as_str()))
        .collect()
}

fn is_greeting(text: &str) -> bool {
    const GREETINGS: &[&str] = &[
        "hi", "hello", "hey", "bonjour", "salut", "coucou", "hola", "ciao", "yo",
    ];
    let first = text
        .split(|c: char| !c.is_alphanumeric())
        .find(|w| !w.is_empty())
        .map(str::to_lowercase);
    first.is_some_and(|w| GREETINGS.contains(&w.as_str())) && text.split_whitespace().count() <= 4
}

/// The scripted reply of `persona` to `text`, the `turn`-th of the conversation.
pub fn scripted_reply(persona: &Persona, text: &str, turn: usize) -> String {
    if is_greeting(text) {
        return persona.greeting.clone();
    }
    let asked = words(text);
    let best = persona
        .examples
        .iter()
        .map(|e| (words(&e.user).intersection(&asked).count(), e))
        .filter(|(score, _)| *score > 0)
        .max_by_key(|(score, _)| *score);
    if let Some((_, example)) = best {
        return example.persona.clone();
    }
    let topic = persona
        .expertise
        .iter()
        .find(|area| words(area).iter().any(|w| asked.contains(w)));
    let french = persona.language.starts_with("fr");
    match (topic.map(|a| capitalized(a)), french) {
        (Some(area), false) => format!(
            "{area} is right up my street! Tell me a little more: what you have, what you like, and how much time you've got, and I'll suggest something concrete."
        ),
        (Some(area), true) => format!(
            "{area}, c'est tout à fait mon domaine ! Dites-m'en un peu plus : ce que vous avez, ce que vous aimez, votre budget, et je vous propose quelque chose de concret."
        ),
        (None, _) => {
            let areas = persona
                .expertise
                .iter()
                .take(4)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            let example = persona.examples.get(turn % persona.examples.len().max(1));
            let lead = if french {
                format!("Je peux surtout vous aider pour : {areas}.")
            } else {
                format!("I can help most with {areas}.")
            };
            match example {
                Some(e) if french => {
                    format!("{lead} Par exemple, on me demande souvent « {} »", e.user)
                }
                Some(e) => format!("{lead} For instance, people often ask me: \"{}\"", e.user),
                None => lead,
            }
        }
    }
}

/// `text` with its first letter in upper case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl OfflineModel {
    fn reply(&self, request: &ChatRequest) -> String {
        let last = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .map_or("", |m| m.content.as_str());
        let turn = request.messages.len() / 2;
        match (&request.persona, &request.purpose) {
            (Some(persona), Purpose::FollowUp { topic }) => {
                crate::followup::fallback(persona, topic.as_deref())
            }
            (Some(persona), Purpose::Chat) => scripted_reply(persona, last, turn),
            (_, Purpose::SafetyCheck) => "NO".to_string(),
            (None, _) => "(offline: no model is configured)".to_string(),
        }
    }
}

impl ChatModel for OfflineModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, ModelError>> {
        let text = self.reply(request);
        Box::pin(async move {
            Ok(Completion {
                text,
                finish: FinishReason::Stop,
                usage: None,
                model: "offline".to_string(),
            })
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ReplyStream, ModelError>> {
        let text = self.reply(request);
        Box::pin(async move {
            // Stream word by word, keeping the spaces, like a real model would.
            let mut pieces: Vec<Result<StreamEvent, ModelError>> = text
                .split_inclusive(' ')
                .map(|w| Ok(StreamEvent::Delta(w.to_string())))
                .collect();
            pieces.push(Ok(StreamEvent::Done {
                finish: FinishReason::Stop,
                usage: None,
                model: "offline".to_string(),
            }));
            Ok(futures::stream::iter(pieces).boxed())
        })
    }

    fn session_notice(&self, language: &str) -> Option<String> {
        Some(crate::locale::offline_notice(language).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::Personas;

    #[test]
    fn replies_draw_on_the_persona_file() {
        let personas = Personas::builtin();
        let chef = personas.get("chef").unwrap();
        assert_eq!(scripted_reply(&chef, "Hello!", 0), chef.greeting);
        let rice = scripted_reply(&chef, "what can I do with leftover rice?", 1);
        assert!(rice.starts_with("Fried rice"), "{rice}");
        let bread = scripted_reply(&chef, "I want to start baking bread", 1);
        assert!(
            bread.starts_with("Baking bread is right up my street"),
            "{bread}"
        );
        let decor = personas.get("decor").unwrap();
        let other = scripted_reply(&decor, "Parlons d'astronomie", 2);
        assert!(
            other.starts_with("Je peux surtout vous aider pour"),
            "{other}"
        );
    }
}
