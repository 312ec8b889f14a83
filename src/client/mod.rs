//! A client of a running `troupe serve`, for the command line: while a
//! server holds a data dir, commands on that data dir go through its API
//! (see [`crate::reach`]). Requests carry an operator token, from the first
//! env var the config names for it (`TROUPE_OPERATOR_TOKEN` by default)
//! that is set. Answers are read back into the library's own types, so a
//! command prints the same text and the same JSON either way.
//!
//! - this module: the connection, errors, and one method per route;
//! - `turn`: a chat turn streamed as server-sent events, read back into the
//!   [`TurnEvent`](crate::chat::TurnEvent)s a local turn produces.

mod turn;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::chat::TurnError;
use crate::chat::view::{HistoryPage, TurnReply, UnseenFollowUp};
use crate::followup::topics::RankedTopic;
use crate::followup::{DueConversation, Eligibility};
use crate::report::{
    Export, Period, PersonaSummary, SafetyLine, SettingsChange, UsageLine, UserView,
};
use crate::server::ServerConfig;
use crate::store::{Erasure, Message};

/// How long to wait for the server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest silence from the server while waiting for an answer: more
/// than the server's own limit on a whole (unstreamed) reply.
const READ_TIMEOUT: Duration = Duration::from_secs(150);

/// The most messages asked for per page of history (the server's limit).
const HISTORY_PAGE: usize = 500;

/// A connection to the server holding a data dir.
#[derive(Debug, Clone)]
pub struct ApiClient {
    /// The server's base URL, as it announced itself.
    base: Url,
    /// The data dir the server holds, for messages.
    dir: PathBuf,
    /// The operator token sent with every request, if one is set.
    token: Option<String>,
    /// The env var the token is read from, for messages.
    token_var: String,
    /// Connections, reused across requests.
    http: reqwest::Client,
}

/// Why a request to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server announced in the data dir does not answer.
    #[error(
        "the troupe server at {url} holds the data dir {dir} but does not answer ({detail}); check that it is running, or stop it and run the command again"
    )]
    Unreachable {
        /// The server's address.
        url: String,
        /// The data dir.
        dir: PathBuf,
        /// What the connection reported.
        detail: String,
    },
    /// The server wants an operator token and got none, or a wrong one.
    #[error(
        "the troupe server at {url} refused the command: it needs an operator token; set {var} to one of its operator tokens"
    )]
    Unauthorized {
        /// The server's address.
        url: String,
        /// The env var the token is read from.
        var: String,
    },
    /// The server answered with an error (`{"error":{"code","message"}}`).
    #[error("{message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error's code (`not_found`, `refused`, …).
        code: String,
        /// The server's message, written for the person at the terminal.
        message: String,
    },
    /// The answer is not what this troupe expects.
    #[error(
        "the troupe server at {url} sent an answer this troupe cannot read ({detail}); run the same troupe version as the server"
    )]
    Protocol {
        /// The server's address.
        url: String,
        /// What could not be read.
        detail: String,
    },
}

impl ClientError {
    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl ApiClient {
    /// A client of the server at `address` (as announced in data dir
    /// `dir`), with the operator token from the env vars `config` names.
    pub fn new(address: &str, dir: &Path, config: &ServerConfig) -> Result<Self, ClientError> {
        let unreachable = |detail: String| ClientError::Unreachable {
            url: address.to_string(),
            dir: dir.to_path_buf(),
            detail,
        };
        let base = Url::parse(address)
            .map_err(|e| unreachable(format!("its address does not parse: {e}")))?;
        // reqwest is built without a default TLS provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .build()
            .map_err(|e| unreachable(format!("could not set up HTTP: {e}")))?;
        let vars = config.operator_token_vars();
        let token = vars.iter().find_map(|var| {
            std::env::var(var)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        Ok(Self {
            base,
            dir: dir.to_path_buf(),
            token,
            token_var: vars.join(" or "),
            http,
        })
    }

    /// The server's address.
    pub fn address(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// Every persona on offer.
    pub async fn personas(&self) -> Result<Vec<PersonaSummary>, ClientError> {
        self.get(self.url("/v1/personas")).await
    }

    /// Every message of `user`'s conversation with `persona`, oldest first,
    /// read page by page.
    pub async fn history(&self, user: &str, persona: &str) -> Result<Vec<Message>, ClientError> {
        let mut pages = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut url = self.url(&format!("/v1/conversations/{user}/{persona}/messages"));
            url.query_pairs_mut()
                .append_pair("limit", &HISTORY_PAGE.to_string());
            if let Some(before) = before {
                url.query_pairs_mut()
                    .append_pair("before", &before.to_string());
            }
            let page: HistoryPage = self.get(url).await?;
            before = page.before;
            pages.push(page.messages);
            if before.is_none() {
                break;
            }
        }
        Ok(pages
            .into_iter()
            .rev()
            .flatten()
            .map(|paged| paged.message)
            .collect())
    }

    /// The topics of `user`'s conversation with `persona`, highest first.
    pub async fn topics(&self, user: &str, persona: &str) -> Result<Vec<RankedTopic>, ClientError> {
        let url = self.url(&format!("/v1/conversations/{user}/{persona}/topics"));
        self.get(url).await
    }

    /// The follow-up `user` has not seen from `persona`, marked seen.
    pub async fn take_unseen_followup(
        &self,
        user: &str,
        persona: &str,
    ) -> Result<Option<Message>, ClientError> {
        let url = self.url(&format!("/v1/conversations/{user}/{persona}/followup/seen"));
        let unseen: UnseenFollowUp = self.read(self.request(Method::POST, url)).await?;
        Ok(unseen.followup)
    }

    /// Sends `text` and waits for the whole reply; a message the server
    /// refuses (empty, too long) is [`TurnError::Input`], as in a turn run
    /// here.
    pub async fn turn(
        &self,
        user: &str,
        persona: &str,
        text: &str,
    ) -> Result<TurnReply, TurnError> {
        let request = self
            .request(Method::POST, self.turn_url(user, persona))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&serde_json::json!({ "text": text }));
        self.read(request).await.map_err(turn::refused_or_failed)
    }

    /// The conversations due for a follow-up now.
    pub async fn due(&self) -> Result<Vec<DueConversation>, ClientError> {
        self.get(self.url("/v1/followups/due")).await
    }

    /// Every rule's verdict for `user`'s conversation with `persona`.
    pub async fn explain(&self, user: &str, persona: &str) -> Result<Eligibility, ClientError> {
        let mut url = self.url("/v1/followups/explain");
        url.query_pairs_mut()
            .append_pair("user", user)
            .append_pair("persona", persona);
        self.get(url).await
    }

    /// A user's settings and conversations; `None` for a user who never wrote.
    pub async fn user(&self, user: &str) -> Result<Option<UserView>, ClientError> {
        not_found_as_none(self.get(self.url(&format!("/v1/users/{user}"))).await)
    }

    /// Applies `change` to `user`'s settings (creating the user if needed).
    pub async fn update_user(
        &self,
        user: &str,
        change: &SettingsChange,
    ) -> Result<UserView, ClientError> {
        let request = self
            .request(Method::PATCH, self.url(&format!("/v1/users/{user}")))
            .json(change);
        self.read(request).await
    }

    /// Everything stored about `user`; `None` for a user who never wrote.
    pub async fn export(&self, user: &str) -> Result<Option<Export>, ClientError> {
        not_found_as_none(
            self.get(self.url(&format!("/v1/users/{user}/export")))
                .await,
        )
    }

    /// Erases everything about `user`; `None` for a user who never wrote.
    pub async fn erase(&self, user: &str) -> Result<Option<Erasure>, ClientError> {
        let request = self.request(Method::DELETE, self.url(&format!("/v1/users/{user}")));
        not_found_as_none(self.read(request).await)
    }

    /// Usage per persona and model, from `since` on.
    pub async fn usage(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<UsageLine>, ClientError> {
        let mut url = self.url("/v1/usage");
        if let Some(since) = since {
            url.query_pairs_mut()
                .append_pair("since", &since.to_rfc3339());
        }
        self.get(url).await
    }

    /// Crisis referrals per period.
    pub async fn safety_report(&self, by: Period) -> Result<Vec<SafetyLine>, ClientError> {
        let mut url = self.url("/v1/safety/report");
        let by = match by {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        };
        url.query_pairs_mut().append_pair("by", by);
        self.get(url).await
    }

    /// `path` on the server.
    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(path);
        url
    }

    /// The route of a conversation's messages.
    fn turn_url(&self, user: &str, persona: &str) -> Url {
        self.url(&format!("/v1/conversations/{user}/{persona}/messages"))
    }

    /// A request with the token, if there is one.
    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// GET `url`, read as `T`.
    async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T, ClientError> {
        self.read(self.request(Method::GET, url)).await
    }

    /// Sends `request` and reads a successful answer as `T`.
    async fn read<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = self.send(request).await?;
        response.json().await.map_err(|e| self.protocol(&e))
    }

    /// Sends `request`; an error answer becomes a [`ClientError`].
    async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.failure(response).await)
    }

    /// Reads an error answer.
    async fn failure(&self, response: Response) -> ClientError {
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return ClientError::Unauthorized {
                url: self.address().to_string(),
                var: self.token_var.clone(),
            };
        }
        let body = response.text().await.unwrap_or_default();
        let parsed: Option<ErrorBody> = serde_json::from_str(&body).ok();
        let (code, message) = match parsed {
            Some(ErrorBody { error }) => (error.code, error.message),
            None => (
                "unknown".to_string(),
                format!(
                    "the troupe server at {} answered {status}: {}",
                    self.address(),
                    body.lines().next().unwrap_or_default()
                ),
            ),
        };
        ClientError::Api {
            status: status.as_u16(),
            code,
            message,
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.address().to_string(),
            dir: self.dir.clone(),
            detail: causes(error),
        }
    }

    fn protocol(&self, error: &dyn std::error::Error) -> ClientError {
        ClientError::Protocol {
            url: self.address().to_string(),
            detail: causes(error),
        }
    }
}

/// The API's error body.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// A 404 as `None`.
fn not_found_as_none<T>(result: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.status() == Some(404) => Ok(None),
        Err(error) => Err(error),
    }
}

/// An error and its causes on one line, each once (reqwest nests them).
fn causes(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}
