//! The prompt templates: they compile, and each renders with sample data
//! for every persona — the system prompt, and the follow-up instruction
//! both with topics and an excerpt and with neither — so a template that
//! only fails on one branch, or on one persona's fields, is named here,
//! with its `file:line`, rather than at a user's first chat or follow-up.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Check, Finding};
use crate::app::Settings;
use crate::followup::FollowUpContext;
use crate::followup::generate::{ExcerptLine, FOLLOWUP_TEMPLATE, followup_request};
use crate::persona::{Persona, Personas};
use crate::prompt::{MAIN_TEMPLATE, PromptError, Prompts, SYSTEM_TEMPLATE};

/// What to do about a template that does not compile or render.
const FIX: &str = "fix the template at the line shown (tera syntax: {{ persona.name }}, {% if … %}; the variables each template gets are listed at its top), or delete the file to use the built-in one";

/// Loads the templates `settings` name and renders each for every persona
/// (the built-in personas when the persona files have problems, so the
/// templates are still checked).
pub(super) fn check_prompts(
    settings: &Settings,
    personas: Option<&Personas>,
    now: DateTime<Utc>,
) -> Finding {
    let place = settings.prompts_dir.as_deref().map_or_else(
        || "the built-in templates".to_string(),
        |d| d.display().to_string(),
    );
    let loaded = match &settings.prompts_dir {
        Some(dir) => Prompts::load_dir(dir),
        None => Prompts::builtin(),
    };
    let prompts = match loaded {
        Ok(prompts) => prompts,
        Err(e) => {
            return Finding::problem(Check::Prompts, "a prompt template does not compile", FIX)
                .named(place)
                .with_problems(vec![e.to_string()]);
        }
    };
    let builtin;
    let personas = match personas {
        Some(personas) => personas,
        None => {
            builtin = Personas::builtin();
            &builtin
        }
    };
    let failures = render_failures(&prompts, personas, now);
    if failures.is_empty() {
        let message = format!(
            "{place}: {SYSTEM_TEMPLATE} (with {MAIN_TEMPLATE}) and {FOLLOWUP_TEMPLATE} render for every persona"
        );
        Finding::ok(Check::Prompts, message).named(place)
    } else {
        Finding::problem(Check::Prompts, "a prompt template does not render", FIX)
            .named(place)
            .with_problems(failures)
    }
}

/// Every rendering error, once each, with the template and the personas
/// it failed for (`file:line: message (rendering followup.tera for chef)`).
fn render_failures(prompts: &Prompts, personas: &Personas, now: DateTime<Utc>) -> Vec<String> {
    let mut failures: BTreeMap<(String, &str), Vec<&str>> = BTreeMap::new();
    for persona in personas.iter() {
        for (template, result) in render_samples(prompts, persona, now) {
            if let Err(error) = result {
                let ids = failures.entry((error.to_string(), template)).or_default();
                if !ids.contains(&persona.id.as_str()) {
                    ids.push(&persona.id);
                }
            }
        }
    }
    failures
        .into_iter()
        .map(|((error, template), ids)| {
            format!("{error} (rendering {template} for {})", ids.join(", "))
        })
        .collect()
}

/// Renders each template for `persona` as Troupe does: the system prompt,
/// and the follow-up instruction for a conversation with topics and one
/// without (the template's two branches).
fn render_samples(
    prompts: &Prompts,
    persona: &Arc<Persona>,
    now: DateTime<Utc>,
) -> Vec<(&'static str, Result<(), PromptError>)> {
    let mut results = vec![(
        SYSTEM_TEMPLATE,
        prompts
            .render_system(persona, &crate::prompt::Scene::preview(persona, now))
            .map(drop),
    )];
    for context in [sample_context(persona), FollowUpContext::default()] {
        let rendered = followup_request(prompts, persona, &context, now).map(drop);
        results.push((FOLLOWUP_TEMPLATE, rendered));
    }
    results
}

/// A conversation as a follow-up sees it: two topics, two lines of
/// excerpt, three days away.
fn sample_context(persona: &Persona) -> FollowUpContext {
    FollowUpContext {
        topics: vec!["saffron risotto".to_string(), "vegetable stock".to_string()],
        excerpt: vec![
            ExcerptLine {
                who: "User".to_string(),
                text: "I'll cook it for friends on Saturday.".to_string(),
            },
            ExcerptLine {
                who: persona.name.clone(),
                text: "Let it rest two minutes before serving.".to_string(),
            },
        ],
        away: "3 days".to_string(),
        scene: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompts_with(name: &str, text: &str) -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::write(dir.path().join(name), text).expect("write the template");
        let settings = Settings {
            prompts_dir: Some(dir.path().to_path_buf()),
            ..Settings::default()
        };
        (dir, settings)
    }

    #[test]
    fn the_built_in_templates_render_for_every_built_in_persona() {
        let finding = check_prompts(&Settings::default(), None, Utc::now());
        assert_eq!(finding.status, super::super::Status::Ok, "{finding:?}");
    }

    #[test]
    fn a_follow_up_template_failing_on_one_branch_is_named_with_its_line() {
        let text =
            "Hello {{ persona.name }}\n{% for line in excerpt %}{{ line.speaker }}{% endfor %}\n";
        let (_dir, settings) = prompts_with(FOLLOWUP_TEMPLATE, text);
        let finding = check_prompts(&settings, None, Utc::now());
        assert_eq!(finding.status, super::super::Status::Problem, "{finding:?}");
        assert_eq!(finding.problems.len(), 1, "{finding:?}");
        let problem = &finding.problems[0];
        assert!(problem.contains("followup.tera:2:"), "{problem}");
        assert!(
            problem.contains("rendering followup.tera for "),
            "{problem}"
        );
    }

    #[test]
    fn a_system_template_naming_a_missing_variable_is_named_with_its_line() {
        let text = "You are {{ persona.name }}.\nYou live in {{ persona.city }}.\n";
        let (_dir, settings) = prompts_with(SYSTEM_TEMPLATE, text);
        let finding = check_prompts(&settings, None, Utc::now());
        assert_eq!(finding.status, super::super::Status::Problem, "{finding:?}");
        let problem = &finding.problems[0];
        assert!(problem.contains("system.tera:2:"), "{problem}");
        assert!(problem.contains("chef"), "{problem}");
    }
}
