//! Surviving real networks, the same way for every provider: a time limit
//! on the first token, retries with jittered exponential backoff (honouring
//! `Retry-After`, bounded in count and in total time), and fallback to other
//! backends.
//!
//! A stream is retried only before its first token: once text has been
//! shown, a break is reported (and the partial text kept, marked
//! interrupted) rather than silently restarted.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;

use super::{ChatModel, ChatRequest, Completion, ModelError, ModelInfo, ReplyStream, StreamEvent};

/// How hard to try one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// The longest single backoff.
    pub max_delay: Duration,
    /// No retry starts after this much time in total.
    pub budget: Duration,
    /// The longest wait for the first token of a streamed reply.
    pub first_token: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            budget: Duration::from_secs(30),
            first_token: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based) after `error`: what
    /// the server asked for, else exponential backoff with ±50% jitter.
    pub fn delay(&self, attempt: u32, error: &ModelError) -> Duration {
        if let Some(asked) = error.retry_after() {
            return asked.min(self.budget);
        }
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        exponential.mul_f64(0.5 + random_unit())
    }
}

/// A number in [0, 1), different on each call (std's hasher keys are random).
fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(Instant::now().elapsed().as_nanos() as u64);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// One backend with timeouts and retries.
pub struct Resilient {
    /// The backend.
    inner: Arc<dyn ChatModel>,
    /// How hard to try.
    policy: RetryPolicy,
}

impl Resilient {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ChatModel>, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// Whether to retry after `error` on attempt `attempt`, having started at `start`;
    /// waits first if so.
    async fn should_retry(&self, attempt: u32, error: &ModelError, start: Instant) -> bool {
        if !error.is_retryable() || attempt >= self.policy.max_retries {
            return false;
        }
        let delay = self.policy.delay(attempt, error);
        if start.elapsed() + delay > self.policy.budget {
            return false;
        }
        tracing::info!(backend = %self.inner.info().backend, %error, ?delay, "retrying");
        tokio::time::sleep(delay).await;
        true
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retry count
    /// or time budget runs out.
    async fn with_retries<T, F, Fut>(&self, attempt: F) -> Result<T, ModelError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, ModelError>>,
    {
        let start = Instant::now();
        let mut tries = 0;
        loop {
            match attempt().await {
                Ok(done) => return Ok(done),
                Err(e) if self.should_retry(tries, &e, start).await => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Opens a stream and waits for its first event, within the first-token limit.
    async fn open(&self, request: &ChatRequest) -> Result<ReplyStream, ModelError> {
        let url = self.inner.info().base_url.clone().unwrap_or_default();
        let limit = self.policy.first_token;
        match tokio::time::timeout(limit, first_event(self.inner.as_ref(), request)).await {
            Ok(result) => result,
            Err(_) => Err(ModelError::Timeout {
                url,
                detail: format!("no first token within {} s", limit.as_secs_f32()),
            }),
        }
    }
}

/// Opens `model`'s stream and reads its first event, so that a stream that
/// fails before showing anything counts as a failed attempt (to retry or fall
/// back from) rather than a broken reply.
async fn first_event(
    model: &dyn ChatModel,
    request: &ChatRequest,
) -> Result<ReplyStream, ModelError> {
    let mut stream = model.stream(request).await?;
    match stream.next().await {
        // A reply that ends before any text is an empty reply: retry or fall back.
        Some(Ok(StreamEvent::Done { .. })) => Err(ModelError::Empty {
            url: model.info().base_url.clone().unwrap_or_default(),
        }),
        Some(Ok(first)) => Ok(futures::stream::once(async { Ok(first) })
            .chain(stream)
            .boxed()),
        Some(Err(e)) => Err(e),
        None => Err(ModelError::Interrupted {
            url: model.info().base_url.clone().unwrap_or_default(),
            detail: "the stream ended before any token".to_string(),
        }),
    }
}

impl ChatModel for Resilient {
    fn info(&self) -> &ModelInfo {
        self.inner.info()
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, ModelError>> {
        Box::pin(self.with_retries(|| self.inner.complete(request)))
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ReplyStream, ModelError>> {
        Box::pin(self.with_retries(|| self.open(request)))
    }

    fn session_notice(&self, language: &str) -> Option<String> {
        self.inner.session_notice(language)
    }
}

/// Backends tried in order: the next one only when the previous failed
/// after its retries (for streams: before showing anything).
pub struct Fallback {
    /// The backends, first choice first.
    chain: Vec<Arc<dyn ChatModel>>,
}

impl Fallback {
    /// A chain; must hold at least one backend.
    pub fn new(chain: Vec<Arc<dyn ChatModel>>) -> Option<Self> {
        (!chain.is_empty()).then_some(Self { chain })
    }

    /// Tries each backend in turn with `call`; the first success wins, and
    /// the last error is returned if every backend fails.
    async fn first_success<'a, T, F, Fut>(
        &'a self,
        request: &'a ChatRequest,
        call: F,
    ) -> Result<T, ModelError>
    where
        F: Fn(&'a dyn ChatModel, &'a ChatRequest) -> Fut,
        Fut: std::future::Future<Output = Result<T, ModelError>>,
    {
        let mut last = None;
        for (i, model) in self.chain.iter().enumerate() {
            match call(model.as_ref(), request).await {
                Ok(done) => return Ok(done),
                Err(e) => {
                    self.log(model.as_ref(), &e, self.chain.get(i + 1));
                    last = Some(e);
                }
            }
        }
        Err(last.expect("a fallback chain is never empty"))
    }

    fn log(&self, model: &dyn ChatModel, error: &ModelError, next: Option<&Arc<dyn ChatModel>>) {
        if let Some(next) = next {
            tracing::warn!(failed = %model.info().backend, next = %next.info().backend, %error, "falling back");
        }
    }
}

impl ChatModel for Fallback {
    fn info(&self) -> &ModelInfo {
        self.chain[0].info()
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, ModelError>> {
        Box::pin(self.first_success(request, |model, request| model.complete(request)))
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ReplyStream, ModelError>> {
        Box::pin(self.first_success(request, first_event))
    }

    fn session_notice(&self, language: &str) -> Option<String> {
        self.chain[0].session_notice(language)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_respects_retry_after() {
        let policy = RetryPolicy::default();
        let server = |retry_after| ModelError::Server {
            url: "u".into(),
            status: 503,
            detail: String::new(),
            retry_after,
        };
        for attempt in 0..6 {
            let base = policy
                .base_delay
                .saturating_mul(2u32.pow(attempt))
                .min(policy.max_delay);
            let delay = policy.delay(attempt, &server(None));
            assert!(
                delay >= base.mul_f64(0.5) && delay <= base.mul_f64(1.5),
                "{attempt}: {delay:?}"
            );
        }
        assert_eq!(
            policy.delay(0, &server(Some(Duration::from_secs(2)))),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy.delay(0, &server(Some(Duration::from_secs(999)))),
            policy.budget
        );
    }

    #[test]
    fn jitter_differs_between_calls() {
        let draws: std::collections::HashSet<u64> =
            (0..20).map(|_| (random_unit() * 1e9) as u64).collect();
        assert!(draws.len() > 15);
    }
}
