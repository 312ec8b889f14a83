//! A turn as OpenAI's server-sent events: `data:` lines of
//! `chat.completion.chunk` objects (the role first, then the text as it
//! arrives, then a chunk with `finish_reason`), an optional usage chunk
//! with no choices, then `data: [DONE]`. An error after the stream started
//! is one last `data: {"error":{…}}` line, as OpenAI sends it.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::UnboundedReceiver;

use super::reply::{Framing, ended_early};
use super::wire::{Lead, OpenAiError, WireUsage, disclaimer_block, lead_line};
use crate::chat::{Reply, TurnError, TurnEvent};

/// Turns events into chunks, remembering what the last chunk needs.
struct Render {
    /// What every chunk shares.
    framing: Framing,
    /// Every chunk carries `usage` (null until the last).
    include_usage: bool,
    /// The notice and break reminder sent so far.
    lead: Lead,
    /// Whether any of the reply's own text was sent.
    streamed: bool,
    /// Whether the last chunk was sent.
    ended: bool,
}

/// Answers a turn whose `opening` events have arrived as a stream;
/// `permit` is held until the stream ends or the client goes away.
pub fn respond(
    opening: Vec<TurnEvent>,
    events: UnboundedReceiver<TurnEvent>,
    framing: Framing,
    include_usage: bool,
    permit: OwnedSemaphorePermit,
) -> Response {
    let mut render = Render {
        framing,
        include_usage,
        lead: Lead::default(),
        streamed: false,
        ended: false,
    };
    let mut frames = vec![render.role()];
    frames.extend(opening.into_iter().flat_map(|event| render.event(event)));
    let rest = futures::stream::unfold(
        (events, render, permit),
        |(mut events, mut render, permit)| async move {
            if render.ended {
                return None;
            }
            let frames = match events.recv().await {
                Some(event) => render.event(event),
                None => render.error(ended_early(render.framing.stored)),
            };
            Some((frames, (events, render, permit)))
        },
    );
    let frames = futures::stream::iter([frames])
        .chain(rest)
        .flat_map(futures::stream::iter)
        .map(Ok::<_, Infallible>);
    Sse::new(frames)
        .keep_alive(KeepAlive::default())
        .into_response()
}

impl Render {
    /// The chunks for one event.
    fn event(&mut self, event: TurnEvent) -> Vec<Event> {
        match event {
            TurnEvent::Notice(text) => {
                let frame = self.content(&lead_line(&text));
                self.lead.notice = Some(text);
                vec![frame]
            }
            TurnEvent::BreakReminder(text) => {
                let frame = self.content(&lead_line(&text));
                self.lead.break_reminder = Some(text);
                vec![frame]
            }
            TurnEvent::Delta(text) => {
                self.streamed = true;
                vec![self.content(&text)]
            }
            TurnEvent::Finished(reply) => self.finish(reply),
            TurnEvent::Failed(error) => self.fail(error),
        }
    }

    /// The reply's end: any text not streamed (Troupe's own replies come
    /// whole), the disclaimers, the finish chunk with the `troupe`
    /// extension, the usage chunk when asked for, `[DONE]`.
    fn finish(&mut self, reply: Reply) -> Vec<Event> {
        self.ended = true;
        let mut frames = Vec::new();
        if !self.streamed {
            frames.push(self.content(&self.framing.reply_text(&reply)));
        }
        let block = disclaimer_block(&reply.disclaimers);
        if !block.is_empty() {
            frames.push(self.content(&block));
        }
        let finish = super::reply::finish_reason(&reply);
        let mut last = self.chunk(
            json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish}]),
            Value::Null,
        );
        last["troupe"] = json!(self.framing.troupe(&reply, &self.lead));
        frames.push(data(&last));
        if self.include_usage {
            let usage = json!(WireUsage::of(&reply));
            frames.push(data(&self.chunk(json!([]), usage)));
        }
        frames.push(Event::default().data("[DONE]"));
        frames
    }

    /// A failed turn: the disclaimers of the text already sent, then the
    /// error.
    fn fail(&mut self, error: TurnError) -> Vec<Event> {
        let mut frames = Vec::new();
        if let TurnError::Model { disclaimers, .. } = &error
            && self.streamed
            && !disclaimers.is_empty()
        {
            frames.push(self.content(&disclaimer_block(disclaimers)));
        }
        frames.extend(self.error(self.framing.error(error)));
        frames
    }

    /// The error line that ends the stream.
    fn error(&mut self, error: OpenAiError) -> Vec<Event> {
        self.ended = true;
        vec![data(&json!(error.body()))]
    }

    /// The first chunk: the role, and no text yet.
    fn role(&self) -> Event {
        data(&self.delta(json!({"role": "assistant", "content": ""})))
    }

    /// A chunk with more text.
    fn content(&self, text: &str) -> Event {
        data(&self.delta(json!({"content": text})))
    }

    /// A chunk whose one choice carries `delta`.
    fn delta(&self, delta: Value) -> Value {
        self.chunk(
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}]),
            Value::Null,
        )
    }

    /// A `chat.completion.chunk` with these choices.
    fn chunk(&self, choices: Value, usage: Value) -> Value {
        let mut chunk = json!({
            "id": self.framing.id,
            "object": "chat.completion.chunk",
            "created": self.framing.created,
            "model": self.framing.model,
            "system_fingerprint": null,
            "choices": choices,
        });
        if self.include_usage {
            chunk["usage"] = usage;
        }
        chunk
    }
}

/// One `data:` line.
fn data(value: &Value) -> Event {
    Event::default().data(value.to_string())
}
