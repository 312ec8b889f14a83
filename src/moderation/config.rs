//! The `[safety.moderation]` table: which moderation check a deployment
//! runs beside its offline detector, and where that check is served.
//!
//! Keys never live here: `api_key_env` names the environment variable that
//! holds one, as a model backend's does.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::safety::SafetyConfig;
use crate::schema::{Diagnostic, Field, Shape};

/// The OpenAI moderation endpoint, used when `kind = "openai"` names no `base_url`.
pub const OPENAI_MODERATION_BASE_URL: &str = "https://api.openai.com/v1";

/// The moderation model asked when `kind = "openai"` names none.
pub const OPENAI_MODERATION_MODEL: &str = "omni-moderation-latest";

/// The key's variable when `kind = "openai"` names none.
pub const OPENAI_MODERATION_KEY_ENV: &str = "OPENAI_API_KEY";

/// The time budget of a check when `[safety] moderation_timeout_ms` is unset.
pub const DEFAULT_TIMEOUT_MS: u64 = 1_500;

/// Which check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModerationKind {
    /// An OpenAI-compatible moderation endpoint (`POST {base_url}/moderations`).
    #[serde(rename = "openai")]
    OpenAi,
    /// Llama Guard 3 on an OpenAI-compatible chat server.
    #[serde(rename = "llama-guard")]
    LlamaGuard,
    /// ShieldGemma on an OpenAI-compatible chat server.
    #[serde(rename = "shieldgemma")]
    ShieldGemma,
    /// The persona's own model, asked yes or no (what `model_check = true` did).
    #[serde(rename = "persona")]
    Persona,
}

impl ModerationKind {
    /// The name written in the config, used in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::LlamaGuard => "llama-guard",
            Self::ShieldGemma => "shieldgemma",
            Self::Persona => "persona",
        }
    }
}

/// Who writes a guard model's prompt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum GuardTemplate {
    /// Troupe writes the guard's whole task (categories or policy, the
    /// message, the answer format) as the one user message: for servers
    /// that pass a message through as it is.
    #[default]
    #[serde(rename = "troupe")]
    Troupe,
    /// Troupe sends the user's message alone, and the server's chat
    /// template for the guard model writes the task around it (Ollama's
    /// `llama-guard3`, vLLM with the model's own template).
    #[serde(rename = "server")]
    Server,
}

/// `[safety.moderation]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModerationConfig {
    /// Which check.
    pub kind: ModerationKind,
    /// The server's API base, e.g. `https://api.openai.com/v1`.
    pub base_url: Option<String>,
    /// The moderation or guard model's id on that server.
    pub model: Option<String>,
    /// The NAME of the env var holding the server's key (never the key).
    pub api_key_env: Option<String>,
    /// Who writes a guard model's prompt.
    #[serde(default)]
    pub template: GuardTemplate,
    /// For `kind = "openai"`: a category also counts when its score in
    /// `category_scores` reaches this (0–1); unset, the endpoint's own
    /// `categories` booleans decide.
    pub threshold: Option<f64>,
}

impl ModerationConfig {
    /// The check a deployment runs: its `[safety.moderation]`, or the
    /// persona's model when only the older `model_check = true` is set;
    /// `None` when neither is.
    pub fn effective(safety: &SafetyConfig) -> Option<Self> {
        safety.moderation.as_deref().cloned().or_else(|| {
            safety.model_check.then_some(Self {
                kind: ModerationKind::Persona,
                base_url: None,
                model: None,
                api_key_env: None,
                template: GuardTemplate::Troupe,
                threshold: None,
            })
        })
    }

    /// What the table lacks or contradicts, as one message, or `None`.
    fn problem(&self, model_check: bool) -> Option<String> {
        let needs_server = matches!(
            self.kind,
            ModerationKind::LlamaGuard | ModerationKind::ShieldGemma
        );
        if needs_server && self.base_url.is_none() {
            return Some(format!(
                "[safety.moderation] kind = \"{}\" needs base_url, the chat server that serves the guard model (e.g. \"http://127.0.0.1:11434/v1\")",
                self.kind.name()
            ));
        }
        if needs_server && self.model.is_none() {
            return Some(format!(
                "[safety.moderation] kind = \"{}\" needs model, the guard model's id on its server (e.g. \"llama-guard3:8b\")",
                self.kind.name()
            ));
        }
        if self.kind == ModerationKind::ShieldGemma && self.template == GuardTemplate::Server {
            return Some("[safety.moderation] template = \"server\" is for Llama Guard, whose chat template writes its task; ShieldGemma needs Troupe's policy in the prompt, so remove template".to_string());
        }
        if self.kind == ModerationKind::Persona
            && (self.base_url.is_some() || self.model.is_some() || self.api_key_env.is_some())
        {
            return Some("[safety.moderation] kind = \"persona\" asks the persona's own model, so base_url, model and api_key_env do not apply; remove them".to_string());
        }
        if model_check && self.kind != ModerationKind::Persona {
            return Some(format!(
                "[safety] model_check = true asks the persona's model, but [safety.moderation] chooses kind = \"{}\"; keep one (model_check = true is the same as kind = \"persona\")",
                self.kind.name()
            ));
        }
        None
    }
}

fn kind_name(text: &str) -> Result<(), String> {
    match text {
        "openai" | "llama-guard" | "shieldgemma" | "persona" => Ok(()),
        other => Err(format!(
            "is \"{other}\"; the checks are \"openai\" (a moderation endpoint), \"llama-guard\", \"shieldgemma\" (a guard model on a chat server) and \"persona\" (the persona's own model)"
        )),
    }
}

fn template_name(text: &str) -> Result<(), String> {
    match text {
        "troupe" | "server" => Ok(()),
        other => Err(format!(
            "is \"{other}\"; use \"troupe\" (Troupe writes the guard's prompt) or \"server\" (the server's chat template does)"
        )),
    }
}

/// Every key `[safety.moderation]` may hold.
pub const MODERATION_FIELDS: &[Field] = &[
    Field::required("kind", Shape::Text(Some(kind_name))),
    Field::optional("base_url", Shape::Text(Some(crate::config::base_url))),
    Field::optional("model", Shape::Text(None)),
    Field::optional(
        "api_key_env",
        Shape::Text(Some(crate::config::env_var_name)),
    ),
    Field::optional("template", Shape::Text(Some(template_name))),
    Field::optional("threshold", Shape::Number(0.0, 1.0)),
];

/// Checks what the schema cannot see in `[safety.moderation]`: the keys a
/// kind needs, and a `model_check` that says otherwise.
pub(crate) fn check(safety: &SafetyConfig, path: &Path, text: &str) -> Option<Diagnostic> {
    let problem = safety.moderation.as_ref()?.problem(safety.model_check)?;
    let offset = table_offset(text).unwrap_or(0);
    Some(Diagnostic::at(path, text, offset, problem))
}

/// Where `[safety.moderation]` starts in the config text.
fn table_offset(text: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let safety = doc.as_table().get("safety")?.as_table_like()?;
    let (key, _) = safety.get_key_value("moderation")?;
    key.span().map(|s| s.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("t.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn model_check_on_its_own_means_the_persona_s_model() {
        let config = parse("[safety]\nmodel_check = true\n").unwrap();
        let effective = ModerationConfig::effective(&config.safety).unwrap();
        assert_eq!(effective.kind, ModerationKind::Persona);
        let off = parse("[safety]\nretention_days = 30\n").unwrap();
        assert_eq!(ModerationConfig::effective(&off.safety), None);
    }

    #[test]
    fn a_moderation_table_reads_every_documented_key() {
        let config = parse(
            "[safety]\nmoderation_timeout_ms = 800\n[safety.moderation]\nkind = \"llama-guard\"\nbase_url = \"http://127.0.0.1:11434/v1\"\nmodel = \"llama-guard3:8b\"\napi_key_env = \"GUARD_KEY\"\ntemplate = \"server\"\nthreshold = 0.4\n",
        )
        .unwrap();
        let moderation = config.safety.moderation.unwrap();
        assert_eq!(moderation.kind, ModerationKind::LlamaGuard);
        assert_eq!(moderation.template, GuardTemplate::Server);
        assert_eq!(moderation.api_key_env.as_deref(), Some("GUARD_KEY"));
        assert_eq!(config.safety.moderation_timeout_ms, 800);
        assert_eq!(
            parse("").unwrap().safety.moderation_timeout_ms,
            DEFAULT_TIMEOUT_MS
        );
    }

    #[test]
    fn a_guard_model_without_its_server_is_refused_with_the_table_s_position() {
        let err = parse("[safety]\n[safety.moderation]\nkind = \"shieldgemma\"\n").unwrap_err();
        assert!(
            err.starts_with(
                "t.toml:2:9: [safety.moderation] kind = \"shieldgemma\" needs base_url"
            ),
            "{err}"
        );
        let err = parse(
            "[safety.moderation]\nkind = \"llama-guard\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
        )
        .unwrap_err();
        assert!(err.contains("needs model"), "{err}");
    }

    #[test]
    fn a_pasted_key_an_unknown_kind_or_a_contradicting_model_check_is_refused() {
        let err = parse(
            "[safety.moderation]\nkind = \"openai\"\napi_key_env = \"sk-live-0123456789abc\"\n",
        )
        .unwrap_err();
        assert!(
            err.contains("must be the NAME of an environment variable"),
            "{err}"
        );
        assert!(!err.contains("sk-live"), "{err}");
        let err = parse("[safety.moderation]\nkind = \"perspective\"\n").unwrap_err();
        assert!(err.contains("the checks are \"openai\""), "{err}");
        let err = parse("[safety]\nmodel_check = true\n[safety.moderation]\nkind = \"openai\"\n")
            .unwrap_err();
        assert!(err.contains("keep one"), "{err}");
        assert!(
            parse("[safety]\nmodel_check = true\n[safety.moderation]\nkind = \"persona\"\n")
                .is_ok()
        );
    }
}
