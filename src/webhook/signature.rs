//! How a webhook request is signed, and how a receiver checks it.
//!
//! Each request carries `X-Troupe-Timestamp: <unix seconds>` and
//! `X-Troupe-Signature: sha256=<hex>`, where `<hex>` is the lower-case hex
//! HMAC-SHA256, keyed with the webhook's secret, of the timestamp, a dot and
//! the raw body: `"<timestamp>.<body>"`. A receiver recomputes it over the
//! bytes it received (before parsing the JSON), compares in constant time,
//! and refuses timestamps far from its own clock, so a captured request
//! cannot be replayed later. [`verify`] does all three.

use std::time::Duration;

use ring::hmac;

/// The header carrying the delivery id: the same on every attempt of one
/// delivery, so a receiver can drop a repeat.
pub const DELIVERY_HEADER: &str = "X-Troupe-Delivery";

/// The header carrying the event type (also the body's `type`).
pub const EVENT_HEADER: &str = "X-Troupe-Event";

/// The header carrying the moment of signing, in seconds since 1970 (UTC).
pub const TIMESTAMP_HEADER: &str = "X-Troupe-Timestamp";

/// The header carrying `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "X-Troupe-Signature";

/// How far a timestamp may be from the receiver's clock by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The scheme prefix of the signature header's value.
const SCHEME: &str = "sha256=";

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The timestamp header is not a whole number of seconds.
    #[error("{TIMESTAMP_HEADER} is missing or not a number of seconds since 1970")]
    BadTimestamp,
    /// The timestamp is too far from now: a replay, or a wrong clock.
    #[error(
        "{TIMESTAMP_HEADER} is {skew_secs} s away from this machine's clock, more than the {tolerance_secs} s allowed; refuse it (a replay), or check the clocks"
    )]
    Stale {
        /// How far, in seconds.
        skew_secs: u64,
        /// The tolerance, in seconds.
        tolerance_secs: u64,
    },
    /// The signature header is not `sha256=` and 64 hex digits.
    #[error("{SIGNATURE_HEADER} is missing or not sha256= followed by 64 hex digits")]
    Malformed,
    /// The signature does not match.
    #[error(
        "{SIGNATURE_HEADER} does not match: the secret differs from the one Troupe signs with, or the body was changed (sign the raw bytes, not re-encoded JSON)"
    )]
    Mismatch,
}

/// The key for `secret`, as the sender and [`verify`] use it.
pub(crate) fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

/// The MAC of `"<timestamp>.<body>"`.
fn mac(key: &hmac::Key, timestamp: i64, body: &[u8]) -> hmac::Tag {
    let mut context = hmac::Context::with_key(key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    context.sign()
}

/// The signature header's value for `body` signed at `timestamp` with `key`.
pub(crate) fn sign_with(key: &hmac::Key, timestamp: i64, body: &[u8]) -> String {
    let hex: String = mac(key, timestamp, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{SCHEME}{hex}")
}

/// The `X-Troupe-Signature` value for `body` sent at `timestamp` (unix
/// seconds), signed with `secret`: `sha256=` and 64 hex digits.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    sign_with(&key(secret), timestamp, body)
}

/// Checks a received request: `timestamp` and `signature` are the values of
/// [`TIMESTAMP_HEADER`] and [`SIGNATURE_HEADER`], `body` the raw bytes
/// received, `now` the receiver's clock in unix seconds. The comparison is
/// constant-time.
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew_secs = now.abs_diff(sent);
    if skew_secs > tolerance.as_secs() {
        return Err(SignatureError::Stale {
            skew_secs,
            tolerance_secs: tolerance.as_secs(),
        });
    }
    let tag = signature
        .trim()
        .strip_prefix(SCHEME)
        .and_then(decode_hex)
        .ok_or(SignatureError::Malformed)?;
    let mut message = format!("{sent}.").into_bytes();
    message.extend_from_slice(body);
    hmac::verify(&key(secret), &message, &tag).map_err(|_| SignatureError::Mismatch)
}

/// 64 hex digits as 32 bytes.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-test-0123456789";
    const BODY: &[u8] = br#"{"type":"followup.delivered","text":"Hi"}"#;

    #[test]
    fn a_signature_is_the_hmac_of_the_timestamp_a_dot_and_the_body() {
        // From: printf '1700000000.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            sign(b"key", 1_700_000_000, b"{}"),
            "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }

    #[test]
    fn a_request_signed_with_the_secret_verifies() {
        let signature = sign(SECRET, 1_700_000_000, BODY);
        let checked = verify(
            SECRET,
            "1700000000",
            &signature,
            BODY,
            1_700_000_030,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(checked, Ok(()));
    }

    #[test]
    fn another_secret_a_changed_body_or_a_moved_timestamp_is_a_mismatch() {
        let signature = sign(SECRET, 1_700_000_000, BODY);
        let now = 1_700_000_000;
        let tolerance = DEFAULT_TOLERANCE;
        assert_eq!(
            verify(b"other", "1700000000", &signature, BODY, now, tolerance),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "1700000000", &signature, b"{}", now, tolerance),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "1700000001", &signature, BODY, now, tolerance),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_old_timestamp_is_refused_as_a_replay() {
        let signature = sign(SECRET, 1_700_000_000, BODY);
        let later = 1_700_000_000 + 301;
        assert_eq!(
            verify(
                SECRET,
                "1700000000",
                &signature,
                BODY,
                later,
                DEFAULT_TOLERANCE
            ),
            Err(SignatureError::Stale {
                skew_secs: 301,
                tolerance_secs: 300
            })
        );
    }

    #[test]
    fn malformed_headers_are_named_in_the_error() {
        let now = 1_700_000_000;
        let tolerance = DEFAULT_TOLERANCE;
        assert_eq!(
            verify(SECRET, "yesterday", "sha256=00", BODY, now, tolerance),
            Err(SignatureError::BadTimestamp)
        );
        for bad in [
            "",
            "sha256=zz",
            "md5=abc",
            &format!("sha256={}", "g".repeat(64)),
        ] {
            let error = verify(SECRET, "1700000000", bad, BODY, now, tolerance).unwrap_err();
            assert_eq!(error, SignatureError::Malformed, "{bad}");
            assert!(error.to_string().contains(SIGNATURE_HEADER));
        }
    }
}
