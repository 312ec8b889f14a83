//! One chat turn: accept the user's message, ask the persona's model, keep
//! the reply. [`guard`] holds what runs around a turn: access, STOP, the
//! crisis protocol, disclaimers, unseen follow-ups; `stateless` runs a turn
//! whose conversation the client keeps (nothing stored, same safety layer);
//! `greeting` gives the greeting a user sees when a conversation opens.
//!
//! The user's message is stored (and flushed) before the model is called, so
//! it survives a model failure or a crash; with a moderation check on
//! ([`moderated`]), it is stored once the check lets the reply through,
//! still before any of the reply is shown. A reply is stored only once the
//! model finishes it; a stream that breaks after some text is stored marked
//! `interrupted`, never as a complete reply; an empty reply is not stored.
//!
//! A turn holds the store in two steps (see [`StoreAccess`]): one to check
//! and store the user's message and read the history the model gets, one to
//! store the reply and its usage. It holds nothing while the model answers,
//! so a command chatting from the command line leaves the data dir free for
//! everyone else meanwhile.

mod greeting;
mod guard;
mod moderated;
mod session;
mod stateless;
pub mod view;

pub use guard::{FollowUps, adults_only};
pub use session::{SpawnedTurn, TurnEvent, notice_text};
pub use stateless::StatelessKind;

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use crate::clock::Clock;
use crate::config::ChatConfig;
use crate::followup::policy::FollowUpPolicy;
use crate::followup::topics;
use crate::model::{
    ChatMessage, ChatModel, ChatRequest, ChatRole, FinishReason, ModelError, Purpose, StreamEvent,
    Usage,
};
use crate::moderation::Moderator;
use crate::persona::Persona;
use crate::prompt::{PromptError, Prompts, Scene};
use crate::safety::{CrisisKind, SafetyConfig};
use crate::store::{
    AppendEffects, CallOutcome, Conversation, Message, MessageKind, PendingFlush, Role,
    StoreAccess, StoreError, UsageRecord,
};
use guard::Screened;

/// Runs chat turns against the store.
#[derive(Debug, Clone)]
pub struct ChatService {
    /// How the store is reached: kept open, or opened for each step.
    store: StoreAccess,
    /// The prompt templates.
    prompts: Arc<Prompts>,
    /// Where timestamps come from.
    clock: Clock,
    /// History and size limits.
    limits: ChatConfig,
    /// The follow-up policy, to keep each conversation's due window current.
    policy: FollowUpPolicy,
    /// Disclaimer texts and the crisis protocol.
    safety: SafetyConfig,
    /// The moderation check run beside each reply, if the deployment has one.
    moderator: Option<Arc<Moderator>>,
}

/// The `model` of Troupe's own safety replies.
pub const SAFETY_MODEL: &str = "troupe-safety";

/// Who a reply comes from, so every front end presents it as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// The persona's own words, from its model.
    Persona,
    /// Troupe's crisis reply with helplines: never the persona's words.
    Crisis,
    /// Troupe's confirmation of STOP or /start.
    Control,
}

/// The persona's finished reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Who the reply comes from.
    pub kind: ReplyKind,
    /// The reply text.
    pub text: String,
    /// The model that produced it.
    pub model: String,
    /// Tokens used, when the backend reported them.
    pub usage: Option<Usage>,
    /// Disclaimers for the sensitive subjects the turn touched, shown after the reply.
    pub disclaimers: Vec<String>,
    /// The model stopped at its length limit or a content filter, so the
    /// text may end mid-thought.
    pub truncated: bool,
    /// For a crisis reply, the kind of crisis it answers.
    pub crisis: Option<CrisisKind>,
}

impl Reply {
    /// Troupe's reply to a crisis of `kind`, with its resources: never the
    /// persona's words, and never from its model.
    pub fn crisis(text: String, kind: CrisisKind) -> Self {
        Self {
            kind: ReplyKind::Crisis,
            text,
            model: SAFETY_MODEL.to_string(),
            usage: None,
            disclaimers: Vec::new(),
            truncated: false,
            crisis: Some(kind),
        }
    }
}

/// Resolves when the user asks to stop a reply in progress (Ctrl-C in the
/// console); [`std::future::pending`] for callers that never stop.
pub type Stop<'a> = std::pin::Pin<&'a mut (dyn std::future::Future<Output = ()> + Send)>;

/// Why a turn did not produce a reply.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The message was refused before anything was stored.
    #[error("{0}")]
    Input(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The system prompt could not be rendered.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// The server a front end went through answered with an error (its
    /// message says what happened, and whether the message was kept).
    #[error("{0}")]
    Remote(String),
    /// The model failed; the user's message is kept.
    #[error("{error}. Your message was saved{}", if *.partial { "; the partial reply is kept, marked as interrupted" } else { "" })]
    Model {
        /// What went wrong.
        error: ModelError,
        /// Whether a partial reply was stored, marked interrupted.
        partial: bool,
        /// The disclaimers that go with the partial reply, to show after it.
        disclaimers: Vec<String>,
    },
    /// The model failed on the server a front end went through, after part
    /// of the reply was shown: the server keeps that part, marked
    /// interrupted, and these disclaimers go with it.
    #[error("{message}")]
    RemoteInterrupted {
        /// What the server said.
        message: String,
        /// The disclaimers that go with the partial reply, to show after it.
        disclaimers: Vec<String>,
    },
}

impl TurnError {
    /// The disclaimers that go with a partial reply the failure left, to
    /// show after it (none when nothing was shown).
    pub fn partial_disclaimers(&self) -> &[String] {
        match self {
            TurnError::Model { disclaimers, .. }
            | TurnError::RemoteInterrupted { disclaimers, .. } => disclaimers,
            _ => &[],
        }
    }
}

impl ChatService {
    /// A chat service over `store`.
    pub fn new(
        store: StoreAccess,
        prompts: Arc<Prompts>,
        clock: Clock,
        limits: ChatConfig,
        policy: FollowUpPolicy,
        safety: SafetyConfig,
    ) -> Self {
        let moderator = Moderator::from_config(&safety).map(Arc::new);
        Self {
            store,
            prompts,
            clock,
            limits,
            policy,
            safety,
            moderator,
        }
    }

    /// This service with `moderator` as its moderation check: one built
    /// once for the process, so every turn shares its connections.
    pub fn with_moderator(mut self, moderator: Option<Arc<Moderator>>) -> Self {
        self.moderator = moderator;
        self
    }

    /// How this service reaches the store.
    pub fn store(&self) -> &StoreAccess {
        &self.store
    }

    /// Cleans the message, then stores it durably with its topics.
    pub async fn accept(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
    ) -> Result<Conversation, TurnError> {
        self.accept_as(user, persona, text, false).await
    }

    /// [`ChatService::accept`], for a crisis message when `crisis`: stored
    /// the same way, but no topic is taken from it.
    async fn accept_as(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
        crisis: bool,
    ) -> Result<Conversation, TurnError> {
        let (conversation, flushing) = self.accept_flushing(user, persona, text, crisis).await?;
        flushing.finish().await?;
        Ok(conversation)
    }

    /// [`ChatService::accept_as`] with the message's flush started, not
    /// yet waited for: the message is accepted once the flush ends.
    async fn accept_flushing(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
        crisis: bool,
    ) -> Result<(Conversation, PendingFlush), TurnError> {
        let record = self.store.step()?.user(user).await?;
        self.accept_flushing_of(user, record.as_ref(), persona, text, crisis)
            .await
    }

    /// [`ChatService::accept_flushing`] for a user whose `record` was read
    /// already in this step of the turn.
    async fn accept_flushing_of(
        &self,
        user: &str,
        record: Option<&crate::store::User>,
        persona: &Persona,
        text: &str,
        crisis: bool,
    ) -> Result<(Conversation, PendingFlush), TurnError> {
        let text = clean_message(text, self.limits.max_message_chars).map_err(TurnError::Input)?;
        let now = self.clock.now();
        let candidates = if crisis {
            Vec::new()
        } else {
            topics::extract(&text, &persona.expertise)
        };
        let sensitive = topics::is_sensitive(&text);
        let policy = self.policy.for_persona(persona);
        let fold =
            |list: &mut Vec<crate::store::Topic>| topics::fold(list, &candidates, sensitive, now);
        let (_, marks) = self.session_after_of(user, record, now).await?;
        let effects = AppendEffects {
            schedule: &|c| policy.due_window(c),
            topics: Some(&fold),
            session: Some(marks),
        };
        let mut message = Message::from_user(text, now);
        if crisis {
            message.kind = MessageKind::Crisis;
        }
        Ok(self
            .store
            .step()?
            .append_flushing(user, &persona.id, &message, &effects)
            .await?)
    }

    /// Builds the request for the persona's next message in `conversation`.
    pub async fn request(
        &self,
        persona: &Arc<Persona>,
        conversation: &Conversation,
    ) -> Result<ChatRequest, TurnError> {
        let record = self.store.step()?.user(&conversation.user).await?;
        self.request_of(persona, conversation, record.as_ref())
            .await
    }

    /// [`ChatService::request`] for a user whose `record` was read already
    /// in this step of the turn.
    async fn request_of(
        &self,
        persona: &Arc<Persona>,
        conversation: &Conversation,
        record: Option<&crate::store::User>,
    ) -> Result<ChatRequest, TurnError> {
        let recent = self
            .store
            .step()?
            .recent_messages(conversation, self.limits.history_messages.max(1))
            .await?;
        let messages = within_budget(&shareable(&recent), self.limits.history_chars);
        let previous = recent.iter().rev().nth(1).map(|m| m.at);
        let scene = self.scene_of(
            Some((&conversation.user, record)),
            persona,
            previous,
            &messages,
        );
        self.chat_request(persona, &scene, messages)
    }

    /// The request for the persona's reply to `messages` in `scene`, as
    /// every chat turn sends it (stored, moderated or stateless): the
    /// system prompt (the persona's `[card] system_prompt` in place of
    /// Troupe's main prompt), the messages, and the persona's `[card]
    /// post_history_instructions` after them.
    fn chat_request(
        &self,
        persona: &Arc<Persona>,
        scene: &Scene,
        messages: Vec<ChatMessage>,
    ) -> Result<ChatRequest, TurnError> {
        Ok(ChatRequest {
            system: self.prompts.render_system(persona, scene)?,
            messages,
            post_history: crate::prompt::card::post_history(persona, &scene.macros),
            temperature: persona.model.temperature,
            max_tokens: persona.model.max_tokens,
            persona: Some(Arc::clone(persona)),
            purpose: Purpose::Chat,
        })
    }

    /// The scene a system prompt is rendered for: the user's display name
    /// and time zone, the time since the conversation's `previous`
    /// message, and the `messages` the model gets (which lore is scanned
    /// against).
    async fn scene(
        &self,
        user: Option<&str>,
        persona: &Persona,
        previous: Option<chrono::DateTime<chrono::Utc>>,
        messages: &[ChatMessage],
    ) -> Result<Scene, TurnError> {
        let record = match user {
            Some(user) => self.store.step()?.user(user).await?,
            None => None,
        };
        Ok(self.scene_of(
            user.map(|user| (user, record.as_ref())),
            persona,
            previous,
            messages,
        ))
    }

    /// [`ChatService::scene`] for a user (with their `record`, read
    /// already) or for none.
    fn scene_of(
        &self,
        user: Option<(&str, Option<&crate::store::User>)>,
        persona: &Persona,
        previous: Option<chrono::DateTime<chrono::Utc>>,
        messages: &[ChatMessage],
    ) -> Scene {
        let record = user.and_then(|(_, record)| record);
        let recent = messages.iter().map(|m| m.content.clone()).collect();
        let scene = Scene::new(
            persona,
            record,
            self.policy.default_tz(),
            self.clock.now(),
            previous,
            recent,
        );
        match user {
            Some((user, _)) => scene.with_greeting(persona, user),
            None => scene,
        }
    }

    /// A whole turn: accept `text`, then stream the reply through `on_delta`.
    /// Troupe's own replies are not streamed: a crisis reply (its model is
    /// [`SAFETY_MODEL`]) and the confirmation of STOP or /start come back
    /// whole, for the caller to show as Troupe's, not the persona's.
    pub async fn turn(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        model: &dyn ChatModel,
        text: &str,
        on_delta: &mut (dyn FnMut(&str) + Send),
        stop: Stop<'_>,
    ) -> Result<Reply, TurnError> {
        // Helplines come first, whoever the persona is.
        let kept = match self.offline_screen(user, persona, text).await? {
            Screened::Crisis(reply) => return Ok(reply),
            Screened::Clear { kept } => kept,
        };
        if let Some(moderator) = self.moderation_for(model) {
            let (who, said) = ((user, persona), (text, kept.as_str()));
            return self
                .checked_turn(&moderator, who, model, said, on_delta, stop)
                .await;
        }
        let request = match self.take_message(user, persona, text).await? {
            Taken::Control(reply) => return Ok(reply),
            Taken::Stored(request) => request,
        };
        self.stream_reply(user, persona, model, &request, on_delta, stop)
            .await
    }

    /// Whether `text` asks again for the reply to the conversation's last
    /// message, as a client's "regenerate" does: the conversation ends with
    /// that very message and its reply, and the client's message before
    /// `text` (`before`) is not that reply (the client dropped it).
    pub async fn is_retry(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
        before: Option<&str>,
    ) -> Result<bool, TurnError> {
        let store = self.store.step()?;
        let Some(conversation) = store.conversation(user, &persona.id).await? else {
            return Ok(false);
        };
        let recent = store.recent_messages(&conversation, 2).await?;
        let [asked, answered] = recent.as_slice() else {
            return Ok(false);
        };
        let Ok(text) = clean_message(text, usize::MAX) else {
            return Ok(false);
        };
        Ok(asked.role == Role::User
            && asked.kind == MessageKind::Chat
            && asked.text == text
            && answered.role == Role::Assistant
            && answered.kind == MessageKind::Chat
            && before != Some(answered.text.as_str()))
    }

    /// Another reply to the conversation's last message, which is not
    /// stored again; the earlier reply stays in the history, and the model
    /// does not see it.
    pub async fn reply_again(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        model: &dyn ChatModel,
        on_delta: &mut (dyn FnMut(&str) + Send),
        stop: Stop<'_>,
    ) -> Result<Reply, TurnError> {
        let request = {
            let store = self.store.step()?;
            self.check_access(user, persona).await?;
            let conversation = store
                .conversation(user, &persona.id)
                .await?
                .ok_or_else(|| {
                    TurnError::Input("there is no message to answer again yet".to_string())
                })?;
            let mut request = self.request(persona, &conversation).await?;
            while request
                .messages
                .last()
                .is_some_and(|m| m.role == ChatRole::Assistant)
            {
                request.messages.pop();
            }
            request
        };
        if request.messages.is_empty() {
            return Err(TurnError::Input(
                "there is no message to answer again yet".to_string(),
            ));
        }
        self.stream_reply(user, persona, model, &request, on_delta, stop)
            .await
    }

    /// The first step of a turn, in one hold of the store: checks access,
    /// answers STOP and /start, or stores the message and builds the
    /// request for the model.
    async fn take_message(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        text: &str,
    ) -> Result<Taken, TurnError> {
        let step = self.store.step()?;
        // The user's record, read once for the whole step.
        let record = step.user(user).await?;
        guard::check_access_of(record.as_ref(), persona)?;
        if let Some(reply) = self.control_reply(user, persona, text).await? {
            return Ok(Taken::Control(reply));
        }
        // The disk writes the message while the request is built; both
        // are done before the model is called.
        let (conversation, flushing) = self
            .accept_flushing_of(user, record.as_ref(), persona, text, false)
            .await?;
        let request = self
            .request_of(persona, &conversation, record.as_ref())
            .await;
        flushing.finish().await?;
        Ok(Taken::Stored(request?))
    }

    /// A whole turn with the reply fetched in one piece (no streaming).
    pub async fn turn_whole(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        model: &dyn ChatModel,
        text: &str,
    ) -> Result<Reply, TurnError> {
        let kept = match self.offline_screen(user, persona, text).await? {
            Screened::Crisis(reply) => return Ok(reply),
            Screened::Clear { kept } => kept,
        };
        if let Some(moderator) = self.moderation_for(model) {
            let said = (text, kept.as_str());
            return self
                .checked_whole(&moderator, (user, persona), model, said)
                .await;
        }
        let request = match self.take_message(user, persona, text).await? {
            Taken::Control(reply) => return Ok(reply),
            Taken::Stored(request) => request,
        };
        let started = Instant::now();
        let completion = model.complete(&request).await;
        self.finish_whole(user, persona, model, text, completion, started)
            .await
    }

    /// The end of a turn answered in one piece: keeps the reply (cut at
    /// the size limit) with its usage and disclaimers, or what the failed
    /// call comes to.
    async fn finish_whole(
        &self,
        user: &str,
        persona: &Persona,
        model: &dyn ChatModel,
        text: &str,
        completion: Result<crate::model::Completion, ModelError>,
        started: Instant,
    ) -> Result<Reply, TurnError> {
        let mut completion = match completion {
            Ok(completion) => completion,
            Err(error) => {
                return Err(self
                    .unfinished(user, persona, model, ("", &[]), error, started)
                    .await);
            }
        };
        completion.text = crate::terminal::printable(&completion.text).into_owned();
        let kept = within_room(&completion.text, &mut self.limits.max_reply_chars.clone()).len();
        let cut = kept < completion.text.len();
        completion.text.truncate(kept);
        let disclaimers = self.disclaimers_for(persona, text, &completion.text);
        let finished = Finished {
            text: &completion.text,
            model: &completion.model,
            usage: completion.usage,
            truncated: cut || completion.finish != FinishReason::Stop,
            disclaimers: &disclaimers,
        };
        self.keep_finished(user, persona, &finished, started)
            .await?;
        let truncated = finished.truncated;
        Ok(Reply {
            kind: ReplyKind::Persona,
            text: completion.text,
            model: completion.model,
            usage: completion.usage,
            disclaimers,
            truncated,
            crisis: None,
        })
    }

    /// Streams the reply to the conversation's last message and stores it.
    async fn stream_reply(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        model: &dyn ChatModel,
        request: &ChatRequest,
        on_delta: &mut (dyn FnMut(&str) + Send),
        stop: Stop<'_>,
    ) -> Result<Reply, TurnError> {
        let started = Instant::now();
        let asked = request.messages.last().map_or("", |m| m.content.as_str());
        let mut text = String::new();
        let room = self.limits.max_reply_chars;
        let ended = read_stream(model, request, (&mut text, room), on_delta, stop).await;
        self.finish_stream(user, persona, model, (asked, text), ended, started)
            .await
    }

    /// The end of a streamed turn: keeps the reply with its usage and
    /// disclaimers, or what arrived before the call failed.
    async fn finish_stream(
        &self,
        user: &str,
        persona: &Persona,
        model: &dyn ChatModel,
        (asked, text): (&str, String),
        ended: moderated::Streamed,
        started: Instant,
    ) -> Result<Reply, TurnError> {
        let disclaimers = self.disclaimers_for(persona, asked, &text);
        let (answered, usage, truncated) = match ended {
            Ok(ended) => ended,
            Err(error) => {
                let partial = (text.as_str(), &disclaimers[..]);
                return Err(self
                    .unfinished(user, persona, model, partial, error, started)
                    .await);
            }
        };
        let finished = Finished {
            text: &text,
            model: &answered,
            usage,
            truncated,
            disclaimers: &disclaimers,
        };
        self.keep_finished(user, persona, &finished, started)
            .await?;
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

    /// A call that ended without a whole reply: keeps whatever `text`
    /// arrived before it broke (marked interrupted), records the call as
    /// interrupted (or failed, when nothing arrived), and gives the turn's
    /// error.
    async fn unfinished(
        &self,
        user: &str,
        persona: &Persona,
        model: &dyn ChatModel,
        (text, disclaimers): (&str, &[String]),
        error: ModelError,
        started: Instant,
    ) -> TurnError {
        let partial = !text.trim().is_empty();
        // One step for both writes; a store that cannot be opened leaves
        // the model's error as the one to report.
        let _step = self.store.step();
        let outcome = CallOutcome::unfinished(partial);
        let model_id = &model.info().model;
        if let Err(e) = self
            .record_usage(user, persona, model_id, (None, outcome), started)
            .await
        {
            // The model's error is what the user needs to hear.
            tracing::warn!(error = %e, "could not record an unfinished model call");
        }
        if partial
            && let Err(store_error) = self
                .keep_reply(user, persona, text, model_id, true, disclaimers)
                .await
        {
            return TurnError::Store(store_error);
        }
        TurnError::Model {
            error,
            partial,
            disclaimers: if partial {
                disclaimers.to_vec()
            } else {
                Vec::new()
            },
        }
    }

    /// Records a chat call's tokens, latency and outcome.
    async fn record_usage(
        &self,
        user: &str,
        persona: &Persona,
        model: &str,
        call: (Option<Usage>, CallOutcome),
        started: Instant,
    ) -> Result<(), StoreError> {
        let record = self.usage_record(user, persona, model, call, started);
        self.store.step()?.record_usage(&record).await
    }

    /// The usage record of one model call, counted in the metrics as it is
    /// made.
    fn usage_record(
        &self,
        user: &str,
        persona: &Persona,
        model: &str,
        (usage, outcome): (Option<Usage>, CallOutcome),
        started: Instant,
    ) -> UsageRecord {
        let usage = usage.unwrap_or_default();
        count_model_call(model, outcome, usage, started.elapsed());
        UsageRecord {
            at: self.clock.now(),
            user: Some(user.to_string()),
            persona: persona.id.clone(),
            model: model.to_string(),
            kind: MessageKind::Chat,
            prompt_tokens: u64::from(usage.prompt_tokens),
            completion_tokens: u64::from(usage.completion_tokens),
            latency_ms: started.elapsed().as_millis() as u64,
            outcome,
        }
    }

    async fn keep_reply(
        &self,
        user: &str,
        persona: &Persona,
        text: &str,
        model: &str,
        interrupted: bool,
        disclaimers: &[String],
    ) -> Result<(), StoreError> {
        let message = self.reply_message(text, model, (interrupted, false), disclaimers);
        self.keep_reply_as(user, persona, &message, None).await
    }

    /// The persona's reply as it is stored, marked interrupted and
    /// truncated as the pair says.
    fn reply_message(
        &self,
        text: &str,
        model: &str,
        (interrupted, truncated): (bool, bool),
        disclaimers: &[String],
    ) -> Message {
        let mut message = Message::reply(text, self.clock.now(), model);
        message.interrupted = interrupted;
        message.truncated = truncated;
        message.disclaimers = disclaimers.to_vec();
        message
    }

    /// Stores the persona's reply, with the usage record of the call that
    /// wrote it when there is one (in the same transaction on PostgreSQL).
    async fn keep_reply_as(
        &self,
        user: &str,
        persona: &Persona,
        message: &Message,
        usage: Option<&UsageRecord>,
    ) -> Result<(), StoreError> {
        let policy = self.policy.for_persona(persona);
        let effects = AppendEffects {
            schedule: &|c| policy.due_window(c),
            topics: None,
            session: None,
        };
        let store = self.store.step()?;
        match usage {
            Some(usage) => {
                store
                    .append_with_usage(user, &persona.id, message, &effects, usage)
                    .await
            }
            None => store.append(user, &persona.id, message, &effects).await,
        }
        .map(|_| ())
    }

    /// The last step of a turn, in one hold of the store: the call's usage
    /// and the finished reply, kept together.
    async fn keep_finished(
        &self,
        user: &str,
        persona: &Persona,
        finished: &Finished<'_>,
        started: Instant,
    ) -> Result<(), StoreError> {
        let _step = self.store.step()?;
        let outcome = (finished.usage, CallOutcome::Completed);
        let usage = self.usage_record(user, persona, finished.model, outcome, started);
        let message = self.reply_message(
            finished.text,
            finished.model,
            (false, finished.truncated),
            finished.disclaimers,
        );
        self.keep_reply_as(user, persona, &message, Some(&usage))
            .await
    }
}

/// What the first step of a turn made of the user's message.
enum Taken {
    /// STOP or /start, answered (and not stored as chat).
    Control(Reply),
    /// Stored; this is the request for the model.
    Stored(ChatRequest),
}

/// A reply the model finished, to be stored.
struct Finished<'a> {
    /// The text.
    text: &'a str,
    /// The model that answered.
    model: &'a str,
    /// Tokens, if the backend said.
    usage: Option<Usage>,
    /// Cut at the length limit or by a filter.
    truncated: bool,
    /// Its disclaimers.
    disclaimers: &'a [String],
}

/// Counts a chat model call in the process's metrics: calls by model and
/// outcome, latency, tokens (numbers only, nothing about the user).
fn count_model_call(model: &str, outcome: CallOutcome, usage: Usage, latency: std::time::Duration) {
    let outcome = match outcome {
        CallOutcome::Completed => "completed",
        CallOutcome::Interrupted => "interrupted",
        CallOutcome::Failed => "failed",
    };
    let model = model.to_string();
    metrics::counter!("troupe_model_calls_total", "model" => model.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("troupe_model_latency_seconds", "model" => model.clone())
        .record(latency.as_secs_f64());
    metrics::counter!("troupe_tokens_total", "model" => model.clone(), "direction" => "prompt")
        .increment(u64::from(usage.prompt_tokens));
    metrics::counter!("troupe_tokens_total", "model" => model, "direction" => "completion")
        .increment(u64::from(usage.completion_tokens));
}

/// Strips what a terminal must not see (control characters but newlines
/// and tabs, bidi controls: see [`crate::terminal`]) and invisible
/// characters, trims, and checks the length.
pub fn clean_message(text: &str, max_chars: usize) -> Result<String, String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !crate::terminal::is_unprintable(*c) && !is_invisible(*c))
        .collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() {
        return Err("the message is empty; type something to send".to_string());
    }
    let length = cleaned.chars().count();
    if length > max_chars {
        return Err(format!(
            "the message is {length} characters long; the limit is {max_chars}, so split it into shorter messages"
        ));
    }
    Ok(cleaned)
}

/// Invisible characters a message does not need: zero-width spaces and
/// joiners, word joiners, the byte-order mark, soft hyphens. (The
/// bidirectional controls are unprintable: see [`crate::terminal`].)
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// Streams the model's reply into `text` (at most `room` characters: the
/// rest is never read), passing each piece to `on_delta`, until it ends or
/// `stop` resolves; gives the model that answered, its usage, and whether
/// the reply was cut (by the model's limit or `room`). An error or an early
/// end leaves what arrived in `text`.
pub(crate) async fn read_stream(
    model: &dyn ChatModel,
    request: &ChatRequest,
    (text, mut room): (&mut String, usize),
    on_delta: &mut (dyn FnMut(&str) + Send),
    mut stop: Stop<'_>,
) -> Result<(String, Option<Usage>, bool), ModelError> {
    let url = || {
        let info = model.info();
        info.base_url
            .clone()
            .unwrap_or_else(|| info.backend.clone())
    };
    let stopped = || ModelError::Interrupted {
        url: url(),
        detail: "you stopped it with Ctrl-C".to_string(),
    };
    let mut stream = tokio::select! {
        opened = model.stream(request) => opened?,
        _ = &mut stop => return Err(stopped()),
    };
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = &mut stop => return Err(stopped()),
        };
        let Some(event) = event else { break };
        match event? {
            StreamEvent::Delta(delta) => {
                // Shown, sent on and stored without escape sequences.
                let delta = crate::terminal::printable(&delta);
                let kept = within_room(&delta, &mut room);
                on_delta(kept);
                text.push_str(kept);
                if room == 0 {
                    // Cut at the limit: the rest is never read.
                    return Ok((model.info().model.clone(), None, true));
                }
            }
            StreamEvent::Done {
                usage,
                model: answered,
                finish,
            } => {
                if text.trim().is_empty() {
                    return Err(ModelError::Empty { url: url() });
                }
                return Ok((answered, usage, finish != FinishReason::Stop));
            }
        }
    }
    Err(ModelError::Interrupted {
        url: url(),
        detail: "the stream ended early".to_string(),
    })
}

/// The part of `delta` that fits in `room` characters, taking it from
/// `room`.
pub(crate) fn within_room<'a>(delta: &'a str, room: &mut usize) -> &'a str {
    let end = delta
        .char_indices()
        .nth(*room)
        .map_or(delta.len(), |(i, _)| i);
    *room -= delta[..end].chars().count();
    &delta[..end]
}

/// How many characters of a message over the size limit the crisis
/// protocol reads: twice the limit. A long farewell letter still gets
/// helplines, and a huge paste costs no more to read than this (the
/// console reads no more of a line than this, either).
pub fn crisis_window(max_message_chars: usize) -> usize {
    max_message_chars.saturating_mul(2)
}

/// The part of a message the safety reading looks at: its first
/// [`crisis_window`] characters, which is all of any message within the
/// limit. Found by counting, before anything reads the text.
pub(crate) fn within_window(text: &str, max_message_chars: usize) -> &str {
    let window = crisis_window(max_message_chars);
    text.char_indices()
        .nth(window)
        .map_or(text, |(end, _)| &text[..end])
}

/// The first `max_chars` characters of `text`, marked when cut.
pub fn within_limit(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// The messages a persona's model may see, in chat and in follow-ups: a
/// crisis message and Troupe's reply to it stay in the store and out of
/// every model request. (A crisis message stored before messages were
/// marked is known by the safety reply after it.)
pub(crate) fn shareable(recent: &[Message]) -> Vec<Message> {
    let is_safety = |i: usize| recent.get(i).is_some_and(|m| m.kind == MessageKind::Safety);
    recent
        .iter()
        .enumerate()
        .filter(|(i, m)| {
            let answered_by_safety = m.role == Role::User && is_safety(i + 1);
            !(m.kind == MessageKind::Crisis || is_safety(*i) || answered_by_safety)
        })
        .map(|(_, m)| m.clone())
        .collect()
}

/// The most recent messages that fit in `budget` characters, oldest first.
/// The last message (the user's) is always sent; interrupted replies are left
/// out, since the model never finished them.
fn within_budget(recent: &[Message], budget: usize) -> Vec<ChatMessage> {
    let mut kept = Vec::new();
    let mut used = 0;
    for message in recent.iter().rev().filter(|m| !m.interrupted) {
        let size = message.text.chars().count();
        if !kept.is_empty() && used + size > budget {
            break;
        }
        used += size;
        kept.push(ChatMessage {
            role: match message.role {
                Role::User => ChatRole::User,
                Role::Assistant => ChatRole::Assistant,
            },
            content: message.text.clone(),
        });
    }
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn control_characters_are_stripped_and_limits_enforced() {
        assert_eq!(
            clean_message("  hi\u{7}\tthere\n ", 100).unwrap(),
            "hi\tthere"
        );
        assert!(
            clean_message(" \u{1b} ", 100)
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            clean_message("abcdef", 5)
                .unwrap_err()
                .contains("limit is 5")
        );
    }

    /// A chat service over a sled store in `dir`, at a fixed time.
    fn service_in(dir: &std::path::Path) -> ChatService {
        ChatService::new(
            StoreAccess::on_demand(dir),
            Arc::new(Prompts::builtin().expect("the built-in templates load")),
            Clock::fixed(Utc::now()),
            ChatConfig::default(),
            FollowUpPolicy::default(),
            SafetyConfig::default(),
        )
    }

    #[tokio::test]
    async fn a_chat_request_carries_the_card_prompts_where_the_spec_places_them() {
        let dir = tempfile::tempdir().unwrap();
        let chat = service_in(dir.path());
        let mut chef = (*crate::persona::Personas::builtin().get("chef").unwrap()).clone();
        chef.card = Some(crate::persona::card::PersonaCard {
            system_prompt: Some("You play {{char}} for {{user}}. {{original}}".to_string()),
            post_history_instructions: Some("{{original}}Answer {{user}} in one line.".to_string()),
            ..Default::default()
        });
        let chef = Arc::new(chef);
        let conversation = chat
            .accept("ana", &chef, "What can I cook with rice?")
            .await
            .unwrap();
        let request = chat.request(&chef, &conversation).await.unwrap();
        assert!(
            request
                .system
                .starts_with("You play Chef Marco for User. You are Chef Marco. Stay in character"),
            "{}",
            request.system
        );
        assert!(
            request
                .system
                .contains("say honestly that you are an AI persona")
        );
        assert_eq!(
            request.post_history.as_deref(),
            Some("Answer User in one line.")
        );
        let last = request.messages.last().expect("the user's message");
        assert_eq!(
            (last.role, last.content.as_str()),
            (ChatRole::User, "What can I cook with rice?"),
            "the history still ends with the user's message"
        );

        let plain = crate::persona::Personas::builtin().get("chef").unwrap();
        let conversation = chat.accept("ana", &plain, "And with pasta?").await.unwrap();
        assert_eq!(
            chat.request(&plain, &conversation)
                .await
                .unwrap()
                .post_history,
            None
        );
    }

    #[test]
    fn history_keeps_the_newest_messages_within_budget() {
        let now = Utc::now();
        let mut interrupted = Message::reply("half", now, "m");
        interrupted.interrupted = true;
        let recent = vec![
            Message::from_user("a".repeat(50), now),
            Message::reply("b".repeat(30), now, "m"),
            interrupted,
            Message::from_user("c".repeat(30), now),
        ];
        let sent = within_budget(&recent, 70);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].content, "b".repeat(30));
        assert_eq!(sent[1].role, ChatRole::User);
        assert_eq!(
            within_budget(&recent, 0).len(),
            1,
            "the user's message always goes"
        );
    }
}
