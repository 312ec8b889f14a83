//! The one clock every timestamp comes from.
//!
//! `--now RFC3339` (or `TROUPE_NOW`) fixes it, so tests, demos and the
//! follow-up rules can be driven through days and weeks without waiting.

use chrono::{DateTime, Utc};

/// Where "now" comes from: the system clock, or a fixed instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    /// The fixed instant, when one was given; `None` reads the system clock.
    fixed: Option<DateTime<Utc>>,
}

impl Clock {
    /// A clock that reads the system time.
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// A clock stopped at `at`: every call to [`Clock::now`] returns it.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self { fixed: Some(at) }
    }

    /// Parses an RFC 3339 instant (`2026-11-26T09:00:00Z`) into a fixed clock.
    pub fn parse_fixed(text: &str) -> Result<Self, ClockError> {
        DateTime::parse_from_rfc3339(text.trim())
            .map(|at| Self::fixed(at.with_timezone(&Utc)))
            .map_err(|e| ClockError {
                input: text.to_string(),
                detail: e.to_string(),
            })
    }

    /// The current instant according to this clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed.unwrap_or_else(Utc::now)
    }

    /// Whether this clock is fixed (set by `--now`).
    pub fn is_fixed(&self) -> bool {
        self.fixed.is_some()
    }
}

/// A `--now` value that is not an RFC 3339 instant.
#[derive(Debug, thiserror::Error)]
#[error(
    "--now {input:?} is not an RFC 3339 instant ({detail}); write it like 2026-11-26T09:00:00Z"
)]
pub struct ClockError {
    /// What the user passed.
    input: String,
    /// Why chrono rejected it.
    detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_always_returns_its_instant() {
        let clock = Clock::parse_fixed("2026-01-02T03:04:05+01:00").unwrap();
        assert_eq!(clock.now().to_rfc3339(), "2026-01-02T02:04:05+00:00");
        assert_eq!(clock.now(), clock.now());
        assert!(clock.is_fixed());
    }

    #[test]
    fn malformed_instant_explains_the_expected_form() {
        let err = Clock::parse_fixed("yesterday").unwrap_err().to_string();
        assert!(err.contains("2026-11-26T09:00:00Z"), "{err}");
    }
}
