//! `troupe store backup|verify|recover|migrate|copy`: the store's own care
//! (`copy` in `store_copy`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::print_json;
use crate::app::App;
use crate::error::Error;
use crate::store::{Recovery, Verification};

/// The `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the store, consistently, to a new directory, as a data dir of
    /// its own (works while `troupe serve` holds the data dir).
    #[command(after_help = "Example: troupe store backup /backups/troupe-2026-12-01")]
    Backup(BackupArgs),
    /// Check the store without changing a byte of it; exits 1 when it is damaged.
    #[command(after_help = "Example: troupe store verify --json")]
    Verify(JsonArgs),
    /// Open a store whose files changed after troupe closed them, keeping
    /// what can still be read (a copy of the files is kept first).
    #[command(after_help = "Example: troupe store recover")]
    Recover(JsonArgs),
    /// Bring the PostgreSQL database (`[store] url` or TROUPE_DATABASE_URL)
    /// to this troupe's schema, and nothing else; servers do it on start too.
    #[command(after_help = "Example: troupe store migrate --json")]
    Migrate(JsonArgs),
    /// Copy every record of one store into another: a data dir into
    /// PostgreSQL, or back; verified by counts and checksums per table, and
    /// safe to run again after an interruption.
    #[command(
        after_help = "Example: troupe store copy --from ./troupe-data --to postgres://troupe@db:5432/troupe"
    )]
    Copy(super::store_copy::CopyArgs),
}

/// Arguments of `store backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup: a new or empty directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Print {"dir","conversations","messages","bytes"} as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `store verify` and `store recover`.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `store` subcommand.
pub async fn run(app: &App, command: StoreCommand) -> Result<i32, Error> {
    match command {
        StoreCommand::Backup(args) => {
            let backup = super::reach(app).await?.backup(&args.dir).await?;
            if args.json {
                print_json(&backup)?;
            } else {
                outln!(
                    "backed up {} conversation(s) and {} message(s) to {} ({} bytes); open it with --data-dir {}",
                    backup.conversations,
                    backup.messages,
                    backup.dir.display(),
                    backup.bytes,
                    backup.dir.display()
                );
            }
            Ok(0)
        }
        StoreCommand::Verify(args) => {
            let report = crate::store::verify(&app.data_dir)?;
            if args.json {
                print_json(&report)?;
            } else {
                print_verification(&report);
            }
            Ok(if report.damaged { 1 } else { 0 })
        }
        StoreCommand::Migrate(args) => migrate(app, args.json).await,
        StoreCommand::Copy(args) => super::store_copy::run(app, args).await,
        StoreCommand::Recover(args) => {
            let recovery = crate::store::recover(&app.data_dir)?;
            if args.json {
                print_json(&recovery)?;
            } else {
                print_recovery(&recovery);
            }
            Ok(if recovery.problem_count > 0 { 1 } else { 0 })
        }
    }
}

/// `store migrate`: applies the migrations this build holds and the
/// database lacks, under the migration lock.
async fn migrate(app: &App, json: bool) -> Result<i32, Error> {
    let Some(database) = app.database()? else {
        return Err(Error::Usage(format!(
            "no PostgreSQL database is configured: set [store] url in troupe.toml or {}; the sled store in {} needs no migration",
            crate::store::postgres::DATABASE_URL_ENV,
            app.data_dir.display()
        )));
    };
    let migrated = crate::store::postgres::migrate(&database)
        .await
        .map_err(|e| Error::Store(e.into()))?;
    if json {
        print_json(&serde_json::json!({
            "database": database.target(),
            "from": migrated.from,
            "to": migrated.to,
            "applied": migrated.applied,
        }))?;
    } else if migrated.applied == 0 {
        outln!(
            "the PostgreSQL database {} is at schema version {}, this troupe's; nothing to apply",
            database.target(),
            migrated.to
        );
    } else {
        outln!(
            "migrated the PostgreSQL database {} from schema version {} to {} ({} migration(s) applied)",
            database.target(),
            migrated.from,
            migrated.to,
            migrated.applied
        );
    }
    Ok(0)
}

/// The report of `store verify`, for a person.
fn print_verification(report: &Verification) {
    let dir = report.dir.display();
    match report.files {
        "changed" => outln!(
            "DAMAGED: the store files in {dir} changed after troupe last closed them ({})",
            report.changed_files.join(", ")
        ),
        "not_closed_cleanly" => outln!(
            "the store in {dir} was not closed cleanly (a crash or a kill, or an older troupe): its next open replays its log, after keeping a copy of its files"
        ),
        _ => outln!("the store files in {dir} are as troupe last closed them"),
    }
    if let Some(error) = &report.sled_error {
        outln!("DAMAGED: sled cannot open them: {error}");
    } else {
        let records: Vec<String> = report
            .records
            .iter()
            .filter(|(tree, _)| !tree.starts_with("__"))
            .map(|(tree, count)| format!("{tree} {count}"))
            .collect();
        outln!("records read: {}", records.join(", "));
    }
    for problem in &report.problems {
        outln!("DAMAGED: {problem}");
    }
    if report.problem_count > report.problems.len() {
        outln!(
            "DAMAGED: … and {} more",
            report.problem_count - report.problems.len()
        );
    }
    if report.damaged {
        outln!(
            "the store is damaged: restore a backup (one made by `troupe store backup`: move {} aside and copy the backup's store directory in its place), or keep what can still be read with `troupe store recover`",
            report.dir.join("store").display()
        );
    } else {
        outln!("the store is sound ({} bytes)", report.bytes);
    }
}

/// The report of `store recover`, for a person.
fn print_recovery(recovery: &Recovery) {
    if let Some(path) = &recovery.preserved {
        outln!(
            "the store files as they were are kept in {}",
            path.display()
        );
    }
    if recovery.snapshot_rebuilt {
        outln!(
            "sled refused the files as they were, so its snapshot was rebuilt from its log: every record written after the damage is gone from the store (the kept copy still holds the files)"
        );
    }
    let count = |tree: &str| recovery.records.get(tree).copied().unwrap_or(0);
    outln!(
        "the store in {} opens: {} conversation(s) and {} message(s) can be read",
        recovery.dir.display(),
        count("conversations"),
        count("messages")
    );
    for problem in &recovery.problems {
        outln!("still wrong: {problem}");
    }
    if recovery.problem_count > 0 {
        outln!(
            "{} record(s) are still wrong; restore a backup if you have one (`troupe store verify` lists them)",
            recovery.problem_count
        );
    }
}
