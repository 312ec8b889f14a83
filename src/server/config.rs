//! The server's settings (`[server]` in `troupe.toml`), checked like the
//! rest of the config.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::{Field, Shape};

/// Where the server listens when nothing else says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The env var holding the operator token when `operator_token_envs` is not set.
pub const DEFAULT_OPERATOR_TOKEN_ENV: &str = "TROUPE_OPERATOR_TOKEN";

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerConfig {
    /// The address to listen on (`TROUPE_LISTEN` and `--listen` win).
    pub listen: Option<String>,
    /// The NAMES of the env vars holding operator tokens.
    pub operator_token_envs: Vec<String>,
    /// Origins allowed to call the API from a browser; none by default.
    pub cors_origins: Vec<String>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Chat turns one user may start per minute.
    pub user_turns_per_minute: u32,
    /// Requests one access token (or, with no tokens, one client address)
    /// may make per minute.
    pub token_requests_per_minute: u32,
    /// Event streams and streamed replies open at once.
    pub max_streams: usize,
    /// Event streams one user may have open at once.
    pub max_streams_per_user: usize,
    /// How long a JSON (non-streamed) reply is waited for, in seconds; the
    /// turn goes on and its reply is stored either way.
    pub request_timeout_secs: u64,
    /// How long a client may take to send a request's head, in seconds,
    /// once its connection is open or its last response ended: a
    /// connection left silent longer is closed, so idle sockets cannot
    /// pile up.
    pub header_timeout_secs: u64,
    /// On Ctrl-C or SIGTERM, how long turns in flight get to store their
    /// replies, in seconds.
    pub shutdown_grace_secs: u64,
    /// Whether the server runs the follow-up scheduler. Off, nothing is
    /// delivered on its own: for deployments that deliver follow-ups from
    /// elsewhere (`POST /v1/followups/run` from a cron job, another
    /// process), and for reading a data dir without changing it.
    pub followups: bool,
    /// The longest the follow-up scheduler sleeps between looks, in seconds.
    pub followup_check_secs: u64,
    /// Outgoing webhooks for follow-ups, by name.
    pub webhooks: BTreeMap<String, WebhookConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: None,
            operator_token_envs: Vec::new(),
            cors_origins: Vec::new(),
            max_body_bytes: 256 * 1024,
            user_turns_per_minute: 30,
            token_requests_per_minute: 6_000,
            max_streams: 20_000,
            max_streams_per_user: 8,
            request_timeout_secs: 120,
            header_timeout_secs: 30,
            shutdown_grace_secs: 20,
            followups: true,
            followup_check_secs: 60,
            webhooks: BTreeMap::new(),
        }
    }
}

/// One outgoing webhook (`[server.webhooks.NAME]`). The NAME is the
/// webhook's identity: follow-ups queued for it go to whatever `url` it has
/// when they are sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WebhookConfig {
    /// Where follow-ups are POSTed.
    pub url: String,
    /// The NAME of the env var holding the signing secret.
    pub secret_env: String,
    /// How long one attempt may take, connection included, in seconds.
    pub timeout_secs: u64,
    /// The longest wait between two attempts, in seconds: retries wait 1 s,
    /// 2 s, 4 s … up to this, and go on until the receiver answers 2xx.
    pub max_backoff_secs: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            secret_env: String::new(),
            timeout_secs: 10,
            max_backoff_secs: 300,
        }
    }
}

/// Env var names only: a token pasted into the file would be printed.
fn env_var_names(text: &str) -> Result<(), String> {
    crate::config::env_var_name(text)
}

const WEBHOOK_FIELDS: &[Field] = &[
    Field::required("url", Shape::Text(Some(crate::config::base_url))),
    Field::required("secret_env", Shape::Text(Some(env_var_names))),
    Field::optional("timeout_secs", Shape::Integer(1, 300)),
    Field::optional("max_backoff_secs", Shape::Integer(1, 86_400)),
];

/// Every key `[server]` may hold.
pub(crate) const SERVER_FIELDS: &[Field] = &[
    Field::optional("listen", Shape::Text(None)),
    Field::optional("operator_token_envs", Shape::TextList),
    Field::optional("cors_origins", Shape::TextList),
    Field::optional("max_body_bytes", Shape::Integer(1_024, 64 * 1024 * 1024)),
    Field::optional("user_turns_per_minute", Shape::Integer(1, 100_000)),
    Field::optional("token_requests_per_minute", Shape::Integer(1, 10_000_000)),
    Field::optional("max_streams", Shape::Integer(1, 1_000_000)),
    Field::optional("max_streams_per_user", Shape::Integer(1, 1_000)),
    Field::optional("request_timeout_secs", Shape::Integer(1, 3_600)),
    Field::optional("header_timeout_secs", Shape::Integer(1, 3_600)),
    Field::optional("shutdown_grace_secs", Shape::Integer(0, 3_600)),
    Field::optional("followups", Shape::Bool),
    Field::optional("followup_check_secs", Shape::Integer(1, 86_400)),
    Field::optional("webhooks", Shape::NamedTables(WEBHOOK_FIELDS)),
];

impl ServerConfig {
    /// The env vars operator tokens are read from.
    pub fn operator_token_vars(&self) -> Vec<String> {
        if self.operator_token_envs.is_empty() {
            vec![DEFAULT_OPERATOR_TOKEN_ENV.to_string()]
        } else {
            self.operator_token_envs.clone()
        }
    }
}
