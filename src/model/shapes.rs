//! What OpenAI-compatible servers differ on in a request, and what Troupe
//! learns about a server while it runs.
//!
//! - The reply length limit: `max_tokens` (most servers) or
//!   `max_completion_tokens` (OpenAI's newer models refuse `max_tokens`);
//!   a backend's `max_tokens_field` chooses.
//! - Token counts at the end of a stream: asked for with
//!   `stream_options: {"include_usage": true}`, which some servers refuse
//!   with HTTP 400. A backend's `stream_usage = false` never sends it; a
//!   server that refuses it is asked again once without it, and this
//!   process never sends it there again ([`refuses_stream_options`]).

use std::collections::BTreeSet;
use std::sync::Mutex;

use super::ModelError;

/// The request field that carries the reply length limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenLimitField {
    /// `max_tokens`, which most servers read.
    #[default]
    MaxTokens,
    /// `max_completion_tokens`, which OpenAI's newer models require.
    MaxCompletionTokens,
}

impl TokenLimitField {
    /// The field named `name` in a config (`None` for any other name).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "max_tokens" => Some(Self::MaxTokens),
            "max_completion_tokens" => Some(Self::MaxCompletionTokens),
            _ => None,
        }
    }
}

/// Base URLs whose server refused `stream_options` in this process.
static WITHOUT_STREAM_OPTIONS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Whether the server at `base_url` refused `stream_options` earlier in
/// this process.
pub fn refuses_stream_options(base_url: &str) -> bool {
    WITHOUT_STREAM_OPTIONS
        .lock()
        .is_ok_and(|refused| refused.contains(base_url))
}

/// Whether `error`, the answer to a request that carried `stream_options`,
/// is the server refusing that field (HTTP 400 naming it); if so, remembers
/// it for `base_url`, so the caller asks once more without it.
pub fn learn_stream_options_refused(base_url: &str, error: &ModelError) -> bool {
    let refused = matches!(
        error,
        ModelError::Rejected { status: 400, detail, .. } if detail.contains("stream_options")
    );
    if refused {
        tracing::info!(%base_url, "the server refuses stream_options: asking again without it");
        if let Ok(mut set) = WITHOUT_STREAM_OPTIONS.lock() {
            set.insert(base_url.to_string());
        }
    }
    refused
}
