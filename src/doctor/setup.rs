//! The files a project is made of: the config, the personas, the prompts,
//! the language data.

use super::{Check, Finding};
use crate::app::Settings;
use crate::config::{Config, ConfigError};
use crate::persona::{PersonaError, Personas};

/// The config file: read and checked, every problem with its position.
pub(super) fn check_config(settings: &Settings) -> (Finding, Option<Config>) {
    let Some(path) = &settings.config_path else {
        let finding = Finding::ok(
            Check::Config,
            "no config file (./troupe.toml, --config or TROUPE_CONFIG): built-in defaults; `troupe init` writes a commented one",
        );
        return (finding, Some(Config::default()));
    };
    let shown = path.display().to_string();
    match Config::load(path) {
        Ok(config) => {
            let backends = config.models.len();
            let message = format!("{shown}: ok ({backends} model backend(s) configured)");
            (
                Finding::ok(Check::Config, message).named(shown),
                Some(config),
            )
        }
        Err(ConfigError::Invalid(diagnostics)) => {
            let problems: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            let finding = Finding::problem(
                Check::Config,
                format!("{shown} has {} problem(s)", problems.len()),
                format!(
                    "edit {shown} at each file:line:column shown; `troupe init` in an empty folder writes every setting with its default, commented"
                ),
            );
            (finding.named(shown).with_problems(problems), None)
        }
        Err(e) => {
            let finding = Finding::problem(
                Check::Config,
                e.to_string(),
                "point --config (or TROUPE_CONFIG) at a readable file, or leave both unset to use ./troupe.toml",
            );
            (finding.named(shown), None)
        }
    }
}

/// The persona files, checked as strictly as `troupe personas check`.
pub(super) fn check_personas(settings: &Settings, config: &Config) -> (Finding, Option<Personas>) {
    let dir = settings.personas_dir.as_deref();
    let place = dir.map_or_else(
        || "the built-in set".to_string(),
        |d| d.display().to_string(),
    );
    match Personas::check(dir, config) {
        Ok(personas) => {
            let message = format!(
                "{} persona(s) from {place}: {}",
                personas.len(),
                personas.ids().join(", ")
            );
            (
                Finding::ok(Check::Personas, message).named(place),
                Some(personas),
            )
        }
        Err(PersonaError::Invalid(diagnostics)) => {
            let problems: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            let finding = Finding::problem(
                Check::Personas,
                format!(
                    "{} problem(s) in the persona files of {place}",
                    problems.len()
                ),
                "edit each file at the file:line:column shown, then run `troupe personas check`; a broken persona is skipped until then",
            );
            (finding.named(place).with_problems(problems), None)
        }
        Err(e @ PersonaError::Empty(_)) => {
            let finding = Finding::problem(
                Check::Personas,
                e.to_string(),
                "add a persona file there (`troupe init` writes a starter one), or point --personas at a folder of them",
            );
            (finding.named(place), None)
        }
        Err(e) => {
            let finding = Finding::problem(
                Check::Personas,
                e.to_string(),
                "point --personas (or TROUPE_PERSONAS) at a readable folder of persona files",
            );
            (finding.named(place), None)
        }
    }
}

/// The language data: the built-in `lang/` files with the deployment's
/// directory over them parse, every cue can match, every name is known.
pub(super) fn check_language(settings: &Settings, config: &Config) -> Finding {
    let dir = settings.language_dir_for(config);
    let place = dir.as_deref().map_or_else(
        || "the built-in language data".to_string(),
        |d| d.display().to_string(),
    );
    match crate::lang::LangData::load(dir.as_deref()) {
        Ok(data) => Finding::ok(Check::Language, format!("{place}: ok ({})", data.summary()))
            .named(place),
        Err(e) => Finding::problem(
            Check::Language,
            e.to_string(),
            "fix the file at the line shown (see the comment at its top for the format), or delete it to use the built-in one",
        )
        .named(place),
    }
}
