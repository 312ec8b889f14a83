//! Reading the instants stored records carry, fast.
//!
//! Every message and conversation record holds instants as RFC 3339 text,
//! written by chrono as `2026-12-02T08:13:47.528491Z` (UTC, `Z`, a
//! fraction of 0 to 9 digits). A turn decodes dozens of them (the recent
//! messages for the prompt, the conversation's recent user times), and
//! chrono's general RFC 3339 parser was a twentieth of a server's CPU. This
//! reads exactly that shape directly and hands anything else (an offset,
//! a leap second, a record from elsewhere) to chrono, so every instant
//! chrono reads is read the same.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

/// Reads one instant (for `#[serde(deserialize_with)]`).
pub(crate) fn read<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    d.deserialize_str(InstantVisitor)
}

/// Reads an optional instant (for `#[serde(deserialize_with)]`, beside
/// `default` so that a missing one is `None`).
pub(crate) fn read_option<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(<Option<Instant>>::deserialize(d)?.map(|at| at.0))
}

/// Reads a list of instants (for `#[serde(deserialize_with)]`; without
/// `default`, a missing list is an error, as it was).
pub(crate) fn read_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DateTime<Utc>>, D::Error> {
    Ok(<Vec<Instant>>::deserialize(d)?
        .into_iter()
        .map(|at| at.0)
        .collect())
}

/// An instant read through [`read`], for options and lists of them.
struct Instant(DateTime<Utc>);

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        read(d).map(Instant)
    }
}

/// Reads an instant from a string without copying it.
struct InstantVisitor;

impl serde::de::Visitor<'_> for InstantVisitor {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an RFC 3339 date and time")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        parse(text).map_err(E::custom)
    }
}

/// `text` as an instant: the shape Troupe writes read directly, any other
/// text through chrono's own reading (what `DateTime<Utc>`'s
/// `Deserialize` does).
pub(crate) fn parse(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    match written(text.as_bytes()) {
        Some(at) => Ok(at),
        None => text
            .parse::<DateTime<FixedOffset>>()
            .map(|at| at.with_timezone(&Utc)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` with valid fields, or `None`.
fn written(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20 || b.last() != Some(&b'Z') {
        return None;
    }
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let year = digits(&b[0..4])?;
    let (month, day) = (digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let nanos = fraction(&b[19..b.len() - 1])?;
    if second > 59 {
        // A leap second: chrono knows how to hold it.
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let time = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    Some(time.and_utc())
}

/// The decimal value of ASCII digits, or `None` for anything else.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// Nanoseconds from an empty fraction or `.` and 1 to 9 digits.
fn fraction(b: &[u8]) -> Option<u32> {
    match b {
        [] => Some(0),
        [b'.', rest @ ..] if (1..=9).contains(&rest.len()) => {
            let value = digits(rest)?;
            Some(value * 10u32.pow(9 - rest.len() as u32))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, TimeZone};

    /// What chrono's own `Deserialize` makes of `text`.
    fn by_chrono(text: &str) -> Result<DateTime<Utc>, serde_json::Error> {
        serde_json::from_value(serde_json::Value::from(text))
    }

    #[test]
    fn every_instant_reads_as_chrono_reads_it() {
        let texts = [
            "2026-12-02T08:13:47.528491Z",
            "2026-12-02T08:13:47Z",
            "2026-12-02T08:13:47.5Z",
            "2026-12-02T08:13:47.123456789Z",
            "2024-02-29T23:59:59.999Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            // Shapes read through chrono, and mistakes it refuses.
            "2026-12-02T08:13:47.528491+02:00",
            "2026-12-02t08:13:47z",
            "2026-12-02 08:13:47Z",
            "2016-12-31T23:59:60Z",
            "2026-02-30T08:13:47Z",
            "2026-12-02T24:00:00Z",
            "2026-12-02T08:13:47.Z",
            "2026-12-02T08:13:47.1234567890Z",
            "2026-12-02T08:13:47",
            "２026-12-02T08:13:47Z",
            "",
            "Z",
        ];
        for text in texts {
            assert_eq!(
                parse(text).ok(),
                by_chrono(text).ok(),
                "{text:?} reads as chrono reads it"
            );
        }
    }

    #[test]
    fn what_chrono_writes_reads_back_the_same() {
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 8, 13, 47).unwrap();
        for nanos in [0, 500_000_000, 528_491_000, 123_456_789, 1] {
            let at = at + chrono::Duration::nanoseconds(nanos);
            for format in [
                SecondsFormat::AutoSi,
                SecondsFormat::Nanos,
                SecondsFormat::Secs,
            ] {
                let text = at.to_rfc3339_opts(format, true);
                assert_eq!(parse(&text).ok(), by_chrono(&text).ok(), "{text}");
            }
            let json = serde_json::to_string(&at).unwrap();
            let mut d = serde_json::Deserializer::from_str(&json);
            assert_eq!(read(&mut d).unwrap(), at, "{json}");
        }
    }
}
