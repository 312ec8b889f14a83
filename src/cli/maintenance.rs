//! `troupe maintenance purge` and `troupe safety report`.

use clap::{Args, Subcommand};

use super::print_json;
use super::progress::Bar;
use crate::app::App;
use crate::error::Error;
use crate::store::Purge;

/// The `maintenance` subcommands.
#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Delete messages older than `[safety] retention_days`, with their topics.
    #[command(after_help = "Example: troupe maintenance purge --json")]
    Purge(PurgeArgs),
}

/// Arguments of `maintenance purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The `safety` subcommands.
#[derive(Debug, Subcommand)]
pub enum SafetyCommand {
    /// Crisis referrals per period, with no user identifiers.
    #[command(after_help = "Example: troupe safety report --by week")]
    Report(ReportArgs),
}

/// Arguments of `safety report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The period to count by.
    #[arg(long, value_enum, default_value = "month")]
    pub by: crate::report::Period,
    /// Print [{"period","crisis_referrals","danger_referrals"}].
    #[arg(long)]
    pub json: bool,
}

/// Runs a `maintenance` subcommand.
pub async fn maintenance(app: &App, command: MaintenanceCommand) -> Result<i32, Error> {
    let MaintenanceCommand::Purge(args) = command;
    let mut bar = Bar::new(args.quiet);
    let purge = match app.open_database().await? {
        Some(store) => app.purge_backend_by_retention(store, &mut bar).await?.1,
        None => app.purge_by_retention(app.open_store()?, &mut bar)?.1,
    };
    bar.finish();
    match (purge, args.json) {
        (Some(p), true) => print_json(&p)?,
        (None, true) => print_json(&Purge::default())?,
        (Some(p), false) => outln!(
            "purged {} message(s), {} topic(s) and {} usage record(s) older than {} days{}",
            p.messages,
            p.topics,
            p.usage,
            app.config.safety.retention_days,
            super::rights::copies_removed(p.preserved_copies_removed, "purged")
        ),
        (None, false) => outln!("retention is off (retention_days = 0): nothing purged"),
    }
    Ok(0)
}

/// Runs a `safety` subcommand (here, or through the server holding the
/// data dir).
pub async fn safety(app: &App, command: SafetyCommand) -> Result<i32, Error> {
    let SafetyCommand::Report(args) = command;
    let lines = super::reach(app).await?.safety_report(args.by).await?;
    if args.json {
        print_json(&lines)?;
    } else if lines.is_empty() {
        outln!("No crisis referrals recorded.");
    } else {
        for line in &lines {
            outln!(
                "{:<10} {} crisis referral(s), {} danger referral(s)",
                line.period,
                line.crisis_referrals,
                line.danger_referrals
            );
        }
    }
    Ok(0)
}
