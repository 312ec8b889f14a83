//! The OpenAI-compatible backend: OpenAI itself and the servers that speak
//! its chat-completions API (Ollama, vLLM, llama.cpp, LM Studio, …).
//!
//! Requests go through async-openai's `byot` methods with wire types of our
//! own: real servers send chunks async-openai's strict types reject (no
//! `created`, `finish_reason: ""`, `usage: null`), so every field we read is
//! optional. With `byot` on, async-openai no longer sets `"stream": true`,
//! so [`WireRequest`] always says what it wants.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures::StreamExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::http::{
    HttpFailure, HttpSettings, NotAStream, is_event_stream, shorten, transport_error,
};
use super::shapes::{self, TokenLimitField};
use super::{
    ChatModel, ChatRequest, ChatRole, Completion, FinishReason, ModelError, ModelInfo, ReplyStream,
    StreamEvent, Usage,
};

/// How to reach one OpenAI-compatible server.
pub type OpenAiSettings = HttpSettings;

/// A chat model on an OpenAI-compatible server.
pub struct OpenAiModel {
    /// The async-openai client, with our reqwest client and timeouts.
    client: Client<OpenAIConfig>,
    /// Settings, for requests and messages.
    settings: OpenAiSettings,
    /// What this backend is.
    info: ModelInfo,
}

impl OpenAiModel {
    /// A model client for `settings`; reads the API key from the env var it names.
    pub fn new(settings: OpenAiSettings) -> Result<Self, ModelError> {
        let http = settings.client()?;
        // OPENAI_ORG_ID and OPENAI_PROJECT_ID, which async-openai reads, belong
        // to OpenAI: other servers never get them.
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim_end_matches('/'))
            .with_api_key(settings.api_key()?)
            .with_org_id("")
            .with_project_id("");
        let info = settings.info("openai");
        Ok(Self {
            client: Client::with_config(config).with_http_service(http_service(http)),
            settings,
            info,
        })
    }

    /// The request body for `request`.
    fn wire<'a>(&'a self, request: &'a ChatRequest, stream: bool) -> WireRequest<'a> {
        let mut messages = Vec::with_capacity(request.messages.len() + 2);
        messages.push(WireMessage {
            role: "system",
            content: &request.system,
        });
        messages.extend(request.messages.iter().map(|m| WireMessage {
            role: match m.role {
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            },
            content: &m.content,
        }));
        // The spec's "after the chat history": a system message after the
        // user's, the last thing the model reads.
        if let Some(text) = &request.post_history {
            messages.push(WireMessage {
                role: "system",
                content: text,
            });
        }
        let limit = request.max_tokens.or(self.settings.max_tokens);
        let completion_field =
            self.settings.max_tokens_field == TokenLimitField::MaxCompletionTokens;
        let ask_usage = stream
            && self.settings.stream_usage
            && !shapes::refuses_stream_options(&self.settings.base_url);
        WireRequest {
            model: &self.settings.model,
            messages,
            stream,
            temperature: request.temperature.or(self.settings.temperature),
            max_tokens: limit.filter(|_| !completion_field),
            max_completion_tokens: limit.filter(|_| completion_field),
            stream_options: ask_usage.then_some(StreamOptions {
                include_usage: true,
            }),
        }
    }

    /// Opens a streamed reply to `request`; a server that refuses
    /// `stream_options` is asked once more without it (see [`shapes`]).
    async fn open_stream(
        &self,
        request: &ChatRequest,
    ) -> Result<impl futures::Stream<Item = Result<WireResponse, OpenAIError>> + use<>, ModelError>
    {
        let body = self.wire(request, true);
        let first = self.client.chat().create_stream_byot(&body).await;
        match first.map_err(|e| self.error(e)) {
            Err(e)
                if body.stream_options.is_some()
                    && shapes::learn_stream_options_refused(&self.settings.base_url, &e) =>
            {
                let body = self.wire(request, true);
                self.client
                    .chat()
                    .create_stream_byot(&body)
                    .await
                    .map_err(|e| self.error(e))
            }
            other => other,
        }
    }

    /// Maps an async-openai error to one the user can act on.
    fn error(&self, err: OpenAIError) -> ModelError {
        classify(err, &self.settings.base_url, &self.settings.api_key_env)
    }
}

impl ChatModel for OpenAiModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, ModelError>> {
        Box::pin(async move {
            let body = self.wire(request, false);
            let response: WireResponse = self
                .client
                .chat()
                .create_byot(&body)
                .await
                .map_err(|e| self.error(e))?;
            let url = &self.settings.base_url;
            response.check(url)?;
            let choice =
                response
                    .choices
                    .into_iter()
                    .next()
                    .ok_or_else(|| ModelError::Protocol {
                        url: url.clone(),
                        detail: "the reply has no choices".to_string(),
                    })?;
            let text = choice.message.and_then(|m| m.content).unwrap_or_default();
            if text.trim().is_empty() {
                return Err(ModelError::Empty { url: url.clone() });
            }
            Ok(Completion {
                text,
                finish: FinishReason::parse(choice.finish_reason.as_deref())
                    .unwrap_or(FinishReason::Stop),
                usage: response.usage.map(Usage::from),
                model: body.model.to_string(),
            })
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ReplyStream, ModelError>> {
        Box::pin(async move {
            let chunks = self.open_stream(request).await?;
            let url = self.settings.base_url.clone();
            let key_env = self.settings.api_key_env.clone();
            let chunks = chunks.map(move |chunk| chunk.map_err(|e| classify(e, &url, &key_env)));
            let model = self.settings.model.clone();
            Ok(decode_stream(chunks, self.settings.base_url.clone(), model))
        })
    }
}

/// Turns a stream of parsed chunks into reply events: text deltas as they
/// come, then one `Done` with the finish reason and usage once the server
/// ends the stream. A stream that ends without a finish reason broke off.
pub(crate) fn decode_stream<S>(chunks: S, url: String, model: String) -> ReplyStream
where
    S: futures::Stream<Item = Result<WireResponse, ModelError>> + Send + 'static,
{
    struct State<S> {
        chunks: std::pin::Pin<Box<S>>,
        finish: Option<FinishReason>,
        usage: Option<Usage>,
        url: String,
        ended: bool,
        model: String,
    }
    let state = State {
        chunks: Box::pin(chunks),
        finish: None,
        usage: None,
        url,
        ended: false,
        model,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        loop {
            match state.chunks.next().await {
                Some(Ok(chunk)) => {
                    if let Err(e) = chunk.check(&state.url) {
                        state.ended = true;
                        return Some((Err(e), state));
                    }
                    if let Some(usage) = chunk.usage {
                        state.usage = Some(usage.into());
                    }
                    let mut text = String::new();
                    for choice in chunk.choices {
                        if let Some(finish) = FinishReason::parse(choice.finish_reason.as_deref()) {
                            state.finish = Some(finish);
                        }
                        if let Some(content) = choice.delta.and_then(|d| d.content) {
                            text.push_str(&content);
                        }
                    }
                    if !text.is_empty() {
                        return Some((Ok(StreamEvent::Delta(text)), state));
                    }
                }
                Some(Err(e)) => {
                    state.ended = true;
                    return Some((Err(e), state));
                }
                None => {
                    state.ended = true;
                    let event = match state.finish.take() {
                        Some(finish) => Ok(StreamEvent::Done {
                            finish,
                            usage: state.usage,
                            model: state.model.clone(),
                        }),
                        None => Err(ModelError::Interrupted {
                            url: state.url.clone(),
                            detail: "the stream ended without a finish reason".to_string(),
                        }),
                    };
                    return Some((event, state));
                }
            }
        }
    })
    .boxed()
}

/// Classifies an async-openai error by what the user should do about it.
fn classify(err: OpenAIError, url: &str, key_env: &str) -> ModelError {
    match err {
        OpenAIError::Reqwest(e) => transport_error(&e, url),
        OpenAIError::Boxed(inner) => match inner.downcast::<HttpFailure>() {
            Ok(failure) => failure.into_error(url, key_env),
            Err(other) if other.is::<NotAStream>() => ModelError::Protocol {
                url: url.to_string(),
                detail: other.to_string(),
            },
            Err(other) => match other.downcast::<reqwest::Error>() {
                Ok(e) => transport_error(&e, url),
                Err(other) => ModelError::Protocol {
                    url: url.to_string(),
                    detail: shorten(&other.to_string()),
                },
            },
        },
        OpenAIError::ApiError(api) => HttpFailure {
            status: api.status_code.as_u16(),
            retry_after: None,
            message: shorten(&api.api_error.message),
        }
        .into_error(url, key_env),
        OpenAIError::JSONDeserialize(e, body) => ModelError::Protocol {
            url: url.to_string(),
            detail: format!("{e}; the body began {:?}", shorten(&body)),
        },
        OpenAIError::StreamError(e) => ModelError::Interrupted {
            url: url.to_string(),
            detail: shorten(&e.to_string()),
        },
        other => ModelError::Protocol {
            url: url.to_string(),
            detail: shorten(&other.to_string()),
        },
    }
}

/// The HTTP layer under async-openai: sends each request once (retries are
/// [`super::resilient`]'s job, the same for every provider) and turns a
/// failed response into an [`HttpFailure`] that keeps `Retry-After`.
fn http_service(
    http: reqwest::Client,
) -> impl tower::Service<
    HttpRequestFactory,
    Response = reqwest::Response,
    Error = OpenAIError,
    Future = impl Future<Output = Result<reqwest::Response, OpenAIError>> + Send,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |request: HttpRequestFactory| {
        let http = http.clone();
        async move {
            let request = request.build().await?;
            let wants_stream = request
                .body()
                .and_then(|b| b.as_bytes())
                .is_some_and(|b| b.windows(13).any(|w| w == b"\"stream\":true"));
            let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
            if response.status().is_success() {
                if wants_stream && !is_event_stream(&response) {
                    return Err(OpenAIError::Boxed(Box::new(NotAStream::of(&response))));
                }
                return Ok(response);
            }
            Err(OpenAIError::Boxed(Box::new(
                HttpFailure::read(response).await,
            )))
        }
    })
}

/// The chat-completions request body.
#[derive(Debug, Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Debug, Serialize)]
struct WireMessage<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// A chat completion or a streamed chunk, as tolerant as real servers need:
/// every field is optional.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireResponse {
    #[serde(default)]
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    /// Some servers report failures inside a 200 stream.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl WireResponse {
    /// Fails if the server embedded an error object in its reply.
    fn check(&self, url: &str) -> Result<(), ModelError> {
        match &self.error {
            None | Some(serde_json::Value::Null) => Ok(()),
            Some(error) => {
                let message = error
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map_or_else(|| error.to_string(), str::to_string);
                Err(ModelError::Server {
                    url: url.to_string(),
                    status: 200,
                    detail: shorten(&message),
                    retry_after: None,
                })
            }
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireContent>,
    #[serde(default)]
    delta: Option<WireContent>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WireContent {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Self {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(lines: &[&str]) -> Vec<Result<WireResponse, ModelError>> {
        lines
            .iter()
            .map(|l| Ok(serde_json::from_str(l).unwrap()))
            .collect()
    }

    async fn collect(
        items: Vec<Result<WireResponse, ModelError>>,
    ) -> Vec<Result<StreamEvent, String>> {
        decode_stream(futures::stream::iter(items), "http://t".into(), "m".into())
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn tolerant_chunks_from_local_servers_decode() {
        let events = collect(chunks(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":""}]}"#,
            r#"{"choices":[{"delta":{"content":"lo"},"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2}}"#,
        ]))
        .await;
        assert_eq!(events[0], Ok(StreamEvent::Delta("Hel".into())));
        assert_eq!(events[1], Ok(StreamEvent::Delta("lo".into())));
        assert_eq!(
            events[2],
            Ok(StreamEvent::Done {
                finish: FinishReason::Stop,
                usage: Some(Usage {
                    prompt_tokens: 12,
                    completion_tokens: 2
                }),
                model: "m".into(),
            })
        );
        assert_eq!(events.len(), 3);
    }

    #[tokio::test]
    async fn a_stream_without_finish_reason_is_interrupted() {
        let events = collect(chunks(&[r#"{"choices":[{"delta":{"content":"Hal"}}]}"#])).await;
        assert_eq!(events.len(), 2);
        assert!(events[1].as_ref().unwrap_err().contains("broke off"));
    }

    #[tokio::test]
    async fn an_error_object_inside_the_stream_fails_it() {
        let events = collect(chunks(&[r#"{"error":{"message":"model overloaded"}}"#])).await;
        assert!(events[0].as_ref().unwrap_err().contains("model overloaded"));
    }

    #[test]
    fn long_server_text_is_cut_to_one_short_line() {
        let html = format!("<html>\n{}\n</html>", "x".repeat(500));
        let short = shorten(&html);
        assert_eq!(short, "<html>");
        assert!(shorten(&"y".repeat(500)).chars().count() <= 161);
    }
}
