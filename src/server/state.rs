//! What every request handler shares: the runtime, the store, access,
//! limits, the event hub and the turns in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::auth::Access;
use super::error::ApiError;
use super::events::Hub;
use super::store::ServerStore;
use crate::app::App;
use crate::chat::ChatService;
use crate::server::ServerConfig;
use crate::shutdown::Shutdown;

/// The state behind every handler.
pub type SharedState = Arc<ServerState>;

/// The server's shared state.
pub struct ServerState {
    /// Personas, prompts, config, clock, models.
    pub app: Arc<App>,
    /// The store.
    pub store: ServerStore,
    /// Operator tokens.
    pub access: Access,
    /// Per-user and per-token request budgets.
    pub rates: RateLimits,
    /// Open streams (events and streamed replies).
    pub streams: Arc<Semaphore>,
    /// Each user's event stream.
    pub hub: Arc<Hub>,
    /// Delivers follow-ups in the background, and on request.
    pub scheduler: Arc<crate::followup::scheduler::Scheduler>,
    /// Poked after each turn, so the follow-up scheduler looks again.
    pub wake: Arc<Notify>,
    /// Turns whose replies are not stored yet.
    pub in_flight: InFlight,
    /// One turn at a time per conversation.
    pub turns: ConversationLocks,
    /// The streamed replies being written, each with what stops it.
    pub stops: Arc<ReplyStops>,
    /// Heard by event streams, which end on shutdown.
    pub shutdown: Shutdown,
    /// Renders `/metrics`.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl ServerState {
    /// The server's settings.
    pub fn config(&self) -> &ServerConfig {
        &self.app.config.server
    }

    /// A chat service over the shared store: each of its steps holds the
    /// store only for its reads and writes, never across a model call, so
    /// an erasure waits for nobody's model.
    pub fn chat(&self) -> ChatService {
        self.app.chat_service(self.store.access())
    }

    /// The stored id of the user a path, query or body names, in any case
    /// (see [`crate::ids`]); a bad or ambiguous id is a 400.
    pub async fn user_id(&self, typed: &str) -> Result<String, ApiError> {
        crate::ids::check_id("user id", typed).map_err(ApiError::bad_request)?;
        let store = self.store.get().await?;
        Ok(crate::ids::resolve_user_in(&store, typed).await?)
    }

    /// The user (resolved, checked) and the persona a conversation route
    /// names, once `caller` may act for that user: 400 for a bad id, 403
    /// for another user's conversation, 404 for an unknown persona.
    pub async fn conversation_of(
        &self,
        caller: &super::auth::Caller,
        user: &str,
        persona: &str,
    ) -> Result<(String, Arc<crate::persona::Persona>), ApiError> {
        let user = self.user_id(user).await?;
        super::error::check_id("persona id", persona)?;
        caller.may_act_for(&user)?;
        let persona = self.app.personas().get(persona)?;
        Ok((user, persona))
    }

    /// Counts a turn against `user`'s budget (`user_turns_per_minute`).
    pub fn count_turn(&self, user: &str) -> Result<(), ApiError> {
        let limit = self.config().user_turns_per_minute;
        self.rates.check(&format!("user:{user}"), limit, "chatting")
    }

    /// A permit to hold a stream open; 429 when the cap is reached.
    pub fn stream_permit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.streams).try_acquire_owned().map_err(|_| {
            ApiError::rate_limited(format!(
                "the server already holds {} open streams; try again later",
                self.config().max_streams
            ))
        })
    }
}

/// Fixed one-minute windows per key: cheap, and enough to stop a runaway
/// client. Keys are users and valid tokens only (a made-up token is refused
/// before it is counted), and windows that are over are forgotten once a
/// minute.
#[derive(Debug)]
pub struct RateLimits {
    /// The windows, and when those that were over were last forgotten.
    windows: Mutex<(Windows, Instant)>,
}

/// key → (window start, requests in it).
type Windows = HashMap<String, (Instant, u32)>;

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            windows: Mutex::new((HashMap::new(), Instant::now())),
        }
    }
}

/// How long a window lasts.
const WINDOW: Duration = Duration::from_secs(60);

impl RateLimits {
    /// Counts a request against `key`'s budget of `per_minute`; 429 past
    /// it, saying what is limited (`what` names it: "chatting", "requests
    /// with this token").
    pub fn check(&self, key: &str, per_minute: u32, what: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let Ok(mut guard) = self.windows.lock() else {
            return Ok(());
        };
        let (windows, pruned) = &mut *guard;
        if now.duration_since(*pruned) >= WINDOW {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            *pruned = now;
        }
        let entry = windows.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= per_minute {
            let wait = WINDOW
                .as_secs()
                .saturating_sub(now.duration_since(entry.0).as_secs());
            return Err(ApiError::rate_limited(format!(
                "{what}: at most {per_minute} a minute; try again in {wait} s"
            )));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// One lock per conversation, so two messages a user sends at once (two
/// tabs, a retry) are answered one after the other and the history keeps
/// each reply after its message.
#[derive(Debug, Default)]
pub struct ConversationLocks {
    /// conversation → its lock, while someone holds or waits for it.
    locks: Mutex<HashMap<(String, String), TurnLock>>,
}

/// The lock of one conversation, alive while a turn holds or awaits it.
type TurnLock = std::sync::Weak<tokio::sync::Mutex<()>>;

impl ConversationLocks {
    /// Waits for the conversation of `user` with `persona` to be free, and
    /// holds it until the guard is dropped.
    pub async fn lock(&self, user: &str, persona: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = (user.to_string(), persona.to_string());
            match locks.get(&key).and_then(std::sync::Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    locks.retain(|_, lock| lock.strong_count() > 0);
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

/// Counts turns in flight, so shutdown can wait for their replies.
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    /// How many.
    count: Arc<AtomicUsize>,
    /// Poked when one ends.
    ended: Arc<Notify>,
}

/// Held by a turn until its reply is stored.
#[derive(Debug)]
pub struct InFlightGuard(InFlight);

impl InFlight {
    /// Marks a turn as started.
    pub fn start(&self) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    /// How many turns are in flight.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Waits until no turn is in flight.
    pub async fn idle(&self) {
        loop {
            let ended = self.ended.notified();
            if self.count() == 0 {
                return;
            }
            ended.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::SeqCst);
        self.0.ended.notify_waiters();
    }
}

/// The streamed replies being written, by conversation, each with the
/// signal that stops it (`POST /v1/conversations/{user}/{persona}/stop`:
/// the console's Ctrl-C through a server). One turn runs per conversation
/// at a time, so a conversation has at most one.
#[derive(Debug, Default)]
pub struct ReplyStops {
    /// conversation → its reply's stop signal.
    stops: Mutex<HashMap<(String, String), Arc<Notify>>>,
}

impl ReplyStops {
    /// Registers the reply about to be written in the conversation of
    /// `user` with `persona`: its stop signal, and a guard that forgets it
    /// when the turn ends.
    pub fn register(self: &Arc<Self>, user: &str, persona: &str) -> (Arc<Notify>, ReplyStopGuard) {
        let key = (user.to_string(), persona.to_string());
        let stop = Arc::new(Notify::new());
        self.stops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone(), Arc::clone(&stop));
        let guard = ReplyStopGuard {
            stops: Arc::clone(self),
            key,
            stop: Arc::clone(&stop),
        };
        (stop, guard)
    }

    /// Stops the reply being written in the conversation, if there is one;
    /// whether there was.
    pub fn stop(&self, user: &str, persona: &str) -> bool {
        let stops = self
            .stops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match stops.get(&(user.to_string(), persona.to_string())) {
            // A permit: the reply stops even if it has not started reading.
            Some(stop) => {
                stop.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Forgets a reply's stop signal when its turn ends.
#[derive(Debug)]
pub struct ReplyStopGuard {
    stops: Arc<ReplyStops>,
    key: (String, String),
    stop: Arc<Notify>,
}

impl Drop for ReplyStopGuard {
    fn drop(&mut self) {
        let mut stops = self
            .stops
            .stops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stops
            .get(&self.key)
            .is_some_and(|s| Arc::ptr_eq(s, &self.stop))
        {
            stops.remove(&self.key);
        }
    }
}
