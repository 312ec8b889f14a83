//! `troupe store copy --from SRC --to DST`: parses the two locations, runs
//! the library's copy (see [`crate::store::copy`]) with a progress bar, and
//! prints the verification, table by table.

use clap::Args;

use super::print_json;
use super::progress::Bar;
use crate::app::App;
use crate::error::Error;
use crate::store::copy::{CopyError, CopyOptions, CopyReport, StoreLocation, copy_store};

/// Arguments of `store copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The store to copy: a data dir path, or a postgres:// URL (without a
    /// password: it comes from [store] password_env's variable, else PGPASSWORD).
    #[arg(long, value_name = "DATA_DIR|URL")]
    pub from: String,
    /// Where to copy it: an empty (or new) data dir or database, or one an
    /// interrupted copy of the same store left.
    #[arg(long, value_name = "DATA_DIR|URL")]
    pub to: String,
    /// Records (or conversations) written per transaction.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub batch: usize,
    /// Print the report as JSON: {"source","destination","resumed","batches","tables":[…]}.
    #[arg(long)]
    pub json: bool,
    /// Show no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Stop after N batches, as an interruption would (for tests).
    #[arg(long, value_name = "N", hide = true)]
    pub stop_after_batches: Option<u64>,
}

/// Runs `store copy`.
pub async fn run(app: &App, args: CopyArgs) -> Result<i32, Error> {
    let password_env = app.config.store.password_env.as_deref();
    let env = |name: &str| std::env::var(name).ok();
    let parse = |text: &str| StoreLocation::parse(text, password_env, &env).map_err(usage);
    let (from, to) = (parse(&args.from)?, parse(&args.to)?);
    if from.same_data_dir(&to) {
        return Err(usage(CopyError::SameStore(from.describe())));
    }
    let source = from.open_source().await?;
    let destination = to.open_destination().await?;
    let options = CopyOptions {
        batch: args.batch.max(1),
        stop_after_batches: args.stop_after_batches,
        now: app.clock.now(),
    };
    let mut bar = Bar::new(args.quiet);
    let copied = copy_store(&source, &destination, options, &mut bar).await;
    bar.finish();
    let report = copied?;
    if args.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(0)
}

/// A location problem is the user's to correct (exit code 2).
fn usage(error: CopyError) -> Error {
    Error::Usage(error.to_string())
}

/// The report, for a person: one line per table.
fn print_report(report: &CopyReport) {
    outln!(
        "copied {} into {}{}; every table verified:",
        report.source,
        report.destination,
        if report.resumed {
            " (resuming an earlier run)"
        } else {
            ""
        }
    );
    for table in &report.tables {
        outln!(
            "  {:<18} {:>10}  checksum {}",
            table.table,
            table.destination_count,
            table.destination_checksum
        );
    }
}
