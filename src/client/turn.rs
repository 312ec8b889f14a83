//! A chat turn through the server, streamed: the server-sent events of
//! `POST /v1/conversations/{user}/{persona}/messages` (`notice`,
//! `break_reminder`, `delta`…, then `reply`, `crisis`, `control`, `refusal`
//! or `error`) read back into the [`TurnEvent`]s a turn run here produces,
//! so front ends render both alike.

use futures::StreamExt;
use reqwest::Method;
use serde::Deserialize;

use super::{ApiClient, ClientError, ErrorBody};
use crate::chat::view::ReplyView;
use crate::chat::{Stop, TurnError, TurnEvent};
use crate::model::sse::{SseDecoder, SseEvent};

/// What a stopped turn says: letting go of the stream stops the reply on
/// the server too, which keeps what was written so far.
const STOPPED: &str = "you stopped the reply with Ctrl-C; what was written so far is kept in the history, marked interrupted";

/// What a stream that ends without its last event says.
const ENDED_EARLY: &str = "the troupe server ended the turn without a reply; your message is saved, and the reply will be in the history if the model finishes it";

/// The `data` of `notice`, `break_reminder` and `delta` events.
#[derive(Deserialize)]
struct Text {
    text: String,
}

/// The `data` of an `error` event: the error, and the disclaimers of the
/// partial reply it left, if any.
#[derive(Deserialize)]
struct Failure {
    error: super::ErrorDetail,
    #[serde(default)]
    disclaimers: Vec<String>,
}

impl ApiClient {
    /// Sends `text` and hands each event of the turn to `on_event`, ending
    /// with [`TurnEvent::Finished`] or [`TurnEvent::Failed`]. `stop` lets
    /// go of the stream early, which stops the reply on the server: it
    /// keeps what was written so far, marked interrupted.
    pub async fn stream_turn(
        &self,
        user: &str,
        persona: &str,
        text: &str,
        on_event: &mut (dyn FnMut(TurnEvent) + Send),
        stop: Stop<'_>,
    ) {
        let ended = tokio::select! {
            ended = self.read_turn(user, persona, text, on_event) => ended,
            _ = stop => {
                self.stop_reply(user, persona).await;
                Err(TurnError::Remote(STOPPED.to_string()))
            }
        };
        if let Err(error) = ended {
            on_event(TurnEvent::Failed(error));
        }
    }

    /// Asks the server to stop the reply being written in the conversation.
    /// Best effort: if the reply ended meanwhile, there is nothing to stop,
    /// and if the server cannot be reached, the reply is stored whole.
    async fn stop_reply(&self, user: &str, persona: &str) {
        let url = self.url(&format!("/v1/conversations/{user}/{persona}/stop"));
        if let Err(error) = self.send(self.request(Method::POST, url)).await {
            tracing::debug!("stopping the reply: {error}");
        }
    }

    /// Reads the turn's events until its last one.
    async fn read_turn(
        &self,
        user: &str,
        persona: &str,
        text: &str,
        on_event: &mut (dyn FnMut(TurnEvent) + Send),
    ) -> Result<(), TurnError> {
        let request = self
            .request(Method::POST, self.turn_url(user, persona))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&serde_json::json!({ "text": text }));
        let response = self.send(request).await.map_err(refused_or_failed)?;
        let mut decoder = SseDecoder::default();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| TurnError::Remote(self.unreachable(&e).to_string()))?;
            for frame in decoder.feed(&chunk) {
                if self.hand_over(&frame, on_event)? {
                    return Ok(());
                }
            }
        }
        if let Some(frame) = decoder.finish()
            && self.hand_over(&frame, on_event)?
        {
            return Ok(());
        }
        Err(TurnError::Remote(ENDED_EARLY.to_string()))
    }

    /// Hands one frame to `on_event`; whether it was the turn's last.
    fn hand_over(
        &self,
        frame: &SseEvent,
        on_event: &mut (dyn FnMut(TurnEvent) + Send),
    ) -> Result<bool, TurnError> {
        let unreadable = |e: serde_json::Error| TurnError::Remote(self.protocol(&e).to_string());
        let text = || serde_json::from_str::<Text>(&frame.data).map(|t| t.text);
        let error = || serde_json::from_str::<ErrorBody>(&frame.data).map(|b| b.error.message);
        let (event, last) = match frame.event.as_str() {
            "notice" => (TurnEvent::Notice(text().map_err(unreadable)?), false),
            "break_reminder" => (TurnEvent::BreakReminder(text().map_err(unreadable)?), false),
            "delta" => (TurnEvent::Delta(text().map_err(unreadable)?), false),
            "reply" | "crisis" | "control" => {
                let view: ReplyView = serde_json::from_str(&frame.data).map_err(unreadable)?;
                (TurnEvent::Finished(view.into()), true)
            }
            "refusal" => {
                let message = error().map_err(unreadable)?;
                (TurnEvent::Failed(TurnError::Input(message)), true)
            }
            "error" => {
                let failure: Failure = serde_json::from_str(&frame.data).map_err(unreadable)?;
                let message = failure.error.message;
                let error = if failure.disclaimers.is_empty() {
                    TurnError::Remote(message)
                } else {
                    TurnError::RemoteInterrupted {
                        message,
                        disclaimers: failure.disclaimers,
                    }
                };
                (TurnEvent::Failed(error), true)
            }
            // Events a newer server may add are not this turn's business.
            _ => return Ok(false),
        };
        on_event(event);
        Ok(last)
    }
}

/// An error answer to a turn, before any event: a message refused for what
/// it is (empty, too long) is the user's to change, as in a turn run here;
/// anything else is the server's failure.
pub(super) fn refused_or_failed(error: ClientError) -> TurnError {
    match error {
        ClientError::Api {
            status: 400 | 413,
            message,
            ..
        } => TurnError::Input(message),
        other => TurnError::Remote(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ReplyKind;

    fn client() -> ApiClient {
        let dir = std::path::Path::new("data");
        ApiClient::new("http://127.0.0.1:9", dir, &Default::default()).unwrap()
    }

    fn frame(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.to_string(),
            data: data.to_string(),
        }
    }

    /// The events `frames` become, and whether the last one ended the turn.
    fn read(frames: &[SseEvent]) -> (Vec<TurnEvent>, bool) {
        let client = client();
        let mut events = Vec::new();
        let mut on_event = |event| events.push(event);
        let mut last = false;
        for frame in frames {
            last = client.hand_over(frame, &mut on_event).unwrap();
        }
        (events, last)
    }

    #[test]
    fn frames_become_the_events_of_a_turn_run_here() {
        let (events, last) = read(&[
            frame("notice", r#"{"text":"You are chatting with an AI."}"#),
            frame("delta", r#"{"text":"Fold "}"#),
            frame("ping", "{}"),
            frame("delta", r#"{"text":"the eggs."}"#),
            frame(
                "reply",
                r#"{"kind":"persona","text":"Fold the eggs.","model":"m","disclaimers":["Not advice."],"usage":null,"persona_name":"Chef"}"#,
            ),
        ]);
        assert!(last);
        assert_eq!(events.len(), 4, "the unknown frame is skipped: {events:?}");
        assert!(matches!(&events[0], TurnEvent::Notice(t) if t.contains("an AI")));
        assert!(matches!(&events[2], TurnEvent::Delta(t) if t == "the eggs."));
        let TurnEvent::Finished(reply) = &events[3] else {
            panic!("{events:?}");
        };
        assert_eq!(reply.kind, ReplyKind::Persona);
        assert_eq!(reply.disclaimers, ["Not advice."]);
    }

    #[test]
    fn an_error_after_part_of_the_reply_keeps_the_part_s_disclaimers() {
        let body = r#"{"error":{"code":"model_unavailable","message":"the model broke off"},"disclaimers":["Not medical advice."]}"#;
        let (events, last) = read(&[
            frame("delta", r#"{"text":"Skip the nuts"}"#),
            frame("error", body),
        ]);
        assert!(last);
        let TurnEvent::Failed(error) = &events[1] else {
            panic!("{events:?}");
        };
        assert_eq!(error.partial_disclaimers(), ["Not medical advice."]);
        assert_eq!(error.to_string(), "the model broke off");
    }

    #[test]
    fn a_refusal_is_the_users_to_fix_and_an_error_is_the_servers() {
        let body = r#"{"error":{"code":"refused","message":"Élise is for adults only"}}"#;
        let (events, last) = read(&[frame("refusal", body)]);
        assert!(last);
        assert!(
            matches!(&events[0], TurnEvent::Failed(TurnError::Input(m)) if m.contains("adults only"))
        );
        let body = r#"{"error":{"code":"model_unavailable","message":"the model failed. Your message was saved"}}"#;
        let (events, _) = read(&[frame("error", body)]);
        assert!(
            matches!(&events[0], TurnEvent::Failed(TurnError::Remote(m)) if m.contains("saved"))
        );
        let refused = refused_or_failed(ClientError::Api {
            status: 413,
            code: "too_large".to_string(),
            message: "the limit is 4000".to_string(),
        });
        assert!(matches!(refused, TurnError::Input(_)));
    }

    #[test]
    fn an_unreadable_frame_is_a_protocol_error_naming_the_server() {
        let client = client();
        let mut on_event = |_| {};
        let error = client
            .hand_over(&frame("delta", "not json"), &mut on_event)
            .unwrap_err();
        assert!(error.to_string().contains("http://127.0.0.1:9"), "{error}");
    }
}
