//! `troupe followups due|explain|run|watch|reindex`. `due` and `explain`
//! go through the server holding the data dir, when one does; the server
//! delivers follow-ups itself, so `run`, `watch` and `reindex` work on the
//! files only. With a PostgreSQL store configured, `due` and `explain` read
//! the database, and `run` is one pass of a follow-up worker on it, any
//! number of which may run at once.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::print_json;
use super::progress::Bar;
use crate::app::App;
use crate::error::Error;
use crate::followup::{DEFAULT_LEASE_SECONDS, RunOptions, SentFollowUp, Worker};
use crate::progress::Silent;
use crate::store::{StoreAccess, StoreBackend, StoreError, lock_deliveries};

/// The `followups` subcommands.
#[derive(Debug, Subcommand)]
pub enum FollowupsCommand {
    /// List the conversations due for a follow-up now.
    #[command(after_help = "Example: troupe followups due --json")]
    Due(JsonArgs),
    /// Show every rule, passed or not, for one conversation.
    #[command(after_help = "Example: troupe followups explain --user ana --persona chef")]
    Explain(ExplainArgs),
    /// Write and deliver every due follow-up.
    #[command(after_help = "Example: troupe followups run --dry-run --limit 10")]
    Run(RunArgs),
    /// Keep running, checking for due follow-ups on each tick.
    #[command(after_help = "Example: troupe followups watch --every 5m")]
    Watch(WatchArgs),
    /// Recompute every conversation's due window after a policy change.
    #[command(after_help = "Example: troupe followups reindex")]
    Reindex,
}

/// `--json` alone.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `followups explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The user.
    #[arg(long, value_name = "ID")]
    pub user: String,
    /// The persona.
    #[arg(long, value_name = "ID")]
    pub persona: String,
    /// Print {"eligible","rules":[{"rule","pass","detail"}]}.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `followups run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Write the follow-ups and print them, but deliver nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send at most N follow-ups.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print what was sent as [{"user","persona","text","disclaimers","model"}].
    #[arg(long)]
    pub json: bool,
    /// Show no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// With a PostgreSQL store: how long this worker holds what it claims
    /// before another worker may take it over (30s, 2m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub lease: Duration,
}

/// Arguments of `followups watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Time between checks: 30s, 5m, 1h, 1d.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub every: Duration,
}

/// Runs a `followups` subcommand.
pub async fn run(app: &App, command: FollowupsCommand) -> Result<i32, Error> {
    if let FollowupsCommand::Watch(args) = &command {
        watch(app, args.every).await?;
        return Ok(0);
    }
    let store = app.store_access();
    let followups = app.followups(&store);
    match command {
        FollowupsCommand::Due(args) => {
            let due = super::reach(app).await?.due().await?;
            if args.json {
                print_json(&due)?;
            } else if due.is_empty() {
                outln!("No conversation is due for a follow-up.");
            } else {
                for d in &due {
                    let last = d
                        .last_user_at
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default();
                    outln!(
                        "{:<24} {:<10} last message {last} UTC, {} recent",
                        d.user,
                        d.persona,
                        d.recent_user_messages
                    );
                }
            }
        }
        FollowupsCommand::Explain(mut args) => {
            let reach = super::reach(app).await?;
            args.user = reach.user_id(&args.user).await?;
            let persona = reach.persona(&args.persona).await?;
            let (verdict, persona) = (reach.explain(&args.user, &persona).await?, persona.id);
            if args.json {
                print_json(&verdict)?;
            } else {
                let word = if verdict.eligible { "due" } else { "not due" };
                outln!("{} / {}: {word}", args.user, persona);
                for rule in &verdict.rules {
                    let mark = if rule.pass { "pass" } else { "FAIL" };
                    let name = serde_json::to_value(rule.rule)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string));
                    outln!(
                        "  [{mark}] {:<26} {}",
                        name.unwrap_or_default(),
                        rule.detail
                    );
                }
            }
        }
        FollowupsCommand::Run(args) => {
            let options = RunOptions {
                dry_run: args.dry_run,
                limit: args.limit,
            };
            let mut bar = Bar::new(args.quiet);
            let sent = match app.open_database().await? {
                Some(store) => {
                    let lease = chrono::Duration::from_std(args.lease)
                        .unwrap_or_else(|_| chrono::Duration::seconds(DEFAULT_LEASE_SECONDS));
                    let worker = Worker::new(lease);
                    followups
                        .run_worker(&store, &worker, options, &|p| app.model_for(p), &mut bar)
                        .await?
                }
                None => {
                    let _delivering = lock_deliveries(&app.data_dir)?;
                    followups
                        .run(options, &|p| app.model_for(p), &mut bar)
                        .await?
                }
            };
            bar.finish();
            report(&sent, args.json, args.dry_run)?;
        }
        FollowupsCommand::Watch(_) => unreachable!("watch runs before the store is opened"),
        FollowupsCommand::Reindex => {
            let moved = match app.open_database().await? {
                Some(store) => followups.reindex_on(&store).await?,
                None => followups.reindex()?,
            };
            outln!("reindexed: {moved} conversation(s) have a new due window");
        }
    }
    Ok(0)
}

/// Prints what a run sent.
fn report(sent: &[SentFollowUp], json: bool, dry_run: bool) -> Result<(), Error> {
    if json {
        return print_json(&sent);
    }
    let verb = if dry_run { "would send" } else { "sent" };
    for s in sent {
        outln!("{} → {}: {}", s.persona, s.user, s.text);
        for line in &s.disclaimers {
            outln!("    — {line}");
        }
    }
    outln!("{verb} {} follow-up(s)", sent.len());
    Ok(())
}

/// Checks on every tick until Ctrl-C or SIGTERM, and purges messages past
/// the retention period once a day. The store is held only for each step of
/// a tick's work, never while a model writes or between ticks, so consoles
/// and other commands use the data dir meanwhile; a tick that finds it busy
/// (or another run delivering) waits for the next.
async fn watch(app: &App, every: Duration) -> Result<(), Error> {
    // Installed up front, so a signal during the first tick is not missed.
    let signals = crate::shutdown::signals().map_err(|e| Error::Terminal(e.to_string()))?;
    let mut shutdown = std::pin::pin!(signals);
    let mut last_purge: Option<chrono::DateTime<chrono::Utc>> = None;
    let store = app.command_store_access().await?;
    loop {
        tokio::select! {
            result = tick(app, &store, &mut last_purge) => match result {
                Ok(()) => {}
                Err(Error::Store(busy @ (StoreError::Locked(_) | StoreError::Delivering(_)))) => {
                    errln!("troupe: {busy}; trying again next tick");
                }
                Err(e) => return Err(e),
            },
            _ = &mut shutdown => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = &mut shutdown => break,
        }
    }
    errln!("troupe: stopping");
    Ok(())
}

/// One tick of `watch`: the daily purge when it is due, then a run.
async fn tick(
    app: &App,
    store: &StoreAccess,
    last_purge: &mut Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), Error> {
    if store.is_postgres() {
        return database_tick(app, store, last_purge).await;
    }
    let _delivering = lock_deliveries(&app.data_dir)?;
    let now = app.clock.now();
    if last_purge.is_none_or(|at| now - at >= chrono::Duration::days(1)) {
        // A purge rewrites the store, so it has it to itself for a moment.
        let (_store, purged) = app.purge_by_retention(app.open_store()?, &mut Silent)?;
        report_purge(purged);
        *last_purge = Some(now);
    }
    let sent = app
        .followups(store)
        .run(RunOptions::default(), &|p| app.model_for(p), &mut Silent)
        .await?;
    report_tick(app, sent.len());
    Ok(())
}

/// One tick of `watch` on PostgreSQL: the daily purge, then one pass of a
/// follow-up worker (any number of them share the database).
async fn database_tick(
    app: &App,
    store: &StoreAccess,
    last_purge: &mut Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), Error> {
    let backend = StoreBackend::clone(&*store.step()?);
    let now = app.clock.now();
    if last_purge.is_none_or(|at| now - at >= chrono::Duration::days(1)) {
        let (_, purged) = app
            .purge_backend_by_retention(backend.clone(), &mut Silent)
            .await?;
        report_purge(purged);
        *last_purge = Some(now);
    }
    let worker = Worker::new(chrono::Duration::seconds(DEFAULT_LEASE_SECONDS));
    let sent = app
        .followups(store)
        .run_worker(
            &backend,
            &worker,
            RunOptions::default(),
            &|p| app.model_for(p),
            &mut Silent,
        )
        .await?;
    report_tick(app, sent.len());
    Ok(())
}

/// Tells what a tick's purge removed, if anything.
fn report_purge(purged: Option<crate::store::Purge>) {
    if let Some(purge) = purged
        && purge.messages > 0
    {
        errln!(
            "troupe: purged {} message(s) past the retention period{}",
            purge.messages,
            super::rights::copies_removed(purge.preserved_copies_removed, "purged")
        );
    }
}

/// Tells what a tick sent.
fn report_tick(app: &App, sent: usize) {
    errln!(
        "troupe: {} sent {sent} follow-up(s)",
        app.clock.now().format("%Y-%m-%d %H:%M:%S"),
    );
}

/// Parses 30s, 5m, 1h or 1d.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration; write one like 30s, 5m, 1h or 1d"))?;
    let factor: u64 = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit \"{unit}\" in \"{text}\"; use s, m, h or d"
            ));
        }
    };
    let seconds = n
        .checked_mul(factor)
        .filter(|s| *s <= 366 * 86_400)
        .ok_or_else(|| format!("\"{text}\" is too long; the interval can be at most a year"))?;
    if seconds == 0 {
        return Err("the interval must be longer than zero".to_string());
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("999999999999999d").is_err(), "no overflow");
    }
}
