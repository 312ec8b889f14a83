//! The personas on offer as every front end shows them: a summary per
//! persona (`personas list`, `GET /v1/personas`) and one persona in full
//! (`personas show`, `GET /v1/personas/{persona}`), built here once so the
//! command line and the server answer in the same fields.

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::Error;
use crate::persona::Persona;

/// A persona as front ends show it (`GET /v1/personas`): who it is, what it
/// greets with, the notices its users see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonaSummary {
    /// The id to chat with.
    pub id: String,
    /// The display name.
    pub name: String,
    /// One line about it.
    pub description: String,
    /// Its language.
    pub language: String,
    /// What it knows about.
    pub expertise: Vec<String>,
    /// Refused to minors.
    pub adults_only: bool,
    /// Its first message in a new conversation.
    pub greeting: String,
    /// Its other first messages: each conversation opens with the one
    /// [`crate::persona::pick_greeting`] picks for it.
    #[serde(default)]
    pub alternate_greetings: Vec<String>,
    /// The AI notice shown to its users.
    pub ai_notice: String,
    /// What its model backend says at the start of a session, if anything
    /// (the offline backend says its replies are scripted).
    #[serde(default)]
    pub backend_notice: Option<String>,
}

impl PersonaSummary {
    /// The summary of `persona`, whose backend says `backend_notice`.
    pub fn new(persona: &Persona, backend_notice: Option<String>) -> Self {
        Self {
            id: persona.id.clone(),
            name: persona.name.clone(),
            description: persona.description.clone(),
            language: persona.language.clone(),
            expertise: persona.expertise.clone(),
            adults_only: persona.adults_only,
            greeting: persona.greeting.clone(),
            alternate_greetings: persona.alternate_greetings.clone(),
            ai_notice: crate::chat::notice_text(persona),
            backend_notice,
        }
    }

    /// Every persona of `app`, each with what its backend says at the start
    /// of a session (nothing for a backend that cannot be built: the chat
    /// itself reports that).
    pub fn all(app: &App) -> Vec<Self> {
        app.personas()
            .iter()
            .map(|p| {
                let model = app.model_for(p).ok();
                Self::new(p, model.and_then(|m| m.session_notice(&p.language)))
            })
            .collect()
    }
}

/// One persona in full: every field of its file and, for an operator (the
/// command line is one), the system prompt it runs with now and the file's
/// text.
#[derive(Debug, Clone, Serialize)]
pub struct PersonaDetail<'a> {
    /// The persona, field by field as its file defines it.
    #[serde(flatten)]
    pub persona: &'a Persona,
    /// The system prompt rendered now (operators only): the one chats
    /// send, the persona's `[card] system_prompt` in place of the main
    /// prompt when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// The instruction chats send after the history (the persona's `[card]
    /// post_history_instructions`, macros expanded now); operators only,
    /// and only when the persona has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_history: Option<String>,
    /// The persona file's text, when it came from a file (operators only;
    /// `null` for a built-in persona).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Option<String>>,
}

impl<'a> PersonaDetail<'a> {
    /// What anyone may see of `persona`: its fields.
    pub fn public(persona: &'a Persona) -> Self {
        Self {
            persona,
            system_prompt: None,
            post_history: None,
            file: None,
        }
    }

    /// What an operator sees of `persona`: its fields, its system prompt
    /// rendered at `app`'s now, and its file; fails only when the prompt
    /// template does not render (`troupe doctor` says where).
    pub fn for_operator(app: &'a App, persona: &'a Persona) -> Result<Self, Error> {
        let scene = crate::prompt::Scene::preview(persona, app.clock.now());
        let system_prompt = app.prompts.render_system(persona, &scene)?;
        Ok(Self {
            persona,
            system_prompt: Some(system_prompt),
            post_history: crate::prompt::card::post_history(persona, &scene.macros),
            file: Some(app.personas().file_text(&persona.id).map(str::to_string)),
        })
    }
}
