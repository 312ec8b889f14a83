//! How a benchmark prints the figures README quotes: one line per figure,
//! `figure KEY | ROW | COLUMN | VALUE`. `scripts/bench-figures` turns these
//! lines into README's tables (rows by ROW, columns by COLUMN), and lists
//! each row's KEYs in its "printed as" column; `tests/figures.rs` checks
//! that every KEY README lists is printed by its benchmark's source.

#![allow(dead_code)]

use std::time::Duration;

/// Prints one figure.
pub fn figure(key: &str, row: &str, column: &str, value: &str) {
    println!("figure {key} | {row} | {column} | {value}");
}

/// `n` with thousands separators: 1000000 → "1,000,000".
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A duration in the unit that reads best, with three significant digits.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{} s", significant(secs))
    } else if secs >= 1e-3 {
        format!("{} ms", significant(secs * 1e3))
    } else {
        format!("{} µs", significant(secs * 1e6))
    }
}

/// `x` with three significant digits (at least its integer part).
pub fn significant(x: f64) -> String {
    let decimals = if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else {
        2
    };
    format!("{x:.decimals$}")
}

/// The value of env var `name`, else `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
