//! What a lorebook costs a turn (goal: scanning a turn against a
//! 1,000-entry book in under 1 ms).
//!
//! The book is made here, the same on every run: 1,000 entries of two or
//! three keys from a vocabulary of made-up words (one in five matched as
//! whole words, one in ten case-sensitive, one in ten with secondary keys,
//! 20 with regex keys), each with a 300-character content. A turn is the
//! four newest messages, 2,000 characters of words from the same
//! vocabulary, so a handful of entries are called up. Two measures:
//! - compiling the book, done once each time a persona is loaded;
//! - [`troupe::persona::lore::Lorebook::scan`] over a turn: median and
//!   99th percentile over many different turns and rounds.
//!
//! Run with `cargo bench --bench lore` (`TROUPE_BENCH_ENTRIES`, default
//! 1000; `TROUPE_BENCH_ROUNDS`, default 7); `scripts/bench-figures` puts
//! its figures in the manual.

#[path = "support/figures.rs"]
mod figures;

use std::time::{Duration, Instant};

use figures::{count, duration, env_usize, figure};
use troupe::persona::lore::{LoreEntry, LorePosition, LoreSettings, Lorebook, SelectiveLogic};

/// The turns scanned per round.
const TURNS: usize = 200;

/// A small deterministic generator (xorshift), so every run scans the
/// same book and turns.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A made-up word of 4 to 9 letters, from a vocabulary of about
    /// 5,000 words.
    fn word(&mut self) -> String {
        let n = self.next() % 5_000;
        let mut seed = n * 2_654_435_761 + 7;
        let len = 4 + (n % 6) as usize;
        (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                char::from(b'a' + ((seed >> 33) % 26) as u8)
            })
            .collect()
    }

    /// `chars` characters of words.
    fn text(&mut self, chars: usize) -> String {
        let mut out = String::new();
        while out.len() < chars {
            out.push_str(&self.word());
            out.push(' ');
        }
        out
    }
}

/// The book: `entries` entries as described above.
fn book(entries: usize, words: &mut Words) -> Vec<LoreEntry> {
    (0..entries)
        .map(|i| {
            let keys = (0..2 + i % 2).map(|_| words.word()).collect();
            let regex = i % 50 == 0;
            LoreEntry {
                name: Some(format!("entry {i}")),
                keys: if regex {
                    vec![format!("{}(s|es)?\\b", words.word())]
                } else {
                    keys
                },
                secondary_keys: if i % 10 == 3 {
                    vec![words.word(), words.word()]
                } else {
                    Vec::new()
                },
                logic: if i % 20 == 3 {
                    SelectiveLogic::NotAny
                } else {
                    SelectiveLogic::AndAny
                },
                content: words.text(300),
                case_sensitive: i % 10 == 1,
                whole_words: i % 5 == 2,
                regex,
                constant: i == 0,
                enabled: true,
                order: (i % 100) as i64,
                priority: (i % 7) as i64,
                position: LorePosition::AfterCharacter,
            }
        })
        .collect()
}

fn main() {
    let entries = env_usize("TROUPE_BENCH_ENTRIES", 1_000);
    let rounds = env_usize("TROUPE_BENCH_ROUNDS", 7).max(1);
    let mut words = Words(0x9E37_79B9_7F4A_7C15);
    let written = book(entries, &mut words);
    let settings = LoreSettings {
        scan_depth: 4,
        ..LoreSettings::default()
    };

    let mut compiles = Vec::new();
    let mut compiled = None;
    for _ in 0..rounds {
        let start = Instant::now();
        let book = Lorebook::compile(&written, &settings).expect("the bench book compiles");
        compiles.push(start.elapsed());
        compiled = Some(book);
    }
    let book = compiled.expect("at least one round");
    compiles.sort();

    let turns: Vec<Vec<String>> = (0..TURNS)
        .map(|_| (0..4).map(|_| words.text(500)).collect())
        .collect();
    let mut times: Vec<Duration> = Vec::with_capacity(rounds * TURNS);
    let mut called = 0;
    for _ in 0..rounds {
        for turn in &turns {
            let recent: Vec<&str> = turn.iter().map(String::as_str).collect();
            let start = Instant::now();
            let found = book.scan(&recent);
            times.push(start.elapsed());
            called += found.len();
        }
    }
    times.sort();
    let p50 = times[times.len() / 2];
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    let row = format!(
        "scan a turn (4 messages, 2,000 characters) against a {}-entry book",
        count(entries)
    );
    figure("lore_scan_p50", &row, "median", &duration(p50));
    figure("lore_scan_p99", &row, "p99", &duration(p99));
    figure("lore_scan_goal", &row, "goal", "under 1 ms");
    figure(
        "lore_called_up",
        &row,
        "entries called up per turn",
        &figures::significant(called as f64 / times.len() as f64),
    );
    let compile_row = format!(
        "compile a {}-entry book (each persona load)",
        count(entries)
    );
    figure(
        "lore_compile",
        &compile_row,
        "median",
        &duration(compiles[compiles.len() / 2]),
    );
}
