//! Reading a `POST /v1/chat/completions` request: which persona, which
//! user (if any), the client's history as plain text, and whether it is a
//! chat turn or a client's own housekeeping task.

use std::sync::Arc;

use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::wire::{OpenAiError, without_additions};
use crate::chat::notice_text;
use crate::model::{ChatMessage, ChatRole};
use crate::persona::Persona;
use crate::safety::{DisclaimerKind, Subject};
use crate::server::ApiError;
use crate::server::auth::Caller;
use crate::server::state::SharedState;

/// The header Open WebUI sends the user's id in when it forwards user
/// information (`ENABLE_FORWARD_USER_INFO_HEADERS`).
const OPEN_WEBUI_USER_HEADER: &str = "x-openwebui-user-id";

/// How Open WebUI's own requests (chat titles, tags, suggested follow-up
/// questions) begin.
const CLIENT_TASK_MARK: &str = "### Task:";

/// What every one of those requests quotes the chat in; a message that only
/// begins like a task is chat, with the whole safety layer.
const CLIENT_TASK_HISTORY: &str = "<chat_history>";

/// The request body. Fields OpenAI defines and Troupe does not use
/// (`temperature`, `max_tokens`, `tools`, …) are accepted and ignored: the
/// persona's file sets its model's parameters.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompletionRequest {
    /// The persona id (see `GET /v1/models`).
    pub model: String,
    /// The conversation, oldest first, ending with the user's message.
    /// `system` and `developer` messages are ignored: the persona's own
    /// system prompt always applies.
    pub messages: Vec<WireMessage>,
    /// Stream the reply as `chat.completion.chunk` server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// `{"include_usage": true}` adds a usage chunk before `[DONE]`.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// The end user: a string, or an object with an `id`. With a user, the
    /// conversation is Troupe's own and is stored; without one, nothing is.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub user: Option<Value>,
    /// The end user, as newer SDKs name it; wins over `user`.
    #[serde(default)]
    pub safety_identifier: Option<String>,
    /// How many choices; only 1 is supported.
    #[serde(default)]
    pub n: Option<u32>,
}

/// One message of the client's conversation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct WireMessage {
    /// `user`, `assistant`; `system`, `developer`, `tool` and `function`
    /// messages are ignored.
    pub role: String,
    /// A string, or a list of parts of which the `text` ones are read.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub content: Option<Value>,
}

/// Options of a streamed reply.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with the usage and no choices.
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// A request, read and checked.
#[derive(Debug)]
pub struct Asked {
    /// The persona asked for.
    pub persona: Arc<Persona>,
    /// The user whose conversation this is; `None`: stateless.
    pub user: Option<String>,
    /// The client's conversation as text, ending with the user's message.
    pub history: Vec<ChatMessage>,
    /// A client's own housekeeping request, not a chat turn.
    pub task: bool,
    /// Answer as server-sent events.
    pub stream: bool,
    /// Add a usage chunk to the stream.
    pub include_usage: bool,
}

impl Asked {
    /// Reads `body` for `caller`.
    pub async fn read(
        state: &SharedState,
        caller: &Caller,
        headers: &HeaderMap,
        body: CompletionRequest,
    ) -> Result<Self, OpenAiError> {
        if body.n.is_some_and(|n| n != 1) {
            return Err(OpenAiError::bad_field(
                "n",
                "a persona answers with one choice; leave n out or set it to 1",
            ));
        }
        let persona = find_persona(state, &body.model)?;
        let user = resolve_user(state, caller, &body, headers).await?;
        let history = client_history(state, &persona, &body.messages)?;
        let task = history.last().is_some_and(|m| {
            m.content.trim_start().starts_with(CLIENT_TASK_MARK)
                && m.content.contains(CLIENT_TASK_HISTORY)
        });
        Ok(Self {
            persona,
            user,
            history,
            task,
            stream: body.stream.unwrap_or(false),
            include_usage: body
                .stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
        })
    }

    /// The user's new message.
    pub fn text(&self) -> &str {
        self.history.last().map_or("", |m| m.content.as_str())
    }
}

/// The persona a model id names; 404 in OpenAI's words otherwise.
pub fn find_persona(state: &SharedState, model: &str) -> Result<Arc<Persona>, OpenAiError> {
    if crate::ids::check_id("persona id", model).is_err() {
        return Err(OpenAiError::unknown_model(model));
    }
    state
        .app
        .personas()
        .get(model)
        .map_err(|_| OpenAiError::unknown_model(model))
}

/// The user a request is for: an end-user token's own user, else the one
/// the body (`safety_identifier`, else `user`) or Open WebUI's header
/// names, in any case (see [`crate::ids`]). A token and a named user must
/// agree.
async fn resolve_user(
    state: &SharedState,
    caller: &Caller,
    body: &CompletionRequest,
    headers: &HeaderMap,
) -> Result<Option<String>, OpenAiError> {
    let named = match body.safety_identifier.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Some(id.to_string()),
        _ => match user_field(body.user.as_ref())? {
            Some(id) => Some(id),
            None => headers
                .get(OPEN_WEBUI_USER_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
        },
    };
    let named = match named {
        Some(id) => Some(stored_user_id(state, &id).await?),
        None => None,
    };
    match (caller, named) {
        (Caller::User(own), None) => Ok(Some(own.clone())),
        (Caller::User(own), Some(named)) if *own == named => Ok(Some(named)),
        (Caller::User(_), Some(_)) => Err(OpenAiError {
            error: ApiError::forbidden(
                "this token belongs to another user; leave `user` out or send the token's own user",
            ),
            param: Some("user"),
        }),
        (Caller::Operator, named) => Ok(named),
    }
}

/// The stored id of the user a request names; a bad or ambiguous id is a
/// 400 on the `user` field.
async fn stored_user_id(state: &SharedState, id: &str) -> Result<String, OpenAiError> {
    let store = state.store.get().await.map_err(ApiError::from)?;
    let resolved = crate::ids::resolve_user_in(&store, id).await;
    resolved.map_err(|error| match error {
        crate::ids::UserIdError::Invalid(message) => OpenAiError::bad_field(
            "user",
            format!("{message}; send your own user id, or a hash of it"),
        ),
        crate::ids::UserIdError::Ambiguous { .. } => {
            OpenAiError::bad_field("user", error.to_string())
        }
        crate::ids::UserIdError::Store(e) => ApiError::from(e).into(),
    })
}

/// The user id in the `user` field: a string, or an object's `id`.
fn user_field(user: Option<&Value>) -> Result<Option<String>, OpenAiError> {
    let id = match user {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(id)) => id,
        Some(Value::Object(fields)) => match fields.get("id") {
            Some(Value::String(id)) => id,
            _ => {
                return Err(OpenAiError::bad_field(
                    "user",
                    "the user object has no string `id`; send {\"id\": \"USER\"} or the id as a string",
                ));
            }
        },
        Some(_) => {
            return Err(OpenAiError::bad_field(
                "user",
                "`user` must be a string or an object with an `id`",
            ));
        }
    };
    let id = id.trim();
    Ok((!id.is_empty()).then(|| id.to_string()))
}

/// The client's user and assistant messages as text, with Troupe's own
/// additions taken off the assistant's; the last must be the user's.
fn client_history(
    state: &SharedState,
    persona: &Persona,
    messages: &[WireMessage],
) -> Result<Vec<ChatMessage>, OpenAiError> {
    let (leads, disclaimers) = troupe_additions(state, persona);
    let mut history = Vec::new();
    for message in messages {
        let role = match message.role.as_str() {
            "user" => ChatRole::User,
            "assistant" => ChatRole::Assistant,
            _ => continue,
        };
        let text = content_text(message.content.as_ref())?;
        let content = match role {
            ChatRole::User => text,
            ChatRole::Assistant => without_additions(&text, &leads, &disclaimers),
        };
        if role == ChatRole::Assistant && content.trim().is_empty() {
            continue;
        }
        history.push(ChatMessage { role, content });
    }
    match history.last() {
        Some(last) if last.role == ChatRole::User => Ok(history),
        _ => Err(OpenAiError::bad_field(
            "messages",
            "the last message must be the user's (role \"user\"): the persona answers the user's newest message",
        )),
    }
}

/// The text of a message's content: the string, or its text parts joined.
fn content_text(content: Option<&Value>) -> Result<String, OpenAiError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => Ok(parts
            .iter()
            .filter(|p| matches!(p["type"].as_str(), Some("text" | "input_text")))
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")),
        Some(_) => Err(OpenAiError::bad_field(
            "messages",
            "a message's content must be a string or a list of text parts",
        )),
    }
}

/// The texts Troupe may have added to the persona's replies: the notice and
/// break reminder before, the disclaimers after.
fn troupe_additions(state: &SharedState, persona: &Persona) -> (Vec<String>, Vec<String>) {
    let leads = vec![
        notice_text(persona),
        crate::locale::take_a_break(&persona.language).to_string(),
    ];
    let safety = &state.app.config.safety;
    let disclaimers = Subject::ALL
        .iter()
        .map(|s| safety.disclaimer(persona, DisclaimerKind::Subject(*s)))
        .collect();
    (leads, disclaimers)
}

/// What Troupe answers a client task that holds a crisis, without asking
/// the model: the keys Open WebUI's title, tags and follow-up prompts ask
/// for, with neutral values.
pub fn neutral_task_answer(task: &str, persona: &Persona) -> String {
    let mut answer = serde_json::Map::new();
    if task.contains("\"title\"") {
        answer.insert("title".into(), persona.name.clone().into());
    }
    if task.contains("\"tags\"") {
        answer.insert("tags".into(), Value::Array(Vec::new()));
    }
    if task.contains("\"follow_ups\"") {
        answer.insert("follow_ups".into(), Value::Array(Vec::new()));
    }
    Value::Object(answer).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_is_a_string_or_an_object_with_an_id() {
        assert_eq!(
            user_field(Some(&json!("alice"))).unwrap(),
            Some("alice".into())
        );
        assert_eq!(
            user_field(Some(&json!({"id": "bob", "name": "Bob"}))).unwrap(),
            Some("bob".into())
        );
        assert_eq!(user_field(Some(&json!(""))).unwrap(), None);
        assert_eq!(user_field(None).unwrap(), None);
        assert!(user_field(Some(&json!({"name": "Bob"}))).is_err());
        assert!(user_field(Some(&json!(42))).is_err());
    }

    #[test]
    fn text_parts_are_joined_and_other_parts_skipped() {
        let parts = json!([
            {"type": "text", "text": "What is this dish?"},
            {"type": "image_url", "image_url": {"url": "data:"}},
            {"type": "text", "text": "It has saffron."}
        ]);
        assert_eq!(
            content_text(Some(&parts)).unwrap(),
            "What is this dish?\nIt has saffron."
        );
        assert!(content_text(Some(&json!(7))).is_err());
    }
}
