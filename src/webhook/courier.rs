//! The courier of one webhook: a task that sends the webhook's queue from
//! the outbox, oldest first, one request at a time, and removes each entry
//! once the receiver answered 2xx.
//!
//! A failed attempt (no connection, a timeout, any other status) is retried
//! after 1 s, 2 s, 4 s … up to the webhook's `max_backoff_secs` (or the
//! receiver's `Retry-After`, within that cap), for as long as it takes: the
//! queue waits behind its oldest entry, so a receiver sees follow-ups in the
//! order they were delivered. Each webhook has its own courier, so one that
//! is down never delays another. The store is held only to read or remove
//! an entry, never across a request, so chat turns and erasures do not wait
//! on a slow receiver. The queue is read from the store at start, so what a
//! stopped server left is sent by the next one.
//!
//! On PostgreSQL every server runs a courier per webhook, and only the one
//! holding the webhook's turn sends (see
//! [`crate::store::postgres::WebhookTurn`]): the others wait, and take the
//! turn when its holder stops.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use super::payload::FOLLOWUP_DELIVERED;
use super::signature::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::{Webhook, WebhookError};
use crate::shutdown::Shutdown;
use crate::store::postgres::WebhookTurn;
use crate::store::{OutboxEntry, QueuedDelivery, StoreAccess, StoreBackend, StoreError};

/// How often a courier without its webhook's turn (PostgreSQL) looks
/// whether the turn is free, and an idle one whether another server queued
/// something it was not told of.
const LOOK_AGAIN: Duration = Duration::from_secs(5);

/// Sends one webhook's queue.
pub struct Courier {
    /// The webhook: name, URL, secret, limits.
    webhook: Webhook,
    /// The store holding the outbox.
    store: StoreAccess,
    /// The HTTP client: the attempt timeout, no redirects.
    client: reqwest::Client,
    /// Poked when a follow-up is queued.
    wake: Arc<Notify>,
}

/// Wakes every courier: called after a follow-up is delivered, since its
/// webhook entries were queued with it.
#[derive(Debug, Clone, Default)]
pub struct Wake(Vec<Arc<Notify>>);

impl Wake {
    /// Wakes the `couriers`.
    pub fn new(couriers: &[Courier]) -> Self {
        Self(couriers.iter().map(|c| Arc::clone(&c.wake)).collect())
    }

    /// Tells each courier to look at its queue (remembered if it is busy).
    pub fn notify(&self) {
        for courier in &self.0 {
            courier.notify_one();
        }
    }
}

/// How one attempt ended.
#[derive(Debug)]
enum Attempt {
    /// A 2xx, with its status.
    Delivered(u16),
    /// Anything else: why, and how long the receiver asked us to wait.
    Failed {
        /// For the log: a status or a connection problem, never the URL.
        reason: String,
        /// The receiver's `Retry-After`, in seconds, when it sent one.
        retry_after: Option<Duration>,
    },
}

/// What the courier does after an attempt.
#[derive(Debug)]
enum Settled {
    /// The entry is done with: on to the next one at once.
    Done,
    /// Wait, then try again: at least `after`, when the receiver said so.
    Retry {
        /// The receiver's `Retry-After`.
        after: Option<Duration>,
    },
}

/// The wait after `failures` consecutive failures: 1 s doubling each time,
/// at least the receiver's `retry_after`, at most `cap`.
pub fn backoff(failures: u32, cap: Duration, retry_after: Option<Duration>) -> Duration {
    let doubled = Duration::from_secs(1u64 << failures.saturating_sub(1).min(30));
    doubled.max(retry_after.unwrap_or_default()).min(cap)
}

impl Courier {
    /// A courier for `webhook` over the outbox in `store`.
    pub fn new(webhook: Webhook, store: StoreAccess) -> Result<Self, WebhookError> {
        let client = reqwest::Client::builder()
            .timeout(webhook.timeout)
            // A redirect would carry the signed body to another address.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("troupe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Client {
                webhook: webhook.name.clone(),
                detail: e.without_url().to_string(),
            })?;
        Ok(Self {
            webhook,
            store,
            client,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The webhook's name.
    pub fn name(&self) -> &str {
        &self.webhook.name
    }

    /// Sends the queue until `shutdown`; waits for a wake-up when it is
    /// empty. Never returns an error: failures are logged, counted and
    /// retried.
    pub async fn run(self, mut shutdown: Shutdown) {
        // Failures in a row: the backoff grows with them.
        let mut failures: u32 = 0;
        // On PostgreSQL, this server's turn to send the queue, once taken.
        let mut turn = None;
        loop {
            if !self.my_turn(&mut turn).await {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(LOOK_AGAIN) => {}
                    _ = shutdown.requested() => return,
                }
                continue;
            }
            let retry_after = match self.next().await {
                Ok(None) => {
                    failures = 0;
                    let idle = match turn {
                        Some(_) => LOOK_AGAIN,
                        None => Duration::MAX,
                    };
                    tokio::select! {
                        _ = self.wake.notified() => continue,
                        _ = tokio::time::sleep(idle) => continue,
                        _ = shutdown.requested() => return,
                    }
                }
                Ok(Some(queued)) => {
                    let attempt = tokio::select! {
                        attempt = self.attempt(&queued.entry) => attempt,
                        _ = shutdown.requested() => return,
                    };
                    match self.settle(&queued, attempt, failures + 1).await {
                        Settled::Done => {
                            failures = 0;
                            continue;
                        }
                        Settled::Retry { after } => after,
                    }
                }
                Err(error) => {
                    tracing::warn!(webhook = %self.webhook.name, %error, "could not read the webhook outbox; trying again later");
                    None
                }
            };
            failures = failures.saturating_add(1);
            if !self.pause(failures, retry_after, &mut shutdown).await {
                return;
            }
        }
    }

    /// Counts and logs how attempt number `attempt` of `queued` ended, and
    /// removes the entry after a 2xx.
    async fn settle(&self, queued: &QueuedDelivery, outcome: Attempt, attempt: u32) -> Settled {
        match outcome {
            Attempt::Delivered(status) => {
                self.count("delivered");
                if self.delivered(queued, status, attempt).await {
                    Settled::Done
                } else {
                    Settled::Retry { after: None }
                }
            }
            Attempt::Failed {
                reason,
                retry_after,
            } => {
                self.count("failed");
                tracing::warn!(
                    webhook = %self.webhook.name,
                    delivery = %queued.entry.delivery,
                    attempt,
                    %reason,
                    "webhook delivery failed; it stays queued and is retried"
                );
                Settled::Retry { after: retry_after }
            }
        }
    }

    /// Whether this courier may send now: always on sled, whose data dir
    /// one server holds; on PostgreSQL, while it holds the webhook's turn,
    /// which it takes when no other server holds it.
    async fn my_turn(&self, turn: &mut Option<WebhookTurn>) -> bool {
        let store = match self.store.step() {
            Ok(store) => StoreBackend::clone(&store),
            Err(_) => return false,
        };
        let StoreBackend::Postgres(store) = store else {
            return true;
        };
        if let Some(held) = turn {
            if held.is_held().await {
                return true;
            }
            tracing::warn!(webhook = %self.webhook.name, "lost the turn to send the webhook's queue (the database connection dropped); taking it again when free");
            *turn = None;
        }
        match store.take_webhook_turn(&self.webhook.name).await {
            Ok(Some(taken)) => {
                tracing::info!(webhook = %self.webhook.name, "this server sends the webhook's queue");
                *turn = Some(taken);
                true
            }
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(webhook = %self.webhook.name, %error, "could not take the turn to send the webhook's queue; trying again");
                false
            }
        }
    }

    /// The oldest queued entry, updating the pending gauge on the way.
    async fn next(&self) -> Result<Option<QueuedDelivery>, StoreError> {
        let store = self.store.step()?;
        let next = store.next_in_outbox(&self.webhook.name).await?;
        let pending = store.outbox_len(&self.webhook.name).await?;
        metrics::gauge!("troupe_webhook_pending", "webhook" => self.webhook.name.clone())
            .set(pending as f64);
        Ok(next)
    }

    /// One signed POST of `entry`.
    async fn attempt(&self, entry: &OutboxEntry) -> Attempt {
        let timestamp = unix_now();
        let signature = self.webhook.secret.sign(timestamp, entry.body.as_bytes());
        let sent = self
            .client
            .post(&self.webhook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, &entry.delivery)
            .header(EVENT_HEADER, FOLLOWUP_DELIVERED)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(entry.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                Attempt::Delivered(response.status().as_u16())
            }
            Ok(response) => Attempt::Failed {
                reason: format!("the receiver answered {}", response.status()),
                retry_after: retry_after(&response),
            },
            Err(error) => Attempt::Failed {
                reason: describe(error, self.webhook.timeout),
                retry_after: None,
            },
        }
    }

    /// Removes a delivered entry; `false` if the store could not, so the
    /// caller waits before the entry is (inevitably) sent again.
    async fn delivered(&self, queued: &QueuedDelivery, status: u16, attempts: u32) -> bool {
        let removed = match self.store.step() {
            Ok(store) => {
                store
                    .remove_from_outbox(&self.webhook.name, queued.seq)
                    .await
            }
            Err(error) => Err(error),
        };
        match removed {
            Ok(_) => {
                tracing::info!(webhook = %self.webhook.name, delivery = %queued.entry.delivery, status, attempts, "webhook delivered");
                true
            }
            Err(error) => {
                tracing::warn!(webhook = %self.webhook.name, delivery = %queued.entry.delivery, %error, "webhook delivered but not removed from the outbox; it will be sent again with the same delivery id");
                false
            }
        }
    }

    /// Waits before the next attempt; `false` if shutdown came first.
    async fn pause(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        shutdown: &mut Shutdown,
    ) -> bool {
        let wait = backoff(failures, self.webhook.max_backoff, retry_after);
        tracing::debug!(webhook = %self.webhook.name, wait_ms = wait.as_millis() as u64, "webhook retry scheduled");
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = shutdown.requested() => false,
        }
    }

    /// Counts an attempt's outcome.
    fn count(&self, outcome: &'static str) {
        metrics::counter!(
            "troupe_webhook_deliveries_total",
            "webhook" => self.webhook.name.clone(),
            "outcome" => outcome
        )
        .increment(1);
    }
}

/// Seconds since 1970 by the system clock (not `--now`: the receiver checks
/// the timestamp against its own clock).
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A response's `Retry-After`, when it is a number of seconds.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let secs: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}

/// A failed request, described without its URL (webhook URLs often carry a
/// token), with the cause that says most.
fn describe(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs());
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(300);

    #[test]
    fn retries_wait_one_second_then_double_up_to_the_cap() {
        let waits: Vec<u64> = (1..=10).map(|n| backoff(n, CAP, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(
            backoff(u32::MAX, CAP, None),
            CAP,
            "no overflow after many failures"
        );
    }

    #[test]
    fn a_receiver_s_retry_after_is_honoured_within_the_cap() {
        let asked = Some(Duration::from_secs(30));
        assert_eq!(backoff(1, CAP, asked), Duration::from_secs(30));
        assert_eq!(backoff(7, CAP, asked), Duration::from_secs(64));
        let greedy = Some(Duration::from_secs(86_400));
        assert_eq!(backoff(1, CAP, greedy), CAP);
    }
}
