//! A turn with a moderation check ([`crate::moderation`]): the check and
//! the persona's reply run at the same time, and the reply is held — not
//! shown, not streamed, not stored — until the check passes or its time
//! budget runs out. A flagged message gets the crisis protocol and the
//! reply is dropped; a clear one, or a check with no verdict, lets the
//! held text through at once and the rest as it comes.
//!
//! With a check on, the user's message is stored when the check lets the
//! reply through (still before any of the reply is shown), so a message
//! found to be a crisis is stored as one, with no topic taken from it.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use super::{ChatService, Reply, Stop, Taken, TurnError, read_stream, shareable, within_budget};
use crate::model::{ChatModel, ChatRequest, Completion, ModelError, Usage};
use crate::moderation::{self, CheckError, CrisisKind, ModerationKind, Moderator, Signals};
use crate::persona::Persona;
use crate::store::{CallOutcome, Message, MessageKind, UsageRecord};

/// How a streamed reply read under a check ended.
pub(super) enum Held {
    /// The check found a crisis: nothing was shown, and the reply (as far
    /// as it got: `ended` is `None` when it was cut off) is dropped.
    Flagged {
        /// The crisis found.
        kind: CrisisKind,
        /// How the reply's call ended, when it did.
        ended: Option<Streamed>,
    },
    /// The check let the reply through: everything it wrote was shown.
    Shown(Streamed),
}

/// How [`read_stream`] ended: the model that answered, its usage and
/// whether the reply was cut, or the error.
pub(super) type Streamed = Result<(String, Option<Usage>, bool), ModelError>;

impl ChatService {
    /// The check that applies to a turn with `model`, if any: the
    /// persona's own model is not asked when it is the offline one.
    pub(super) fn moderation_for(&self, model: &dyn ChatModel) -> Option<Arc<Moderator>> {
        let moderator = self.moderator.as_ref()?;
        let offline = model.info().provider == "offline";
        (moderator.kind() != ModerationKind::Persona || !offline).then(|| Arc::clone(moderator))
    }

    /// Runs the check on `kept` within its time budget, counts it and
    /// logs a failure; the crisis it found, if any. A check with no verdict
    /// is `None`: the offline detector, which already passed the message,
    /// decides alone. `user` is `None` for a stateless turn.
    pub(super) async fn moderate(
        &self,
        moderator: &Moderator,
        model: &dyn ChatModel,
        (user, persona): (Option<&str>, &Persona),
        kept: &str,
    ) -> Option<CrisisKind> {
        let started = Instant::now();
        let asked = async {
            let signals = match moderator.kind() {
                ModerationKind::Persona => self.ask_persona_model(model, user, persona, kept).await,
                _ => moderator.ask_service(kept).await,
            }?;
            Ok(moderation::verdict(signals, kept))
        };
        let result = match tokio::time::timeout(moderator.timeout(), asked).await {
            Ok(result) => result,
            Err(_) => Err(CheckError::TimedOut(moderator.timeout().as_millis() as u64)),
        };
        moderation::record(moderator.kind(), &result, started.elapsed());
        result.ok().flatten()
    }

    /// Asks the persona's own model whether `text` expresses suicidal
    /// ideation or self-harm, recording the call's usage.
    async fn ask_persona_model(
        &self,
        model: &dyn ChatModel,
        user: Option<&str>,
        persona: &Persona,
        text: &str,
    ) -> Result<Signals, CheckError> {
        let started = Instant::now();
        let answer = model.complete(&moderation::persona_request(text)).await;
        self.record_check_usage(model, user, persona, &answer, started)
            .await;
        let url = model.info().base_url.clone().unwrap_or_default();
        moderation::read_persona_answer(&answer?.text, &url)
    }

    /// Records the persona model's check as a safety call in the usage log.
    async fn record_check_usage(
        &self,
        model: &dyn ChatModel,
        user: Option<&str>,
        persona: &Persona,
        answer: &Result<Completion, ModelError>,
        started: Instant,
    ) {
        let usage = answer
            .as_ref()
            .ok()
            .and_then(|a| a.usage)
            .unwrap_or_default();
        let record = UsageRecord {
            at: self.clock.now(),
            user: user.map(str::to_string),
            persona: persona.id.clone(),
            model: answer
                .as_ref()
                .map_or_else(|_| model.info().model.clone(), |a| a.model.clone()),
            kind: MessageKind::Safety,
            prompt_tokens: u64::from(usage.prompt_tokens),
            completion_tokens: u64::from(usage.completion_tokens),
            latency_ms: started.elapsed().as_millis() as u64,
            outcome: if answer.is_ok() {
                CallOutcome::Completed
            } else {
                CallOutcome::Failed
            },
        };
        let recorded = match self.store.step() {
            Ok(store) => store.record_usage(&record).await,
            Err(error) => Err(error),
        };
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "could not record the moderation check's usage");
        }
    }

    /// The first step of a checked turn, in one hold of the store: checks
    /// access, answers STOP and /start, or builds the request for the
    /// model with the user's message, which is not stored yet.
    pub(super) async fn prepare_message(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        text: &str,
    ) -> Result<Taken, TurnError> {
        let _step = self.store.step()?;
        self.check_access(user, persona).await?;
        if let Some(reply) = self.control_reply(user, persona, text).await? {
            return Ok(Taken::Control(reply));
        }
        let text =
            super::clean_message(text, self.limits.max_message_chars).map_err(TurnError::Input)?;
        Ok(Taken::Stored(
            self.request_before_storing(user, persona, text).await?,
        ))
    }

    /// The request for the persona's reply to `text`, read from the
    /// conversation as [`ChatService::request`] does, with `text` added as
    /// the newest message.
    async fn request_before_storing(
        &self,
        user: &str,
        persona: &Arc<Persona>,
        text: String,
    ) -> Result<ChatRequest, TurnError> {
        let now = self.clock.now();
        let earlier = self.limits.history_messages.max(1) - 1;
        let mut recent = {
            let store = self.store.step()?;
            match store.conversation(user, &persona.id).await? {
                Some(conversation) if earlier > 0 => {
                    store.recent_messages(&conversation, earlier).await?
                }
                _ => Vec::new(),
            }
        };
        let previous = recent.last().map(|m| m.at);
        recent.push(Message::from_user(text, now));
        let messages = within_budget(&shareable(&recent), self.limits.history_chars);
        let scene = self.scene(Some(user), persona, previous, &messages).await?;
        self.chat_request(persona, &scene, messages)
    }

    /// A stored, streamed turn under `moderator`: the reply is held until
    /// the check on `kept` lets it through.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn checked_turn(
        &self,
        moderator: &Moderator,
        (user, persona): (&str, &Arc<Persona>),
        model: &dyn ChatModel,
        (text, kept): (&str, &str),
        on_delta: &mut (dyn FnMut(&str) + Send),
        stop: Stop<'_>,
    ) -> Result<Reply, TurnError> {
        let request = match self.prepare_message(user, persona, text).await? {
            Taken::Control(reply) => return Ok(reply),
            Taken::Stored(request) => request,
        };
        let started = Instant::now();
        let check = self.moderate(moderator, model, (Some(user), persona), kept);
        let release = async { self.accept(user, persona, text).await.map(|_| ()) };
        let mut reply = String::new();
        let room = self.limits.max_reply_chars;
        let held = hold_stream(
            check,
            (model, &request),
            (&mut reply, room),
            on_delta,
            release,
            stop,
        )
        .await?;
        match held {
            Held::Flagged { kind, ended } => {
                let (answered, usage, outcome) = discarded(ended, model);
                let record = (usage, outcome);
                if let Err(e) = self
                    .record_usage(user, persona, &answered, record, started)
                    .await
                {
                    tracing::warn!(error = %e, "could not record a discarded model call");
                }
                self.crisis_protocol(user, persona, kept, kind).await
            }
            Held::Shown(ended) => {
                let asked = request.messages.last().map_or("", |m| m.content.as_str());
                self.finish_stream(user, persona, model, (asked, reply), ended, started)
                    .await
            }
        }
    }

    /// A stored turn answered in one piece under `moderator`: the check on
    /// `kept` and the model's reply run together; the reply is kept only
    /// once the check lets it through.
    pub(super) async fn checked_whole(
        &self,
        moderator: &Moderator,
        (user, persona): (&str, &Arc<Persona>),
        model: &dyn ChatModel,
        (text, kept): (&str, &str),
    ) -> Result<Reply, TurnError> {
        let request = match self.prepare_message(user, persona, text).await? {
            Taken::Control(reply) => return Ok(reply),
            Taken::Stored(request) => request,
        };
        let started = Instant::now();
        let check = self.moderate(moderator, model, (Some(user), persona), kept);
        let work = model.complete(&request);
        tokio::pin!(check, work);
        let (flagged, completion) = tokio::select! {
            flagged = &mut check => match flagged {
                Some(kind) => (Some(kind), None),
                None => (None, Some(work.await)),
            },
            completion = &mut work => (check.await, Some(completion)),
        };
        if let Some(kind) = flagged {
            let ended = completion.map(|c| c.map(|c| (c.model, c.usage, false)));
            let (answered, usage, outcome) = discarded(ended, model);
            if let Err(e) = self
                .record_usage(user, persona, &answered, (usage, outcome), started)
                .await
            {
                tracing::warn!(error = %e, "could not record a discarded model call");
            }
            return self.crisis_protocol(user, persona, kept, kind).await;
        }
        self.accept(user, persona, text).await?;
        let completion = completion.expect("the reply is awaited whenever the check passes");
        let asked = request.messages.last().map_or("", |m| m.content.as_str());
        self.finish_whole(user, persona, model, asked, completion, started)
            .await
    }
}

/// What a dropped reply's call comes to in the usage log: the model, its
/// tokens when it finished, and its outcome (interrupted when Troupe cut
/// it off).
pub(super) fn discarded(
    ended: Option<Streamed>,
    model: &dyn ChatModel,
) -> (String, Option<Usage>, CallOutcome) {
    match ended {
        Some(Ok((answered, usage, _))) => (answered, usage, CallOutcome::Completed),
        Some(Err(_)) => (model.info().model.clone(), None, CallOutcome::Failed),
        None => (model.info().model.clone(), None, CallOutcome::Interrupted),
    }
}

/// Streams the model's reply to `request` into `text` while `check` runs,
/// holding every piece until the check gives no crisis; then `release`
/// is awaited (to store the user's message), the held text goes to `on_delta`
/// at once and the rest as it arrives. A crisis drops the stream and
/// shows nothing. `stop` ends the reply, not the check.
pub(super) async fn hold_stream(
    check: impl Future<Output = Option<CrisisKind>> + Send,
    (model, request): (&dyn ChatModel, &ChatRequest),
    (text, room): (&mut String, usize),
    on_delta: &mut (dyn FnMut(&str) + Send),
    release: impl Future<Output = Result<(), TurnError>> + Send,
    stop: Stop<'_>,
) -> Result<Held, TurnError> {
    let (sender, mut pieces) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut send = |delta: &str| {
        let _ = sender.send(delta.to_string());
    };
    let reading = read_stream(model, request, (text, room), &mut send, stop);
    tokio::pin!(check, reading, release);
    let mut passed = false;
    let mut held = String::new();
    let mut ended: Option<Streamed> = None;
    loop {
        tokio::select! {
            biased;
            flagged = &mut check, if !passed => {
                if let Some(kind) = flagged {
                    return Ok(Held::Flagged { kind, ended });
                }
                // Awaited once: this branch is off once `passed`.
                release.as_mut().await?;
                passed = true;
                if !held.is_empty() {
                    on_delta(&std::mem::take(&mut held));
                }
            }
            Some(piece) = pieces.recv() => {
                if passed {
                    on_delta(&piece);
                } else {
                    held.push_str(&piece);
                }
            }
            streamed = &mut reading, if ended.is_none() => ended = Some(streamed),
        }
        if passed && ended.is_some() {
            break;
        }
    }
    // The reply's last pieces may still wait in the channel.
    while let Ok(piece) = pieces.try_recv() {
        on_delta(&piece);
    }
    Ok(Held::Shown(
        ended.expect("the loop ends only once the reply has"),
    ))
}
