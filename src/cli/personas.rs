//! `troupe personas list|show|check|new|import|export`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;

use super::print_json;
use super::progress::Bar;
use crate::app::{App, Settings};
use crate::config::Config;
use crate::error::Error;
use crate::persona::{Persona, PersonaError, Personas, card};
use crate::project;
use crate::report::{PersonaDetail, PersonaSummary};

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
    /// Write a new persona file to start from, every key explained.
    #[command(after_help = "Example: troupe personas new night-owl --into personas/")]
    New(NewArgs),
    /// Import Character Cards (V1, V2, V3 as .json, .png or .charx) as persona files.
    #[command(after_help = "Example: troupe personas import Seraphina.png --into personas/")]
    Import(ImportArgs),
    /// Export a persona as a Character Card (JSON, or PNG with the card in it).
    #[command(
        after_help = "Example: troupe personas export chef --format card-v3 --png -o chef.png"
    )]
    Export(ExportArgs),
}

/// Arguments of `personas import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The card files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where to write the persona files [default: --personas, else ./personas].
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    /// The language the characters speak (cards do not say) [default: en].
    #[arg(long, value_name = "CODE")]
    pub language: Option<String>,
    /// Replace persona files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Show no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// The files are lorebooks (lorebook_v3, SillyTavern World Info): write
    /// their entries to this persona's lore file, ID.lore.toml.
    #[arg(long, value_name = "ID")]
    pub lore_for: Option<String>,
}

/// Arguments of `personas new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The persona id, which names its file (ID.toml).
    pub id: String,
    /// Where to write the file [default: --personas, else ./personas].
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    /// The language the persona answers in.
    #[arg(long, value_enum, default_value = "en")]
    pub language: NewLanguage,
}

/// The languages `personas new` starts a persona in.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum NewLanguage {
    /// English.
    En,
    /// French.
    Fr,
}

/// The card formats `personas export` writes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// Character Card V2 (`chara_card_v2`).
    CardV2,
    /// Character Card V3 (`chara_card_v3`).
    CardV3,
}

/// Arguments of `personas export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The persona id.
    pub id: String,
    /// The card's JSON dialect (a PNG holds both).
    #[arg(long, value_enum, default_value = "card-v2")]
    pub format: ExportFormat,
    /// Write a PNG card, on this image or, without one, on a generated avatar.
    #[arg(long, value_name = "IMAGE", num_args = 0..=1)]
    pub png: Option<Option<PathBuf>>,
    /// The file to write [default: stdout for JSON, ID.png for a PNG].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `personas list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print [{"id","name","description","language","expertise","adults_only","greeting","ai_notice","backend_notice"}], as GET /v1/personas.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `personas show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The persona id.
    pub id: String,
    /// Print every field of the persona, its "system_prompt" and its "file", as GET /v1/personas/ID does for operators.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `personas check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The directory to check [default: --personas, else ./personas, else the built-in personas].
    pub dir: Option<PathBuf>,
    /// Print {"ok","personas","problems","notes"}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `personas list` and `personas show`.
pub fn run(app: &App, command: PersonasCommand) -> Result<i32, Error> {
    match command {
        PersonasCommand::List(args) => list(app, args.json)?,
        PersonasCommand::Show(args) => {
            let persona = app.persona(&args.id)?;
            if args.json {
                print_json(&PersonaDetail::for_operator(app, &persona)?)?;
            } else {
                outln!("{}", describe(&persona));
            }
        }
        PersonasCommand::Export(args) => export(app, &args)?,
        PersonasCommand::Check(_) | PersonasCommand::Import(_) | PersonasCommand::New(_) => {
            unreachable!("`personas check`, `new` and `import` run before the app is built")
        }
    }
    Ok(0)
}

/// Runs the subcommands that need no catalog (`check`, `new`, `import`);
/// `None` for the others.
pub fn run_without_app(command: &PersonasCommand, settings: &Settings) -> Option<i32> {
    match command {
        PersonasCommand::Check(args) => Some(check(args, settings)),
        PersonasCommand::New(args) => Some(new(args, settings)),
        PersonasCommand::Import(args) => Some(import(args, settings)),
        _ => None,
    }
}

/// Runs `personas new`: writes the file, says what to run next; exit 1
/// (and nothing written) if the id is taken or cannot be a file name.
fn new(args: &NewArgs, settings: &Settings) -> i32 {
    let default_dir = settings.personas_dir.is_none() && args.into.is_none();
    let into = args
        .into
        .clone()
        .or_else(|| settings.personas_dir.clone())
        .unwrap_or_else(|| PathBuf::from("personas"));
    let language = match args.language {
        NewLanguage::En => project::ScaffoldLanguage::En,
        NewLanguage::Fr => project::ScaffoldLanguage::Fr,
    };
    match project::new_persona(&into, &args.id, language) {
        Ok(path) => {
            let dir = into.display();
            let personas = if default_dir {
                String::new()
            } else {
                format!("--personas {dir} ")
            };
            outln!("wrote {}: edit it, then", path.display());
            outln!("  troupe personas check {dir}");
            outln!("  troupe {personas}chat {}", args.id);
            0
        }
        Err(e) => {
            errln!("troupe: {e}");
            1
        }
    }
}

/// Runs `personas import`: one persona file per card, a report for each,
/// exit 1 if any card could not be imported (the others still are).
fn import(args: &ImportArgs, settings: &Settings) -> i32 {
    let into = args
        .into
        .clone()
        .or_else(|| settings.personas_dir.clone())
        .unwrap_or_else(|| PathBuf::from("personas"));
    if let Some(persona) = &args.lore_for {
        return import_lore(args, &into, persona);
    }
    let mut failed = 0;
    let mut bar = Bar::new(args.quiet);
    let results = card::import_cards(
        &args.files,
        &into,
        args.language.as_deref(),
        args.force,
        &mut bar,
    );
    bar.finish();
    for (file, result) in args.files.iter().zip(results) {
        match result {
            Ok(imported) => outln!("{}", import_report(file, &imported)),
            Err(e) => {
                errln!("troupe: {e}");
                failed += 1;
            }
        }
    }
    if failed < args.files.len() {
        outln!("check them with `troupe personas check {}`", into.display());
    }
    i32::from(failed > 0)
}

/// Runs `personas import --lore-for ID`: the lorebooks into the persona's
/// lore file, or nothing on any problem.
fn import_lore(args: &ImportArgs, into: &std::path::Path, persona: &str) -> i32 {
    match card::import_lorebooks(&args.files, into, persona, args.force) {
        Ok(imported) => {
            outln!(
                "imported {} lore entries for persona \"{}\" into {}",
                imported.entries,
                imported.persona,
                imported.file.display()
            );
            for warning in &imported.warnings {
                outln!("  warning: {warning}");
            }
            outln!("check them with `troupe personas check {}`", into.display());
            0
        }
        Err(e) => {
            errln!("troupe: {e}");
            1
        }
    }
}

/// What an import did, for the creator to review.
fn import_report(file: &std::path::Path, imported: &card::Imported) -> String {
    let report = &imported.report;
    let mut lines = vec![format!(
        "imported {} ({}) as {}: persona \"{}\" ({})",
        file.display(),
        imported.spec.label(),
        imported.file.display(),
        imported.id,
        imported.name
    )];
    lines.push(format!("  mapped: {}", report.mapped.join(", ")));
    if !report.kept.is_empty() {
        lines.push(format!("  kept in [card]: {}", report.kept.join(", ")));
    }
    for stand_in in &report.stand_ins {
        lines.push(format!("  stand-in: {stand_in}"));
    }
    let (language, defaulted) = &report.language;
    if *defaulted {
        lines.push(format!(
            "  language: {language} (cards do not say which language a character speaks; pass --language to choose)"
        ));
    } else {
        lines.push(format!("  language: {language}"));
    }
    if report.adults_only {
        lines.push("  adults only: the card is marked NSFW".to_string());
    }
    lines.push(
        "  safety: the AI notice, disclaimers and crisis protocol apply as to every persona"
            .to_string(),
    );
    for warning in &report.warnings {
        lines.push(format!("  warning: {warning}"));
    }
    lines.join("\n")
}

/// Runs `personas export`: JSON on stdout or in a file, or a PNG file.
fn export(app: &App, args: &ExportArgs) -> Result<(), Error> {
    let persona = app.persona(&args.id)?;
    let wants_png = args.png.is_some()
        || args
            .output
            .as_ref()
            .and_then(|o| o.extension())
            .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !wants_png {
        let format = match args.format {
            ExportFormat::CardV2 => card::CardFormat::V2,
            ExportFormat::CardV3 => card::CardFormat::V3,
        };
        let text = card::export_json(&persona, format);
        return match &args.output {
            Some(path) => {
                write_output(path, format!("{text}\n").as_bytes())?;
                outln!("wrote {}", path.display());
                Ok(())
            }
            None => {
                outln!("{text}");
                Ok(())
            }
        };
    }
    let image_path = args.png.clone().flatten();
    let image = match &image_path {
        Some(path) => Some(read_image(path)?),
        None => None,
    };
    let png = card::export_png(&persona, image.as_deref()).map_err(|e| match &image_path {
        Some(path) => Error::Input(format!("{}: {e}", path.display())),
        None => Error::Input(e.to_string()),
    })?;
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.png", persona.id)));
    write_output(&path, &png)?;
    outln!("wrote {} (chara V2 and ccv3 V3 chunks)", path.display());
    Ok(())
}

/// The image a PNG card is written on, refused when over the card size limit.
fn read_image(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| Error::Input(format!("could not read {shown}: {e}")))?
        .len();
    if size > card::MAX_CARD_BYTES as u64 {
        return Err(Error::Input(format!(
            "{shown} is {size} bytes, over the {} bytes a card may be; use a smaller image",
            card::MAX_CARD_BYTES
        )));
    }
    std::fs::read(path).map_err(|e| Error::Input(format!("could not read {shown}: {e}")))
}

/// Writes an exported card.
fn write_output(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes)
        .map_err(|e| Error::Usage(format!("could not write {}: {e}", path.display())))
}

fn list(app: &App, json: bool) -> Result<(), Error> {
    if json {
        return print_json(&PersonaSummary::all(app));
    }
    for p in app.personas().iter() {
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
    if let Some(card) = &p.card {
        if let Some(scenario) = &card.scenario {
            lines.push(format!(
                "scenario:\n  {}",
                scenario.trim().replace('\n', "\n  ")
            ));
        }
        if !card.tags.is_empty() {
            lines.push(format!("tags: {}", card.tags.join(", ")));
        }
    }
    let follow = if p.followups.enabled { "on" } else { "off" };
    lines.push(format!("follow-ups: {follow}"));
    lines.join("\n")
}

/// What `personas check --json` prints: the field names `doctor --json`
/// uses for the same findings.
#[derive(Debug, Default, Serialize)]
struct CheckReport {
    /// No file has a problem.
    ok: bool,
    /// The ids of the personas that were read.
    personas: Vec<String>,
    /// Each problem, `file:line:column: message`.
    problems: Vec<String>,
    /// What falls back to English, per persona.
    notes: Vec<String>,
}

/// Runs `personas check`; prints every problem, exits 1 if there are any.
pub fn check(args: &CheckArgs, settings: &Settings) -> i32 {
    let report = check_report(args, settings);
    if args.json {
        if let Err(e) = print_json(&report) {
            errln!("troupe: {e}");
            return 1;
        }
    } else if report.ok {
        outln!(
            "ok: {} personas ({})",
            report.personas.len(),
            report.personas.join(", ")
        );
        for note in &report.notes {
            outln!("note: {note}");
        }
    } else {
        for problem in &report.problems {
            errln!("{problem}");
        }
    }
    i32::from(!report.ok)
}

/// Checks the persona files `args` and `settings` name, strictly: any
/// problem in any file fails the check, unlike the runtime, which skips a
/// broken persona.
fn check_report(args: &CheckArgs, settings: &Settings) -> CheckReport {
    let dir = args.dir.clone().or_else(|| settings.personas_dir.clone());
    let failed = |problems: Vec<String>| CheckReport {
        problems,
        ..CheckReport::default()
    };
    let config = match settings
        .config_path
        .as_deref()
        .map(Config::load)
        .transpose()
    {
        Ok(config) => config.unwrap_or_default(),
        Err(e) => return failed(vec![e.to_string()]),
    };
    match Personas::check(dir.as_deref(), &config) {
        Ok(personas) => CheckReport {
            ok: true,
            personas: personas.ids(),
            problems: Vec::new(),
            notes: personas
                .iter()
                .filter_map(|p| language_note(p, &config))
                .collect(),
        },
        Err(PersonaError::Invalid(diagnostics)) => {
            failed(diagnostics.iter().map(ToString::to_string).collect())
        }
        Err(e) => failed(vec![e.to_string()]),
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
