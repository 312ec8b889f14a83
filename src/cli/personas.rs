//! `troupe personas list|show|check`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::print_json;
use crate::app::{App, Settings};
use crate::config::Config;
use crate::error::Error;
use crate::persona::{Persona, Personas};

/// The `personas` subcommands.
#[derive(Debug, Subcommand)]
pub enum PersonasCommand {
    /// List the personas.
    #[command(after_help = "Example: troupe personas list --json")]
    List(ListArgs),
    /// Show one persona in full.
    #[command(after_help = "Example: troupe personas show chef")]
    Show(ShowArgs),
    /// Check persona files and report every problem as file:line:column.
    #[command(after_help = "Example: troupe personas check personas/")]
    Check(CheckArgs),
}

/// Arguments of `personas list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `personas show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The persona id.
    pub id: String,
    /// Print the persona as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `personas check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The directory to check [default: --personas, else ./personas, else the built-in personas].
    pub dir: Option<PathBuf>,
}

/// One persona in `personas list --json`.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
    language: &'a str,
    expertise: &'a [String],
}

/// Runs `personas list` and `personas show`.
pub fn run(app: &App, command: PersonasCommand) -> Result<i32, Error> {
    match command {
        PersonasCommand::List(args) => list(&app.personas, args.json)?,
        PersonasCommand::Show(args) => {
            let persona = app.persona(&args.id)?;
            if args.json {
                print_json(persona.as_ref())?;
            } else {
                outln!("{}", describe(&persona));
            }
        }
        PersonasCommand::Check(_) => unreachable!("`personas check` runs before the app is built"),
    }
    Ok(0)
}

fn list(personas: &Personas, json: bool) -> Result<(), Error> {
    if json {
        let summaries: Vec<Summary> = personas
            .iter()
            .map(|p| Summary {
                id: &p.id,
                name: &p.name,
                description: &p.description,
                language: &p.language,
                expertise: &p.expertise,
            })
            .collect();
        return print_json(&summaries);
    }
    for p in personas.iter() {
        outln!(
            "{:<10} {:<20} [{}] {}",
            p.id,
            p.name,
            p.language,
            p.description
        );
    }
    Ok(())
}

/// A persona as readable text.
fn describe(p: &Persona) -> String {
    let mut lines = vec![
        format!("{} ({})", p.name, p.id),
        p.description.clone(),
        format!("language: {}", p.language),
        format!("expertise: {}", p.expertise.join(", ")),
        format!("greeting: {}", p.greeting),
        format!("voice:\n  {}", p.voice.trim().replace('\n', "\n  ")),
    ];
    for example in &p.examples {
        lines.push(format!(
            "example:\n  user: {}\n  {}: {}",
            example.user, p.name, example.persona
        ));
    }
    for line in &p.disclaimers {
        lines.push(format!("disclaimer: {line}"));
    }
    let follow = if p.followups.enabled { "on" } else { "off" };
    lines.push(format!("follow-ups: {follow}"));
    lines.join("\n")
}

/// Runs `personas check`; prints every problem, exits 1 if there are any.
pub fn check(args: &CheckArgs, settings: &Settings) -> i32 {
    let dir = args.dir.clone().or_else(|| settings.personas_dir.clone());
    let config = match settings
        .config_path
        .as_deref()
        .map(Config::load)
        .transpose()
    {
        Ok(config) => config.unwrap_or_default(),
        Err(e) => {
            errln!("{e}");
            return 1;
        }
    };
    // Strict, unlike the runtime: any problem in any file fails the check.
    let result = Personas::check(dir.as_deref(), &config);
    match result {
        Ok(personas) => {
            outln!(
                "ok: {} personas ({})",
                personas.len(),
                personas.ids().join(", ")
            );
            for persona in personas.iter() {
                if let Some(note) = language_note(persona, &config) {
                    outln!("note: {note}");
                }
            }
            0
        }
        Err(e) => {
            errln!("{e}");
            1
        }
    }
}

/// What falls back to English for a persona in a language Troupe has no
/// built-in texts for, and how to fill the gap.
fn language_note(persona: &crate::persona::Persona, config: &Config) -> Option<String> {
    let language = persona.language.as_str();
    let primary = language.split('-').next().unwrap_or(language);
    if matches!(primary, "en" | "fr") {
        return None;
    }
    let configured = |table: &dyn Fn(&str) -> bool| table(language) || table(primary);
    let crisis = configured(&|l| config.safety.crisis.contains_key(l));
    let disclaimers = configured(&|l| config.safety.disclaimers.contains_key(l));
    let mut missing = Vec::new();
    if persona.ai_notice.is_none() {
        missing.push("its ai_notice");
    }
    if !disclaimers {
        missing.push("[safety.disclaimers.LANG]");
    }
    if !crisis {
        missing.push("[safety.crisis.LANG] (helplines for your users' country)");
    }
    let gap = if missing.is_empty() {
        String::new()
    } else {
        format!(
            "; set {} with LANG = {language}, or they are in English",
            missing.join(", ")
        )
    };
    Some(format!(
        "{} speaks {language}: sensitive-subject and crisis detection reads English and French only{gap}",
        persona.id
    ))
}
