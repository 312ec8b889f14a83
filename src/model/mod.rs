//! Language models behind one small, provider-neutral trait.
//!
//! [`ChatModel`] takes a [`ChatRequest`] we own and either answers in one go
//! ([`ChatModel::complete`]) or streams text deltas ending with the finish
//! reason and token usage ([`ChatModel::stream`]). Each provider converts the
//! request into its own wire format in its own file:
//! - [`openai`]: any OpenAI-compatible server, through async-openai;
//! - [`anthropic`]: the Anthropic Messages API, with a thin reqwest client;
//! - [`offline`]: scripted replies drawn from the persona, for a first run
//!   with no key and no network.
//!
//! [`resilient`] wraps any of them with timeouts, retries and fallbacks;
//! [`http`] and [`sse`] are the pieces the HTTP backends share.

pub mod anthropic;
pub mod http;
pub mod offline;
pub mod openai;
pub mod resilient;
pub mod shapes;
pub mod sse;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::persona::Persona;

/// Who said a line of the conversation sent to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// The end user.
    User,
    /// The persona.
    Assistant,
}

/// One line of the conversation sent to a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who said it.
    pub role: ChatRole,
    /// What was said.
    pub content: String,
}

/// A request for the persona's next message.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The persona's instructions (the rendered system prompt).
    pub system: String,
    /// The conversation so far, oldest first, ending with the user's message.
    pub messages: Vec<ChatMessage>,
    /// An instruction the model reads after the conversation (a persona's
    /// `[card] post_history_instructions`): each provider sends it as its
    /// last message, after the user's (see [`openai`], [`anthropic`]).
    /// Kept apart from `messages` so the turn's last message stays the
    /// user's, which the safety layer reads.
    pub post_history: Option<String>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// The longest reply, in tokens.
    pub max_tokens: Option<u32>,
    /// The persona speaking. Real backends get it through `system`; the
    /// offline backend composes its scripted replies from it.
    pub persona: Option<Arc<Persona>>,
    /// Why the message is wanted; scripted backends answer accordingly.
    pub purpose: Purpose,
}

/// Why a request is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Purpose {
    /// The persona's reply in a chat.
    #[default]
    Chat,
    /// A proactive follow-up, with the topic it should pick up.
    FollowUp {
        /// The strongest topic, if any.
        topic: Option<String>,
    },
    /// A yes/no safety classification of a user's message.
    SafetyCheck,
}

/// Why a model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished its message.
    Stop,
    /// The reply hit `max_tokens`.
    Length,
    /// The provider's filter cut the reply.
    ContentFilter,
    /// Any other reason the provider gave.
    Other(String),
}

impl FinishReason {
    /// Reads a provider's finish reason; `None` for the empty or missing ones
    /// some servers send on every chunk.
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        match raw?.trim() {
            "" => None,
            "stop" | "end_turn" | "eos" => Some(Self::Stop),
            "length" | "max_tokens" => Some(Self::Length),
            "content_filter" => Some(Self::ContentFilter),
            other => Some(Self::Other(other.to_string())),
        }
    }
}

/// Tokens a call used, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens in the reply.
    pub completion_tokens: u32,
}

/// A whole reply from [`ChatModel::complete`].
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The reply text.
    pub text: String,
    /// Why the model stopped.
    pub finish: FinishReason,
    /// Token usage, when reported.
    pub usage: Option<Usage>,
    /// The model that answered.
    pub model: String,
}

/// One event of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More text.
    Delta(String),
    /// The reply is complete; always the last event of a healthy stream.
    Done {
        /// Why the model stopped.
        finish: FinishReason,
        /// Token usage, when reported.
        usage: Option<Usage>,
        /// The model that answered.
        model: String,
    },
}

/// A streamed reply.
pub type ReplyStream = BoxStream<'static, Result<StreamEvent, ModelError>>;

/// What a backend is, for messages and for the `model` field of replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// The backend's name in the config (`main`), or `env`/`offline`.
    pub backend: String,
    /// `openai`, `anthropic` or `offline`.
    pub provider: String,
    /// The model id requests use.
    pub model: String,
    /// The server's base URL, when there is one.
    pub base_url: Option<String>,
}

/// A language model the runtime can talk to.
pub trait ChatModel: Send + Sync {
    /// What this backend is.
    fn info(&self) -> &ModelInfo;

    /// Asks for a whole reply at once.
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, ModelError>>;

    /// Asks for a reply streamed as text deltas ending with [`StreamEvent::Done`].
    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ReplyStream, ModelError>>;

    /// Something users must be told once per session about this backend, in
    /// `language` (the offline backend says its replies are scripted).
    fn session_notice(&self, _language: &str) -> Option<String> {
        None
    }
}

/// The ways a model call fails, each with what the user should do.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// No connection could be made.
    #[error(
        "the model server at {url} could not be reached ({detail}); check that it is running and that the backend's base URL is right"
    )]
    Unreachable {
        /// The server.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The server took too long.
    #[error(
        "the model server at {url} timed out ({detail}); try again, or raise the backend's timeouts"
    )]
    Timeout {
        /// The server.
        url: String,
        /// Which wait ran out.
        detail: String,
    },
    /// The credentials were refused (401/403).
    #[error("{}", unauthorized(.url, .key_env, *.status))]
    Unauthorized {
        /// The server.
        url: String,
        /// The env var the key came from (never the key).
        key_env: String,
        /// 401 or 403.
        status: u16,
    },
    /// The key's env var holds something that is not a key.
    #[error(
        "the value of {key_env} cannot be sent as an API key (it holds spaces or other characters a key never has); set {key_env} to the key alone"
    )]
    BadKey {
        /// The env var (never its value).
        key_env: String,
    },
    /// Too many requests (429).
    #[error(
        "the model server at {url} is rate-limiting requests (HTTP 429: {detail}); wait a moment and try again"
    )]
    RateLimited {
        /// The server.
        url: String,
        /// The server's explanation.
        detail: String,
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
    },
    /// The server failed (5xx).
    #[error("the model server at {url} failed (HTTP {status}: {detail}); try again later")]
    Server {
        /// The server.
        url: String,
        /// The status code.
        status: u16,
        /// The server's explanation.
        detail: String,
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
    },
    /// The server refused the request (other 4xx).
    #[error(
        "the model server at {url} refused the request (HTTP {status}: {detail}); check the model name and settings"
    )]
    Rejected {
        /// The server.
        url: String,
        /// The status code.
        status: u16,
        /// The server's explanation.
        detail: String,
    },
    /// The server answered something that is not the protocol.
    #[error(
        "the model server at {url} sent a reply Troupe cannot read ({detail}); check that the base URL points at the API of the backend's provider"
    )]
    Protocol {
        /// The server.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// A streamed reply broke off before the model finished.
    #[error("the reply from {url} broke off before it was finished ({detail}); try again")]
    Interrupted {
        /// The server.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The model finished without saying anything.
    #[error("the model at {url} returned an empty reply; try again or use another model")]
    Empty {
        /// The server.
        url: String,
    },
}

/// The message for a refused key, which differs when the key is not set at all.
fn unauthorized(url: &str, key_env: &str, status: u16) -> String {
    if std::env::var(key_env).map_or(true, |k| k.trim().is_empty()) {
        format!(
            "{url} refused the request (HTTP {status}) and {key_env} is not set; set {key_env} to your API key"
        )
    } else {
        format!(
            "the API key in {key_env} was refused by {url} (HTTP {status}); set {key_env} to a valid key"
        )
    }
}

impl ModelError {
    /// How long the server asked us to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// Whether trying the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::Timeout { .. }
                | Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Interrupted { .. }
                | Self::Empty { .. }
        )
    }
}

impl fmt::Display for ChatRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_finish_reasons_mean_not_finished_yet() {
        assert_eq!(FinishReason::parse(Some("")), None);
        assert_eq!(FinishReason::parse(None), None);
        assert_eq!(FinishReason::parse(Some("stop")), Some(FinishReason::Stop));
        assert_eq!(
            FinishReason::parse(Some("length")),
            Some(FinishReason::Length)
        );
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let url = "http://x".to_string();
        assert!(
            ModelError::Server {
                url: url.clone(),
                status: 503,
                detail: String::new(),
                retry_after: None,
            }
            .is_retryable()
        );
        assert!(
            !ModelError::Unauthorized {
                url,
                key_env: "K".into(),
                status: 401
            }
            .is_retryable()
        );
    }
}
