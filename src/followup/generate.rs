//! Writing one follow-up: render the prompt, ask the persona's model, trim
//! and bound the answer, fall back to the persona's template if the model
//! fails or says nothing usable, and attach the disclaimers.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::locale::{language_name, template_followup};
use crate::model::{ChatMessage, ChatModel, ChatRequest, ChatRole, Purpose, Usage};
use crate::persona::Persona;
use crate::prompt::{PromptError, Prompts, Scene};
use crate::safety::{DisclaimerKind, SafetyConfig};
use crate::store::{CallOutcome, Message, MessageKind, Role};

/// The template that asks the model for a follow-up.
pub const FOLLOWUP_TEMPLATE: &str = "followup.tera";

/// What the follow-up draws on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FollowUpContext {
    /// The best topics, strongest first (never sensitive ones).
    pub topics: Vec<String>,
    /// The end of the conversation.
    pub excerpt: Vec<ExcerptLine>,
    /// How long the user has been away, in words ("3 days").
    pub away: String,
    /// Who the follow-up is for and when (the macros' values), and the
    /// end of the conversation the lore is scanned against; a preview
    /// scene when `None`.
    #[serde(skip)]
    pub scene: Option<Scene>,
}

/// One line of the excerpt.
#[derive(Debug, Clone, Serialize)]
pub struct ExcerptLine {
    /// "User" or the persona's name.
    pub who: String,
    /// The text, shortened.
    pub text: String,
}

/// A finished follow-up, not yet delivered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpDraft {
    /// The message.
    pub message: String,
    /// The disclaimers, in the persona's language.
    pub disclaimers: Vec<String>,
    /// The model that wrote it, or `template` for the fallback.
    pub model: String,
    /// Tokens the model call used, when it succeeded.
    #[serde(skip)]
    pub usage: Option<Usage>,
    /// How long the model call took, in milliseconds.
    #[serde(skip)]
    pub latency_ms: u64,
    /// The model call behind the draft, if one was made: the model id and
    /// how the call ended. A template draft may follow a failed call, or a
    /// reply that could not be used (whose tokens were still spent).
    #[serde(skip)]
    pub call: Option<(String, CallOutcome)>,
}

impl FollowUpDraft {
    /// The stored message for this draft at `at`.
    pub fn into_message(self, at: DateTime<Utc>) -> Message {
        Message {
            role: Role::Assistant,
            kind: MessageKind::FollowUp,
            text: self.message,
            at,
            model: Some(self.model),
            interrupted: false,
            truncated: false,
            disclaimers: self.disclaimers,
        }
    }
}

/// Writes a follow-up for `persona`. Never fails for model reasons: a
/// failing or empty model falls back to the persona's template.
pub async fn write_followup(
    prompts: &Prompts,
    persona: &std::sync::Arc<Persona>,
    model: &dyn ChatModel,
    context: &FollowUpContext,
    now: DateTime<Utc>,
    max_chars: usize,
) -> Result<FollowUpDraft, PromptError> {
    let request = followup_request(prompts, persona, context, now)?;
    let started = std::time::Instant::now();
    let completion = model.complete(&request).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let completion = match completion {
        Ok(completion) => completion,
        Err(error) => {
            tracing::warn!(persona = %persona.id, %error, "follow-up model call failed; using the template");
            return Ok(FollowUpDraft {
                latency_ms,
                call: Some((model.info().model.clone(), CallOutcome::Failed)),
                ..template_draft(persona, context)
            });
        }
    };
    let call = Some((completion.model.clone(), CallOutcome::Completed));
    Ok(match bounded(&completion.text, &persona.name, max_chars) {
        Some(message) => FollowUpDraft {
            message,
            disclaimers: disclaimers(persona),
            model: completion.model,
            usage: completion.usage,
            latency_ms,
            call,
        },
        None => FollowUpDraft {
            usage: completion.usage,
            latency_ms,
            call,
            ..template_draft(persona, context)
        },
    })
}

/// The request sent to the model: the persona's system prompt (with its
/// `[card] system_prompt` in place of the main prompt, as in chat), then
/// the follow-up instruction; a card's post-history instructions are left
/// out, since they steer the chat's replies, not a check-in.
pub fn followup_request(
    prompts: &Prompts,
    persona: &std::sync::Arc<Persona>,
    context: &FollowUpContext,
    now: DateTime<Utc>,
) -> Result<ChatRequest, PromptError> {
    #[derive(Serialize)]
    struct Data<'a> {
        persona: &'a Persona,
        language_name: &'a str,
        #[serde(flatten)]
        context: &'a FollowUpContext,
    }
    let scene = context
        .scene
        .clone()
        .unwrap_or_else(|| Scene::preview(persona, now));
    let expanded = crate::persona::macros::expand_persona(persona, &scene.macros);
    let instruction = prompts.render(
        FOLLOWUP_TEMPLATE,
        &Data {
            persona: &expanded,
            language_name: language_name(&persona.language),
            context,
        },
    )?;
    Ok(ChatRequest {
        system: prompts.render_system(persona, &scene)?,
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: instruction,
        }],
        // A card's post-history instructions are about the chat's next
        // reply; the follow-up instruction is the last word here. (Its
        // system prompt does apply: `render_system` puts it in place of
        // the main prompt.)
        post_history: None,
        temperature: persona.model.temperature,
        max_tokens: persona.model.max_tokens,
        persona: Some(std::sync::Arc::clone(persona)),
        purpose: Purpose::FollowUp {
            topic: context.topics.first().cloned(),
        },
    })
}

/// The general disclaimer in the persona's language, then the persona's own.
pub fn disclaimers(persona: &Persona) -> Vec<String> {
    disclaimers_with(persona, &SafetyConfig::default())
}

/// The general disclaimer (the persona's, the deployment's, or the built-in
/// one, in the persona's language), then the persona's own lines.
pub fn disclaimers_with(persona: &Persona, safety: &SafetyConfig) -> Vec<String> {
    let mut lines = vec![safety.disclaimer(persona, DisclaimerKind::General)];
    lines.extend(persona.disclaimers.iter().cloned());
    lines
}

/// The `model` of a follow-up written from the persona's template.
pub const TEMPLATE_MODEL: &str = "template";

/// A follow-up from the persona's template, for when no model can write one.
pub fn template_draft(persona: &Persona, context: &FollowUpContext) -> FollowUpDraft {
    FollowUpDraft {
        message: fallback(persona, context.topics.first().map(String::as_str)),
        disclaimers: disclaimers(persona),
        model: TEMPLATE_MODEL.to_string(),
        usage: None,
        latency_ms: 0,
        call: None,
    }
}

/// The persona's template follow-up (`followups.fallback`, a tera template
/// the creator wrote, with the topic as data), or a built-in one in the
/// persona's language.
pub fn fallback(persona: &Persona, topic: Option<&str>) -> String {
    let Some(template) = &persona.followups.fallback else {
        return template_followup(&persona.language, &persona.name, topic);
    };
    let topic = topic.map_or_else(
        || crate::locale::earlier_chat(&persona.language).to_string(),
        str::to_string,
    );
    let mut context = tera::Context::new();
    context.insert("topic", &topic);
    match tera::Tera::one_off(template, &context, false) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        _ => template_followup(&persona.language, &persona.name, Some(&topic)),
    }
}

/// The model's text, cleaned (no control characters but newlines and tabs,
/// no bidi controls) and cut to `max_chars` at a sentence end when
/// possible; `None` if nothing usable is left.
pub fn bounded(text: &str, persona_name: &str, max_chars: usize) -> Option<String> {
    // Stored, printed and sent on without escape sequences.
    let text = crate::terminal::printable(text);
    let mut text = text.trim();
    if let Some(rest) = text
        .strip_prefix(persona_name)
        .and_then(|r| r.strip_prefix(':'))
    {
        text = rest.trim();
    }
    let text = text
        .trim_matches(|c| c == '"' || c == '“' || c == '”' || c == '«' || c == '»')
        .trim();
    if text.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
        return None;
    }
    if text.chars().count() <= max_chars {
        return Some(text.to_string());
    }
    let cut: String = text.chars().take(max_chars).collect();
    let sentence_end = cut
        .char_indices()
        .rev()
        .find(|(i, c)| matches!(c, '.' | '!' | '?' | '…') && *i > cut.len() / 3)
        .map(|(i, c)| i + c.len_utf8());
    Some(match sentence_end {
        Some(end) => cut[..end].trim().to_string(),
        None => format!("{}…", cut[..cut.rfind(' ').unwrap_or(cut.len())].trim_end()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::Personas;

    #[test]
    fn model_text_is_trimmed_unquoted_and_bounded() {
        assert_eq!(
            bounded("  \"Hi there!\" ", "Marco", 100).as_deref(),
            Some("Hi there!")
        );
        assert_eq!(
            bounded("Marco: Ciao!", "Marco", 100).as_deref(),
            Some("Ciao!")
        );
        assert_eq!(bounded("  ", "Marco", 100), None);
        let long = "One sentence here. Another one that goes on and on and on.";
        assert_eq!(
            bounded(long, "Marco", 30).as_deref(),
            Some("One sentence here.")
        );
        assert_eq!(
            bounded("word word word word word", "Marco", 12).as_deref(),
            Some("word word…")
        );
    }

    #[test]
    fn disclaimers_follow_the_persona_language() {
        let personas = Personas::builtin();
        let decor = disclaimers(&personas.get("decor").unwrap());
        assert!(decor[0].starts_with("Les réponses d'une IA peuvent être inexactes"));
        let creator = disclaimers(&personas.get("creator").unwrap());
        assert_eq!(
            creator[0],
            "AI responses may be inaccurate or inappropriate and should not be used to make important decisions."
        );
        assert!(creator[1].contains("not with Jade"));
    }

    #[test]
    fn a_followup_request_expands_macros_for_the_user_it_is_for() {
        let mut chef = (*Personas::builtin().get("chef").unwrap()).clone();
        chef.voice = "{{char}} misses {{user}} after {{idle_duration}}.".to_string();
        chef.name = "Chef {{user}}".to_string();
        let now = DateTime::parse_from_rfc3339("2026-12-04T18:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut user = crate::store::User::new("ana", now);
        user.display_name = Some("Ana".to_string());
        let previous = now - chrono::TimeDelta::days(3);
        let context = FollowUpContext {
            away: "3 days".to_string(),
            scene: Some(Scene::new(
                &chef,
                Some(&user),
                chrono_tz::Tz::UTC,
                now,
                Some(previous),
                Vec::new(),
            )),
            ..FollowUpContext::default()
        };
        let prompts = Prompts::builtin().unwrap();
        let request =
            followup_request(&prompts, &std::sync::Arc::new(chef), &context, now).unwrap();
        assert!(
            request
                .system
                .contains("Chef {{user}} misses Ana after 3 days."),
            "names are not expanded, texts are: {}",
            request.system
        );
        assert!(
            request.messages[0]
                .content
                .contains("The user last wrote 3 days ago")
        );
    }

    #[test]
    fn a_followup_uses_the_card_system_prompt_but_not_its_post_history_instructions() {
        let mut chef = (*Personas::builtin().get("chef").unwrap()).clone();
        chef.card = Some(crate::persona::card::PersonaCard {
            system_prompt: Some("Speak as {{char}}. {{original}}".to_string()),
            post_history_instructions: Some("Answer in one line.".to_string()),
            ..Default::default()
        });
        let now = Utc::now();
        let context = FollowUpContext {
            away: "3 days".to_string(),
            ..FollowUpContext::default()
        };
        let prompts = Prompts::builtin().unwrap();
        let request =
            followup_request(&prompts, &std::sync::Arc::new(chef), &context, now).unwrap();
        assert!(
            request
                .system
                .starts_with("Speak as Chef Marco. You are Chef Marco."),
            "{}",
            request.system
        );
        assert!(
            request
                .system
                .contains("say honestly that you are an AI persona")
        );
        assert_eq!(request.post_history, None);
        assert_eq!(request.messages.len(), 1);
        assert!(!request.messages[0].content.contains("Answer in one line"));
    }

    #[test]
    fn the_fallback_uses_the_persona_template_and_topic() {
        let chef = Personas::builtin().get("chef").unwrap();
        let text = fallback(&chef, Some("saffron risotto"));
        assert!(text.contains("our chat about saffron risotto"), "{text}");
        assert!(!fallback(&chef, None).is_empty());
    }
}
