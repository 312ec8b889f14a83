//! The personas as an OpenAI-compatible model, so any OpenAI client (the
//! official SDKs, Open WebUI, …) can chat with them: `GET /v1/models`,
//! `GET /v1/models/{model}` and `POST /v1/chat/completions`, whole or
//! streamed, with the persona's safety layer in full.
//!
//! With a user (the body's `safety_identifier` or `user`, Open WebUI's
//! user header, or an end-user token) the conversation is Troupe's own: the
//! request's last user message is the new turn, run by the same library path
//! as the native chat route, and the stored history is what the model sees.
//! Without one, the turn is stateless: the client's messages are the
//! history and nothing is stored. Open WebUI's own title, tag and follow-up
//! requests are answered statelessly and never become turns.
//!
//! - `request`: reading and checking a request;
//! - `reply`: a reply's text and errors; `stream`: the chunks of one;
//! - `wire`: the OpenAI shapes.

mod reply;
mod request;
mod stream;
mod wire;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc::UnboundedReceiver;

use super::ApiError;
use super::auth::Caller;
use super::body::{ApiJson, ApiPath};
use super::conversations::{check_length, start_turn};
use super::state::SharedState;
use crate::chat::{StatelessKind, TurnEvent};
use reply::{Framing, collect, ended_early};
use request::{Asked, CompletionRequest, find_persona, neutral_task_answer};
use wire::{ChatCompletion, ModelList, ModelObject, OpenAiError, OpenAiErrorBody};

/// Lists the personas as models.
#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses(
        (status = 200, description = "Every persona, as OpenAI's model list", body = ModelList),
        (status = 401, description = "No valid token", body = OpenAiErrorBody),
    ))]
pub async fn models(
    State(state): State<SharedState>,
    caller: Result<Caller, ApiError>,
) -> Result<Json<ModelList>, OpenAiError> {
    caller?;
    let created = started(&state);
    Ok(Json(ModelList {
        object: "list".to_string(),
        data: state
            .app
            .personas()
            .iter()
            .map(|p| ModelObject::new(p, created))
            .collect(),
    }))
}

/// One persona, as a model.
#[utoipa::path(get, path = "/v1/models/{model}", tag = "openai",
    params(("model" = String, Path, description = "The persona id")),
    responses(
        (status = 200, description = "The persona, as OpenAI's model object", body = ModelObject),
        (status = 404, description = "No such persona", body = OpenAiErrorBody),
    ))]
pub async fn model(
    State(state): State<SharedState>,
    caller: Result<Caller, ApiError>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ModelObject>, OpenAiError> {
    caller?;
    let persona = find_persona(&state, &id)?;
    Ok(Json(ModelObject::new(&persona, started(&state))))
}

/// When this server started answering, as models' `created`.
fn started(state: &SharedState) -> i64 {
    static STARTED: OnceLock<i64> = OnceLock::new();
    *STARTED.get_or_init(|| state.app.clock.now().timestamp())
}

/// Answers as the persona named by `model`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai",
    request_body = CompletionRequest,
    responses(
        (status = 200, description = "The reply as a `chat.completion`, or with `stream: true` server-sent events: `data:` lines of `chat.completion.chunk` (the role, the text, a chunk with `finish_reason`, a usage chunk with `stream_options.include_usage`), then `data: [DONE]`; an error after the stream started is a last `data: {\"error\":{…}}` line. The AI notice (when due) opens the text as a quoted line, disclaimers close it after a rule; the `troupe` field has both apart", body = ChatCompletion),
        (status = 400, description = "A malformed request, an empty message, or n > 1", body = OpenAiErrorBody),
        (status = 401, description = "No valid token", body = OpenAiErrorBody),
        (status = 403, description = "Another user's token, or a persona refused to a minor", body = OpenAiErrorBody),
        (status = 404, description = "The model is not a persona", body = OpenAiErrorBody),
        (status = 413, description = "The message or the request is too long", body = OpenAiErrorBody),
        (status = 429, description = "Rate-limited", body = OpenAiErrorBody),
        (status = 503, description = "The persona's model failed", body = OpenAiErrorBody),
        (status = 504, description = "No reply in time", body = OpenAiErrorBody),
    ))]
pub async fn completions(
    State(state): State<SharedState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    body: Result<ApiJson<CompletionRequest>, ApiError>,
) -> Result<Response, OpenAiError> {
    let caller = caller?;
    let ApiJson(body) = body?;
    let asked = Asked::read(&state, &caller, &headers, body).await?;
    let permit = if asked.stream {
        Some(state.stream_permit()?)
    } else {
        None
    };
    let (events, framing) = start(&state, &caller, &asked).await?;
    let timeout = Duration::from_secs(state.config().request_timeout_secs);
    let Some(permit) = permit else {
        let completion = tokio::time::timeout(timeout, collect(events, &framing)).await;
        return Ok(Json(completion.map_err(|_| too_slow(&framing, timeout))??).into_response());
    };
    let (opening, events) = first_events(events, &framing, timeout).await?;
    Ok(stream::respond(
        opening,
        events,
        framing,
        asked.include_usage,
        permit,
    ))
}

/// Whether the client asks again for the reply to the stored
/// conversation's last message ("regenerate": it resends the history up to
/// that message, without the reply it dropped). A client that sends only
/// its newest message is never taken to ask again: without the message
/// before it, a regenerate and a message said twice look alike.
async fn asks_again(state: &SharedState, user: &str, asked: &Asked) -> Result<bool, OpenAiError> {
    let [.., before, _] = asked.history.as_slice() else {
        return Ok(false);
    };
    let chat = state.chat();
    chat.is_retry(user, &asked.persona, asked.text(), Some(&before.content))
        .await
        .map_err(|e| OpenAiError::from(ApiError::from(e)))
}

/// Starts the turn: a stored one for a known user's chat message, else a
/// stateless one.
async fn start(
    state: &SharedState,
    caller: &Caller,
    asked: &Asked,
) -> Result<(UnboundedReceiver<TurnEvent>, Framing), OpenAiError> {
    let mut framing = Framing {
        id: completion_id()?,
        created: state.app.clock.now().timestamp(),
        model: asked.persona.id.clone(),
        stored: false,
        task_answer: None,
        operator: *caller == Caller::Operator,
    };
    if let (Some(user), false) = (&asked.user, asked.task) {
        let ids = (user.as_str(), asked.persona.id.as_str());
        let again = asks_again(state, user, asked).await?;
        let how = (asked.stream, again);
        let (_, events) = start_turn(state, caller, ids, asked.text(), how).await?;
        framing.stored = true;
        return Ok((events, framing));
    }
    let kind = if asked.task {
        framing.task_answer = Some(neutral_task_answer(asked.text(), &asked.persona));
        check_task_length(state, asked.text())?;
        StatelessKind::ClientTask
    } else {
        check_length(state, asked.text())?;
        StatelessKind::Chat
    };
    if let Some(user) = &asked.user {
        state.count_turn(user)?;
    }
    let model = state
        .app
        .model_for(&asked.persona)
        .map_err(ApiError::from)?;
    let chat = state.chat();
    if let Some(user) = &asked.user {
        // A client's own task is still refused where the user may not go.
        chat.check_access(user, &asked.persona)
            .await
            .map_err(ApiError::from)?;
    }
    let events = chat.spawn_stateless_turn(
        asked.user.clone(),
        Arc::clone(&asked.persona),
        model,
        asked.history.clone(),
        kind,
        state.in_flight.start(),
    );
    Ok((events, framing))
}

/// A client task quotes the chat, so it may be longer than a message, but
/// not longer than the history a model is sent.
fn check_task_length(state: &SharedState, text: &str) -> Result<(), OpenAiError> {
    let limit = state.app.config.chat.history_chars;
    if text.chars().count() <= limit {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the task is longer than {limit} characters ([chat] history_chars); send a shorter one"
        ),
    )
    .into())
}

/// Waits for a streamed turn's first words (the notices that go with them
/// are held until then), so that a turn refused or failed before its first
/// word is an HTTP error the SDKs raise at once.
async fn first_events(
    mut events: UnboundedReceiver<TurnEvent>,
    framing: &Framing,
    timeout: Duration,
) -> Result<(Vec<TurnEvent>, UnboundedReceiver<TurnEvent>), OpenAiError> {
    let mut opening = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => return Err(too_slow(framing, timeout)),
            Ok(None) => return Err(ended_early(framing.stored)),
            Ok(Some(TurnEvent::Failed(error))) => return Err(framing.error(error)),
            Ok(Some(event @ (TurnEvent::Notice(_) | TurnEvent::BreakReminder(_)))) => {
                opening.push(event);
            }
            Ok(Some(first)) => {
                opening.push(first);
                return Ok((opening, events));
            }
        }
    }
}

/// The 504 for a reply that took longer than `[server] request_timeout_secs`.
fn too_slow(framing: &Framing, timeout: Duration) -> OpenAiError {
    let after = if framing.stored {
        "; the message is saved and the reply will be in the history when the model finishes"
    } else {
        "; try again"
    };
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "timeout",
        format!("no reply within {} s{after}", timeout.as_secs()),
    )
    .into()
}

/// A new `chatcmpl-…` id.
fn completion_id() -> Result<String, ApiError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 12];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the system's random number generator failed; try again",
            )
        })?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("chatcmpl-{hex}"))
}
