//! What reading a message for sensitive subjects and crisis costs.
//!
//! Times, per message, over every sentence of the labelled sets in
//! `tests/data/` (median of several rounds):
//! - the cues alone for crisis, with the frames (`crisis_by_rules`);
//! - the meaning reader alone (cutting into word pieces, their average
//!   vector, the regression), which reads every message the rules and the
//!   word reader leave;
//! - the whole detector (`assess`: subject cues, crisis cues, frames and
//!   the two learned readers), which every chat message and reply goes through;
//! - the crisis protocol's reading of a message with the user's six before
//!   it (`assess_in_conversation`), once per chat message;
//!
//! and, for the last two, the median (p50) and the 99th percentile of each
//! message's own time over every round.
//!
//! Run with `cargo bench --bench detect` (`TROUPE_BENCH_ROUNDS` sets the
//! rounds, default 7; `TROUPE_BENCH_SENTENCES` reads an even sample of
//! that many sentences instead of all); `scripts/bench-figures` puts its figures in README.

#[path = "support/figures.rs"]
mod figures;

use std::time::{Duration, Instant};

use figures::{count, duration, env_usize, figure};

use troupe::safety::detect::crisis_by_rules;
use troupe::safety::meaning::{MeaningReader, PieceVectors};
use troupe::safety::{assess, assess_in_conversation};

/// Every sentence of the labelled sets, or an even sample of
/// `TROUPE_BENCH_SENTENCES` of them (the short mode of
/// `scripts/bench-figures`, where the dev profile reads slowly).
fn sentences() -> Vec<String> {
    let all = every_sentence();
    let wanted = env_usize("TROUPE_BENCH_SENTENCES", usize::MAX).max(1);
    if wanted >= all.len() {
        return all;
    }
    let step = all.len() / wanted;
    all.into_iter().step_by(step).take(wanted).collect()
}

/// Every sentence of the labelled sets.
fn every_sentence() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        out.extend(
            text.lines()
                .skip(1)
                .filter_map(|line| line.split('\t').nth(2))
                .map(str::to_string),
        );
    }
    out
}

/// Median time per sentence of `f` over all sentences.
fn per_sentence(sentences: &[String], mut f: impl FnMut(&str) -> bool) -> Duration {
    let rounds = env_usize("TROUPE_BENCH_ROUNDS", 7).max(1);
    let mut samples = Vec::with_capacity(rounds);
    let mut found = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        for sentence in sentences {
            found += usize::from(f(sentence));
        }
        samples.push(start.elapsed() / sentences.len().max(1) as u32);
    }
    std::hint::black_box(found);
    samples.sort();
    samples[samples.len() / 2]
}

/// The p50 and p99 of `f`'s time on one sentence, over every sentence of
/// every round (`f` gets each sentence's index).
fn percentiles(sentences: &[String], mut f: impl FnMut(usize) -> bool) -> (Duration, Duration) {
    let rounds = env_usize("TROUPE_BENCH_ROUNDS", 7).max(1);
    let mut times = Vec::with_capacity(rounds * sentences.len());
    let mut found = 0;
    for _ in 0..rounds {
        for i in 0..sentences.len() {
            let start = Instant::now();
            found += usize::from(f(i));
            times.push(start.elapsed());
        }
    }
    std::hint::black_box(found);
    times.sort();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len().saturating_sub(1))];
    (at(50), at(99))
}

fn main() {
    let sentences = sentences();
    // The learned readers load their weights once, on first use.
    let start = Instant::now();
    let _ = assess("warm up");
    let load = start.elapsed();
    let rules = per_sentence(&sentences, |s| crisis_by_rules(s).is_some());
    let whole = per_sentence(&sentences, |s| assess(s).is_sensitive());
    let meaning = PieceVectors::embedded().map(|pieces| {
        let reader = MeaningReader::shipped();
        per_sentence(&sentences, |s| {
            pieces
                .text_vector(s)
                .is_some_and(|v| reader.probability(&v) > 0.5)
        })
    });
    figure(
        "sentences",
        "labelled sentences read (`tests/data/`)",
        "figure",
        &count(sentences.len()),
    );
    figure(
        "whole",
        "**whole detector** (`assess`: subject cues, crisis cues, frames, the two learned readers), per message",
        "figure",
        &duration(whole),
    );
    figure(
        "rules",
        "crisis cues and frames alone (`crisis_by_rules`), per message",
        "figure",
        &duration(rules),
    );
    figure(
        "meaning",
        "meaning reader alone (word pieces, their average vector, the regression), per message",
        "figure",
        &meaning.map(duration).unwrap_or_else(|| "off".to_string()),
    );
    figure(
        "load",
        "first call, which loads the readers' weights and the word pieces (once per process)",
        "figure",
        &duration(load),
    );
    let (p50, p99) = percentiles(&sentences, |i| assess(&sentences[i]).is_sensitive());
    figure(
        "one_p50",
        "whole detector, one message at a time: p50",
        "figure",
        &duration(p50),
    );
    figure(
        "one_p99",
        "whole detector, one message at a time: p99",
        "figure",
        &duration(p99),
    );
    let earlier = |i: usize| -> Vec<&str> {
        sentences[i.saturating_sub(6)..i]
            .iter()
            .map(String::as_str)
            .collect()
    };
    let (p50, p99) = percentiles(&sentences, |i| {
        assess_in_conversation(&earlier(i), &sentences[i]).is_crisis()
    });
    figure(
        "conversation_p50",
        "one message read with the six before it (`assess_in_conversation`): p50",
        "figure",
        &duration(p50),
    );
    figure(
        "conversation_p99",
        "one message read with the six before it (`assess_in_conversation`): p99",
        "figure",
        &duration(p99),
    );
}
