//! The due query against a raw sled scan of the same store.
//!
//! Builds a store of 1,000,000 conversations (`TROUPE_BENCH_CONVERSATIONS`
//! changes that) of which 1% are due, with conversation records and the due
//! index only, then times, over several rounds:
//! - the due query (`FollowUps::due`: the index up to now, every rule
//!   checked on the record and the user's settings each entry keeps);
//! - a raw read of the same entries of the due index (keys and values,
//!   nothing decoded): the floor of any query that reads the index;
//! - a raw sled scan of the conversations tree (every key and value read,
//!   nothing decoded): the least any index-free approach must pay;
//! - a decoding scan (every record decoded and its window checked): what a
//!   naive due query would do.
//!
//! Run with `cargo bench --bench due_query` (`TROUPE_BENCH_ROUNDS` sets the
//! rounds, default 7); `scripts/bench-figures` puts its figures in README.

#[path = "support/figures.rs"]
mod figures;

use std::time::{Duration, Instant};

use figures::{count, duration, env_usize, figure};

use chrono::{DateTime, Utc};
use troupe::clock::Clock;
use troupe::followup::{FollowUpPolicy, FollowUps};
use troupe::persona::Personas;
use troupe::populate::{PopulateOptions, populate};
use troupe::prompt::Prompts;
use troupe::store::Store;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let rounds = env_usize("TROUPE_BENCH_ROUNDS", 7).max(1);
    let mut samples = Vec::with_capacity(rounds);
    let mut last = None;
    for _ in 0..rounds {
        let start = Instant::now();
        last = Some(f());
        samples.push(start.elapsed());
    }
    (median(samples), last.expect("at least one round"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let conversations = env_usize("TROUPE_BENCH_CONVERSATIONS", 1_000_000);
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
    let built = build.elapsed();

    let access = troupe::store::StoreAccess::kept(store.clone());
    let followups = FollowUps {
        store: &access,
        personas: std::sync::Arc::new(personas.clone()),
        prompts: &prompts,
        policy: &policy,
        safety: &troupe::safety::SafetyConfig::default(),
        clock: Clock::fixed(now),
        webhooks: Vec::new(),
    };
    let (due_time, due) = time(|| followups.due().map(|d| d.len()));
    let due = due?;
    let (index_time, index) = time(|| store.raw_scan_due(now));
    let (entries, index_bytes) = index?;
    let (raw_time, raw) = time(|| store.raw_scan_conversations());
    let (records, bytes) = raw?;
    let (decode_time, opened) = time(|| store.scan_all_conversations(now));
    let opened = opened?;

    report_figures(&report, built, due);
    timing_figures([due_time, raw_time, decode_time]);
    figure(
        "due_index_scan",
        "raw read of the due index up to now (keys and values, nothing decoded), median",
        "figure",
        &duration(index_time),
    );
    figure(
        "due_index_size",
        "what the raw read of the due index read",
        "figure",
        &format!(
            "{} entries, {} KiB",
            count(entries),
            index_bytes / (1 << 10)
        ),
    );
    figure(
        "raw_scan_size",
        "what the raw scan read",
        "figure",
        &format!("{} records, {} MiB", count(records), bytes / (1 << 20)),
    );
    figure(
        "opened",
        "conversations the decoding scan found with an open window",
        "figure",
        &count(opened),
    );
    figure(
        "per_due",
        "due query per due conversation",
        "figure",
        &duration(due_time / due.max(1) as u32),
    );
    Ok(())
}

/// What the store holds and what building it took.
fn report_figures(report: &troupe::populate::PopulateReport, built: Duration, due: usize) {
    figure(
        "conversations",
        "conversations in the store (3 personas, records and due index, no messages)",
        "figure",
        &count(report.conversations),
    );
    figure("due", "conversations due", "figure", &count(due));
    figure(
        "build",
        "store built (`populate`, no messages)",
        "figure",
        &duration(built),
    );
}

/// The three timings (medians), each with how it compares with the due
/// query.
fn timing_figures([due, raw, decoding]: [Duration; 3]) {
    let rows = [
        (
            "due_query",
            "due_query_ratio",
            "**due query** (`followups due`: index up to now, every rule checked on what each entry keeps), median",
            due,
        ),
        (
            "raw_scan",
            "raw_scan_ratio",
            "raw sled scan of the conversations tree (every key and value read, nothing decoded), median",
            raw,
        ),
        (
            "decoding_scan",
            "decoding_scan_ratio",
            "decoding scan (every record decoded and its window checked), median",
            decoding,
        ),
    ];
    for (key, ratio_key, row, time) in rows {
        figure(key, row, "figure", &duration(time));
        let ratio = time.as_secs_f64() / due.as_secs_f64();
        figure(
            ratio_key,
            row,
            "× the due query",
            &format!("{}×", figures::significant(ratio)),
        );
    }
}
