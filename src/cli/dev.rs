//! `troupe dev populate`: synthetic conversations for demos and benchmarks.

use clap::{Args, Subcommand};

use super::print_json;
use super::progress::Bar;
use crate::app::App;
use crate::error::Error;
use crate::populate::{PopulateOptions, populate, populate_postgres};
use crate::store::StoreError;
use crate::store::postgres::PgStore;

/// The `dev` subcommands.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Fill the store with synthetic conversations.
    #[command(after_help = "Example: troupe dev populate --conversations 10000 --due-percent 2")]
    Populate(PopulateArgs),
}

/// Arguments of `dev populate`.
#[derive(Debug, Args)]
pub struct PopulateArgs {
    /// How many conversations to create.
    #[arg(long, value_name = "N")]
    pub conversations: usize,
    /// About this percentage of them is due for a follow-up now.
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    pub due_percent: f64,
    /// Write conversation records and the due index only (faster, smaller).
    #[arg(long)]
    pub no_messages: bool,
    /// Seed for reproducible stores.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs a `dev` subcommand, on PostgreSQL when a database is configured
/// (`[store] url`, `TROUPE_DATABASE_URL`), else on sled in the data dir.
pub async fn run(app: &App, command: DevCommand) -> Result<i32, Error> {
    let DevCommand::Populate(args) = command;
    if !(0.0..=100.0).contains(&args.due_percent) {
        return Err(Error::Usage(
            "--due-percent must be between 0 and 100".to_string(),
        ));
    }
    let options = PopulateOptions {
        conversations: args.conversations,
        due_percent: args.due_percent,
        with_messages: !args.no_messages,
        seed: args.seed,
    };
    let mut bar = Bar::new(args.quiet);
    let personas = app.personas();
    let policy = &app.config.followups;
    let now = app.clock.now();
    let (report, place) = match app.database()? {
        Some(database) => {
            let store = PgStore::open(database).await.map_err(StoreError::from)?;
            let report = populate_postgres(&store, &personas, policy, now, options, &mut bar).await;
            let place = store.target().to_string();
            store.close().await;
            (report?, place)
        }
        None => {
            let store = app.open_store()?;
            let report = populate(&store, &personas, policy, now, options, &mut bar)?;
            (report, app.data_dir.display().to_string())
        }
    };
    bar.finish();
    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "created {} conversations ({} due now, {} messages) in {}",
            report.conversations,
            report.due,
            report.messages,
            place
        );
    }
    Ok(0)
}
