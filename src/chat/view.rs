//! Chat on the wire: what a turn answers and what a page of history holds,
//! as the server sends them and the command line reads them back when it
//! goes through a server.

use serde::{Deserialize, Serialize};

use super::{Reply, ReplyKind};
use crate::model::Usage;
use crate::safety::CrisisKind;
use crate::store::PagedMessage;

/// The answer to a message, when not streamed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TurnReply {
    /// The AI notice, when it is due before this reply.
    pub notice: Option<String>,
    /// A suggestion to take a break (minors, after hours of chatting).
    pub break_reminder: Option<String>,
    /// The reply.
    pub reply: ReplyView,
}

/// A stored reply, with who it comes from.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyView {
    /// `persona` (the persona's words), `crisis` (Troupe's helplines) or
    /// `control` (Troupe's STOP/START confirmation).
    #[schema(value_type = String)]
    pub kind: ReplyKind,
    /// The text.
    pub text: String,
    /// The model that wrote it.
    pub model: String,
    /// Disclaimers, shown apart from the text.
    pub disclaimers: Vec<String>,
    /// Tokens used, when the backend said.
    pub usage: Option<UsageView>,
    /// The model stopped at its length limit or a content filter: the text
    /// may end mid-thought.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// For a `crisis` reply, what it answers: `self_harm` (suicidal
    /// ideation or self-harm: crisis lines) or `danger` (immediate danger
    /// from someone else: emergency numbers, domestic-violence lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crisis: Option<CrisisKind>,
}

/// Tokens used by a reply.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageView {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
}

impl From<Reply> for ReplyView {
    fn from(reply: Reply) -> Self {
        Self {
            kind: reply.kind,
            text: reply.text,
            model: reply.model,
            disclaimers: reply.disclaimers,
            usage: reply.usage.map(|u: Usage| UsageView {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            }),
            truncated: reply.truncated,
            crisis: reply.crisis,
        }
    }
}

impl From<ReplyView> for Reply {
    fn from(view: ReplyView) -> Self {
        Self {
            kind: view.kind,
            text: view.text,
            model: view.model,
            usage: view.usage.map(|u| Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
            }),
            disclaimers: view.disclaimers,
            truncated: view.truncated,
            crisis: view.crisis,
        }
    }
}

/// A page of history, oldest first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryPage {
    /// The messages, each with its `seq`.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<PagedMessage>,
    /// Pass as `before` for the page before this one; absent at the start.
    pub before: Option<u64>,
}

/// The follow-up a user had not seen yet, now marked seen (`null` if none).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnseenFollowUp {
    /// The follow-up message.
    #[schema(value_type = Option<Object>)]
    pub followup: Option<crate::store::Message>,
}

/// The greeting a user sees when their conversation with a persona opens
/// (see [`super::ChatService::greeting`]).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GreetingView {
    /// The greeting picked for the user, macros expanded.
    pub greeting: String,
}
