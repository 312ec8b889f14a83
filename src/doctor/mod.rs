//! `troupe doctor`: checks what a newcomer gets wrong, one [`Finding`]
//! each, with how to fix it: the config file, the persona files, the prompt
//! templates, the language data, each model backend (reachable and answering), the data dir
//! (writable, not held by another command), the store's schema, the time
//! zone database and the clock.
//!
//! It works from [`Settings`], not from an [`crate::app::App`], so a broken
//! config or persona is reported rather than stopping it, and it creates
//! nothing: a data dir that does not exist yet is reported as such.

mod backends;
mod data;
mod prompts;
mod setup;
mod time;

use serde::Serialize;

use crate::app::Settings;
use crate::backend::EnvLookup;
use crate::config::Config;

/// What was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The config file (`troupe.toml`).
    Config,
    /// The persona files.
    Personas,
    /// The prompt templates.
    Prompts,
    /// The language data: the detector's cue lists and each language's texts.
    Language,
    /// One model backend.
    Backend,
    /// The data dir: writable, and who holds it.
    DataDir,
    /// The store in the data dir: its schema version.
    Store,
    /// The time zone database and the zones in use.
    TimeZones,
    /// The clock: the system's, or one fixed by `--now`/`TROUPE_NOW`.
    Clock,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but probably not as meant.
    Warning,
    /// Something is wrong: Troupe will fail or misbehave until it is fixed.
    Problem,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What was checked.
    pub check: Check,
    /// Which one (a backend's name, a file), when there are several.
    pub name: Option<String>,
    /// How it came out.
    pub status: Status,
    /// What was found, in a sentence.
    pub message: String,
    /// Each problem on its own line (`file:line:column: message`).
    pub problems: Vec<String>,
    /// What to do about it (for warnings and problems).
    pub fix: Option<String>,
}

impl Finding {
    /// A check that passed.
    pub(crate) fn ok(check: Check, message: impl Into<String>) -> Self {
        Self {
            check,
            name: None,
            status: Status::Ok,
            message: message.into(),
            problems: Vec::new(),
            fix: None,
        }
    }

    /// A check that found something wrong, and what to do.
    pub(crate) fn problem(
        check: Check,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Problem,
            fix: Some(fix.into()),
            ..Self::ok(check, message)
        }
    }

    /// A check that found something probably not meant, and what to do.
    pub(crate) fn warning(
        check: Check,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Warning,
            ..Self::problem(check, message, fix)
        }
    }

    /// The same finding about `name`.
    pub(crate) fn named(self, name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..self
        }
    }

    /// The same finding, listing `problems` one a line.
    pub(crate) fn with_problems(self, problems: Vec<String>) -> Self {
        Self { problems, ..self }
    }
}

/// Every finding, in the order checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// No check found a problem (warnings allowed).
    pub ok: bool,
    /// The findings.
    pub checks: Vec<Finding>,
}

/// Runs every check for `settings`; `env` reads environment variables (the
/// process's, in the binary).
pub async fn diagnose(settings: &Settings, env: EnvLookup<'_>) -> Report {
    let (clock_finding, clock) = time::check_clock(settings, env);
    let (config_finding, config) = setup::check_config(settings);
    let checked_config = config.clone().unwrap_or_default();
    let (personas_finding, personas) = setup::check_personas(settings, &checked_config);
    let mut checks = vec![config_finding, personas_finding];
    checks.push(prompts::check_prompts(
        settings,
        personas.as_ref(),
        clock.now(),
    ));
    checks.push(setup::check_language(settings, &checked_config));
    checks.extend(backend_findings(settings, config.as_ref(), env).await);
    let (data_findings, facts) = data::check_data_dir(&settings.data_dir);
    checks.extend(data_findings);
    checks.push(time::check_time_zones(&checked_config, facts.as_ref()));
    checks.push(time::behind_stored_activity(
        clock_finding,
        &clock,
        facts.as_ref(),
    ));
    Report {
        ok: checks.iter().all(|c| c.status != Status::Problem),
        checks,
    }
}

/// The backends' findings, or why they were not checked.
async fn backend_findings(
    settings: &Settings,
    config: Option<&Config>,
    env: EnvLookup<'_>,
) -> Vec<Finding> {
    match config {
        Some(config) => backends::check_backends(config, settings.model.as_deref(), env).await,
        None => vec![Finding::warning(
            Check::Backend,
            "not checked: the config file has problems",
            "fix the config file first, then run `troupe doctor` again",
        )],
    }
}
