//! The due query against a raw sled scan of the same store.
//!
//! Builds a store of 1,000,000 conversations (`TROUPE_BENCH_CONVERSATIONS`
//! changes that) of which 1% are due, with conversation records and the due
//! index only, then times, over several rounds:
//! - the due query (`FollowUps::due`: the index up to now, each candidate's
//!   record and user read and every rule evaluated);
//! - a raw sled scan of the conversations tree (every key and value read,
//!   nothing decoded): the least any index-free approach must pay;
//! - a decoding scan (every record decoded and its window checked): what a
//!   naive due query would do.
//!
//! Run with `cargo bench --bench due_query`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use troupe::clock::Clock;
use troupe::followup::{FollowUpPolicy, FollowUps};
use troupe::persona::Personas;
use troupe::populate::{PopulateOptions, populate};
use troupe::prompt::Prompts;
use troupe::store::Store;

const ROUNDS: usize = 7;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut samples = Vec::with_capacity(ROUNDS);
    let mut last = None;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        last = Some(f());
        samples.push(start.elapsed());
    }
    (median(samples), last.expect("at least one round"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conversations: usize = std::env::var("TROUPE_BENCH_CONVERSATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse()?;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let personas = Personas::builtin();
    let prompts = Prompts::builtin()?;
    let policy = FollowUpPolicy::default();

    let build = Instant::now();
    let options = PopulateOptions {
        conversations,
        due_percent: 1.0,
        with_messages: false,
        seed: 7,
    };
    let report = populate(
        &store,
        &personas,
        &policy,
        now,
        options,
        &mut troupe::progress::Silent,
    )?;
    println!(
        "store: {} conversations, {} due, built in {:.1?}",
        report.conversations,
        report.due,
        build.elapsed()
    );

    let access = troupe::store::StoreAccess::kept(store.clone());
    let followups = FollowUps {
        store: &access,
        personas: &personas,
        prompts: &prompts,
        policy: &policy,
        safety: &troupe::safety::SafetyConfig::default(),
        clock: Clock::fixed(now),
        webhooks: Vec::new(),
    };
    let (due_time, due) = time(|| followups.due().map(|d| d.len()));
    let due = due?;
    let (raw_time, raw) = time(|| store.raw_scan_conversations());
    let (records, bytes) = raw?;
    let (decode_time, opened) = time(|| store.scan_all_conversations(now));
    let opened = opened?;

    println!("due query:     {due_time:>10.2?}  ({due} due)");
    println!(
        "raw sled scan: {raw_time:>10.2?}  ({records} records, {} MiB)",
        bytes / (1 << 20)
    );
    println!("decoding scan: {decode_time:>10.2?}  ({opened} with an open window)");
    println!(
        "raw scan / due query: {:.0}x;  decoding scan / due query: {:.0}x",
        raw_time.as_secs_f64() / due_time.as_secs_f64(),
        decode_time.as_secs_f64() / due_time.as_secs_f64()
    );
    Ok(())
}
