//! Moderation where a deployment has a model: a second reader of each
//! user message beside the offline detector ([`crate::safety`]), run at the
//! same time as the persona's reply so that it costs no wait when the
//! message is clear.
//!
//! - [`config`]: `[safety.moderation]` — which check, and where it is served;
//! - [`openai`]: an OpenAI-compatible moderation endpoint;
//! - [`guard`]: Llama Guard 3 and ShieldGemma on an OpenAI-compatible chat
//!   server, and the yes/no answer the persona's own model gives;
//! - [`target`]: whether a message about violence has the user as the one
//!   threatened.
//!
//! A check gives [`Signals`] (self-harm, violence), which [`verdict`] turns
//! into a [`CrisisKind`] or nothing. The chat turn ([`crate::chat`]) holds
//! the reply until the verdict; a check that fails or runs out of time
//! leaves the offline detector to decide alone, and is logged (never with
//! the message or a key) and counted in `troupe_moderation_checks_total`.

pub mod config;
mod guard;
mod openai;
mod target;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

pub(crate) use config::check as check_config;
pub use config::{
    DEFAULT_TIMEOUT_MS, GuardTemplate, MODERATION_FIELDS, ModerationConfig, ModerationKind,
};

use crate::model::http::{HttpFailure, transport_error};
use crate::model::{ChatMessage, ChatRequest, ChatRole, ModelError, Purpose};
use crate::safety::SafetyConfig;

/// What a check saw in a message, before Troupe decides what it means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// Suicide or self-harm (OpenAI's `self-harm*`, Llama Guard's S11).
    pub self_harm: bool,
    /// Violence (OpenAI's `violence`, Llama Guard's S1), whoever it is done to.
    pub violence: bool,
}

/// Which crisis a check found: the offline detector's kinds, each with
/// its own reply and resources.
pub use crate::safety::CrisisKind;

/// What `signals` mean for the user's message `text`: self-harm is a
/// self-harm crisis; violence is immediate danger only when the user
/// writes of someone else doing it to them ([`target`]); anything else is
/// no crisis.
pub fn verdict(signals: Signals, text: &str) -> Option<CrisisKind> {
    if signals.self_harm {
        Some(CrisisKind::SelfHarm)
    } else if signals.violence && target::speaks_as_target(text) {
        Some(CrisisKind::Danger)
    } else {
        None
    }
}

/// Why a check gave no verdict. Its text never holds the user's message.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// No answer within `[safety] moderation_timeout_ms`.
    #[error("no answer within {0} ms")]
    TimedOut(u64),
    /// The server could not be reached, or refused or failed the request.
    #[error(transparent)]
    Call(#[from] ModelError),
    /// The server answered something Troupe cannot read.
    #[error("the answer from {url} cannot be read: {detail}")]
    Unreadable {
        /// The server.
        url: String,
        /// What was wrong (never the message, never the answer's text).
        detail: String,
    },
}

impl CheckError {
    /// The outcome label in `troupe_moderation_checks_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::TimedOut(_) => "timeout",
            Self::Call(_) | Self::Unreadable { .. } => "failed",
        }
    }

    /// What went wrong, without anything a server wrote (a server's error
    /// text may quote the message): safe to log.
    pub fn summary(&self) -> String {
        match self {
            Self::TimedOut(ms) => format!("no answer within {ms} ms"),
            Self::Unreadable { url, detail } => format!("unreadable answer from {url}: {detail}"),
            Self::Call(error) => match error {
                ModelError::Unreachable { url, .. } => format!("{url} could not be reached"),
                ModelError::Timeout { url, .. } => format!("{url} timed out"),
                ModelError::Unauthorized {
                    url,
                    key_env,
                    status,
                } => format!("{url} refused the key in {key_env} (HTTP {status})"),
                ModelError::BadKey { key_env } => format!("{key_env} does not hold a usable key"),
                ModelError::RateLimited { url, .. } => format!("{url} is rate-limiting (HTTP 429)"),
                ModelError::Server { url, status, .. }
                | ModelError::Rejected { url, status, .. } => {
                    format!("{url} answered HTTP {status}")
                }
                ModelError::Protocol { url, .. } => {
                    format!("{url} sent a reply Troupe cannot read")
                }
                ModelError::Interrupted { url, .. } => format!("the answer from {url} broke off"),
                ModelError::Empty { url } => format!("{url} gave an empty answer"),
            },
        }
    }
}

/// A deployment's moderation check, built once from its config and shared
/// by every turn (its HTTP client keeps connections open between checks).
#[derive(Debug)]
pub struct Moderator {
    /// The check and where it is served.
    config: ModerationConfig,
    /// How long a reply waits for it.
    timeout: Duration,
    /// Built on first use; only the service kinds use it.
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl Moderator {
    /// The check `safety` asks for (`[safety.moderation]`, or `model_check
    /// = true`), or `None`.
    pub fn from_config(safety: &SafetyConfig) -> Option<Self> {
        Some(Self {
            config: ModerationConfig::effective(safety)?,
            timeout: Duration::from_millis(safety.moderation_timeout_ms.max(1)),
            client: OnceLock::new(),
        })
    }

    /// Which check this is.
    pub fn kind(&self) -> ModerationKind {
        self.config.kind
    }

    /// How long a reply waits for the check.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Asks the moderation endpoint or guard model about `text`; for
    /// [`ModerationKind::Persona`] the chat turn asks the persona's model
    /// itself (see [`persona_request`]).
    pub async fn ask_service(&self, text: &str) -> Result<Signals, CheckError> {
        let url = self.base_url();
        match self.config.kind {
            ModerationKind::OpenAi => {
                let model = self
                    .config
                    .model
                    .as_deref()
                    .unwrap_or(config::OPENAI_MODERATION_MODEL);
                let body = self
                    .post("moderations", &openai::request_body(model, text))
                    .await?;
                openai::read_response(&body, self.config.threshold)
                    .map_err(|detail| CheckError::Unreadable { url, detail })
            }
            ModerationKind::LlamaGuard => {
                let prompt = match self.config.template {
                    GuardTemplate::Troupe => guard::llama_guard_prompt(text),
                    GuardTemplate::Server => text.to_string(),
                };
                let answer = self.ask_guard(&prompt).await?;
                guard::read_llama_guard(&answer)
                    .map_err(|detail| CheckError::Unreadable { url, detail })
            }
            ModerationKind::ShieldGemma => {
                let answer = self.ask_guard(&guard::shieldgemma_prompt(text)).await?;
                let violates = guard::read_yes_no(&answer)
                    .map_err(|detail| CheckError::Unreadable { url, detail })?;
                Ok(one_policy(violates, text))
            }
            ModerationKind::Persona => Err(CheckError::Unreadable {
                url: "the persona's model".to_string(),
                detail: "the persona's model is asked by the chat turn".to_string(),
            }),
        }
    }

    /// The guard model's answer to `prompt`, sent as the one user message.
    async fn ask_guard(&self, prompt: &str) -> Result<String, CheckError> {
        let body = json!({
            "model": self.config.model.as_deref().unwrap_or_default(),
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": 20,
            "stream": false,
        });
        let answer = self.post("chat/completions", &body).await?;
        answer
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| CheckError::Unreadable {
                url: self.base_url(),
                detail: "it has no choices[0].message.content".to_string(),
            })
    }

    /// POSTs `body` to `{base_url}/{path}` and reads the JSON answer.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, CheckError> {
        let base = self.base_url();
        let url = format!("{}/{path}", base.trim_end_matches('/'));
        let client = self.client().map_err(|detail| ModelError::Protocol {
            url: base.clone(),
            detail,
        })?;
        let mut request = client.post(&url).json(body);
        if let Some(key) = self.api_key()? {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&e, &base))?;
        if !response.status().is_success() {
            let key_env = self.key_env().unwrap_or("the key's variable");
            return Err(HttpFailure::read(response)
                .await
                .into_error(&base, key_env)
                .into());
        }
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(&e, &base))?;
        serde_json::from_str(&text).map_err(|_| CheckError::Unreadable {
            url: base,
            detail: "it is not JSON".to_string(),
        })
    }

    /// The server's base URL.
    fn base_url(&self) -> String {
        match (&self.config.base_url, self.config.kind) {
            (Some(url), _) => url.clone(),
            (None, ModerationKind::OpenAi) => config::OPENAI_MODERATION_BASE_URL.to_string(),
            (None, _) => "the moderation server".to_string(),
        }
    }

    /// The NAME of the key's env var, if the check uses one.
    fn key_env(&self) -> Option<&str> {
        match (&self.config.api_key_env, self.config.kind) {
            (Some(name), _) => Some(name),
            (None, ModerationKind::OpenAi) => Some(config::OPENAI_MODERATION_KEY_ENV),
            (None, _) => None,
        }
    }

    /// The key from the env var the config names (none when unset or
    /// empty: a local guard server needs none), remembered for redaction.
    fn api_key(&self) -> Result<Option<String>, ModelError> {
        let Some(name) = self.key_env() else {
            return Ok(None);
        };
        let key = std::env::var(name).unwrap_or_default();
        let key = key.trim();
        crate::secrets::remember(key);
        if key.is_empty() {
            return Ok(None);
        }
        if !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ModelError::BadKey {
                key_env: name.to_string(),
            });
        }
        Ok(Some(key.to_string()))
    }

    /// The HTTP client, built on first use.
    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(self.timeout)
                    .build()
                    .map_err(|e| format!("could not set up HTTP: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A yes to a policy covering both crises, told apart by who is harmed.
fn one_policy(violates: bool, text: &str) -> Signals {
    let danger = violates && target::speaks_as_target(text);
    Signals {
        self_harm: violates && !danger,
        violence: danger,
    }
}

/// The instruction for the persona's own model, asked yes or no.
const PERSONA_CHECK: &str = "You are a safety classifier. The user's message is from a chat with a lifestyle assistant, in any language. \
Answer YES if it expresses suicidal thoughts, a wish to die or disappear for good, a plan or means to end one's life, or self-harm; \
otherwise answer NO. Jokes and hyperbole about food, tiredness or embarrassment are NO. Answer with one word: YES or NO.";

/// The request that asks the persona's own model about `text`.
pub fn persona_request(text: &str) -> ChatRequest {
    ChatRequest {
        system: PERSONA_CHECK.to_string(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: text.to_string(),
        }],
        post_history: None,
        temperature: Some(0.0),
        max_tokens: Some(3),
        persona: None,
        purpose: Purpose::SafetyCheck,
    }
}

/// Reads the persona's model's answer: YES is a self-harm signal.
pub fn read_persona_answer(answer: &str, url: &str) -> Result<Signals, CheckError> {
    let yes = guard::read_yes_no(answer).map_err(|detail| CheckError::Unreadable {
        url: url.to_string(),
        detail,
    })?;
    Ok(Signals {
        self_harm: yes,
        violence: false,
    })
}

/// Counts a check in the process's metrics (by kind, outcome and, when
/// flagged, crisis kind) and logs one that gave no verdict, without the
/// message or any key: the offline layers decided alone.
pub fn record(
    kind: ModerationKind,
    result: &Result<Option<CrisisKind>, CheckError>,
    took: Duration,
) {
    let outcome = match result {
        Ok(None) => "clear",
        Ok(Some(_)) => "flagged",
        Err(error) => error.outcome(),
    };
    metrics::counter!("troupe_moderation_checks_total", "kind" => kind.name(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("troupe_moderation_latency_seconds", "kind" => kind.name())
        .record(took.as_secs_f64());
    match result {
        Ok(Some(crisis)) => {
            tracing::info!(
                moderation = kind.name(),
                crisis = crisis.name(),
                "the moderation check flagged a message"
            );
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(
            moderation = kind.name(),
            outcome,
            problem = %error.summary(),
            "the moderation check gave no verdict; the offline detector decided alone"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_harm_is_a_self_harm_crisis_whatever_else_is_flagged() {
        let both = Signals {
            self_harm: true,
            violence: true,
        };
        assert_eq!(verdict(both, "he will kill me"), Some(CrisisKind::SelfHarm));
    }

    #[test]
    fn violence_is_immediate_danger_only_when_the_user_is_the_target() {
        let violence = Signals {
            self_harm: false,
            violence: true,
        };
        assert_eq!(
            verdict(violence, "my ex says he will kill me"),
            Some(CrisisKind::Danger)
        );
        assert_eq!(verdict(violence, "I could strangle my brother"), None);
        assert_eq!(verdict(Signals::default(), "he will kill me"), None);
    }

    #[test]
    fn a_yes_to_the_shared_policy_is_told_apart_by_who_is_harmed() {
        assert_eq!(
            verdict(
                one_policy(true, "I want to end it all"),
                "I want to end it all"
            ),
            Some(CrisisKind::SelfHarm)
        );
        let danger = "they're waiting outside to hurt me";
        assert_eq!(
            verdict(one_policy(true, danger), danger),
            Some(CrisisKind::Danger)
        );
        assert_eq!(one_policy(false, danger), Signals::default());
    }

    #[test]
    fn the_persona_s_model_is_asked_yes_or_no_and_its_answer_read_tolerantly() {
        let request = persona_request("I feel like a ghost");
        assert!(request.system.contains("safety classifier"));
        assert_eq!(request.messages[0].content, "I feel like a ghost");
        assert_eq!(request.purpose, Purpose::SafetyCheck);
        assert!(read_persona_answer(" yes", "u").unwrap().self_harm);
        assert!(!read_persona_answer("NO.", "u").unwrap().self_harm);
        assert!(read_persona_answer("maybe", "u").is_err());
    }

    #[test]
    fn a_failed_check_is_summed_up_without_what_the_server_wrote() {
        let error = CheckError::Call(ModelError::Rejected {
            url: "http://127.0.0.1:9/v1".into(),
            status: 400,
            detail: "input 'I want to die' is too long".into(),
        });
        assert_eq!(error.summary(), "http://127.0.0.1:9/v1 answered HTTP 400");
        assert_eq!(error.outcome(), "failed");
        assert_eq!(CheckError::TimedOut(1500).outcome(), "timeout");
    }
}
