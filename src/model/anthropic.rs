//! The Anthropic Messages API (`POST /v1/messages`), with a thin reqwest
//! client of our own: `x-api-key` and `anthropic-version` headers, the system
//! prompt as a top-level field, and SSE streaming events
//! (`message_start`, `content_block_delta`, `message_delta`, `message_stop`,
//! `error`).

use futures::StreamExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::http::{
    HttpFailure, HttpSettings, NotAStream, is_event_stream, shorten, transport_error,
};
use super::sse::{SseDecoder, SseEvent};
use super::{
    ChatModel, ChatRequest, ChatRole, Completion, FinishReason, ModelError, ModelInfo, ReplyStream,
    StreamEvent, Usage,
};

/// The API version Troupe speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The Anthropic API, used when only `ANTHROPIC_API_KEY` is set.
pub const ANTHROPIC_DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The model used when none is named.
pub const ANTHROPIC_DEFAULT_MODEL: &str = "claude-3-5-haiku-latest";

/// The Messages API requires `max_tokens`; this is used when nothing sets it.
const DEFAULT_MAX_TOKENS: u32 = 1024;

/// How to reach the Anthropic API (a trailing `/v1` on the base URL is fine).
pub type AnthropicSettings = HttpSettings;

/// A chat model behind the Anthropic Messages API.
pub struct AnthropicModel {
    /// The HTTP client, with the timeouts.
    http: reqwest::Client,
    /// Settings.
    settings: AnthropicSettings,
    /// `…/v1/messages`.
    endpoint: String,
    /// What this backend is.
    info: ModelInfo,
}

impl AnthropicModel {
    /// A client for `settings`.
    pub fn new(settings: AnthropicSettings) -> Result<Self, ModelError> {
        let http = settings.client()?;
        let base = settings.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let info = settings.info("anthropic");
        Ok(Self {
            http,
            endpoint: format!("{base}/v1/messages"),
            settings,
            info,
        })
    }

    fn body<'a>(&'a self, request: &'a ChatRequest, stream: bool) -> WireRequest<'a> {
        WireRequest {
            model: &self.settings.model,
            max_tokens: request
                .max_tokens
                .or(self.settings.max_tokens)
                .unwrap_or(DEFAULT_MAX_TOKENS),
            system: &request.system,
            messages: alternating(request),
            temperature: request.temperature.or(self.settings.temperature),
            stream,
        }
    }

    /// Sends the request; a non-success status becomes an error.
    async fn send(&self, body: &WireRequest<'_>) -> Result<reqwest::Response, ModelError> {
        let url = &self.settings.base_url;
        let key = self.settings.api_key()?;
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-api-key", key)
            .header("anthropic-version", ANTHROPIC_VERSION)
            .json(body)
            .send()
            .await
            .map_err(|e| transport_error(&e, url))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(HttpFailure::read(response)
                .await
                .into_error(url, &self.settings.api_key_env))
        }
    }
}

/// The conversation as the API wants it: starting with the user, roles
/// alternating (consecutive messages of one role are joined). The
/// Messages API has no system role inside the conversation, so the
/// post-history instruction ends the last user turn, after the user's
/// words: still after the history, and still the last thing read.
fn alternating(request: &ChatRequest) -> Vec<WireMessage> {
    let mut messages: Vec<WireMessage> = Vec::new();
    let after = request
        .post_history
        .as_deref()
        .map(|text| (ChatRole::User, text));
    let lines = request
        .messages
        .iter()
        .map(|m| (m.role, m.content.as_str()));
    for (role, content) in lines.chain(after) {
        let role = match role {
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        };
        match messages.last_mut() {
            Some(last) if last.role == role => {
                last.content.push_str("\n\n");
                last.content.push_str(content);
            }
            None if role == "assistant" => continue,
            _ => messages.push(WireMessage {
                role,
                content: content.to_string(),
            }),
        }
    }
    messages
}

impl ChatModel for AnthropicModel {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Completion, ModelError>> {
        Box::pin(async move {
            let body = self.body(request, false);
            let url = &self.settings.base_url;
            let response = self.send(&body).await?;
            let bytes = response
                .bytes()
                .await
                .map_err(|e| transport_error(&e, url))?;
            let reply = decode_message(&bytes, url)?;
            if reply.text.trim().is_empty() {
                return Err(ModelError::Empty { url: url.clone() });
            }
            Ok(Completion {
                text: reply.text,
                finish: reply.finish,
                usage: Some(reply.usage),
                model: body.model.to_string(),
            })
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ReplyStream, ModelError>> {
        Box::pin(async move {
            let body = self.body(request, true);
            let response = self.send(&body).await?;
            let url = self.settings.base_url.clone();
            if !is_event_stream(&response) {
                return Err(ModelError::Protocol {
                    url,
                    detail: NotAStream::of(&response).to_string(),
                });
            }
            let bytes = response.bytes_stream().map({
                let url = url.clone();
                move |chunk| chunk.map_err(|e| transport_error(&e, &url))
            });
            Ok(decode_stream(bytes, url, body.model.to_string()))
        })
    }
}

/// A whole (non-streamed) reply.
#[derive(Debug, PartialEq)]
pub(crate) struct DecodedMessage {
    text: String,
    finish: FinishReason,
    usage: Usage,
}

/// Reads a Messages API response body.
pub(crate) fn decode_message(bytes: &[u8], url: &str) -> Result<DecodedMessage, ModelError> {
    let message: WireMessageResponse =
        serde_json::from_slice(bytes).map_err(|e| ModelError::Protocol {
            url: url.to_string(),
            detail: format!(
                "{e}; the body began {:?}",
                shorten(&String::from_utf8_lossy(bytes))
            ),
        })?;
    let text = message
        .content
        .iter()
        .filter(|block| block.kind == "text")
        .filter_map(|block| block.text.as_deref())
        .collect::<String>();
    Ok(DecodedMessage {
        text,
        finish: FinishReason::parse(message.stop_reason.as_deref()).unwrap_or(FinishReason::Stop),
        usage: message.usage.unwrap_or_default().into(),
    })
}

/// What one SSE event means for the reply.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// Text to show.
    Text(String),
    /// Nothing to show (ping, block start/stop, usage bookkeeping).
    Nothing,
    /// `message_stop`: the reply is complete.
    Stop,
}

/// Tracks one streamed reply across events.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    finish: Option<FinishReason>,
    usage: Usage,
}

impl StreamState {
    /// Applies one SSE event.
    pub(crate) fn apply(&mut self, event: &SseEvent, url: &str) -> Result<Step, ModelError> {
        let data: serde_json::Value = match serde_json::from_str(&event.data) {
            Ok(value) => value,
            Err(_) if event.data.trim().is_empty() => return Ok(Step::Nothing),
            Err(e) => {
                return Err(ModelError::Protocol {
                    url: url.to_string(),
                    detail: format!("an event is not JSON ({e}): {:?}", shorten(&event.data)),
                });
            }
        };
        let kind = data["type"].as_str().unwrap_or(event.event.as_str());
        match kind {
            "message_start" => {
                if let Some(n) = data
                    .pointer("/message/usage/input_tokens")
                    .and_then(|v| v.as_u64())
                {
                    self.usage.prompt_tokens = n as u32;
                }
                Ok(Step::Nothing)
            }
            "content_block_delta" => Ok(data
                .pointer("/delta/text")
                .and_then(|t| t.as_str())
                .map_or(Step::Nothing, |t| Step::Text(t.to_string()))),
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(|v| v.as_str()) {
                    self.finish = FinishReason::parse(Some(reason));
                }
                if let Some(n) = data
                    .pointer("/usage/output_tokens")
                    .and_then(|v| v.as_u64())
                {
                    self.usage.completion_tokens = n as u32;
                }
                Ok(Step::Nothing)
            }
            "message_stop" => Ok(Step::Stop),
            "error" => {
                let message = data
                    .pointer("/error/message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("unknown error");
                Err(ModelError::Server {
                    url: url.to_string(),
                    status: 200,
                    detail: shorten(message),
                    retry_after: None,
                })
            }
            _ => Ok(Step::Nothing),
        }
    }
}

/// Decodes the SSE byte stream into reply events; a stream that ends
/// before `message_stop` broke off.
fn decode_stream<S, B>(bytes: S, url: String, model: String) -> ReplyStream
where
    S: futures::Stream<Item = Result<B, ModelError>> + Send + 'static,
    B: AsRef<[u8]>,
{
    struct Decoding<S> {
        bytes: std::pin::Pin<Box<S>>,
        decoder: SseDecoder,
        queue: std::collections::VecDeque<SseEvent>,
        state: StreamState,
        url: String,
        model: String,
        ended: bool,
    }
    let start = Decoding {
        bytes: Box::pin(bytes),
        decoder: SseDecoder::default(),
        queue: Default::default(),
        state: StreamState::default(),
        url,
        model,
        ended: false,
    };
    futures::stream::unfold(start, |mut d| async move {
        loop {
            if d.ended {
                return None;
            }
            if let Some(event) = d.queue.pop_front() {
                match d.state.apply(&event, &d.url) {
                    Ok(Step::Text(text)) => return Some((Ok(StreamEvent::Delta(text)), d)),
                    Ok(Step::Nothing) => continue,
                    Ok(Step::Stop) => {
                        d.ended = true;
                        let done = StreamEvent::Done {
                            finish: d.state.finish.take().unwrap_or(FinishReason::Stop),
                            usage: Some(d.state.usage),
                            model: d.model.clone(),
                        };
                        return Some((Ok(done), d));
                    }
                    Err(e) => {
                        d.ended = true;
                        return Some((Err(e), d));
                    }
                }
            }
            match d.bytes.next().await {
                Some(Ok(chunk)) => {
                    let events = d.decoder.feed(chunk.as_ref());
                    d.queue.extend(events);
                }
                Some(Err(e)) => {
                    d.ended = true;
                    return Some((Err(e), d));
                }
                None => {
                    if let Some(event) = d.decoder.finish() {
                        d.queue.push_back(event);
                        continue;
                    }
                    d.ended = true;
                    let error = ModelError::Interrupted {
                        url: d.url.clone(),
                        detail: "the stream ended before message_stop".to_string(),
                    };
                    return Some((Err(error), d));
                }
            }
        }
    })
    .boxed()
}

#[derive(Debug, Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    system: &'a str,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
}

#[derive(Debug, Serialize)]
struct WireMessage {
    role: &'static str,
    content: String,
}

#[derive(Debug, Deserialize)]
struct WireMessageResponse {
    #[serde(default)]
    content: Vec<WireBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireBlock {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u32,
    #[serde(default)]
    output_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Self {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChatMessage;

    fn event(kind: &str, data: &str) -> SseEvent {
        SseEvent {
            event: kind.to_string(),
            data: data.to_string(),
        }
    }

    #[test]
    fn a_streamed_reply_decodes_text_finish_and_usage() {
        let mut state = StreamState::default();
        let steps: Vec<Step> = [
            event("message_start", r#"{"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}"#),
            event("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            event("ping", r#"{"type": "ping"}"#),
            event("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Bonjour"}}"#),
            event("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#),
            event("message_stop", r#"{"type":"message_stop"}"#),
        ]
        .iter()
        .map(|e| state.apply(e, "u").unwrap())
        .collect();
        assert_eq!(steps[3], Step::Text("Bonjour".into()));
        assert_eq!(steps[5], Step::Stop);
        assert_eq!(state.finish, Some(FinishReason::Stop));
        assert_eq!(
            state.usage,
            Usage {
                prompt_tokens: 25,
                completion_tokens: 15
            }
        );
    }

    #[test]
    fn an_error_event_and_garbage_are_errors_not_panics() {
        let mut state = StreamState::default();
        let overloaded = event(
            "error",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert!(
            state
                .apply(&overloaded, "u")
                .unwrap_err()
                .to_string()
                .contains("Overloaded")
        );
        assert!(matches!(
            state.apply(&event("", "{not json"), "u"),
            Err(ModelError::Protocol { .. })
        ));
    }

    #[test]
    fn whole_messages_and_truncated_bodies_decode_or_fail_cleanly() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Hi!"}],"stop_reason":"max_tokens","usage":{"input_tokens":3,"output_tokens":2}}"#;
        let message = decode_message(body, "u").unwrap();
        assert_eq!(message.text, "Hi!");
        assert_eq!(message.finish, FinishReason::Length);
        assert!(matches!(
            decode_message(&body[..40], "u"),
            Err(ModelError::Protocol { .. })
        ));
        assert!(matches!(
            decode_message(b"<html>502</html>", "u"),
            Err(ModelError::Protocol { .. })
        ));
    }

    #[test]
    fn history_is_made_to_alternate_starting_with_the_user() {
        let message = |role, content: &str| ChatMessage {
            role,
            content: content.to_string(),
        };
        let request = ChatRequest {
            system: String::new(),
            messages: vec![
                message(ChatRole::Assistant, "earlier follow-up"),
                message(ChatRole::User, "a"),
                message(ChatRole::User, "b"),
                message(ChatRole::Assistant, "c"),
            ],
            post_history: None,
            temperature: None,
            max_tokens: None,
            persona: None,
            purpose: Default::default(),
        };
        let wire = alternating(&request);
        assert_eq!(wire.len(), 2);
        assert_eq!(wire[0].content, "a\n\nb");
        assert_eq!(wire[1].role, "assistant");
    }

    #[test]
    fn post_history_instructions_end_the_last_user_turn() {
        let request = ChatRequest {
            system: String::new(),
            messages: vec![
                ChatMessage {
                    role: ChatRole::User,
                    content: "hi".to_string(),
                },
                ChatMessage {
                    role: ChatRole::Assistant,
                    content: "hello".to_string(),
                },
                ChatMessage {
                    role: ChatRole::User,
                    content: "how are you?".to_string(),
                },
            ],
            post_history: Some("Stay in character.".to_string()),
            temperature: None,
            max_tokens: None,
            persona: None,
            purpose: Default::default(),
        };
        let wire = alternating(&request);
        assert_eq!(wire.len(), 3);
        assert_eq!(wire[2].role, "user");
        assert_eq!(wire[2].content, "how are you?\n\nStay in character.");
    }
}
