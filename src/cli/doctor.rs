//! `troupe doctor`: every check of [`crate::doctor`], one line each, with
//! the fix under a problem; `--json` prints the report.

use clap::Args;

use super::print_json;
use super::style::{Colour, colour_stdout, paint};
use crate::app::Settings;
use crate::backend::process_env;
use crate::doctor::{self, Check, Finding, Report, Status};
use crate::error::Error;

/// Arguments of `troupe doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print {"ok","checks":[{"check","name","status","message","problems","fix"}]}.
    #[arg(long)]
    pub json: bool,
}

/// Runs every check; exits 1 if any found a problem.
pub async fn run(args: &DoctorArgs, settings: &Settings) -> Result<i32, Error> {
    let report = doctor::diagnose(settings, &process_env).await;
    if args.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(i32::from(!report.ok))
}

/// Width of the status column.
const STATUS: usize = 8;
/// Width of the check column.
const CHECK: usize = 18;

fn print_report(report: &Report) {
    let colour = colour_stdout();
    let indent = " ".repeat(STATUS + CHECK + 2);
    for finding in &report.checks {
        let (word, hue) = match finding.status {
            Status::Ok => ("ok", Colour::Green),
            Status::Warning => ("warning", Colour::Yellow),
            Status::Problem => ("PROBLEM", Colour::Red),
        };
        let word = paint(&format!("{word:<STATUS$}"), hue, colour);
        outln!("{word} {:<CHECK$} {}", label(finding), finding.message);
        for problem in &finding.problems {
            outln!("{indent}{problem}");
        }
        if finding.status != Status::Ok
            && let Some(fix) = &finding.fix
        {
            outln!("{indent}fix: {fix}");
        }
    }
    let count = |status| report.checks.iter().filter(|c| c.status == status).count();
    let (problems, warnings) = (count(Status::Problem), count(Status::Warning));
    outln!();
    match (problems, warnings) {
        (0, 0) => outln!("Everything looks right."),
        (0, w) => outln!("No problems; {w} warning(s) to look at."),
        (p, w) => {
            outln!("{p} problem(s) and {w} warning(s): fix them, then run `troupe doctor` again.")
        }
    }
}

/// The check's name as shown, with the backend's name.
fn label(finding: &Finding) -> String {
    let name = match finding.check {
        Check::Config => "config",
        Check::Personas => "personas",
        Check::Prompts => "prompts",
        Check::Language => "language data",
        Check::Backend => "backend",
        Check::DataDir => "data dir",
        Check::Store => "store",
        Check::TimeZones => "time zones",
        Check::Clock => "clock",
    };
    match (&finding.name, finding.check) {
        (Some(backend), Check::Backend) => format!("{name} {backend}"),
        _ => name.to_string(),
    }
}
