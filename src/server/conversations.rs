//! Chat: `POST /v1/conversations/{user}/{persona}/messages` sends a user's
//! message and answers the reply, whole (JSON) or streamed (SSE, when the
//! request accepts `text/event-stream`); `GET` on the same path pages
//! through the history; `…/greeting` is the greeting the user sees when
//! the conversation opens; `…/topics` lists what the user talked about;
//! `…/stop` stops a reply being streamed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedReceiver;

use super::auth::Caller;
use super::body::{ApiJson, ApiPath, ApiQuery};
use super::error::{ApiError, ErrorBody, check_id};
use super::state::SharedState;
use crate::chat::view::{GreetingView, HistoryPage, ReplyView, TurnReply};
use crate::chat::{ReplyKind, SpawnedTurn, TurnError, TurnEvent, clean_message, within_window};
use crate::persona::Persona;

/// A user's message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// What the user wrote.
    pub text: String,
}

/// Sends a message and answers the reply.
#[utoipa::path(post, path = "/v1/conversations/{user}/{persona}/messages", tag = "chat",
    params(("user" = String, Path, description = "The user id"), ("persona" = String, Path, description = "The persona id")),
    request_body = SendMessage,
    responses(
        (status = 200, description = "The reply (JSON), or with `Accept: text/event-stream` server-sent events: `notice`, `break_reminder`, `delta`…, then one of `reply`, `crisis`, `control`, `refusal` or `error`", body = TurnReply),
        (status = 400, description = "Empty message or bad id", body = ErrorBody),
        (status = 403, description = "Refused (adults-only persona) or another user's conversation", body = ErrorBody),
        (status = 404, description = "Unknown persona", body = ErrorBody),
        (status = 413, description = "Message too long", body = ErrorBody),
        (status = 429, description = "Rate-limited", body = ErrorBody),
        (status = 503, description = "The model failed; the message is saved", body = ErrorBody),
    ))]
pub async fn send(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath((user, persona)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SendMessage>,
) -> Result<Response, ApiError> {
    let streamed = wants_stream(&headers);
    // The stream's place is taken first: a 429 must mean nothing was stored.
    let permit = streamed.then(|| state.stream_permit()).transpose()?;
    let (persona, events) = start_turn(
        &state,
        &caller,
        (&user, &persona),
        &body.text,
        (streamed, false),
    )
    .await?;
    if let Some(permit) = permit {
        let operator = caller == Caller::Operator;
        return Ok(stream_turn(events, persona, permit, operator).into_response());
    }
    let timeout = Duration::from_secs(state.config().request_timeout_secs);
    match tokio::time::timeout(timeout, collect_turn(events)).await {
        Ok(result) => {
            Ok(Json(result.map_err(|e| e.for_caller(caller == Caller::Operator))?).into_response())
        }
        Err(_) => Err(ApiError::new(
            axum::http::StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!(
                "no reply within {} s; the message is saved and the reply will be in the history when the model finishes",
                timeout.as_secs()
            ),
        )),
    }
}

/// Checks a turn and starts it on its own task.
pub(super) async fn start_turn(
    state: &SharedState,
    caller: &Caller,
    (user, persona_id): (&str, &str),
    text: &str,
    (streamed, again): (bool, bool),
) -> Result<(Arc<Persona>, UnboundedReceiver<TurnEvent>), ApiError> {
    check_id("persona id", persona_id)?;
    let user = &state.user_id(user).await?;
    caller.may_act_for(user)?;
    let persona = state.app.personas().get(persona_id)?;
    check_length(state, text)?;
    state.count_turn(user)?;
    let model = state.app.model_for(&persona)?;
    let turn_of_this_conversation = state.turns.lock(user, &persona.id).await;
    let chat = state.chat();
    let (stop, stop_guard) = state.stops.register(user, &persona.id);
    let keep = TurnDone {
        _in_flight: state.in_flight.start(),
        wake: Arc::clone(&state.wake),
        _stop: stop_guard,
        _conversation: turn_of_this_conversation,
    };
    let turn = SpawnedTurn {
        user: user.to_string(),
        persona: Arc::clone(&persona),
        model,
        text: text.to_string(),
        streamed,
        again,
        stop: Some(stop),
    };
    let events = chat.spawn_turn(turn, keep);
    Ok((persona, events))
}

/// Held by a turn's task; when it ends, the scheduler is told to look again.
struct TurnDone {
    /// Counts the turn in flight, for shutdown.
    _in_flight: super::state::InFlightGuard,
    /// The scheduler's wake-up.
    wake: Arc<tokio::sync::Notify>,
    /// The reply's stop signal, forgotten when the turn ends.
    _stop: super::state::ReplyStopGuard,
    /// The conversation, held so its next turn waits for this one.
    _conversation: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for TurnDone {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

/// An empty message is a 400 and an over-long one a 413, before anything
/// is stored; a crisis message is never refused for its length (the turn
/// answers it with helplines and keeps the part within the limit). Only
/// an over-long message is read for a crisis, and only its first
/// [`crate::chat::crisis_window`] characters.
pub(super) fn check_length(state: &SharedState, text: &str) -> Result<(), ApiError> {
    let limit = state.app.config.chat.max_message_chars;
    let cleaned = clean_message(text, usize::MAX).map_err(ApiError::bad_request)?;
    if cleaned.chars().count() <= limit
        || crate::safety::assess(within_window(&cleaned, limit)).is_crisis()
    {
        return Ok(());
    }
    let message = clean_message(&cleaned, limit).err().unwrap_or_default();
    Err(ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        message,
    ))
}

/// Whether the client asked for server-sent events.
pub(super) fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// Waits for the whole turn.
async fn collect_turn(mut events: UnboundedReceiver<TurnEvent>) -> Result<TurnReply, ApiError> {
    let (mut notice, mut break_reminder) = (None, None);
    while let Some(event) = events.recv().await {
        match event {
            TurnEvent::Notice(text) => notice = Some(text),
            TurnEvent::BreakReminder(text) => break_reminder = Some(text),
            TurnEvent::Delta(_) => {}
            TurnEvent::Finished(reply) => {
                count_turn(reply.kind);
                return Ok(TurnReply {
                    notice,
                    break_reminder,
                    reply: reply.into(),
                });
            }
            TurnEvent::Failed(error) => return Err(failed(error)),
        }
    }
    Err(ended_early())
}

/// A turn's error, counted.
pub(super) fn failed(error: TurnError) -> ApiError {
    let outcome = match &error {
        TurnError::Input(_) => "refused",
        TurnError::Model { .. } => "model_error",
        _ => "error",
    };
    metrics::counter!("troupe_turns_total", "kind" => outcome).increment(1);
    error.into()
}

/// Counts a finished turn by the kind of its reply.
pub(super) fn count_turn(kind: ReplyKind) {
    let kind = match kind {
        ReplyKind::Persona => "persona",
        ReplyKind::Crisis => "crisis",
        ReplyKind::Control => "control",
    };
    metrics::counter!("troupe_turns_total", "kind" => kind).increment(1);
}

fn ended_early() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the turn ended without a reply; the message is saved",
    )
}

/// The turn as server-sent events.
fn stream_turn(
    events: UnboundedReceiver<TurnEvent>,
    persona: Arc<Persona>,
    permit: tokio::sync::OwnedSemaphorePermit,
    operator: bool,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let stream = futures::stream::unfold((events, permit), move |(mut events, permit)| {
        let persona = Arc::clone(&persona);
        async move {
            let event = events.recv().await?;
            Some((Ok(frame(event, &persona, operator)), (events, permit)))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// One SSE frame for a turn event.
fn frame(event: TurnEvent, persona: &Persona, operator: bool) -> Event {
    let json = |name: &str, value: serde_json::Value| {
        Event::default()
            .event(name)
            .json_data(value)
            .unwrap_or_else(|_| Event::default().event(name))
    };
    match event {
        TurnEvent::Notice(text) => json("notice", serde_json::json!({ "text": text })),
        TurnEvent::BreakReminder(text) => {
            json("break_reminder", serde_json::json!({ "text": text }))
        }
        TurnEvent::Delta(text) => json("delta", serde_json::json!({ "text": text })),
        TurnEvent::Finished(reply) => {
            count_turn(reply.kind);
            let name = match reply.kind {
                ReplyKind::Persona => "reply",
                ReplyKind::Crisis => "crisis",
                ReplyKind::Control => "control",
            };
            let mut view = serde_json::to_value(ReplyView::from(reply)).unwrap_or_default();
            if let Some(object) = view.as_object_mut() {
                object.insert("persona_name".into(), persona.name.clone().into());
            }
            json(name, view)
        }
        TurnEvent::Failed(error) => {
            let name = if matches!(error, TurnError::Input(_)) {
                "refusal"
            } else {
                "error"
            };
            let partial = error.partial_disclaimers().to_vec();
            let error = failed(error).for_caller(operator);
            let mut body = serde_json::to_value(error.body()).unwrap_or_default();
            // A reply cut short by a failing model keeps its disclaimers.
            if let Some(object) = body.as_object_mut().filter(|_| !partial.is_empty()) {
                object.insert("disclaimers".into(), partial.into());
            }
            json(name, body)
        }
    }
}

/// Paging through a conversation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only messages before this sequence number (from an earlier page).
    pub before: Option<u64>,
    /// At most this many messages (default 50, at most 500).
    pub limit: Option<usize>,
}

/// The most history one page returns.
const MAX_PAGE: usize = 500;

/// Pages through a conversation, newest page first.
#[utoipa::path(get, path = "/v1/conversations/{user}/{persona}/messages", tag = "chat",
    params(("user" = String, Path, description = "The user id"), ("persona" = String, Path, description = "The persona id"), HistoryQuery),
    responses(
        (status = 200, description = "A page of messages, oldest first", body = HistoryPage),
        (status = 400, description = "Bad id or query", body = ErrorBody),
        (status = 404, description = "Unknown persona", body = ErrorBody),
    ))]
pub async fn history(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath((user, persona)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let (user, persona) = state.conversation_of(&caller, &user, &persona).await?;
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let store = state.store.get().await?;
    let messages = match store.conversation(&user, &persona.id).await? {
        Some(conversation) => {
            store
                .messages_page(&conversation, query.before, limit)
                .await?
        }
        None => Vec::new(),
    };
    let before = messages
        .first()
        .filter(|m| m.seq > 0 && messages.len() == limit)
        .map(|m| m.seq);
    Ok(Json(HistoryPage { messages, before }))
}

/// The greeting the user sees when the conversation opens: the one picked
/// for them among the persona's greetings, macros (`{{user}}`, `{{char}}`,
/// `{{time}}`…) expanded with their display name and time zone, the same
/// the model is told the conversation opened with.
#[utoipa::path(get, path = "/v1/conversations/{user}/{persona}/greeting", tag = "chat",
    params(("user" = String, Path, description = "The user id"), ("persona" = String, Path, description = "The persona id")),
    responses(
        (status = 200, description = "The greeting this user sees", body = GreetingView),
        (status = 400, description = "Bad id", body = ErrorBody),
        (status = 403, description = "Another user's conversation", body = ErrorBody),
        (status = 404, description = "Unknown persona", body = ErrorBody),
    ))]
pub async fn greeting(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath((user, persona)): ApiPath<(String, String)>,
) -> Result<Json<GreetingView>, ApiError> {
    let (user, persona) = state.conversation_of(&caller, &user, &persona).await?;
    let greeting = state.chat().greeting(&user, &persona).await?;
    Ok(Json(GreetingView { greeting }))
}

/// The topics of a conversation, highest score first.
#[utoipa::path(get, path = "/v1/conversations/{user}/{persona}/topics", tag = "chat",
    params(("user" = String, Path, description = "The user id"), ("persona" = String, Path, description = "The persona id")),
    responses(
        (status = 200, description = "Topics as `troupe topics --json` prints them", body = Vec<Object>),
        (status = 404, description = "Unknown persona", body = ErrorBody),
    ))]
pub async fn topics(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath((user, persona)): ApiPath<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (user, persona) = state.conversation_of(&caller, &user, &persona).await?;
    let store = state.store.get().await?;
    let list = match store.conversation(&user, &persona.id).await? {
        Some(c) => crate::followup::topics::ranked(&store.topics(&c).await?, state.app.clock.now()),
        None => Vec::new(),
    };
    Ok(Json(serde_json::to_value(list).unwrap_or_default()))
}

/// Whether a reply was stopped.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Stopped {
    /// Always true: a conversation with no reply being written is a 409.
    pub stopped: bool,
}

/// Stops the reply being streamed in a conversation, as Ctrl-C does in the
/// console: what was written so far is kept, marked interrupted, and the
/// turn ends with an `error` event. A reader who merely disconnects does
/// not stop a reply; it is stored whole and waits in the history.
#[utoipa::path(post, path = "/v1/conversations/{user}/{persona}/stop", tag = "chat",
    params(("user" = String, Path, description = "The user id"), ("persona" = String, Path, description = "The persona id")),
    responses(
        (status = 202, description = "The reply is being stopped", body = Stopped),
        (status = 404, description = "Unknown persona", body = ErrorBody),
        (status = 409, description = "No reply is being written in this conversation", body = ErrorBody),
    ))]
pub async fn stop(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath((user, persona)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<Stopped>), ApiError> {
    check_id("user id", &user)?;
    check_id("persona id", &persona)?;
    caller.may_act_for(&user)?;
    let persona = state.app.personas().get(&persona)?;
    if state.stops.stop(&user, &persona.id) {
        Ok((StatusCode::ACCEPTED, Json(Stopped { stopped: true })))
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "nothing_to_stop",
            "no reply is being written in this conversation",
        ))
    }
}
