//! The deployment config (`troupe.toml`) and how a model backend is chosen.
//!
//! Precedence, lowest first: built-in defaults → the config file → env vars
//! (`OPENAI_BASE_URL`, `TROUPE_MODEL`, which adjust the default backend) →
//! flags (`--model NAME`). API keys never live in the file: a backend names
//! the env var that holds its key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::followup::FollowUpPolicy;
use crate::model::openai::OpenAiSettings;
use crate::schema::{Diagnostic, Field, Shape, check_document};
use crate::store::RECENT_USER_TIMES;

/// The OpenAI API, used when only `OPENAI_API_KEY` is set.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The model used with the OpenAI API when none is named.
pub const OPENAI_DEFAULT_MODEL: &str = "gpt-4o-mini";

/// The deployment config, as read from `troupe.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Config {
    /// The backend used when neither the persona nor `--model` names one.
    pub default_model: Option<String>,
    /// Backends by name (`[models.main]`).
    #[serde(default)]
    pub models: BTreeMap<String, BackendConfig>,
    /// Chat settings.
    #[serde(default)]
    pub chat: ChatConfig,
    /// The follow-up policy.
    #[serde(default)]
    pub followups: FollowUpPolicy,
}

/// One model backend (`[models.NAME]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BackendConfig {
    /// `openai` or `offline`.
    pub provider: String,
    /// The API base URL.
    pub base_url: Option<String>,
    /// The model id.
    pub model: Option<String>,
    /// The NAME of the env var holding the API key.
    pub api_key_env: Option<String>,
    /// Default temperature.
    pub temperature: Option<f32>,
    /// Default reply length limit.
    pub max_tokens: Option<u32>,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: Option<u64>,
    /// Longest silence, in seconds, while waiting for (more of) a reply.
    pub read_timeout_secs: Option<u64>,
}

/// Chat settings (`[chat]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ChatConfig {
    /// At most this many earlier messages are sent with each turn.
    pub history_messages: usize,
    /// At most this many characters of earlier messages are sent with each turn.
    pub history_chars: usize,
    /// Longer user messages are refused.
    pub max_message_chars: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            history_messages: 40,
            history_chars: 16_000,
            max_message_chars: 4_000,
        }
    }
}

/// Why the config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file has problems, each `file:line:column: message`.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    /// The file could not be read.
    #[error("could not read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A backend name that is not configured.
    #[error("there is no model backend named \"{name}\" ({why}); configured: {known}")]
    UnknownBackend {
        /// The name asked for.
        name: String,
        /// Who asked (flag, persona, default_model).
        why: String,
        /// The configured names.
        known: String,
    },
}

fn provider_name(text: &str) -> Result<(), String> {
    match text {
        "openai" | "offline" => Ok(()),
        other => Err(format!(
            "is \"{other}\"; supported providers are \"openai\" and \"offline\""
        )),
    }
}

const BACKEND_FIELDS: &[Field] = &[
    Field::required("provider", Shape::Text(Some(provider_name))),
    Field::optional("base_url", Shape::Text(None)),
    Field::optional("model", Shape::Text(None)),
    Field::optional("api_key_env", Shape::Text(None)),
    Field::optional("temperature", Shape::Number(0.0, 2.0)),
    Field::optional("max_tokens", Shape::Integer(1, 200_000)),
    Field::optional("connect_timeout_secs", Shape::Integer(1, 600)),
    Field::optional("read_timeout_secs", Shape::Integer(1, 3_600)),
];

const CHAT_FIELDS: &[Field] = &[
    Field::optional("history_messages", Shape::Integer(0, 10_000)),
    Field::optional("history_chars", Shape::Integer(0, 10_000_000)),
    Field::optional("max_message_chars", Shape::Integer(1, 1_000_000)),
];

fn timezone_name(text: &str) -> Result<(), String> {
    text.parse::<chrono_tz::Tz>()
        .map(|_| ())
        .map_err(|_| format!("is \"{text}\", which is not a time zone; use an IANA name like \"Europe/Paris\" or \"UTC\""))
}

const FOLLOWUP_FIELDS: &[Field] = &[
    Field::optional("enabled", Shape::Bool),
    Field::optional(
        "min_user_messages",
        Shape::Integer(1, RECENT_USER_TIMES as i64),
    ),
    Field::optional("window_days", Shape::Integer(1, 365)),
    Field::optional("min_silence_hours", Shape::Integer(0, 24 * 365)),
    Field::optional("quiet_hours_start", Shape::Integer(0, 23)),
    Field::optional("quiet_hours_end", Shape::Integer(0, 23)),
    Field::optional("default_timezone", Shape::Text(Some(timezone_name))),
    Field::optional("concurrency", Shape::Integer(1, 64)),
    Field::optional("max_chars", Shape::Integer(50, 4_000)),
];

/// Every key the config file may hold.
pub const CONFIG_FIELDS: &[Field] = &[
    Field::optional("default_model", Shape::Text(None)),
    Field::optional("models", Shape::NamedTables(BACKEND_FIELDS)),
    Field::optional("chat", Shape::Table(CHAT_FIELDS)),
    Field::optional("followups", Shape::Table(FOLLOWUP_FIELDS)),
];

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Checks and reads config text; `path` is only for messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let problems = check_document(path, text, CONFIG_FIELDS);
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        toml_edit::de::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ConfigError::Invalid(vec![Diagnostic::at(path, text, offset, e.message().trim())])
        })
    }
}

/// A chosen backend, ready to build.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// An OpenAI-compatible server.
    OpenAi(OpenAiSettings),
    /// Scripted offline replies.
    Offline,
}

/// The backend chosen for a persona, and why, for `troupe` to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendChoice {
    /// The backend.
    pub backend: Backend,
    /// Why it was chosen, in words.
    pub reason: String,
}

/// Reads one env var; a seam so tests can pin precedence without touching
/// the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, ignoring empty values.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Config {
    /// Chooses the backend for a persona: `--model` first, then the persona's
    /// `[model] backend`, then `default_model`; with nothing named and no
    /// backends configured, `OPENAI_API_KEY`/`OPENAI_BASE_URL` select the
    /// OpenAI-compatible API, and otherwise the offline backend.
    pub fn choose_backend(
        &self,
        flag: Option<&str>,
        persona_backend: Option<&str>,
        env: EnvLookup<'_>,
    ) -> Result<BackendChoice, ConfigError> {
        let named = [
            (flag, "--model"),
            (persona_backend, "the persona's [model] backend"),
        ];
        if let Some((name, why)) = named.iter().find_map(|(n, why)| n.map(|n| (n, *why))) {
            return self.named_backend(name, why, None);
        }
        if let Some(name) = &self.default_model {
            return self.named_backend(name, "default_model in the config", Some(env));
        }
        if self.models.len() == 1 {
            let name = self.models.keys().next().map_or("", String::as_str);
            return self.named_backend(name, "the only backend in the config", Some(env));
        }
        let base_url = env("OPENAI_BASE_URL");
        if base_url.is_some() || env("OPENAI_API_KEY").is_some() {
            let reason = if base_url.is_some() {
                "OPENAI_BASE_URL is set"
            } else {
                "OPENAI_API_KEY is set"
            };
            let backend = BackendConfig {
                provider: "openai".into(),
                base_url: None,
                model: None,
                api_key_env: None,
                temperature: None,
                max_tokens: None,
                connect_timeout_secs: None,
                read_timeout_secs: None,
            };
            return Ok(BackendChoice {
                backend: openai_settings("env", &backend, Some(env)),
                reason: reason.to_string(),
            });
        }
        Ok(BackendChoice {
            backend: Backend::Offline,
            reason: "no model is configured and neither OPENAI_API_KEY nor OPENAI_BASE_URL is set"
                .to_string(),
        })
    }

    /// Builds the backend called `name`; `env` adjusts it when it is the default.
    fn named_backend(
        &self,
        name: &str,
        why: &str,
        env: Option<EnvLookup<'_>>,
    ) -> Result<BackendChoice, ConfigError> {
        let reason = format!("\"{name}\" was chosen by {why}");
        let Some(config) = self.models.get(name) else {
            if name == "offline" {
                return Ok(BackendChoice {
                    backend: Backend::Offline,
                    reason,
                });
            }
            let mut known: Vec<_> = self.models.keys().cloned().collect();
            known.push("offline".to_string());
            return Err(ConfigError::UnknownBackend {
                name: name.to_string(),
                why: format!("named by {why}"),
                known: known.join(", "),
            });
        };
        let backend = match config.provider.as_str() {
            "offline" => Backend::Offline,
            _ => openai_settings(name, config, env),
        };
        Ok(BackendChoice { backend, reason })
    }
}

/// OpenAI-compatible settings from a backend table, with env overrides when given.
fn openai_settings(name: &str, config: &BackendConfig, env: Option<EnvLookup<'_>>) -> Backend {
    let from_env = |var: &str| env.and_then(|lookup| lookup(var));
    Backend::OpenAi(OpenAiSettings {
        backend: name.to_string(),
        base_url: from_env("OPENAI_BASE_URL")
            .or_else(|| config.base_url.clone())
            .unwrap_or_else(|| OPENAI_DEFAULT_BASE_URL.to_string()),
        model: from_env("TROUPE_MODEL")
            .or_else(|| config.model.clone())
            .unwrap_or_else(|| OPENAI_DEFAULT_MODEL.to_string()),
        api_key_env: config
            .api_key_env
            .clone()
            .unwrap_or_else(|| "OPENAI_API_KEY".to_string()),
        temperature: config.temperature,
        max_tokens: config.max_tokens,
        connect_timeout: Duration::from_secs(config.connect_timeout_secs.unwrap_or(10)),
        read_timeout: Duration::from_secs(config.read_timeout_secs.unwrap_or(60)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
default_model = "main"
[models.main]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "from-file"
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

    fn openai(choice: BackendChoice) -> OpenAiSettings {
        match choice.backend {
            Backend::OpenAi(s) => s,
            Backend::Offline => panic!("expected openai, got offline"),
        }
    }

    #[test]
    fn precedence_is_defaults_then_file_then_env_then_flags() {
        let config = Config::parse(Path::new("troupe.toml"), FILE).unwrap();
        let none = env_with(&[]);
        let file = openai(config.choose_backend(None, None, &none).unwrap());
        assert_eq!(file.model, "from-file");
        assert_eq!(
            file.read_timeout,
            Duration::from_secs(60),
            "built-in default"
        );
        let env = env_with(&[("TROUPE_MODEL", "from-env")]);
        let from_env = openai(config.choose_backend(None, None, &env).unwrap());
        assert_eq!(from_env.model, "from-env");
        let flag = config.choose_backend(Some("backup"), None, &env).unwrap();
        assert_eq!(flag.backend, Backend::Offline);
    }

    #[test]
    fn with_nothing_configured_the_environment_decides() {
        let config = Config::default();
        let offline = config.choose_backend(None, None, &env_with(&[])).unwrap();
        assert_eq!(offline.backend, Backend::Offline);
        let env = env_with(&[("OPENAI_API_KEY", "sk-test")]);
        let settings = openai(config.choose_backend(None, None, &env).unwrap());
        assert_eq!(settings.base_url, OPENAI_DEFAULT_BASE_URL);
        assert_eq!(settings.api_key_env, "OPENAI_API_KEY");
    }

    #[test]
    fn unknown_backend_names_the_configured_ones() {
        let config = Config::parse(Path::new("troupe.toml"), FILE).unwrap();
        let err = config
            .choose_backend(Some("gpt5"), None, &env_with(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("configured: backup, main, offline"), "{err}");
    }

    #[test]
    fn bad_config_reports_every_problem_with_position() {
        let text = "default_modle = \"x\"\n[models.a]\nprovider = \"anthropix\"\ntemperature = 5\n";
        let err = Config::parse(Path::new("t.toml"), text)
            .unwrap_err()
            .to_string();
        let lines: Vec<_> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        assert!(lines[0].starts_with(
            "t.toml:1:1: unknown field \"default_modle\" (did you mean \"default_model\"?)"
        ));
        assert!(lines[1].starts_with("t.toml:3:12: \"models.a.provider\" is \"anthropix\""));
        assert!(lines[2].starts_with("t.toml:4:15:"));
    }
}
