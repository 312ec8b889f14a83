//! The shapes of OpenAI's API that the compatible routes answer in, as the
//! official SDKs parse them, and how Troupe's additions to a reply (the AI
//! notice before it, disclaimers after it) are written into its text.
//!
//! Replies carry one extension field, `troupe`, that OpenAI clients ignore:
//! who spoke, whether the turn was stored, and the notice and disclaimers
//! apart from the text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::chat::{Reply, ReplyKind};
use crate::persona::Persona;
use crate::server::ApiError;

/// An error answered in OpenAI's shape, so the SDKs raise their usual
/// exceptions (`NotFoundError`, `RateLimitError`, …) with Troupe's message.
#[derive(Debug)]
pub struct OpenAiError {
    /// The status, Troupe's code and the message.
    pub error: ApiError,
    /// The request field at fault, when there is one.
    pub param: Option<&'static str>,
}

/// The JSON body of an error: `{"error":{"message","type","param","code"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpenAiErrorBody {
    /// The error.
    pub error: OpenAiErrorDetail,
}

/// What went wrong, in OpenAI's fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OpenAiErrorDetail {
    /// What happened and what to do.
    pub message: String,
    /// OpenAI's error family: `invalid_request_error`,
    /// `authentication_error`, `permission_error`, `requests` (rate
    /// limits) or `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request field at fault (`model`, `messages`, `user`, `n`), or null.
    pub param: Option<String>,
    /// Troupe's stable code (`model_not_found`, `bad_request`, `forbidden`,
    /// `rate_limited`, `model_unavailable`, …).
    pub code: String,
}

impl OpenAiError {
    /// A 400 about the field `param`.
    pub fn bad_field(param: &'static str, message: impl Into<String>) -> Self {
        Self {
            error: ApiError::bad_request(message),
            param: Some(param),
        }
    }

    /// The 404 for a model that is not a persona, in OpenAI's words.
    pub fn unknown_model(model: &str) -> Self {
        Self {
            error: ApiError::new(
                StatusCode::NOT_FOUND,
                "model_not_found",
                format!(
                    "The model `{model}` does not exist: each model is a persona id; GET /v1/models lists them"
                ),
            ),
            param: Some("model"),
        }
    }

    /// The body as sent, in the response or as a stream's last `data:` line.
    pub fn body(&self) -> OpenAiErrorBody {
        OpenAiErrorBody {
            error: OpenAiErrorDetail {
                message: self.error.message.clone(),
                kind: error_type(self.error.status).to_string(),
                param: self.param.map(str::to_string),
                code: self.error.code.to_string(),
            },
        }
    }
}

impl From<ApiError> for OpenAiError {
    fn from(error: ApiError) -> Self {
        Self { error, param: None }
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        if self.error.status.is_server_error() {
            tracing::warn!(status = %self.error.status, code = self.error.code, "request failed: {}", self.error.message);
        }
        (self.error.status, Json(self.body())).into_response()
    }
}

/// OpenAI's error family for a status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "requests",
        500.. => "server_error",
        _ => "invalid_request_error",
    }
}

/// `GET /v1/models`: every persona, as a model.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    /// The personas.
    pub data: Vec<ModelObject>,
}

/// A persona, as a model.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelObject {
    /// The persona id: the `model` to ask for.
    pub id: String,
    /// Always `model`.
    pub object: String,
    /// When this server started, in Unix seconds (personas have no date of
    /// their own; the value is stable while the server runs).
    pub created: i64,
    /// Always `troupe`.
    pub owned_by: String,
    /// Extension: the persona's display name, which chat front ends such
    /// as Open WebUI show instead of the id.
    pub name: String,
    /// Extension: one line about the persona.
    pub description: String,
    /// Extension: the persona's language.
    pub language: String,
}

impl ModelObject {
    /// `persona` as a model.
    pub fn new(persona: &Persona, created: i64) -> Self {
        Self {
            id: persona.id.clone(),
            object: "model".to_string(),
            created,
            owned_by: "troupe".to_string(),
            name: persona.name.clone(),
            description: persona.description.clone(),
            language: persona.language.clone(),
        }
    }
}

/// A whole reply: a `chat.completion`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChatCompletion {
    /// `chatcmpl-…`, new for each reply.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// When the reply was made, in Unix seconds.
    pub created: i64,
    /// The persona id that was asked for.
    pub model: String,
    /// Always null.
    pub system_fingerprint: Option<String>,
    /// One choice.
    pub choices: Vec<CompletionChoice>,
    /// Tokens the persona's model used (zero for Troupe's own replies, and
    /// when the backend does not say).
    pub usage: WireUsage,
    /// Extension: what Troupe added to the text, and who spoke.
    pub troupe: TroupeInfo,
}

/// The one choice of a reply.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CompletionChoice {
    /// Always 0.
    pub index: u32,
    /// The reply.
    pub message: AssistantMessage,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<serde_json::Value>,
    /// Always `stop`.
    pub finish_reason: String,
}

/// The reply's message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: String,
    /// The notice (when due), the reply, then its disclaimers.
    pub content: String,
    /// Always null.
    pub refusal: Option<String>,
}

/// Tokens used.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct WireUsage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens in the reply.
    pub completion_tokens: u32,
    /// Both.
    pub total_tokens: u32,
}

impl WireUsage {
    /// The usage of `reply`, zero when unknown.
    pub fn of(reply: &Reply) -> Self {
        let usage = reply.usage.unwrap_or_default();
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens.saturating_add(usage.completion_tokens),
        }
    }
}

/// The `troupe` extension of a reply.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TroupeInfo {
    /// `persona` (the persona's words), `crisis` (Troupe's helplines),
    /// `control` (Troupe's STOP/START confirmation) or `task` (an answer to
    /// a client's own title, tags or follow-up request).
    pub kind: String,
    /// Whether the turn was kept in the user's Troupe conversation.
    pub stored: bool,
    /// The backend model that wrote the reply (`troupe-safety` for the
    /// crisis reply).
    pub model: String,
    /// The AI notice shown before the reply, when it was due.
    pub notice: Option<String>,
    /// The break reminder shown before the reply, when it was due.
    pub break_reminder: Option<String>,
    /// The disclaimers shown after the reply.
    pub disclaimers: Vec<String>,
    /// For a `crisis` reply, what it answers: `self_harm` or `danger`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crisis: Option<crate::safety::CrisisKind>,
}

impl TroupeInfo {
    /// The extension for `reply`; `task` marks a client's own request.
    pub fn new(reply: &Reply, stored: bool, task: bool, lead: &Lead) -> Self {
        let kind = match (task, reply.kind) {
            (true, _) => "task",
            (false, ReplyKind::Persona) => "persona",
            (false, ReplyKind::Crisis) => "crisis",
            (false, ReplyKind::Control) => "control",
        };
        Self {
            kind: kind.to_string(),
            stored,
            model: reply.model.clone(),
            notice: lead.notice.clone(),
            break_reminder: lead.break_reminder.clone(),
            disclaimers: reply.disclaimers.clone(),
            crisis: if task { None } else { reply.crisis },
        }
    }
}

/// What comes before a reply: the AI notice and a break reminder, when due.
#[derive(Debug, Clone, Default)]
pub struct Lead {
    /// The AI notice.
    pub notice: Option<String>,
    /// The break reminder.
    pub break_reminder: Option<String>,
}

/// How a line Troupe puts before a reply starts: a Markdown quote, set
/// apart from the persona's words by a blank line.
const LEAD_MARK: &str = "> ";

/// What separates a reply from its disclaimers: a Markdown rule.
const DISCLAIMER_RULE: &str = "\n\n---\n";

/// The text that goes before a reply for one notice.
pub fn lead_line(text: &str) -> String {
    format!("{LEAD_MARK}{text}\n\n")
}

/// The text that goes after a reply for its disclaimers; empty without any.
pub fn disclaimer_block(disclaimers: &[String]) -> String {
    if disclaimers.is_empty() {
        return String::new();
    }
    format!("{DISCLAIMER_RULE}{}", disclaimers.join("\n\n"))
}

/// A reply's text as a client resends it, without what Troupe added: the
/// lead lines in `leads` and a disclaimer block made of `disclaimers`. Only
/// Troupe's exact texts are removed, so a persona's own quote or rule stays.
pub fn without_additions(text: &str, leads: &[String], disclaimers: &[String]) -> String {
    let mut rest = text;
    while let Some(shorter) = leads
        .iter()
        .find_map(|lead| rest.strip_prefix(lead_line(lead).as_str()))
    {
        rest = shorter;
    }
    if let Some(at) = rest.rfind(DISCLAIMER_RULE) {
        let block = &rest[at + DISCLAIMER_RULE.len()..];
        if block
            .split("\n\n")
            .all(|line| disclaimers.iter().any(|d| d == line.trim()))
        {
            rest = &rest[..at];
        }
    }
    rest.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn troupe_s_additions_come_off_a_resent_reply_and_nothing_else_does() {
        let leads = vec!["You are chatting with an AI.".to_string()];
        let disclaimers = vec!["Not medical advice.".to_string(), "Not legal.".to_string()];
        let sent = format!(
            "{}Rest and drink water.{}",
            lead_line(&leads[0]),
            disclaimer_block(&disclaimers)
        );
        assert_eq!(
            without_additions(&sent, &leads, &disclaimers),
            "Rest and drink water."
        );
        let own = "> A quote of my own\n\nThen a rule\n\n---\nand my own words";
        assert_eq!(without_additions(own, &leads, &disclaimers), own);
    }

    #[test]
    fn errors_name_openai_s_family_for_their_status() {
        let error = OpenAiError::from(ApiError::rate_limited("slow down"));
        assert_eq!(error.body().error.kind, "requests");
        let missing = OpenAiError::unknown_model("gpt-4o").body().error;
        assert_eq!(
            (missing.kind.as_str(), missing.code.as_str()),
            ("invalid_request_error", "model_not_found")
        );
        assert_eq!(missing.param.as_deref(), Some("model"));
    }
}
