//! What the HTTP-based backends share: reading a failed response (status,
//! `Retry-After`, the server's message) and turning it into a [`ModelError`]
//! the user can act on.

use std::time::Duration;

use super::{ModelError, ModelInfo};

/// How to reach one HTTP model API, whatever its dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// The backend's name, for messages.
    pub backend: String,
    /// The API base, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// The model id.
    pub model: String,
    /// The NAME of the env var holding the API key (never the key).
    pub api_key_env: String,
    /// Default sampling temperature.
    pub temperature: Option<f32>,
    /// Default reply length limit, in tokens.
    pub max_tokens: Option<u32>,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// The longest silence allowed while waiting for (more of) a reply.
    pub read_timeout: Duration,
    /// Whether to ask for token counts at the end of a stream
    /// (OpenAI-compatible servers; see [`super::shapes`]).
    pub stream_usage: bool,
    /// The field that carries the reply length limit (OpenAI-compatible
    /// servers; see [`super::shapes`]).
    pub max_tokens_field: super::shapes::TokenLimitField,
}

impl HttpSettings {
    /// An HTTP client with the connect and idle timeouts (no total timeout,
    /// which would cut long replies).
    pub fn client(&self) -> Result<reqwest::Client, ModelError> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .build()
            .map_err(|e| ModelError::Protocol {
                url: self.base_url.clone(),
                detail: format!("could not set up HTTP: {e}"),
            })
    }

    /// What this backend is, for `provider`.
    pub fn info(&self, provider: &str) -> ModelInfo {
        ModelInfo {
            backend: self.backend.clone(),
            provider: provider.to_string(),
            model: self.model.clone(),
            base_url: Some(self.base_url.clone()),
        }
    }

    /// The API key from the env var the backend names (empty if unset),
    /// trimmed; refused if it cannot be sent in an HTTP header.
    pub fn api_key(&self) -> Result<String, ModelError> {
        let key = std::env::var(&self.api_key_env).unwrap_or_default();
        let key = key.trim();
        crate::secrets::remember(key);
        if key.chars().all(|c| c.is_ascii_graphic()) {
            Ok(key.to_string())
        } else {
            Err(ModelError::BadKey {
                key_env: self.api_key_env.clone(),
            })
        }
    }
}

/// A non-success HTTP response, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    /// The status code.
    pub status: u16,
    /// The server's `Retry-After`, in seconds, when it sent one.
    pub retry_after: Option<Duration>,
    /// The server's message: the `error.message` of a JSON body, or the
    /// first line of any other body.
    pub message: String,
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for HttpFailure {}

/// A `Retry-After` value: a number of seconds, or an HTTP date (a date in
/// the past means "now").
fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

impl HttpFailure {
    /// Reads a failed response's status, headers and body.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, chrono::Utc::now()));
        let body = response.text().await.unwrap_or_default();
        Self {
            status,
            retry_after,
            message: server_message(&body),
        }
    }

    /// The error for this failure, from the backend at `url` whose key is in `key_env`.
    pub fn into_error(self, url: &str, key_env: &str) -> ModelError {
        let url = url.to_string();
        let detail = self.message;
        match self.status {
            401 | 403 => ModelError::Unauthorized {
                url,
                key_env: key_env.to_string(),
                status: self.status,
            },
            429 => ModelError::RateLimited {
                url,
                detail,
                retry_after: self.retry_after,
            },
            500..=599 => ModelError::Server {
                url,
                status: self.status,
                detail,
                retry_after: self.retry_after,
            },
            status => ModelError::Rejected {
                url,
                status,
                detail,
            },
        }
    }
}

/// A successful response to a streaming request that is not a stream (an
/// HTML page from a proxy, a server that ignored `stream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAStream {
    /// What the server said it sent.
    pub content_type: String,
}

impl NotAStream {
    /// Describes `response`.
    pub fn of(response: &reqwest::Response) -> Self {
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nothing")
            .to_string();
        Self { content_type }
    }
}

impl std::fmt::Display for NotAStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a stream was asked for, but the reply is {}",
            self.content_type
        )
    }
}

impl std::error::Error for NotAStream {}

/// Whether a response is a server-sent-event stream.
pub fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        })
}

/// The message in an error body: `{"error":{"message":…}}` (OpenAI and
/// Anthropic both nest it so), else the first non-empty line, shortened.
pub fn server_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
    });
    shorten(message.as_deref().unwrap_or(body))
}

/// The first non-empty line of a text, at most 160 characters, with any
/// key or token in it redacted (some servers echo the request's key) and
/// nothing a terminal must not see (an error body can carry escape
/// sequences): every text from a model server passes here before it
/// becomes an error, a log line or a record.
pub fn shorten(text: &str) -> String {
    let printable = crate::terminal::printable(text);
    let line = printable
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no details");
    let line = crate::secrets::redact(line);
    let mut short: String = line.chars().take(160).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// Classifies a transport error (no HTTP response at all).
pub fn transport_error(err: &reqwest::Error, url: &str) -> ModelError {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let detail = shorten(&cause.to_string());
    let url = url.to_string();
    if err.is_builder() {
        return ModelError::Protocol { url, detail };
    }
    if err.is_timeout() {
        ModelError::Timeout { url, detail }
    } else if err.is_connect() || err.is_request() {
        ModelError::Unreachable { url, detail }
    } else {
        ModelError::Interrupted { url, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Thu, 26 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Thu, 26 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn error_messages_are_read_from_either_dialect_or_plain_text() {
        assert_eq!(
            server_message(r#"{"error":{"message":"bad key","type":"x"}}"#),
            "bad key"
        );
        assert_eq!(
            server_message(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded"
        );
        assert_eq!(server_message("<html>\n<h1>502 Bad Gateway</h1>"), "<html>");
        assert_eq!(server_message(""), "no details");
    }

    #[test]
    fn escape_sequences_in_an_error_body_are_dropped() {
        let osc52 =
            r#"{"error":{"message":"bad \u001b]52;c;cm0gLXJmIH4=\u0007key \u202Etxt.exe"}}"#;
        assert_eq!(server_message(osc52), "bad ]52;c;cm0gLXJmIH4=key txt.exe");
        assert_eq!(
            server_message("\u{1b}[2J\r\n\u{9b}1mgateway down\r\n"),
            "[2J"
        );
    }

    #[test]
    fn statuses_map_to_what_the_user_should_do() {
        let failure = |status| HttpFailure {
            status,
            retry_after: Some(Duration::from_secs(2)),
            message: "m".into(),
        };
        assert!(matches!(
            failure(401).into_error("u", "K"),
            ModelError::Unauthorized { .. }
        ));
        let limited = failure(429).into_error("u", "K");
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
        assert!(limited.is_retryable());
        assert!(!failure(404).into_error("u", "K").is_retryable());
        assert!(failure(503).into_error("u", "K").is_retryable());
    }
}
