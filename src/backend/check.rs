//! Whether backends answer: every backend of a deployment, the default one
//! first, and a tiny request to each, without retries. `troupe models
//! check` and `troupe doctor` both report these.

use std::time::{Duration, Instant};

use super::{Backend, BackendChoice, Environment, choose, named};
use crate::config::{Config, ConfigError};
use crate::model::resilient::RetryPolicy;
use crate::model::{ChatMessage, ChatRequest, ChatRole, ModelError};

/// Every backend a deployment can use.
#[derive(Debug, Clone)]
pub struct Lineup {
    /// The default backend's name, or `(none)` when the config names several
    /// and no `default_model`.
    pub default: String,
    /// Why it is the default (or why there is none), in words.
    pub reason: String,
    /// Every backend, the default first.
    pub backends: Vec<BackendChoice>,
}

/// The default backend (as a persona that names none gets it) and every
/// configured one.
pub fn lineup(
    config: &Config,
    flag: Option<&str>,
    environment: &Environment<'_>,
) -> Result<Lineup, ConfigError> {
    let mut backends = Vec::new();
    let (default, reason) = match choose(config, flag, None, environment) {
        Ok(choice) => {
            let found = (choice.name.clone(), choice.reason.clone());
            backends.push(choice);
            found
        }
        Err(e @ ConfigError::NoDefault { .. }) => ("(none)".to_string(), e.to_string()),
        Err(e) => return Err(e),
    };
    for configured in config.models.keys() {
        if *configured != default {
            backends.push(named(config, configured, "the config", None)?);
        }
    }
    Ok(Lineup {
        default,
        reason,
        backends,
    })
}

/// The env var a backend reads its API key from; `None` for one that needs
/// no key.
pub fn key_env(backend: &Backend) -> Option<&str> {
    match backend {
        Backend::OpenAi(s) | Backend::Anthropic(s) => Some(&s.api_key_env),
        Backend::Offline => None,
    }
}

/// How one backend answered the check.
#[derive(Debug)]
pub struct BackendCheck {
    /// The backend's name.
    pub name: String,
    /// How long the request took.
    pub latency: Duration,
    /// The start of its reply, or why there was none.
    pub outcome: Result<String, ModelError>,
}

/// Sends `choice` one tiny request, without retries, and times it.
pub async fn check(choice: &BackendChoice) -> BackendCheck {
    let mut once = choice.clone();
    once.retry = RetryPolicy {
        max_retries: 0,
        ..choice.retry
    };
    let request = ChatRequest {
        system: "You are a connectivity check.".to_string(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "Reply with the single word OK.".to_string(),
        }],
        post_history: None,
        temperature: Some(0.0),
        max_tokens: Some(5),
        persona: None,
        purpose: Default::default(),
    };
    let started = Instant::now();
    let result = match super::build_one(&once) {
        Ok(model) => model.complete(&request).await,
        Err(e) => Err(e),
    };
    BackendCheck {
        name: choice.name.clone(),
        latency: started.elapsed(),
        outcome: result.map(|done| done.text.chars().take(40).collect()),
    }
}
