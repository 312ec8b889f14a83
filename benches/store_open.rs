//! What keeping a damaged store safe costs: the manifest checked at every
//! open and recorded at every close, the copy kept after an unclean close,
//! and a backup.
//!
//! Builds a store of 10,000 conversations with their messages
//! (`TROUPE_BENCH_CONVERSATIONS` changes that), closes it, then times over
//! several rounds:
//! - listing and checksumming the store's files (what an open's check and a
//!   close's record each cost, the files in the page cache);
//! - a whole open and close of the store (sled's replay included);
//! - the copy kept when the store was not closed cleanly;
//! - a backup (`troupe store backup`) of it.
//!
//! Run with `cargo bench --bench store_open`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use troupe::followup::FollowUpPolicy;
use troupe::persona::Personas;
use troupe::populate::{PopulateOptions, populate};
use troupe::store::{Store, integrity, preserve};

const ROUNDS: usize = 7;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(mut f: impl FnMut(usize) -> T) -> (Duration, T) {
    let mut samples = Vec::with_capacity(ROUNDS);
    let mut last = None;
    for round in 0..ROUNDS {
        let start = Instant::now();
        last = Some(f(round));
        samples.push(start.elapsed());
    }
    (median(samples), last.expect("at least one round"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conversations: usize = std::env::var("TROUPE_BENCH_CONVERSATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse()?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let build = Instant::now();
    let report = {
        let store = Store::open(&data)?;
        let options = PopulateOptions {
            conversations,
            due_percent: 1.0,
            with_messages: true,
            seed: 7,
        };
        let personas = Personas::builtin();
        let policy = FollowUpPolicy::default();
        populate(
            &store,
            &personas,
            &policy,
            now,
            options,
            &mut troupe::progress::Silent,
        )?
    };
    let files = data.join("store");
    let bytes = integrity::list(&files)?.bytes();
    println!(
        "store: {} conversations, {} messages, {:.1} MiB, built in {:.1?}",
        report.conversations,
        report.messages,
        mib(bytes),
        build.elapsed()
    );

    let (list_time, _) = time(|_| integrity::list(&files));
    println!(
        "checksum of the files: {list_time:>10.2?}  ({:.0} MiB/s; paid once at open, once at close)",
        mib(bytes) / list_time.as_secs_f64()
    );
    let (open_time, _) = time(|_| Store::open(&data).map(drop));
    println!("open and close:        {open_time:>10.2?}");
    let (copy_time, _) = time(|_| {
        let listing = integrity::list(&files)?;
        // A fresh copy each round: the newest copy is reused for the same files.
        std::fs::remove_dir_all(data.join(preserve::PRESERVED_DIR)).ok();
        preserve::preserve(&data, &listing, "benchmark")
    });
    println!("copy after an unclean close: {copy_time:>10.2?}");
    let store = Store::open(&data)?;
    let (backup_time, backup) =
        time(|round| store.backup_to(&dir.path().join(format!("backup-{round}"))));
    let backup = backup?;
    println!(
        "backup:                {backup_time:>10.2?}  ({} messages, {:.1} MiB written)",
        backup.messages,
        mib(backup.bytes)
    );
    Ok(())
}
