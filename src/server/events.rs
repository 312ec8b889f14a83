//! Each user's event stream (`GET /v1/users/{user}/events`): follow-ups
//! pushed as they are delivered, to every page or app the user has open.
//! Follow-ups delivered while no stream was open arrive first when one
//! opens; a front end that shows them when a conversation opens instead
//! (the terminal console) takes them with `POST
//! /v1/conversations/{user}/{persona}/followup/seen`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Serialize;
use tokio::sync::broadcast;

use super::auth::Caller;
use super::body::ApiPath;
use super::error::ApiError;
use super::state::SharedState;
use crate::chat::view::UnseenFollowUp;
use crate::followup::SentFollowUp;

/// Events buffered per user for a slow reader before the oldest are dropped.
const BUFFER: usize = 8;

/// A message pushed to a user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FollowUpEvent {
    /// The persona's id.
    pub persona: String,
    /// The persona's name.
    pub persona_name: String,
    /// The follow-up, the persona's words.
    pub text: String,
    /// The disclaimers, shown apart from the text.
    pub disclaimers: Vec<String>,
    /// The model that wrote it, or `template`.
    pub model: String,
}

/// Each user's open streams.
#[derive(Debug, Default)]
pub struct Hub {
    /// user → the channel their streams listen on. Events are shared, not
    /// copied, between a user's streams, and each open channel holds only
    /// pointers: an idle stream costs little more than its connection.
    users: Mutex<HashMap<String, broadcast::Sender<Arc<FollowUpEvent>>>>,
}

impl Hub {
    /// Listens for `user`'s events, unless `user` already has `cap`
    /// streams open.
    pub fn subscribe(
        &self,
        user: &str,
        cap: usize,
    ) -> Option<broadcast::Receiver<Arc<FollowUpEvent>>> {
        let mut users = self.users.lock().ok()?;
        let sender = users
            .entry(user.to_string())
            .or_insert_with(|| broadcast::channel(BUFFER).0);
        (sender.receiver_count() < cap).then(|| sender.subscribe())
    }

    /// Ends every stream `user` has open (they were erased).
    pub fn close(&self, user: &str) {
        if let Ok(mut users) = self.users.lock() {
            users.remove(user);
        }
    }

    /// Sends `event` to `user`'s open streams; how many got it.
    pub fn publish(&self, user: &str, event: FollowUpEvent) -> usize {
        let Ok(users) = self.users.lock() else {
            return 0;
        };
        users
            .get(user)
            .and_then(|sender| sender.send(Arc::new(event)).ok())
            .unwrap_or(0)
    }

    /// Forgets `user`'s channel once no stream listens on it.
    fn release(&self, user: &str) {
        if let Ok(mut users) = self.users.lock()
            && users.get(user).is_some_and(|s| s.receiver_count() == 0)
        {
            users.remove(user);
        }
    }

    /// Whether `user` has a stream open here.
    pub fn is_listening(&self, user: &str) -> bool {
        self.users.lock().is_ok_and(|u| u.contains_key(user))
    }

    /// How many users have a stream open.
    pub fn users_listening(&self) -> usize {
        self.users.lock().map_or(0, |u| u.len())
    }
}

impl FollowUpEvent {
    /// The event for a delivered follow-up.
    pub fn new(sent: &SentFollowUp, persona_name: &str) -> Self {
        Self {
            persona: sent.persona.clone(),
            persona_name: persona_name.to_string(),
            text: sent.text.clone(),
            disclaimers: sent.disclaimers.clone(),
            model: sent.model.clone(),
        }
    }

    fn to_sse(&self) -> Event {
        Event::default()
            .event("followup")
            .json_data(self)
            .unwrap_or_else(|_| Event::default().event("followup"))
    }
}

/// Ends the user's subscription when the stream is dropped.
struct Listening {
    state: SharedState,
    user: String,
    /// The newest follow-up of each conversation as the stream opened:
    /// a push of one of these was delivered before the stream opened
    /// (and shown then, or seen elsewhere), so it is not shown again.
    known: Vec<(String, u64)>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.state.hub.release(&self.user);
        metrics::gauge!("troupe_open_streams").decrement(1.0);
    }
}

/// Opens the user's event stream: `event: followup` frames, each with a
/// [`FollowUpEvent`]; follow-ups not yet seen come first.
#[utoipa::path(get, path = "/v1/users/{user}/events", tag = "users",
    params(("user" = String, Path, description = "The user id")),
    responses(
        (status = 200, description = "Server-sent events: `followup`", content_type = "text/event-stream", body = FollowUpEvent),
        (status = 403, description = "Another user's stream", body = super::error::ErrorBody),
        (status = 429, description = "Too many open streams", body = super::error::ErrorBody),
    ))]
pub async fn events(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let user = state.user_id(&user).await?;
    caller.may_act_for(&user)?;
    let permit = state.stream_permit()?;
    let cap = state.config().max_streams_per_user;
    let Some(receiver) = state.hub.subscribe(&user, cap) else {
        return Err(ApiError::rate_limited(format!(
            "{user} already has {cap} event streams open; close one first"
        )));
    };
    metrics::gauge!("troupe_open_streams").increment(1.0);
    let mut listening = Listening {
        state: state.clone(),
        user: user.clone(),
        known: Vec::new(),
        _permit: permit,
    };
    let (unseen, known) = unseen_followups(&state, &user).await?;
    listening.known = known;
    let stream = futures::stream::unfold(
        (unseen.into_iter(), receiver, listening),
        |(mut unseen, mut receiver, listening)| async move {
            if let Some(event) = unseen.next() {
                return Some((Ok(event.to_sse()), (unseen, receiver, listening)));
            }
            let mut shutdown = listening.state.shutdown.clone();
            loop {
                let received = tokio::select! {
                    received = receiver.recv() => received,
                    _ = shutdown.requested() => return None,
                };
                match received {
                    Ok(event) => {
                        // Boxed: an idle stream waits in this loop, so
                        // whatever its future holds inline, each of
                        // thousands of open streams holds too.
                        if Box::pin(mark_seen(&listening, &event.persona)).await {
                            return Some((Ok(event.to_sse()), (unseen, receiver, listening)));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(
                            missed,
                            "an event stream fell behind; the missed follow-ups stay in the history"
                        );
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Answers the follow-up `user` has not seen from `persona` (`null` when
/// there is none), marking it seen.
#[utoipa::path(post, path = "/v1/conversations/{user}/{persona}/followup/seen", tag = "chat",
    params(("user" = String, Path, description = "The user id"), ("persona" = String, Path, description = "The persona id")),
    responses(
        (status = 200, description = "The follow-up, now marked seen, or null", body = UnseenFollowUp),
        (status = 403, description = "Another user's conversation", body = super::error::ErrorBody),
        (status = 404, description = "Unknown persona", body = super::error::ErrorBody),
    ))]
pub async fn take_unseen(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath((user, persona)): ApiPath<(String, String)>,
) -> Result<Json<UnseenFollowUp>, ApiError> {
    let (user, persona) = state.conversation_of(&caller, &user, &persona).await?;
    let chat = state.chat();
    let followup = chat.take_unseen_followup(&user, &persona).await?;
    Ok(Json(UnseenFollowUp { followup }))
}

/// The follow-ups `user` has not seen, marked seen now that they are
/// sent, and the newest follow-up of each of their conversations.
async fn unseen_followups(
    state: &SharedState,
    user: &str,
) -> Result<(Vec<FollowUpEvent>, Vec<(String, u64)>), ApiError> {
    let chat = state.chat();
    let mut events = Vec::new();
    let mut known = Vec::new();
    for persona in state.app.personas().iter() {
        let followups = chat.take_followups(user, persona).await?;
        if let Some(newest) = followups.newest {
            known.push((persona.id.clone(), newest));
        }
        if let Some(message) = followups.unseen {
            events.push(FollowUpEvent {
                persona: persona.id.clone(),
                persona_name: persona.name.clone(),
                text: message.text,
                disclaimers: message.disclaimers,
                model: message.model.unwrap_or_default(),
            });
        }
    }
    Ok((events, known))
}

/// Pushes each follow-up the database announces (see
/// [`crate::store::postgres::FollowUpListener`]) to its user's streams
/// open on this server, and wakes the webhook `couriers` (its deliveries
/// were queued with it), until `shutdown`. A user with no stream here is
/// skipped without reading anything; a listener that fails is logged and
/// tried again a second later, and what it missed reaches the user when
/// their next stream opens.
pub async fn relay(
    state: SharedState,
    mut listener: crate::store::postgres::FollowUpListener,
    couriers: crate::webhook::Wake,
    mut shutdown: crate::shutdown::Shutdown,
) {
    loop {
        let delivered = tokio::select! {
            delivered = listener.next() => delivered,
            _ = shutdown.requested() => return,
        };
        match delivered {
            Ok(delivered) => {
                couriers.notify();
                push_stored(&state, &delivered.user, &delivered.persona).await;
            }
            Err(error) => {
                tracing::warn!(%error, "listening for follow-ups failed; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Pushes `user`'s newest follow-up from `persona`, as stored, to their
/// streams open here.
async fn push_stored(state: &SharedState, user: &str, persona: &str) {
    if !state.hub.is_listening(user) {
        return;
    }
    let Ok(persona) = state.app.personas().get(persona) else {
        return;
    };
    let stored = async {
        let store = state.store.get().await?;
        let Some(conversation) = store.conversation(user, &persona.id).await? else {
            return Ok(None);
        };
        match conversation.last_followup_seq {
            Some(seq) => store.message(&conversation, seq).await,
            None => Ok(None),
        }
    };
    match stored.await {
        Ok(Some(message)) => {
            let event = FollowUpEvent {
                persona: persona.id.clone(),
                persona_name: persona.name.clone(),
                text: message.text,
                disclaimers: message.disclaimers,
                model: message.model.unwrap_or_default(),
            };
            let streams = state.hub.publish(user, event);
            tracing::info!(persona = %persona.id, streams, "follow-up pushed");
        }
        Ok(None) => {}
        Err(error) => {
            let error: crate::store::StoreError = error;
            tracing::warn!(%error, "could not read a follow-up to push");
        }
    }
}

/// Marks the listening user's follow-up from `persona` seen, since a
/// stream is about to show it; answers whether to show it, which it is
/// not when it was already the newest as the stream opened (delivered
/// before, and pushed only now). A store that cannot be read shows it.
async fn mark_seen(listening: &Listening, persona: &str) -> bool {
    let Ok(persona) = listening.state.app.personas().get(persona) else {
        return true;
    };
    let chat = listening.state.chat();
    match chat.take_followups(&listening.user, &persona).await {
        Ok(followups) => !listening
            .known
            .iter()
            .any(|(id, seq)| *id == persona.id && followups.newest == Some(*seq)),
        Err(error) => {
            tracing::warn!(%error, "could not mark a pushed follow-up as seen");
            true
        }
    }
}
