//! Each model backend: reachable, and answering a tiny request (the check
//! of `troupe models check`), with what to do when it does not.

use super::{Check, Finding};
use crate::backend::{self, Backend, BackendCheck, BackendChoice, EnvLookup, Environment};
use crate::config::Config;
use crate::model::ModelError;

/// Every backend of `config` (the default one first), checked at once.
pub(super) async fn check_backends(
    config: &Config,
    flag: Option<&str>,
    env: EnvLookup<'_>,
) -> Vec<Finding> {
    let ollama = || backend::probe_ollama(env);
    let environment = Environment {
        env,
        ollama: &ollama,
    };
    let lineup = match backend::lineup(config, flag, &environment) {
        Ok(lineup) => lineup,
        Err(e) => {
            return vec![Finding::problem(
                Check::Backend,
                e.to_string(),
                "name an existing backend, or add default_model = \"NAME\" at the top of the config",
            )];
        }
    };
    let checks = futures::future::join_all(lineup.backends.iter().map(backend::check)).await;
    lineup
        .backends
        .iter()
        .zip(checks)
        .map(|(choice, check)| {
            let default = (choice.name == lineup.default).then_some(lineup.reason.as_str());
            finding(choice, check, default, env)
        })
        .collect()
}

/// One backend's finding; `default` is why it is the default, when it is.
fn finding(
    choice: &BackendChoice,
    check: BackendCheck,
    default: Option<&str>,
    env: EnvLookup<'_>,
) -> Finding {
    let role = default.map_or_else(String::new, |why| format!(" (the default: {why})"));
    let millis = check.latency.as_millis();
    let finding = match check.outcome {
        Ok(_) if matches!(choice.backend, Backend::Offline) => Finding::ok(
            Check::Backend,
            format!(
                "offline: replies are scripted from the persona files, no model is connected{role}"
            ),
        ),
        Ok(_) => Finding::ok(
            Check::Backend,
            format!("{} answered in {millis} ms{role}", describe(choice)),
        ),
        Err(error) => Finding::problem(
            Check::Backend,
            format!("{} failed: {error}{role}", describe(choice)),
            fix(choice, &error, env),
        ),
    };
    finding.named(&choice.name)
}

/// The provider, model and server of a backend.
fn describe(choice: &BackendChoice) -> String {
    match &choice.backend {
        Backend::OpenAi(s) | Backend::Anthropic(s) => format!("{} at {}", s.model, s.base_url),
        Backend::Offline => "offline".to_string(),
    }
}

/// What to do about a backend that failed its check.
fn fix(choice: &BackendChoice, error: &ModelError, env: EnvLookup<'_>) -> String {
    let name = &choice.name;
    let key_env = backend::key_env(&choice.backend).unwrap_or("the key's variable");
    let key_missing = env(key_env).is_none();
    let where_url = match name.as_str() {
        "env" => "OPENAI_BASE_URL".to_string(),
        "ollama" => "OLLAMA_HOST".to_string(),
        _ => format!("base_url in [models.{name}] of the config file"),
    };
    // A server on this machine (Ollama, llama.cpp) usually needs no key.
    let remote = match &choice.backend {
        Backend::OpenAi(s) | Backend::Anthropic(s) => !["://127.0.0.1", "://localhost", "://[::1]"]
            .iter()
            .any(|local| s.base_url.contains(local)),
        Backend::Offline => false,
    };
    let also_key = if key_missing && remote {
        format!("; {key_env} is not set either, and this server needs a key")
    } else {
        String::new()
    };
    match error {
        ModelError::Unauthorized { .. } if key_missing => format!(
            "set {key_env} to your API key (export {key_env}=…); the key never goes in the config"
        ),
        ModelError::Unauthorized { .. } => format!("set {key_env} to a valid API key"),
        ModelError::BadKey { .. } => {
            format!("set {key_env} to the key alone, with no spaces or quotes")
        }
        ModelError::Unreachable { .. } => {
            format!("start the model server, or correct {where_url}{also_key}")
        }
        ModelError::Timeout { .. } => format!(
            "check that the server is up and not overloaded; raise connect_timeout_secs or read_timeout_secs in [models.{name}] for a slow one{also_key}"
        ),
        ModelError::Rejected { .. } => format!(
            "check the model id (model in [models.{name}], or TROUPE_MODEL) against the models the server offers{also_key}"
        ),
        ModelError::Protocol { .. } => format!(
            "check that {where_url} points at the API itself (an OpenAI-compatible one usually ends in /v1) and that provider matches it"
        ),
        _ => "try again in a moment; if it keeps failing, check the server's status".to_string(),
    }
}
