//! A client of a running `troupe serve`, for the command line: while a
//! server holds a data dir, commands on that data dir go through its API
//! (see [`crate::reach`]). Requests carry an operator token, from the first
//! env var the config names for it (`TROUPE_OPERATOR_TOKEN` by default)
//! that is set. Answers are read back into the library's own types, so a
//! command prints the same text and the same JSON either way.
//!
//! - this module: the connection and its errors;
//! - `routes`: one method per route, answering in the library's types;
//! - `turn`: a chat turn streamed as server-sent events, read back into the
//!   [`TurnEvent`](crate::chat::TurnEvent)s a local turn produces.

mod routes;
mod turn;

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::server::ServerConfig;

/// How long to wait for the server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest silence from the server while waiting for an answer: more
/// than the server's own limit on a whole (unstreamed) reply.
const READ_TIMEOUT: Duration = Duration::from_secs(150);

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
        let mut base = Url::parse(address)
            .map_err(|e| unreachable(format!("its address does not parse: {e}")))?;
        to_loopback_if_unspecified(&mut base);
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

/// A server listening on every interface (`0.0.0.0`, `[::]`) announces
/// that address; this machine reaches it on loopback.
fn to_loopback_if_unspecified(url: &mut Url) {
    let host = url.host_str().unwrap_or_default();
    let ip: Option<std::net::IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    let loopback: std::net::IpAddr = match ip {
        Some(std::net::IpAddr::V4(ip)) if ip.is_unspecified() => {
            std::net::Ipv4Addr::LOCALHOST.into()
        }
        Some(std::net::IpAddr::V6(ip)) if ip.is_unspecified() => {
            std::net::Ipv6Addr::LOCALHOST.into()
        }
        _ => return,
    };
    // Setting an IP host on an http URL cannot fail.
    let _ = url.set_ip_host(loopback);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_listening_everywhere_is_reached_on_loopback() {
        let config = ServerConfig::default();
        let dir = Path::new("data");
        let v4 = ApiClient::new("http://0.0.0.0:8080", dir, &config).unwrap();
        assert_eq!(v4.address(), "http://127.0.0.1:8080");
        let v6 = ApiClient::new("http://[::]:8080", dir, &config).unwrap();
        assert_eq!(v6.address(), "http://[::1]:8080");
        let named = ApiClient::new("http://127.0.0.1:9000", dir, &config).unwrap();
        assert_eq!(named.address(), "http://127.0.0.1:9000");
        let bad = ApiClient::new("not a url", dir, &config).unwrap_err();
        assert!(bad.to_string().contains("does not answer"), "{bad}");
    }
}
