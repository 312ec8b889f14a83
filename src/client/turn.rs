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

/// What a stopped turn says: the server goes on without us.
const STOPPED: &str = "you stopped showing the reply with Ctrl-C; the server finishes it and keeps it in the history";

/// What a stream that ends without its last event says.
const ENDED_EARLY: &str = "the troupe server ended the turn without a reply; your message is saved, and the reply will be in the history if the model finishes it";

/// The `data` of `notice`, `break_reminder` and `delta` events.
#[derive(Deserialize)]
struct Text {
    text: String,
}

impl ApiClient {
    /// Sends `text` and hands each event of the turn to `on_event`, ending
    /// with [`TurnEvent::Finished`] or [`TurnEvent::Failed`]. `stop` lets
    /// go of the stream early; the server still finishes the reply and
    /// keeps it in the history.
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
            _ = stop => Err(TurnError::Remote(STOPPED.to_string())),
        };
        if let Err(error) = ended {
            on_event(TurnEvent::Failed(error));
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
                let message = error().map_err(unreadable)?;
                (TurnEvent::Failed(TurnError::Remote(message)), true)
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
