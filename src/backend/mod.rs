//! Choosing and building model backends from the config and the environment.
//!
//! A backend is named by `--model`, else by the persona's `[model] backend`,
//! else by `default_model` (or the config's only backend). With nothing
//! configured, the environment decides: `OPENAI_API_KEY`/`OPENAI_BASE_URL`
//! → the OpenAI-compatible API; else `ANTHROPIC_API_KEY` → Anthropic; else an
//! Ollama server answering on `OLLAMA_HOST` (default `127.0.0.1:11434`) →
//! its OpenAI-compatible API with its first model (or `TROUPE_MODEL`); else
//! the offline backend. `OPENAI_BASE_URL` and `TROUPE_MODEL` also adjust the
//! default backend (defaults → file → env → flags).

mod check;
mod ollama;

pub use check::{BackendCheck, Lineup, check, key_env, lineup};
pub use ollama::{OLLAMA_DEFAULT_HOST, OllamaServer, probe_ollama};

use std::sync::Arc;
use std::time::Duration;

use crate::config::{
    BackendConfig, Config, ConfigError, OPENAI_DEFAULT_BASE_URL, OPENAI_DEFAULT_MODEL,
};
use crate::model::anthropic::{
    ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_DEFAULT_MODEL, AnthropicModel, AnthropicSettings,
};
use crate::model::http::HttpSettings;
use crate::model::offline::OfflineModel;
use crate::model::openai::{OpenAiModel, OpenAiSettings};
use crate::model::resilient::{Fallback, Resilient, RetryPolicy};
use crate::model::shapes::TokenLimitField;
use crate::model::{ChatModel, ModelError};

/// Seconds to wait for a connection, for a backend that sets no
/// `connect_timeout_secs`.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;

/// The longest silence, in seconds, while waiting for (more of) a reply, for
/// a backend that sets no `read_timeout_secs`.
pub const DEFAULT_READ_TIMEOUT_SECS: u64 = 60;

/// A backend's connection settings, by provider.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// An OpenAI-compatible server.
    OpenAi(OpenAiSettings),
    /// The Anthropic Messages API.
    Anthropic(AnthropicSettings),
    /// Scripted offline replies.
    Offline,
}

impl Backend {
    /// Uses model id `name` instead of the configured one (a persona's
    /// `[model] name`); the offline backend has no model to change.
    pub fn set_model(&mut self, name: &str) {
        match self {
            Backend::OpenAi(settings) | Backend::Anthropic(settings) => {
                settings.model = name.to_string();
            }
            Backend::Offline => {}
        }
    }
}

/// A backend chosen for a persona, with everything needed to build it.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendChoice {
    /// The backend's name (`main`, or `env`, `ollama`, `offline`).
    pub name: String,
    /// Its connection settings.
    pub backend: Backend,
    /// How hard to try it.
    pub retry: RetryPolicy,
    /// Backends to try, in order, when it fails after its retries.
    pub fallback: Vec<String>,
    /// Why it was chosen, in words.
    pub reason: String,
}

/// Reads one env var; a seam so tests pin precedence without touching the
/// process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, ignoring empty values.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// How the environment is consulted: env vars and the Ollama probe.
pub struct Environment<'a> {
    /// Env vars.
    pub env: EnvLookup<'a>,
    /// Looks for a local Ollama server (called only when nothing else is set).
    pub ollama: &'a dyn Fn() -> Option<OllamaServer>,
}

impl BackendChoice {
    fn new(name: &str, backend: Backend, config: Option<&BackendConfig>, reason: String) -> Self {
        let defaults = RetryPolicy::default();
        let retry = match config {
            Some(c) => RetryPolicy {
                max_retries: c.max_retries.unwrap_or(defaults.max_retries),
                budget: c
                    .retry_budget_secs
                    .map_or(defaults.budget, Duration::from_secs),
                first_token: c
                    .first_token_timeout_secs
                    .map_or(defaults.first_token, Duration::from_secs),
                ..defaults
            },
            None => defaults,
        };
        Self {
            name: name.to_string(),
            backend,
            retry,
            fallback: config.map(|c| c.fallback.clone()).unwrap_or_default(),
            reason,
        }
    }
}

/// Chooses the backend for a persona.
pub fn choose(
    config: &Config,
    flag: Option<&str>,
    persona_backend: Option<&str>,
    environment: &Environment<'_>,
) -> Result<BackendChoice, ConfigError> {
    if let Some(name) = flag {
        return named(config, name, "--model", None);
    }
    if let Some(name) = persona_backend {
        return named(config, name, "the persona's [model] backend", None);
    }
    // From here on it may redirect the backend: checked like a base_url.
    if let Some(Err(problem)) = (environment.env)("OPENAI_BASE_URL")
        .as_deref()
        .map(crate::config::base_url)
    {
        return Err(ConfigError::BadEnv {
            var: "OPENAI_BASE_URL",
            problem,
        });
    }
    if let Some(name) = &config.default_model {
        return named(
            config,
            name,
            "default_model in the config",
            Some(environment.env),
        );
    }
    if config.models.len() == 1
        && let Some(name) = config.models.keys().next()
    {
        return named(
            config,
            name,
            "the only backend in the config",
            Some(environment.env),
        );
    }
    if config.models.len() > 1 {
        return Err(ConfigError::NoDefault {
            known: config.models.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    from_environment(environment)
}

/// The backend called `name`; `env` adjusts it when it is the default one.
pub fn named(
    config: &Config,
    name: &str,
    why: &str,
    env: Option<EnvLookup<'_>>,
) -> Result<BackendChoice, ConfigError> {
    let reason = format!("\"{name}\" was chosen by {why}");
    let Some(backend) = config.models.get(name) else {
        if name == "offline" {
            return Ok(BackendChoice::new(name, Backend::Offline, None, reason));
        }
        let mut known: Vec<_> = config.models.keys().cloned().collect();
        known.push("offline".to_string());
        return Err(ConfigError::UnknownBackend {
            name: name.to_string(),
            why: format!("named by {why}"),
            known: known.join(", "),
        });
    };
    let settings = match backend.provider.as_str() {
        "offline" => Backend::Offline,
        "anthropic" => anthropic(name, backend, env),
        _ => openai(name, backend, env),
    };
    Ok(BackendChoice::new(name, settings, Some(backend), reason))
}

/// With nothing configured: OpenAI env vars, then Anthropic's, then a local
/// Ollama, then offline.
fn from_environment(environment: &Environment<'_>) -> Result<BackendChoice, ConfigError> {
    let env = environment.env;
    let base_url = env("OPENAI_BASE_URL");
    if base_url.is_some() || env("OPENAI_API_KEY").is_some() {
        let reason = if base_url.is_some() {
            "OPENAI_BASE_URL is set"
        } else {
            "OPENAI_API_KEY is set"
        };
        let settings = openai("env", &BackendConfig::default(), Some(env));
        return Ok(BackendChoice::new(
            "env",
            settings,
            None,
            reason.to_string(),
        ));
    }
    if env("ANTHROPIC_API_KEY").is_some() {
        let settings = anthropic("env", &BackendConfig::default(), Some(env));
        let reason = "ANTHROPIC_API_KEY is set (and no OpenAI variable is)".to_string();
        return Ok(BackendChoice::new("env", settings, None, reason));
    }
    if let Some(server) = (environment.ollama)() {
        let model = env("TROUPE_MODEL")
            .or(server.first_model.clone())
            .unwrap_or_else(|| "llama3.2".to_string());
        let backend = BackendConfig {
            provider: "openai".to_string(),
            base_url: Some(server.base_url.clone()),
            model: Some(model),
            ..BackendConfig::default()
        };
        let reason = format!(
            "an Ollama server answers at {} and nothing else is configured",
            server.base_url
        );
        return Ok(BackendChoice::new(
            "ollama",
            openai("ollama", &backend, None),
            None,
            reason,
        ));
    }
    let reason =
        "no model is configured, no API key is set and no Ollama server answers".to_string();
    Ok(BackendChoice::new(
        "offline",
        Backend::Offline,
        None,
        reason,
    ))
}

/// A provider's defaults: base URL, model, key variable, and the env var
/// that may override the base URL of the default backend.
struct ProviderDefaults {
    base_url: &'static str,
    model: &'static str,
    api_key_env: &'static str,
    base_url_env: Option<&'static str>,
}

const OPENAI: ProviderDefaults = ProviderDefaults {
    base_url: OPENAI_DEFAULT_BASE_URL,
    model: OPENAI_DEFAULT_MODEL,
    api_key_env: "OPENAI_API_KEY",
    base_url_env: Some("OPENAI_BASE_URL"),
};

const ANTHROPIC: ProviderDefaults = ProviderDefaults {
    base_url: ANTHROPIC_DEFAULT_BASE_URL,
    model: ANTHROPIC_DEFAULT_MODEL,
    api_key_env: "ANTHROPIC_API_KEY",
    base_url_env: None,
};

/// Connection settings from a backend table over a provider's defaults;
/// `env` (for the default backend only) may override the base URL and model.
fn http_settings(
    name: &str,
    config: &BackendConfig,
    env: Option<EnvLookup<'_>>,
    defaults: &ProviderDefaults,
) -> HttpSettings {
    let from_env = |var: Option<&str>| var.and_then(|v| env.and_then(|lookup| lookup(v)));
    // OPENAI_BASE_URL only redirects a backend that uses OPENAI_API_KEY, so a
    // key is never sent to a server it was not meant for.
    let own_key = config
        .api_key_env
        .as_deref()
        .is_none_or(|k| k == defaults.api_key_env);
    HttpSettings {
        backend: name.to_string(),
        base_url: from_env(defaults.base_url_env.filter(|_| own_key))
            .or_else(|| config.base_url.clone())
            .unwrap_or_else(|| defaults.base_url.to_string()),
        model: from_env(Some("TROUPE_MODEL"))
            .or_else(|| config.model.clone())
            .unwrap_or_else(|| defaults.model.to_string()),
        api_key_env: config
            .api_key_env
            .clone()
            .unwrap_or_else(|| defaults.api_key_env.to_string()),
        temperature: config.temperature,
        max_tokens: config.max_tokens,
        connect_timeout: Duration::from_secs(
            config
                .connect_timeout_secs
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
        ),
        read_timeout: Duration::from_secs(
            config
                .read_timeout_secs
                .unwrap_or(DEFAULT_READ_TIMEOUT_SECS),
        ),
        stream_usage: config.stream_usage.unwrap_or(true),
        max_tokens_field: config
            .max_tokens_field
            .as_deref()
            .and_then(TokenLimitField::from_name)
            .unwrap_or_default(),
    }
}

/// OpenAI-compatible settings from a backend table, env-adjusted when given.
fn openai(name: &str, config: &BackendConfig, env: Option<EnvLookup<'_>>) -> Backend {
    Backend::OpenAi(http_settings(name, config, env, &OPENAI))
}

/// Anthropic settings from a backend table, env-adjusted when given.
fn anthropic(name: &str, config: &BackendConfig, env: Option<EnvLookup<'_>>) -> Backend {
    Backend::Anthropic(http_settings(name, config, env, &ANTHROPIC))
}

/// One backend, wrapped with its timeouts and retries.
pub fn build_one(choice: &BackendChoice) -> Result<Arc<dyn ChatModel>, ModelError> {
    let inner: Arc<dyn ChatModel> = match &choice.backend {
        Backend::OpenAi(settings) => Arc::new(OpenAiModel::new(settings.clone())?),
        Backend::Anthropic(settings) => Arc::new(AnthropicModel::new(settings.clone())?),
        Backend::Offline => return Ok(Arc::new(OfflineModel::new())),
    };
    Ok(Arc::new(Resilient::new(inner, choice.retry)))
}

/// The chosen backend followed by its fallbacks (each at most once).
pub fn build(config: &Config, choice: &BackendChoice) -> Result<Arc<dyn ChatModel>, crate::Error> {
    let mut chain = vec![build_one(choice)?];
    let mut seen = vec![choice.name.clone()];
    let mut pending: Vec<String> = choice.fallback.clone();
    while !pending.is_empty() {
        let name = pending.remove(0);
        if seen.contains(&name) {
            continue;
        }
        let next = named(
            config,
            &name,
            &format!("the fallback of \"{}\"", choice.name),
            None,
        )?;
        chain.push(build_one(&next)?);
        pending.extend(next.fallback.clone());
        seen.push(name);
    }
    if chain.len() == 1 {
        return Ok(chain.remove(0));
    }
    Ok(Arc::new(
        Fallback::new(chain).expect("the chain holds the chosen backend"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const FILE: &str = r#"
default_model = "main"
[models.main]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "from-file"
fallback = ["claude"]
[models.claude]
provider = "anthropic"
model = "claude-test"
max_retries = 1
[models.backup]
provider = "offline"
"#;

    fn env_with<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn no_ollama() -> Option<OllamaServer> {
        None
    }

    fn choose_with(config: &Config, flag: Option<&str>, vars: &[(&str, &str)]) -> BackendChoice {
        let env = env_with(vars);
        let environment = Environment {
            env: &env,
            ollama: &no_ollama,
        };
        choose(config, flag, None, &environment).unwrap()
    }

    fn openai_settings(choice: BackendChoice) -> OpenAiSettings {
        match choice.backend {
            Backend::OpenAi(s) => s,
            other => panic!("expected openai, got {other:?}"),
        }
    }

    /// The keys of the `[models.main]` table in the manual's config example.
    fn documented_backend_keys() -> Vec<String> {
        let example = crate::config::documented_config();
        let table = example
            .split("[models.main]")
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .expect("the manual documents [models.main]");
        table
            .lines()
            .filter_map(|line| line.split_once(" = ").map(|(k, _)| k.trim().to_string()))
            .collect()
    }

    #[test]
    fn every_documented_backend_key_changes_the_backend_built() {
        // Values unlike the defaults, so a key that is read but ignored fails.
        let table = r#"
provider = "openai"
base_url = "http://127.0.0.1:9/v9"
model = "m-file"
api_key_env = "OTHER_KEY"
temperature = 0.3
max_tokens = 123
max_tokens_field = "max_completion_tokens"
stream_usage = false
fallback = ["backup"]
connect_timeout_secs = 4
first_token_timeout_secs = 5
read_timeout_secs = 6
max_retries = 7
retry_budget_secs = 8
"#;
        let mut keys: Vec<String> = table
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.to_string()))
            .collect();
        let mut documented = documented_backend_keys();
        keys.sort();
        documented.sort();
        assert_eq!(keys, documented, "this test sets every documented key");
        let text = format!("[models.main]{table}[models.backup]\nprovider = \"offline\"\n");
        let config = Config::parse(Path::new("t.toml"), &text).unwrap();
        let choice = choose_with(&config, Some("main"), &[]);
        assert_eq!(choice.fallback, ["backup"]);
        assert_eq!(
            choice.retry,
            RetryPolicy {
                max_retries: 7,
                budget: Duration::from_secs(8),
                first_token: Duration::from_secs(5),
                ..RetryPolicy::default()
            }
        );
        assert_eq!(
            openai_settings(choice),
            HttpSettings {
                backend: "main".to_string(),
                base_url: "http://127.0.0.1:9/v9".to_string(),
                model: "m-file".to_string(),
                api_key_env: "OTHER_KEY".to_string(),
                temperature: Some(0.3),
                max_tokens: Some(123),
                connect_timeout: Duration::from_secs(4),
                read_timeout: Duration::from_secs(6),
                stream_usage: false,
                max_tokens_field: TokenLimitField::MaxCompletionTokens,
            }
        );
    }

    #[test]
    fn precedence_is_defaults_then_file_then_env_then_flags() {
        let config = Config::parse(Path::new("troupe.toml"), FILE).unwrap();
        let file = choose_with(&config, None, &[]);
        assert_eq!(file.fallback, ["claude"]);
        let file = openai_settings(file);
        assert_eq!(file.model, "from-file");
        assert_eq!(
            file.read_timeout,
            Duration::from_secs(60),
            "built-in default"
        );
        let from_env = openai_settings(choose_with(&config, None, &[("TROUPE_MODEL", "from-env")]));
        assert_eq!(from_env.model, "from-env");
        let flag = choose_with(&config, Some("backup"), &[("TROUPE_MODEL", "from-env")]);
        assert_eq!(flag.backend, Backend::Offline);
        let claude = choose_with(&config, Some("claude"), &[]);
        assert_eq!(claude.retry.max_retries, 1);
        assert!(
            matches!(claude.backend, Backend::Anthropic(ref s) if s.model == "claude-test" && s.api_key_env == "ANTHROPIC_API_KEY")
        );
    }

    #[test]
    fn with_nothing_configured_the_environment_decides_in_order() {
        let config = Config::default();
        assert_eq!(choose_with(&config, None, &[]).backend, Backend::Offline);
        let both = choose_with(
            &config,
            None,
            &[("OPENAI_API_KEY", "k"), ("ANTHROPIC_API_KEY", "a")],
        );
        assert_eq!(openai_settings(both).base_url, OPENAI_DEFAULT_BASE_URL);
        let anthropic = choose_with(&config, None, &[("ANTHROPIC_API_KEY", "a")]);
        assert!(
            matches!(anthropic.backend, Backend::Anthropic(_)),
            "{anthropic:?}"
        );
        assert!(anthropic.reason.contains("ANTHROPIC_API_KEY"));

        let env = env_with(&[]);
        let ollama = || {
            Some(OllamaServer {
                base_url: "http://127.0.0.1:11434/v1".into(),
                first_model: Some("qwen2.5:7b".into()),
            })
        };
        let environment = Environment {
            env: &env,
            ollama: &ollama,
        };
        let found = choose(&config, None, None, &environment).unwrap();
        assert!(found.reason.contains("Ollama"));
        let settings = openai_settings(found);
        assert_eq!(settings.model, "qwen2.5:7b");
        assert_eq!(settings.base_url, "http://127.0.0.1:11434/v1");
    }

    #[test]
    fn a_base_url_env_var_with_credentials_is_refused_without_printing_them() {
        let env = env_with(&[("OPENAI_BASE_URL", "http://u:sk-SECRET@127.0.0.1:9/v1")]);
        let environment = Environment {
            env: &env,
            ollama: &no_ollama,
        };
        let err = choose(&Config::default(), None, None, &environment).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("OPENAI_BASE_URL holds credentials"),
            "{text}"
        );
        assert!(!text.contains("sk-SECRET"));
    }

    #[test]
    fn unknown_backend_names_the_configured_ones() {
        let config = Config::parse(Path::new("troupe.toml"), FILE).unwrap();
        let env = env_with(&[]);
        let environment = Environment {
            env: &env,
            ollama: &no_ollama,
        };
        let err = choose(&config, Some("gpt5"), None, &environment)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("configured: backup, claude, main, offline"),
            "{err}"
        );
    }

    #[test]
    fn a_closed_ollama_port_is_not_a_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let host = format!("127.0.0.1:{port}");
        let vars = [("OLLAMA_HOST", host.as_str())];
        let env = env_with(&vars);
        assert_eq!(probe_ollama(&env), None);
    }
}
