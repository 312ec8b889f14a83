//! `troupe models list|check`: which backends exist, which is used and why,
//! and whether each answers.

use std::time::Instant;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::print_json;
use crate::app::App;
use crate::backend::{self, Backend, BackendChoice};
use crate::config::ConfigError;
use crate::error::Error;
use crate::model::resilient::RetryPolicy;
use crate::model::{ChatMessage, ChatRequest, ChatRole};

/// The `models` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the backends and say which one is used by default, and why.
    List(ListArgs),
    /// Send each backend (or NAME) a tiny request and report latency or the error.
    Check(CheckArgs),
}

/// Arguments of `models list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `models check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only this backend.
    pub name: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// One backend in `models list`.
#[derive(Debug, Serialize)]
struct BackendView {
    name: String,
    provider: &'static str,
    model: String,
    base_url: Option<String>,
    api_key_env: Option<String>,
    api_key_set: bool,
    fallback: Vec<String>,
}

/// `models list --json`.
#[derive(Debug, Serialize)]
struct ListView {
    default: String,
    reason: String,
    backends: Vec<BackendView>,
}

/// One line of `models check`.
#[derive(Debug, Serialize)]
struct CheckView {
    name: String,
    ok: bool,
    latency_ms: u64,
    reply: Option<String>,
    error: Option<String>,
}

fn view(choice: &BackendChoice) -> BackendView {
    let (provider, model, base_url, key_env) = match &choice.backend {
        Backend::OpenAi(s) => (
            "openai",
            s.model.clone(),
            Some(s.base_url.clone()),
            Some(s.api_key_env.clone()),
        ),
        Backend::Anthropic(s) => (
            "anthropic",
            s.model.clone(),
            Some(s.base_url.clone()),
            Some(s.api_key_env.clone()),
        ),
        Backend::Offline => ("offline", "offline".to_string(), None, None),
    };
    BackendView {
        name: choice.name.clone(),
        provider,
        model,
        base_url,
        api_key_set: key_env.as_deref().and_then(backend::process_env).is_some(),
        api_key_env: key_env,
        fallback: choice.fallback.clone(),
    }
}

/// The default backend's name and why it is the default (or why there is
/// none), and every backend, the default first.
fn backends(app: &App) -> Result<(String, String, Vec<BackendChoice>), Error> {
    let Some(persona) = app.personas.iter().next() else {
        return Err(Error::NotFound("no personas are loaded".to_string()));
    };
    let mut neutral = (**persona).clone();
    neutral.model.backend = None;
    let mut all = Vec::new();
    let (name, reason) = match app.backend_for(&neutral) {
        Ok(default) => {
            let found = (default.name.clone(), default.reason.clone());
            all.push(default);
            found
        }
        Err(Error::Config(e @ ConfigError::NoDefault { .. })) => {
            ("(none)".to_string(), e.to_string())
        }
        Err(e) => return Err(e),
    };
    for configured in app.config.models.keys() {
        if *configured != name {
            all.push(backend::named(&app.config, configured, "the config", None)?);
        }
    }
    Ok((name, reason, all))
}

/// Runs a `models` subcommand.
pub async fn run(app: &App, command: ModelsCommand) -> Result<i32, Error> {
    let (default, reason, all) = backends(app)?;
    match command {
        ModelsCommand::List(args) => {
            let list = ListView {
                default,
                reason,
                backends: all.iter().map(view).collect(),
            };
            if args.json {
                print_json(&list)?;
            } else {
                outln!("default: {} ({})", list.default, list.reason);
                for b in &list.backends {
                    let key = match (&b.api_key_env, b.api_key_set) {
                        (Some(env), true) => format!("key in {env}"),
                        (Some(env), false) => format!("{env} not set"),
                        (None, _) => "no key needed".to_string(),
                    };
                    let fallback = if b.fallback.is_empty() {
                        String::new()
                    } else {
                        format!(", falls back to {}", b.fallback.join(", "))
                    };
                    outln!(
                        "  {:<10} {:<9} {:<28} {} ({key}{fallback})",
                        b.name,
                        b.provider,
                        b.model,
                        b.base_url.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(0)
        }
        ModelsCommand::Check(args) => {
            let targets: Vec<BackendChoice> = match &args.name {
                Some(name) => vec![all.iter().find(|c| &c.name == name).cloned().map_or_else(
                    || backend::named(&app.config, name, "`models check`", None),
                    Ok,
                )?],
                None => all,
            };
            let mut results = Vec::new();
            for target in &targets {
                results.push(check(target).await);
            }
            let failed = results.iter().filter(|r| !r.ok).count();
            if args.json {
                print_json(&results)?;
            } else {
                for r in &results {
                    match &r.error {
                        None => outln!("  {:<10} ok      {:>6} ms", r.name, r.latency_ms),
                        Some(e) => outln!("  {:<10} FAILED  {:>6} ms  {e}", r.name, r.latency_ms),
                    }
                }
            }
            Ok(i32::from(failed > 0))
        }
    }
}

/// Sends one tiny request, without retries, and times it.
async fn check(choice: &BackendChoice) -> CheckView {
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
        temperature: Some(0.0),
        max_tokens: Some(5),
        persona: None,
        purpose: Default::default(),
    };
    let started = Instant::now();
    let result = match backend::build_one(&once) {
        Ok(model) => model.complete(&request).await,
        Err(e) => Err(e),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(done) => CheckView {
            name: choice.name.clone(),
            ok: true,
            latency_ms,
            reply: Some(done.text.chars().take(40).collect()),
            error: None,
        },
        Err(e) => CheckView {
            name: choice.name.clone(),
            ok: false,
            latency_ms,
            reply: None,
            error: Some(e.to_string()),
        },
    }
}
