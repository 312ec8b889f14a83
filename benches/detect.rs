//! What reading a message for sensitive subjects and crisis costs.
//!
//! Times, per message, over every sentence of the labelled sets in
//! `tests/data/` (median of several rounds):
//! - the cues alone for crisis, with the frames (`crisis_by_rules`);
//! - the whole detector (`assess`: subject cues, crisis cues, frames and
//!   the learned reader), which every chat message and reply goes through.
//!
//! Run with `cargo bench --bench detect`.

use std::time::{Duration, Instant};

use troupe::safety::assess;
use troupe::safety::detect::crisis_by_rules;

const ROUNDS: usize = 7;

/// Every sentence of the labelled sets.
fn sentences() -> Vec<String> {
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
                .filter_map(|line| line.splitn(3, '\t').nth(2))
                .map(str::to_string),
        );
    }
    out
}

/// Median time per sentence of `f` over all sentences.
fn per_sentence(sentences: &[String], mut f: impl FnMut(&str) -> bool) -> Duration {
    let mut samples = Vec::with_capacity(ROUNDS);
    let mut found = 0;
    for _ in 0..ROUNDS {
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

fn main() {
    let sentences = sentences();
    // The learned reader loads its weights once, on first use.
    let start = Instant::now();
    let _ = assess("warm up");
    let load = start.elapsed();
    let rules = per_sentence(&sentences, |s| crisis_by_rules(s).is_some());
    let whole = per_sentence(&sentences, |s| assess(s).is_sensitive());
    println!("{} sentences, median of {ROUNDS} rounds", sentences.len());
    println!("first call (loads the reader's weights): {load:?}");
    println!("crisis cues and frames:  {rules:?} per message");
    println!("whole detector (assess): {whole:?} per message");
}
