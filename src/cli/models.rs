//! `troupe models list|check`: which backends exist, which is used and why,
//! and whether each answers.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::print_json;
use crate::app::App;
use crate::backend::{self, Backend, BackendCheck, BackendChoice, Lineup};
use crate::error::Error;

/// The `models` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the backends and say which one is used by default, and why.
    #[command(after_help = "Example: troupe models list --json")]
    List(ListArgs),
    /// Send each backend (or NAME) a tiny request and report latency or the error.
    #[command(after_help = "Example: troupe models check main")]
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

/// Runs a `models` subcommand.
pub async fn run(app: &App, command: ModelsCommand) -> Result<i32, Error> {
    let Lineup {
        default,
        reason,
        backends: all,
    } = app.backend_lineup()?;
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
                results.push(check_view(backend::check(target).await));
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

/// One backend's check, as shown.
fn check_view(check: BackendCheck) -> CheckView {
    let latency_ms = u64::try_from(check.latency.as_millis()).unwrap_or(u64::MAX);
    let (reply, error) = match check.outcome {
        Ok(reply) => (Some(reply), None),
        Err(e) => (None, Some(e.to_string())),
    };
    CheckView {
        name: check.name,
        ok: error.is_none(),
        latency_ms,
        reply,
        error,
    }
}
