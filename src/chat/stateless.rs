//! Turns whose conversation the client keeps. An OpenAI-style client sends
//! the whole history with every request, so a stateless turn reads no
//! conversation from the store and writes none: the persona's system prompt
//! and the client's messages are the whole request.
//!
//! The safety layer applies as in a stored turn: the offline crisis
//! protocol runs before any model call (and crisis messages already in the
//! client's history, with Troupe's replies to them, never reach the model),
//! a moderation check holds a chat's reply until it passes, the turn earns
//! its disclaimers, and the AI notice opens a conversation. All that
//! is kept are anonymous records: the model's usage and the count of crisis
//! referrals.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;

use super::guard::Screened;
use super::moderated::{Held, discarded, hold_stream};
use super::{
    ChatService, Reply, ReplyKind, TurnError, TurnEvent, clean_message, notice_text, read_stream,
    shareable, within_budget, within_limit, within_window,
};
use crate::model::{ChatMessage, ChatModel, ChatRequest, ChatRole, Usage};
use crate::persona::Persona;
use crate::safety::conversation::EARLIER_MESSAGES;
use crate::safety::{self, CrisisKind, SafetyEvent};
use crate::store::{CallOutcome, Message, MessageKind, UsageRecord};

/// What a stateless turn answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatelessKind {
    /// The persona answering the user, with the whole safety layer.
    Chat,
    /// A client's own housekeeping request (a title, tags or suggested
    /// questions for its chat list), answered by the persona's model. The
    /// client reads the answer as data, so it gets no notice and no
    /// disclaimers; a task that holds a crisis is not sent to the model.
    ClientTask,
}

impl ChatService {
    /// One turn over `history` (oldest first, ending with the user's
    /// message), streaming the reply through `on_delta`. Nothing is stored
    /// but the call's usage and, for a crisis, the anonymous referral count.
    /// A crisis reply comes back whole with [`ReplyKind::Crisis`].
    pub async fn stateless_turn(
        &self,
        user: Option<&str>,
        persona: &Arc<Persona>,
        model: &dyn ChatModel,
        history: &[ChatMessage],
        kind: StatelessKind,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Reply, TurnError> {
        let asked = last_user_text(history)?;
        let kept = match self.stateless_screen(user, persona, history, kind).await? {
            Screened::Crisis(reply) => return Ok(reply),
            Screened::Clear { kept } => kept,
        };
        let request = self.stateless_request(user, persona, history).await?;
        let started = Instant::now();
        let mut text = String::new();
        let cap = self.limits.max_reply_chars;
        let never = std::pin::pin!(std::future::pending::<()>());
        let moderator = match kind {
            StatelessKind::Chat => self.moderation_for(model),
            StatelessKind::ClientTask => None,
        };
        let ended = match moderator {
            None => read_stream(model, &request, (&mut text, cap), on_delta, never).await,
            Some(moderator) => {
                let check = self.moderate(&moderator, model, (user, persona), &kept);
                // Nothing is stored in a stateless turn, so nothing waits for the check.
                let release = async { Ok(()) };
                let reading = (model, &request);
                let held =
                    hold_stream(check, reading, (&mut text, cap), on_delta, release, never).await?;
                match held {
                    Held::Flagged {
                        kind: crisis,
                        ended,
                    } => {
                        let (answered, usage, outcome) = discarded(ended, model);
                        let record = (usage, outcome);
                        self.record_stateless_usage(user, persona, &answered, record, started)
                            .await;
                        return self
                            .stateless_crisis_reply(user, persona, kind, crisis)
                            .await;
                    }
                    Held::Shown(ended) => ended,
                }
            }
        };
        let disclaimers = match kind {
            StatelessKind::Chat => self.disclaimers_for(persona, asked, &text),
            StatelessKind::ClientTask => Vec::new(),
        };
        match ended {
            Ok((answered, usage, truncated)) => {
                let outcome = (usage, CallOutcome::Completed);
                self.record_stateless_usage(user, persona, &answered, outcome, started)
                    .await;
                Ok(Reply {
                    kind: ReplyKind::Persona,
                    text,
                    model: answered,
                    usage,
                    disclaimers,
                    truncated,
                    crisis: None,
                })
            }
            Err(error) => {
                let partial = !text.trim().is_empty();
                let outcome = CallOutcome::unfinished(partial);
                let model_id = model.info().model.clone();
                self.record_stateless_usage(user, persona, &model_id, (None, outcome), started)
                    .await;
                Err(TurnError::Model {
                    error,
                    // Nothing is stored in a stateless turn.
                    partial: false,
                    // They go with the text the client already has.
                    disclaimers: if partial { disclaimers } else { Vec::new() },
                })
            }
        }
    }

    /// Runs [`ChatService::stateless_turn`] on its own task, like
    /// [`ChatService::spawn_turn`]: the AI notice (for a chat whose history
    /// has no reply yet) goes out with the reply's first words, and events
    /// arrive on the returned channel; `keep` is held until the turn ends.
    pub fn spawn_stateless_turn(
        self,
        user: Option<String>,
        persona: Arc<Persona>,
        model: Arc<dyn ChatModel>,
        history: Vec<ChatMessage>,
        kind: StatelessKind,
        keep: impl Send + 'static,
    ) -> UnboundedReceiver<TurnEvent> {
        let (events, receiver) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let _keep = keep;
            let opens = !history.iter().any(|m| m.role == ChatRole::Assistant);
            let mut notices = Vec::new();
            if kind == StatelessKind::Chat && opens {
                notices.push(TurnEvent::Notice(notice_text(&persona)));
            }
            let send = |event: TurnEvent, notices: &mut Vec<TurnEvent>| {
                for notice in notices.drain(..) {
                    let _ = events.send(notice);
                }
                let _ = events.send(event);
            };
            let mut on_delta =
                |delta: &str| send(TurnEvent::Delta(delta.to_string()), &mut notices);
            let ended = self
                .stateless_turn(
                    user.as_deref(),
                    &persona,
                    model.as_ref(),
                    &history,
                    kind,
                    &mut on_delta,
                )
                .await;
            let mut notices = std::mem::take(&mut notices);
            match ended {
                Ok(reply) => send(TurnEvent::Finished(reply), &mut notices),
                Err(error @ TurnError::Input(_)) => send(TurnEvent::Failed(error), &mut Vec::new()),
                Err(error) => send(TurnEvent::Failed(error), &mut notices),
            }
        });
        receiver
    }

    /// The offline detector on a stateless turn's message: a chat message
    /// expressing suicidal ideation or self-harm, or telling of immediate
    /// danger (read with the client's earlier user messages), gets
    /// Troupe's reply for that kind of crisis (and is counted,
    /// anonymously); a client task holding a crisis (its own message, or an
    /// earlier one it quotes) is answered without the model. Otherwise the
    /// message within the size limit comes back, for a moderation check.
    async fn stateless_screen(
        &self,
        user: Option<&str>,
        persona: &Persona,
        history: &[ChatMessage],
        kind: StatelessKind,
    ) -> Result<Screened, TurnError> {
        let asked = last_user_text(history)?;
        let (crisis, kept) = match kind {
            StatelessKind::Chat => {
                // As in a stored turn: the offline reader sees up to twice
                // the size limit, a moderation check only what is within it.
                let limit = self.limits.max_message_chars;
                let cleaned = clean_message(within_window(asked, limit), usize::MAX)
                    .map_err(TurnError::Input)?;
                let kept = within_limit(&cleaned, limit);
                let earlier = earlier_user_texts(history);
                let crisis = safety::assess_in_conversation(&earlier, &cleaned).crisis;
                (crisis, kept)
            }
            StatelessKind::ClientTask => {
                let crisis = safety::assess(asked).crisis.or_else(|| {
                    self.quotes_crisis_reply(asked, persona)
                        .then_some(CrisisKind::SelfHarm)
                });
                (crisis, String::new())
            }
        };
        match crisis {
            Some(crisis) => Ok(Screened::Crisis(
                self.stateless_crisis_reply(user, persona, kind, crisis)
                    .await?,
            )),
            None => Ok(Screened::Clear { kept }),
        }
    }

    /// Troupe's reply to a crisis of kind `crisis` in a stateless turn, the
    /// referral counted for a chat (not for a client's housekeeping task).
    async fn stateless_crisis_reply(
        &self,
        user: Option<&str>,
        persona: &Persona,
        kind: StatelessKind,
        crisis: CrisisKind,
    ) -> Result<Reply, TurnError> {
        let language = self.reply_language(user, persona).await?;
        if kind == StatelessKind::Chat {
            self.store
                .step()?
                .record_safety_event(&SafetyEvent {
                    at: self.clock.now(),
                    kind: crisis.referral().to_string(),
                    language: language.clone(),
                })
                .await?;
        }
        let reply = self.safety.crisis_message(&language, crisis);
        Ok(Reply::crisis(reply, crisis))
    }

    /// The language of Troupe's own replies to `user`: theirs when known,
    /// else the persona's.
    async fn reply_language(
        &self,
        user: Option<&str>,
        persona: &Persona,
    ) -> Result<String, TurnError> {
        let known = match user {
            Some(user) => self
                .store
                .step()?
                .user(user)
                .await?
                .and_then(|u| u.language),
            None => None,
        };
        Ok(known.unwrap_or_else(|| persona.language.clone()))
    }

    /// Whether `text` holds one of Troupe's crisis replies, in the persona's
    /// language or English: the client is resending a crisis exchange.
    fn quotes_crisis_reply(&self, text: &str, persona: &Persona) -> bool {
        [persona.language.as_str(), "en"].iter().any(|language| {
            CrisisKind::ALL
                .iter()
                .any(|kind| text.contains(self.safety.crisis_message(language, *kind).trim()))
        })
    }

    /// The request for the persona's reply to the client's `history`: the
    /// newest messages within the history limits, without crisis exchanges.
    async fn stateless_request(
        &self,
        user: Option<&str>,
        persona: &Arc<Persona>,
        history: &[ChatMessage],
    ) -> Result<ChatRequest, TurnError> {
        let now = self.clock.now();
        // Only the newest messages can be sent, so only they are read.
        let keep = self.limits.history_messages.max(1);
        let recent = &history[history.len().saturating_sub(keep)..];
        let last = recent.len().saturating_sub(1);
        let marked: Vec<Message> = recent
            .iter()
            .enumerate()
            .map(|(i, m)| match m.role {
                ChatRole::User => {
                    let mut message = Message::from_user(m.content.clone(), now);
                    // The newest message has passed the crisis check already.
                    if i < last && safety::assess(&m.content).is_crisis() {
                        message.kind = MessageKind::Crisis;
                    }
                    message
                }
                ChatRole::Assistant => {
                    let mut message = Message::reply(m.content.clone(), now, "client");
                    if self.quotes_crisis_reply(&m.content, persona) {
                        message.kind = MessageKind::Safety;
                    }
                    message
                }
            })
            .collect();
        let messages = within_budget(&shareable(&marked), self.limits.history_chars);
        // The client keeps no times, so there is no idle time to tell.
        let scene = self.scene(user, persona, None, &messages).await?;
        self.chat_request(persona, &scene, messages)
    }

    /// Records a stateless call's tokens and outcome, so `/v1/usage` counts
    /// it like any other.
    async fn record_stateless_usage(
        &self,
        user: Option<&str>,
        persona: &Persona,
        model: &str,
        (usage, outcome): (Option<Usage>, CallOutcome),
        started: Instant,
    ) {
        let counted = usage.unwrap_or_default();
        let record = UsageRecord {
            at: self.clock.now(),
            user: user.map(str::to_string),
            persona: persona.id.clone(),
            model: model.to_string(),
            kind: MessageKind::Chat,
            prompt_tokens: u64::from(counted.prompt_tokens),
            completion_tokens: u64::from(counted.completion_tokens),
            latency_ms: started.elapsed().as_millis() as u64,
            outcome,
        };
        let recorded = match self.store.step() {
            Ok(store) => store.record_usage(&record).await,
            Err(error) => Err(error),
        };
        if let Err(error) = recorded {
            // The reply is what the client needs; the usage line is not.
            tracing::warn!(%error, "could not record a stateless call's usage");
        }
    }
}

/// The newest message, which must be the user's.
/// The client's user messages before the last one, oldest first: the
/// crisis protocol reads the last with at most [`EARLIER_MESSAGES`] of them.
fn earlier_user_texts(history: &[ChatMessage]) -> Vec<&str> {
    let before = &history[..history.len().saturating_sub(1)];
    let mut texts: Vec<&str> = before
        .iter()
        .rev()
        .filter(|m| m.role == ChatRole::User)
        .take(EARLIER_MESSAGES)
        .map(|m| m.content.as_str())
        .collect();
    texts.reverse();
    texts
}

fn last_user_text(history: &[ChatMessage]) -> Result<&str, TurnError> {
    match history.last() {
        Some(message) if message.role == ChatRole::User => Ok(&message.content),
        _ => Err(TurnError::Input(
            "the conversation must end with the user's message".to_string(),
        )),
    }
}
