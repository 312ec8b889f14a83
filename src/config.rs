//! The deployment config (`troupe.toml`): model backends, chat limits and
//! the follow-up policy, checked like persona files so every problem is
//! reported with its position. [`crate::backend`] turns it into models.
//! API keys never live in the file: a backend names the env var that holds
//! its key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::followup::FollowUpPolicy;
use crate::schema::{Diagnostic, Field, Shape, check_document};
use crate::store::RECENT_USER_TIMES;

/// The OpenAI API, used when only `OPENAI_API_KEY` is set.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The model used with the OpenAI API when none is named.
pub const OPENAI_DEFAULT_MODEL: &str = "gpt-4o-mini";

/// The deployment config, as read from `troupe.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
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
    /// Disclosure, disclaimers, crisis protocol, retention.
    #[serde(default)]
    pub safety: crate::safety::SafetyConfig,
    /// `troupe serve`: listening, access, limits, webhooks.
    #[serde(default)]
    pub server: crate::server::ServerConfig,
    /// The store: scheduled backups.
    #[serde(default)]
    pub store: crate::store::StoreConfig,
}

/// One model backend (`[models.NAME]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BackendConfig {
    /// `openai`, `anthropic` or `offline`.
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
    /// The request field for the limit: `max_tokens` (the default) or
    /// `max_completion_tokens` (OpenAI's newer models).
    pub max_tokens_field: Option<String>,
    /// Whether streamed requests ask for token counts
    /// (`stream_options.include_usage`; default true).
    pub stream_usage: Option<bool>,
    /// Seconds to wait for a connection.
    pub connect_timeout_secs: Option<u64>,
    /// Longest silence, in seconds, while waiting for (more of) a reply.
    pub read_timeout_secs: Option<u64>,
    /// Longest wait, in seconds, for the first token of a streamed reply.
    pub first_token_timeout_secs: Option<u64>,
    /// Retries after a failed attempt (429, 5xx, connection errors, timeouts).
    pub max_retries: Option<u32>,
    /// No retry starts after this many seconds in total.
    pub retry_budget_secs: Option<u64>,
    /// Backends tried in order when this one fails after its retries.
    #[serde(default)]
    pub fallback: Vec<String>,
}

/// Chat settings (`[chat]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ChatConfig {
    /// At most this many earlier messages are sent with each turn.
    pub history_messages: usize,
    /// At most this many characters of earlier messages are sent with each turn.
    pub history_chars: usize,
    /// Longer user messages are refused.
    pub max_message_chars: usize,
    /// A model's reply is cut here (and stored marked truncated): a
    /// misbehaving model server cannot fill the memory or the store.
    pub max_reply_chars: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            history_messages: 40,
            history_chars: 16_000,
            max_message_chars: 4_000,
            max_reply_chars: 65_536,
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
        /// Why: unreadable, over 1 MiB, not UTF-8.
        source: crate::schema::SourceError,
    },
    /// Several backends and no `default_model`.
    #[error(
        "the config names several model backends ({known}) but no default_model; add default_model = \"NAME\" at the top of it"
    )]
    NoDefault {
        /// The configured names.
        known: String,
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
    /// An environment variable holds something Troupe cannot use.
    #[error("{var} {problem}")]
    BadEnv {
        /// The variable.
        var: &'static str,
        /// What is wrong with it (never its value).
        problem: String,
    },
}

fn provider_name(text: &str) -> Result<(), String> {
    match text {
        "openai" | "anthropic" | "offline" => Ok(()),
        other => Err(format!(
            "is \"{other}\"; supported providers are \"openai\", \"anthropic\" and \"offline\""
        )),
    }
}

/// `api_key_env` names a variable; a key pasted there would be printed.
pub(crate) fn env_var_name(text: &str) -> Result<(), String> {
    let valid = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err("must be the NAME of an environment variable, like OPENAI_API_KEY (the key itself goes in that variable)".to_string())
    }
}

fn token_limit_field(text: &str) -> Result<(), String> {
    crate::model::shapes::TokenLimitField::from_name(text)
        .map(|_| ())
        .ok_or_else(|| format!("is \"{text}\"; use \"max_tokens\" or \"max_completion_tokens\""))
}

const BACKEND_FIELDS: &[Field] = &[
    Field::required("provider", Shape::Text(Some(provider_name))),
    Field::optional("base_url", Shape::Text(Some(base_url))),
    Field::optional("model", Shape::Text(None)),
    Field::optional("api_key_env", Shape::Text(Some(env_var_name))),
    Field::optional("temperature", Shape::Number(0.0, 2.0)),
    Field::optional("max_tokens", Shape::Integer(1, 200_000)),
    Field::optional("max_tokens_field", Shape::Text(Some(token_limit_field))),
    Field::optional("stream_usage", Shape::Bool),
    Field::optional("connect_timeout_secs", Shape::Integer(1, 600)),
    Field::optional("read_timeout_secs", Shape::Integer(1, 3_600)),
    Field::optional("first_token_timeout_secs", Shape::Integer(1, 3_600)),
    Field::optional("max_retries", Shape::Integer(0, 20)),
    Field::optional("retry_budget_secs", Shape::Integer(0, 3_600)),
    Field::optional("fallback", Shape::TextList),
];

const CHAT_FIELDS: &[Field] = &[
    Field::optional("history_messages", Shape::Integer(0, 10_000)),
    Field::optional("history_chars", Shape::Integer(0, 10_000_000)),
    Field::optional("max_message_chars", Shape::Integer(1, 1_000_000)),
    Field::optional("max_reply_chars", Shape::Integer(100, 10_000_000)),
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

const DISCLAIMER_FIELDS: &[Field] = &[
    Field::optional("general", Shape::Text(None)),
    Field::optional("medical", Shape::Text(None)),
    Field::optional("psychological", Shape::Text(None)),
    Field::optional("legal", Shape::Text(None)),
];

const CRISIS_FIELDS: &[Field] = &[
    Field::optional("message", Shape::Text(None)),
    Field::optional("danger", Shape::Text(None)),
];

const SAFETY_FIELDS: &[Field] = &[
    // At least every 3 hours: the rule sets the most, not the least.
    Field::optional("notice_every_hours", Shape::Integer(1, 3)),
    Field::optional("notice_after_gap_minutes", Shape::Integer(1, 24 * 60)),
    Field::optional("break_reminder_hours", Shape::Integer(1, 3)),
    Field::optional("crisis_hold_days", Shape::Integer(1, 3_650)),
    Field::optional("retention_days", Shape::Integer(0, 36_500)),
    Field::optional("model_check", Shape::Bool),
    Field::optional(
        "moderation",
        Shape::Table(crate::moderation::MODERATION_FIELDS),
    ),
    Field::optional("moderation_timeout_ms", Shape::Integer(50, 60_000)),
    Field::optional("disclaimers", Shape::LanguageTables(DISCLAIMER_FIELDS)),
    Field::optional("crisis", Shape::LanguageTables(CRISIS_FIELDS)),
    Field::optional("language_dir", Shape::Text(None)),
];

/// Every key the config file may hold.
pub const CONFIG_FIELDS: &[Field] = &[
    Field::optional("default_model", Shape::Text(None)),
    Field::optional("models", Shape::NamedTables(BACKEND_FIELDS)),
    Field::optional("chat", Shape::Table(CHAT_FIELDS)),
    Field::optional("followups", Shape::Table(FOLLOWUP_FIELDS)),
    Field::optional("safety", Shape::Table(SAFETY_FIELDS)),
    Field::optional("server", Shape::Table(crate::server::config::SERVER_FIELDS)),
    Field::optional("store", Shape::Table(crate::store::STORE_FIELDS)),
];

impl Config {
    /// What a persona asks that this deployment cannot give, as (table, key,
    /// message): a looser follow-up policy, or a backend that is not configured.
    pub fn persona_problems(
        &self,
        persona: &crate::persona::Persona,
    ) -> Vec<(&'static str, &'static str, String)> {
        let mut problems: Vec<_> = self
            .followups
            .loosened_by(persona)
            .into_iter()
            .map(|(key, message)| ("followups", key, message))
            .collect();
        let own = &persona.followups;
        match (own.quiet_hours_start, own.quiet_hours_end) {
            (Some(_), None) => problems.push((
                "followups",
                "quiet_hours_start",
                "\"followups.quiet_hours_start\" needs \"followups.quiet_hours_end\" too"
                    .to_string(),
            )),
            (None, Some(_)) => problems.push((
                "followups",
                "quiet_hours_end",
                "\"followups.quiet_hours_end\" needs \"followups.quiet_hours_start\" too"
                    .to_string(),
            )),
            _ => {}
        }
        if let Some(name) = &persona.model.backend
            && name != "offline"
            && !self.models.contains_key(name)
        {
            let mut known: Vec<_> = self.models.keys().cloned().collect();
            known.push("offline".to_string());
            problems.push((
                "model",
                "backend",
                format!(
                    "\"model.backend\" is \"{name}\", which the deployment config does not define; configured: {}",
                    known.join(", ")
                ),
            ));
        }
        problems
    }
}

/// Where `models.NAME.fallback` sits in the config text.
fn fallback_offset(text: &str, name: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let backend = doc
        .as_table()
        .get("models")?
        .as_table_like()?
        .get(name)?
        .as_table_like()?;
    backend.get("fallback")?.span().map(|s| s.start)
}

/// Where `[server.webhooks.NAME]` starts in the file, if it can be found.
fn webhook_offset(text: &str, name: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let webhooks = doc
        .as_table()
        .get("server")?
        .as_table_like()?
        .get("webhooks")?
        .as_table_like()?;
    let (key, _) = webhooks.get_key_value(name)?;
    key.span().map(|s| s.start)
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = crate::schema::read_source(path).map_err(|source| ConfigError::Read {
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
        let config: Self = toml_edit::de::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ConfigError::Invalid(vec![Diagnostic::at(path, text, offset, e.message().trim())])
        })?;
        config.check_fallbacks(path, text)?;
        config.check_webhook_names(path, text)?;
        if let Some(problem) = crate::moderation::check_config(&config.safety, path, text) {
            return Err(ConfigError::Invalid(vec![problem]));
        }
        Ok(config)
    }

    /// A webhook's name keys its queue in the store, so it must be a plain id.
    fn check_webhook_names(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let problems: Vec<Diagnostic> = self
            .server
            .webhooks
            .keys()
            .filter_map(|name| {
                let problem = crate::ids::check_id("webhook name", name).err()?;
                let offset = webhook_offset(text, name).unwrap_or(0);
                Some(Diagnostic::at(
                    path,
                    text,
                    offset,
                    format!("[server.webhooks]: {problem}"),
                ))
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Every `fallback` must name a configured backend (or `offline`).
    fn check_fallbacks(&self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        for (name, backend) in &self.models {
            for target in &backend.fallback {
                if target != "offline" && !self.models.contains_key(target) {
                    let offset = fallback_offset(text, name).unwrap_or(0);
                    let message = format!(
                        "\"models.{name}.fallback\" names \"{target}\", which is not a configured backend"
                    );
                    problems.push(Diagnostic::at(path, text, offset, message));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// A server URL: http or https, with no credentials in it (they would be
/// printed wherever the URL is; keys belong in `api_key_env`).
pub fn base_url(text: &str) -> Result<(), String> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err("is not a URL; write one such as \"http://127.0.0.1:11434/v1\"".to_string());
    };
    if !matches!(scheme, "http" | "https") {
        return Err("must start with http:// or https://".to_string());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "holds credentials (user:password@); put the key in an environment variable named by api_key_env"
                .to_string(),
        );
    }
    if crate::secrets::redact(text) != text {
        return Err(
            "holds a key or token (in its query); put the key in an environment variable named by api_key_env"
                .to_string(),
        );
    }
    Ok(())
}

/// The example `troupe.toml` in the manual (docs/src/models.md), which
/// documents every key.
#[cfg(test)]
pub(crate) fn documented_config() -> &'static str {
    let readme = include_str!("../docs/src/models.md");
    let start = readme
        .find("```toml\ndefault_model")
        .expect("the manual's config example")
        + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("the example's end");
    &readme[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_is_http_and_holds_no_credentials() {
        assert!(base_url("https://api.openai.com/v1").is_ok());
        assert!(base_url("http://127.0.0.1:11434/v1?x=a@b").is_ok());
        assert!(base_url("ftp://example.com").is_err());
        assert!(base_url("localhost:11434").is_err());
        let secret = base_url("http://user:sk-SECRET@127.0.0.1:9/v1").unwrap_err();
        assert!(!secret.contains("sk-SECRET"), "{secret}");
        let query = base_url("https://proxy.example/v1?api_key=sk-live-0123456789").unwrap_err();
        assert!(query.contains("holds a key"), "{query}");
        assert!(!query.contains("sk-live"), "{query}");
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

    #[test]
    fn a_backend_table_reads_every_documented_key() {
        let config = Config::parse(Path::new("docs/src/models.md"), documented_config()).unwrap();
        // A struct literal without `..`: a key added to the struct without
        // being documented and checked here does not compile.
        let expected = BackendConfig {
            provider: "openai".to_string(),
            base_url: Some("http://127.0.0.1:11434/v1".to_string()),
            model: Some("llama3.2".to_string()),
            api_key_env: Some("OPENAI_API_KEY".to_string()),
            temperature: Some(0.7),
            max_tokens: Some(400),
            max_tokens_field: Some("max_tokens".to_string()),
            stream_usage: Some(true),
            connect_timeout_secs: Some(10),
            read_timeout_secs: Some(60),
            first_token_timeout_secs: Some(30),
            max_retries: Some(3),
            retry_budget_secs: Some(30),
            fallback: vec!["backup".to_string()],
        };
        assert_eq!(config.models["main"], expected);
        assert_eq!(config.default_model.as_deref(), Some("main"));
        assert_eq!(config.models["backup"].provider, "anthropic");
        assert_eq!(config.models["quiet"].provider, "offline");
    }

    #[test]
    fn fallback_to_an_unknown_backend_is_reported() {
        let text = "[models.a]\nprovider = \"openai\"\nfallback = [\"nope\"]\n";
        let err = Config::parse(Path::new("t.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.toml:3:12: \"models.a.fallback\" names \"nope\""),
            "{err}"
        );
    }

    #[test]
    fn a_webhook_table_reads_its_retry_settings_and_defaults_the_rest() {
        let text = r#"
[server.webhooks.crm]
url = "https://crm.example.com/hooks/troupe"
secret_env = "CRM_WEBHOOK_SECRET"
timeout_secs = 5
max_backoff_secs = 60
[server.webhooks.audit]
url = "http://127.0.0.1:9000/in"
secret_env = "AUDIT_SECRET"
"#;
        let config = Config::parse(Path::new("t.toml"), text).unwrap();
        let crm = &config.server.webhooks["crm"];
        assert_eq!((crm.timeout_secs, crm.max_backoff_secs), (5, 60));
        let audit = &config.server.webhooks["audit"];
        assert_eq!(audit.secret_env, "AUDIT_SECRET");
        assert_eq!((audit.timeout_secs, audit.max_backoff_secs), (10, 300));
    }

    #[test]
    fn a_webhook_with_a_pasted_secret_or_an_odd_name_is_refused_with_its_position() {
        let text = "[server.webhooks.\"a b\"]\nurl = \"https://x.example/h\"\nsecret_env = \"s3cr3t-value\"\n";
        let err = Config::parse(Path::new("t.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("must be the NAME of an environment variable"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t-value"), "{err}");
        let named = "[server.webhooks.\"a b\"]\nurl = \"https://x.example/h\"\nsecret_env = \"HOOK_SECRET\"\n";
        let err = Config::parse(Path::new("t.toml"), named)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml:1:18: [server.webhooks]: the webhook name"),
            "{err}"
        );
    }
}
