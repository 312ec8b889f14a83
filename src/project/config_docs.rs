//! What each key of `troupe.toml` is for, and the example shown for a key
//! with no default: the explanations of the generated config
//! ([`super::config_template`]). A test checks that every key the config
//! accepts has one, and that each names a real key.

use crate::backend::{DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_READ_TIMEOUT_SECS};
use crate::config::OPENAI_DEFAULT_MODEL;
use crate::model::anthropic::ANTHROPIC_DEFAULT_MODEL;
use crate::model::resilient::RetryPolicy;
use crate::server::config::{DEFAULT_LISTEN, DEFAULT_OPERATOR_TOKEN_ENV, WebhookConfig};

/// The explanation of one key (or table), and the example shown for it.
pub(super) struct Doc {
    /// The key's path: `chat.history_messages`, with `NAME` or `LANG` for a
    /// table the user names (`models.NAME.provider`).
    pub(super) path: &'static str,
    /// What it does, in a sentence or two.
    pub(super) text: String,
    /// A TOML value shown as an example instead of the default; for a named
    /// table, the name used in its example.
    pub(super) example: Option<String>,
}

fn doc(path: &'static str, text: impl Into<String>) -> Doc {
    Doc {
        path,
        text: text.into(),
        example: None,
    }
}

fn example(path: &'static str, text: impl Into<String>, value: impl Into<String>) -> Doc {
    Doc {
        path,
        text: text.into(),
        example: Some(value.into()),
    }
}

/// Every key's explanation; a test checks that each key of the schema has one.
pub(super) fn docs() -> Vec<Doc> {
    let retry = RetryPolicy::default();
    let webhook = WebhookConfig::default();
    vec![
        example(
            "default_model",
            "The backend used when neither a persona's [model] backend nor --model names one; needed when several backends are configured.",
            "\"main\"",
        ),
        example(
            "models",
            "Model backends, one [models.NAME] table each. With none, Troupe chooses from the environment: OPENAI_API_KEY or OPENAI_BASE_URL, else ANTHROPIC_API_KEY, else a local Ollama server, else its offline backend (scripted replies, no network). `troupe models list` says which, and why.",
            "main",
        ),
        example(
            "models.NAME.provider",
            "openai (OpenAI, and every server that speaks its API: Ollama, vLLM, llama.cpp, LM Studio…), anthropic, or offline.",
            "\"openai\"",
        ),
        example(
            "models.NAME.base_url",
            "The API's base URL, http or https, with no credentials in it (default: the provider's public API).",
            "\"http://127.0.0.1:11434/v1\"",
        ),
        example(
            "models.NAME.model",
            format!(
                "The model id (default: {OPENAI_DEFAULT_MODEL} for openai, {ANTHROPIC_DEFAULT_MODEL} for anthropic)."
            ),
            "\"llama3.2\"",
        ),
        example(
            "models.NAME.api_key_env",
            "The NAME of the environment variable holding the API key; the key itself never goes in this file (default: OPENAI_API_KEY or ANTHROPIC_API_KEY).",
            "\"OPENAI_API_KEY\"",
        ),
        example(
            "models.NAME.temperature",
            "The temperature for personas that set none.",
            "0.7",
        ),
        example(
            "models.NAME.max_tokens",
            "The longest reply, in tokens, for personas that set none.",
            "400",
        ),
        example(
            "models.NAME.connect_timeout_secs",
            format!("Seconds to wait for a connection (default {DEFAULT_CONNECT_TIMEOUT_SECS})."),
            DEFAULT_CONNECT_TIMEOUT_SECS.to_string(),
        ),
        example(
            "models.NAME.read_timeout_secs",
            format!(
                "The longest silence, in seconds, while waiting for (more of) a reply (default {DEFAULT_READ_TIMEOUT_SECS})."
            ),
            DEFAULT_READ_TIMEOUT_SECS.to_string(),
        ),
        example(
            "models.NAME.first_token_timeout_secs",
            format!(
                "The longest wait, in seconds, for the first token of a streamed reply (default {}).",
                retry.first_token.as_secs()
            ),
            retry.first_token.as_secs().to_string(),
        ),
        example(
            "models.NAME.max_retries",
            format!(
                "Retries on 429, 5xx, connection errors and timeouts (default {}).",
                retry.max_retries
            ),
            retry.max_retries.to_string(),
        ),
        example(
            "models.NAME.retry_budget_secs",
            format!(
                "No retry starts after this many seconds in total (default {}).",
                retry.budget.as_secs()
            ),
            retry.budget.as_secs().to_string(),
        ),
        example(
            "models.NAME.max_tokens_field",
            "The request field that carries the reply's length limit: \"max_tokens\" (default) or \"max_completion_tokens\" (newer OpenAI models).",
            "\"max_tokens\"",
        ),
        example(
            "models.NAME.stream_usage",
            "Ask for token usage in streamed replies (stream_options.include_usage); a server that refuses it is asked again without it.",
            "true",
        ),
        example(
            "models.NAME.fallback",
            "Backends tried in order when this one fails after its retries; \"offline\" is the scripted backend.",
            "[\"offline\"]",
        ),
        doc("chat", "Chat limits."),
        doc(
            "chat.history_messages",
            "At most this many earlier messages are sent to the model with each turn…",
        ),
        doc(
            "chat.history_chars",
            "…and at most this many characters of them.",
        ),
        doc(
            "chat.max_message_chars",
            "User messages longer than this are refused.",
        ),
        doc(
            "chat.max_reply_chars",
            "A model's reply is cut here, and stored marked truncated.",
        ),
        doc(
            "followups",
            "The follow-up policy: when a persona checks in, once, with a user who has gone quiet. A persona's own [followups] can only make it stricter.",
        ),
        doc("followups.enabled", "Whether follow-ups are sent at all."),
        doc(
            "followups.min_user_messages",
            "User messages needed within the window…",
        ),
        doc("followups.window_days", "…of this many days."),
        doc(
            "followups.min_silence_hours",
            "Hours of silence since the user's last message before a follow-up.",
        ),
        doc(
            "followups.quiet_hours_start",
            "No follow-ups from this hour…",
        ),
        doc(
            "followups.quiet_hours_end",
            "…to this hour, in the user's own time zone (equal values: no quiet hours).",
        ),
        doc(
            "followups.default_timezone",
            "The time zone of users who have not set one: an IANA name such as \"Europe/Paris\".",
        ),
        doc("followups.concurrency", "Follow-ups written at once."),
        doc(
            "followups.max_chars",
            "The longest follow-up, in characters (disclaimers excluded).",
        ),
        doc(
            "safety",
            "Safety: AI disclosure, disclaimers, the crisis protocol and retention, all on by default.",
        ),
        doc(
            "safety.notice_every_hours",
            "Repeat the AI notice after this many hours of chatting…",
        ),
        doc(
            "safety.notice_after_gap_minutes",
            "…and when the user comes back after this many minutes.",
        ),
        doc(
            "safety.break_reminder_hours",
            "Remind minors to take a break this often, in hours.",
        ),
        doc(
            "safety.crisis_hold_days",
            "Days without proactive messages after a crisis referral.",
        ),
        doc(
            "safety.retention_days",
            "Messages older than this many days are purged (0 keeps them forever).",
        ),
        doc(
            "safety.model_check",
            "Also ask the model whether a message is a crisis (one short extra call per message).",
        ),
        doc(
            "safety.moderation_timeout_ms",
            "How long a reply waits for the moderation check, in milliseconds, before the offline layers decide alone.",
        ),
        example(
            "safety.language_dir",
            "A directory of language data over the built-in one: cue lists for the detector, disclaimers and crisis replies per language (default: ./lang when it exists; see Safety).",
            "\"lang\"",
        ),
        doc(
            "safety.moderation",
            "A moderation check run beside each reply, which is held until it passes: an OpenAI-compatible moderation endpoint, a guard model (Llama Guard 3, ShieldGemma) on any OpenAI-compatible server, or the persona's own model.",
        ),
        example(
            "safety.moderation.kind",
            "Which check: \"openai\" (POST /moderations), \"llama-guard\", \"shieldgemma\" or \"persona\".",
            "\"openai\"",
        ),
        example(
            "safety.moderation.base_url",
            "The server's API base (default for \"openai\": https://api.openai.com/v1; needed by the guard models).",
            "\"https://api.openai.com/v1\"",
        ),
        example(
            "safety.moderation.model",
            "The moderation or guard model's id on that server.",
            "\"omni-moderation-latest\"",
        ),
        example(
            "safety.moderation.api_key_env",
            "The NAME of the environment variable holding the server's key.",
            "\"OPENAI_API_KEY\"",
        ),
        example(
            "safety.moderation.template",
            "For Llama Guard: \"troupe\" writes its prompt, \"server\" lets the server's chat template do it.",
            "\"troupe\"",
        ),
        example(
            "safety.moderation.threshold",
            "For \"openai\": a category also counts when its score reaches this (0 to 1); unset, the endpoint's own flags decide.",
            "0.5",
        ),
        example(
            "safety.disclaimers",
            "Replace any built-in disclaimer, per language code (\"en\", \"fr\", \"pt-BR\").",
            "en",
        ),
        example(
            "safety.disclaimers.LANG.general",
            "Shown with every follow-up.",
            "\"Pip is an AI: double-check anything important.\"",
        ),
        example(
            "safety.disclaimers.LANG.medical",
            "Shown when a message touches health.",
            "\"This is not medical advice: ask a doctor.\"",
        ),
        example(
            "safety.disclaimers.LANG.psychological",
            "Shown when a message touches mental health.",
            "\"This is not therapy: a professional can help.\"",
        ),
        example(
            "safety.disclaimers.LANG.legal",
            "Shown when a message touches the law.",
            "\"This is not legal advice: ask a lawyer.\"",
        ),
        example(
            "safety.crisis",
            "Replace the crisis reply, per language code, e.g. with the helplines of your users' country.",
            "en",
        ),
        example(
            "safety.crisis.LANG.danger",
            "The whole reply to a user in immediate danger from someone else (the emergency number, a domestic-violence line).",
            "\"If you are in danger right now, call your local emergency number.\"",
        ),
        example(
            "safety.crisis.LANG.message",
            "The whole reply to a user in crisis.",
            "\"It sounds like you are going through something really hard. If you are in danger, call your local emergency number now.\"",
        ),
        doc(
            "store",
            "The store: scheduled backups, made by `troupe serve` (`troupe store backup DIR` makes one by hand).",
        ),
        example(
            "store.backup_dir",
            "Where scheduled backups go, relative to the data dir unless absolute; unset, no scheduled backups.",
            "\"backups\"",
        ),
        doc(
            "store.backup_interval_secs",
            "Seconds between two scheduled backups.",
        ),
        doc(
            "store.backup_keep",
            "How many scheduled backups are kept; older ones are removed.",
        ),
        example(
            "store.url",
            "A PostgreSQL database for the store, never with its password; TROUPE_DATABASE_URL wins; unset, sled in the data dir. In progress: only `troupe store migrate`, `troupe store copy` and `troupe followups run|due|explain` use it so far.",
            "\"postgres://troupe@127.0.0.1:5432/troupe\"",
        ),
        example(
            "store.password_env",
            "The NAME of the env var holding the database password; unset, PGPASSWORD.",
            "\"TROUPE_DATABASE_PASSWORD\"",
        ),
        doc(
            "store.cache_mib",
            "The most memory, in MiB, the store keeps as a cache of recent reads and writes.",
        ),
        doc(
            "server",
            "`troupe serve`: listening, access, limits and webhooks.",
        ),
        example(
            "server.listen",
            format!(
                "The address to listen on (default {DEFAULT_LISTEN}; TROUPE_LISTEN and --listen win)."
            ),
            format!("\"{DEFAULT_LISTEN}\""),
        ),
        example(
            "server.operator_token_envs",
            format!(
                "The NAMES of the environment variables holding operator tokens (default {DEFAULT_OPERATOR_TOKEN_ENV}); with no token set, the server listens on loopback only."
            ),
            format!("[\"{DEFAULT_OPERATOR_TOKEN_ENV}\"]"),
        ),
        doc(
            "server.cors_origins",
            "Browser origins allowed to call the API (none: CORS off).",
        ),
        doc(
            "server.max_body_bytes",
            "Larger request bodies are refused (413).",
        ),
        doc(
            "server.user_turns_per_minute",
            "Chat turns one user may start per minute.",
        ),
        doc(
            "server.token_requests_per_minute",
            "Requests one access token may make per minute.",
        ),
        doc(
            "server.max_streams",
            "Event streams and streamed replies open at once.",
        ),
        doc(
            "server.max_streams_per_user",
            "Event streams one user may hold.",
        ),
        doc(
            "server.request_timeout_secs",
            "How long a JSON reply is waited for, in seconds (the turn goes on; 504).",
        ),
        doc(
            "server.header_timeout_secs",
            "How long a client may take to send a request's head, in seconds; a connection left silent longer is closed.",
        ),
        doc(
            "server.shutdown_grace_secs",
            "On Ctrl-C or SIGTERM, how long turns in flight get to finish, in seconds.",
        ),
        doc(
            "server.followups",
            "Whether the server delivers follow-ups as they fall due (false: only POST /v1/followups/run delivers them).",
        ),
        doc(
            "server.followup_check_secs",
            "The follow-up scheduler's longest sleep, in seconds.",
        ),
        example(
            "server.webhooks",
            "Outgoing webhooks: each follow-up a persona delivers is POSTed, signed, to every one.",
            "crm",
        ),
        example(
            "server.webhooks.NAME.url",
            "Where follow-ups are POSTed.",
            "\"https://crm.example.com/hooks/troupe\"",
        ),
        example(
            "server.webhooks.NAME.secret_env",
            "The NAME of the environment variable holding the signing secret.",
            "\"CRM_WEBHOOK_SECRET\"",
        ),
        example(
            "server.webhooks.NAME.timeout_secs",
            format!(
                "How long one attempt may take, in seconds (default {}).",
                webhook.timeout_secs
            ),
            webhook.timeout_secs.to_string(),
        ),
        example(
            "server.webhooks.NAME.max_backoff_secs",
            format!(
                "The longest wait between two attempts, in seconds (default {}).",
                webhook.max_backoff_secs
            ),
            webhook.max_backoff_secs.to_string(),
        ),
    ]
}
