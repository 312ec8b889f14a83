//! What building a demo store costs (`troupe dev populate`): the time to
//! write N synthetic conversations into a fresh store, with their messages
//! and topics and without (records and the due index only), for each N in
//! `TROUPE_BENCH_POPULATE` (comma-separated; default `20000,100000`).
//! Every size is measured: nothing is extrapolated from a smaller one.
//!
//! Run with `cargo bench --bench populate`; `scripts/bench-figures` puts its
//! figures in README.

#[path = "support/figures.rs"]
mod figures;

use std::time::Instant;

use chrono::{DateTime, Utc};
use figures::{count, duration, figure};
use troupe::followup::FollowUpPolicy;
use troupe::persona::Personas;
use troupe::populate::{PopulateOptions, populate};
use troupe::store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = std::env::var("TROUPE_BENCH_POPULATE")
        .unwrap_or_else(|_| "20000,100000".to_string())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse()?;
    let personas = Personas::builtin();
    let policy = FollowUpPolicy::default();
    for with_messages in [true, false] {
        for &conversations in &sizes {
            let dir = tempfile::tempdir()?;
            let store = Store::open(dir.path())?;
            let options = PopulateOptions {
                conversations,
                due_percent: 1.0,
                with_messages,
                seed: 7,
            };
            let started = Instant::now();
            let report = populate(
                &store,
                &personas,
                &policy,
                now,
                options,
                &mut troupe::progress::Silent,
            )?;
            let took = started.elapsed();
            let (key, row) = if with_messages {
                (
                    "with_messages",
                    format!(
                        "{} conversations with messages and topics ({} messages)",
                        count(report.conversations),
                        count(report.messages)
                    ),
                )
            } else {
                (
                    "without_messages",
                    format!(
                        "{} conversations without messages",
                        count(report.conversations)
                    ),
                )
            };
            figure(key, &row, "time to build", &duration(took));
        }
    }
    Ok(())
}
