//! One reply in OpenAI's shapes: what the whole reply and every chunk of a
//! streamed one share, how the reply's text is written (notice, the reply,
//! disclaimers), and how a failed turn is answered.

use axum::http::StatusCode;
use tokio::sync::mpsc::UnboundedReceiver;

use super::wire::{
    AssistantMessage, ChatCompletion, CompletionChoice, Lead, OpenAiError, TroupeInfo, WireUsage,
    disclaimer_block, lead_line,
};
use crate::chat::{Reply, ReplyKind, TurnError, TurnEvent};
use crate::server::ApiError;
use crate::server::conversations::{count_turn, failed};

/// What every piece of one reply shares.
#[derive(Debug, Clone)]
pub struct Framing {
    /// `chatcmpl-…`.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The persona id the client asked for.
    pub model: String,
    /// The turn is kept in the user's conversation.
    pub stored: bool,
    /// For a client task: the answer to give instead of a crisis reply,
    /// which the client would read as data.
    pub task_answer: Option<String>,
    /// The caller is an operator, who may see a model's failure in detail.
    pub operator: bool,
}

impl Framing {
    /// Whether this answers a client's own task.
    pub fn is_task(&self) -> bool {
        self.task_answer.is_some()
    }

    /// The reply's own text, as the client should read it.
    pub fn reply_text(&self, reply: &Reply) -> String {
        match (&self.task_answer, reply.kind) {
            (Some(answer), ReplyKind::Crisis) => answer.clone(),
            _ => reply.text.clone(),
        }
    }

    /// The extension for `reply`, counting the turn (tasks are not turns).
    pub fn troupe(&self, reply: &Reply, lead: &Lead) -> TroupeInfo {
        if !self.is_task() {
            count_turn(reply.kind);
        }
        TroupeInfo::new(reply, self.stored, self.is_task(), lead)
    }

    /// The whole reply: the notice lines, the reply, its disclaimers.
    pub fn completion(&self, reply: Reply, lead: Lead) -> ChatCompletion {
        let leads = [&lead.notice, &lead.break_reminder];
        let mut content: String = leads
            .iter()
            .filter_map(|l| l.as_deref())
            .map(lead_line)
            .collect();
        content.push_str(&self.reply_text(&reply));
        content.push_str(&disclaimer_block(&reply.disclaimers));
        ChatCompletion {
            id: self.id.clone(),
            object: "chat.completion".to_string(),
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: None,
            choices: vec![CompletionChoice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant".to_string(),
                    content,
                    refusal: None,
                },
                logprobs: None,
                finish_reason: finish_reason(&reply).to_string(),
            }],
            usage: WireUsage::of(&reply),
            troupe: self.troupe(&reply, &lead),
        }
    }

    /// A failed turn's error. A stored turn's message says the user's
    /// message was saved; a stateless one saves nothing, so it does not.
    pub fn error(&self, error: TurnError) -> OpenAiError {
        let error = match error {
            TurnError::Model { error, .. } if !self.stored => {
                metrics::counter!("troupe_turns_total", "kind" => "model_error").increment(1);
                ApiError::model_failed(error.to_string(), false)
            }
            TurnError::Input(message) if !self.stored => ApiError::bad_request(message),
            error => failed(error),
        };
        error.for_caller(self.operator).into()
    }
}

/// The error for a turn whose task ended without a word.
pub fn ended_early(stored: bool) -> OpenAiError {
    let saved = if stored { "; the message is saved" } else { "" };
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("the turn ended without a reply{saved}; try again"),
    )
    .into()
}

/// Waits for the whole turn and answers it as one `chat.completion`.
pub async fn collect(
    mut events: UnboundedReceiver<TurnEvent>,
    framing: &Framing,
) -> Result<ChatCompletion, OpenAiError> {
    let mut lead = Lead::default();
    while let Some(event) = events.recv().await {
        match event {
            TurnEvent::Notice(text) => lead.notice = Some(text),
            TurnEvent::BreakReminder(text) => lead.break_reminder = Some(text),
            TurnEvent::Delta(_) => {}
            TurnEvent::Finished(reply) => return Ok(framing.completion(reply, lead)),
            TurnEvent::Failed(error) => return Err(framing.error(error)),
        }
    }
    Err(ended_early(framing.stored))
}

/// OpenAI's `finish_reason` for a reply: `length` when the model stopped at
/// its limit (or a filter) before it was done, else `stop`.
pub fn finish_reason(reply: &Reply) -> &'static str {
    if reply.truncated { "length" } else { "stop" }
}
