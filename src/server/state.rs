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
use crate::app::App;
use crate::chat::ChatService;
use crate::server::ServerConfig;
use crate::shutdown::Shutdown;
use crate::store::{SharedStore, StoreAccess, StoreHandle};

/// The state behind every handler.
pub type SharedState = Arc<ServerState>;

/// The server's shared state.
pub struct ServerState {
    /// Personas, prompts, config, clock, models.
    pub app: Arc<App>,
    /// The store.
    pub store: SharedStore,
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

    /// A chat service over a store handle, and the handle, which must be
    /// kept for as long as the service is used.
    pub async fn chat(&self) -> Result<(ChatService, StoreHandle), ApiError> {
        let store = self.store.get().await?;
        let access = StoreAccess::kept(store.clone());
        Ok((self.app.chat_service(access), store))
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
/// client.
#[derive(Debug, Default)]
pub struct RateLimits {
    /// key → (window start, requests in it).
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys are forgotten once the map is this large and their window is over.
const RATE_KEYS_BEFORE_PRUNING: usize = 10_000;

impl RateLimits {
    /// Counts a request against `key`'s budget of `per_minute`; 429 past it.
    pub fn check(&self, key: &str, per_minute: u32, what: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() > RATE_KEYS_BEFORE_PRUNING {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = windows.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        if entry.1 >= per_minute {
            let wait = 60u64.saturating_sub(now.duration_since(entry.0).as_secs());
            return Err(ApiError::rate_limited(format!(
                "{what} is limited to {per_minute} per minute; try again in {wait} s"
            )));
        }
        entry.1 += 1;
        Ok(())
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
