//! Secrets kept out of every text Troupe shows, logs or stores. Some model
//! servers and proxies echo the request's `Authorization` header in their
//! error bodies ("Incorrect API key provided: Bearer sk-…"); every text
//! that comes from a server passes through [`redact`] before it becomes an
//! error, so the key never reaches a terminal, a log, an API client or the
//! store.

use std::sync::{Mutex, OnceLock};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not registered: replacing them would
/// mangle ordinary words.
const MIN_SECRET_LEN: usize = 8;

/// The secrets this process has read (API keys, tokens).
fn registry() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(Mutex::default)
}

/// Remembers a secret this process holds, so [`redact`] removes it
/// wherever it appears.
pub fn remember(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    if let Ok(mut secrets) = registry().lock()
        && !secrets.iter().any(|s| s == secret)
    {
        secrets.push(secret.to_string());
    }
}

/// `text` without any remembered secret, bearer token, `sk-…` key or
/// `key=`/`token=` query value.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(secrets) = registry().lock() {
        for secret in secrets.iter() {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    let out = redact_after(&out, |rest| {
        let after = strip_prefix_ci(rest, "bearer ")?;
        looks_like_token(&after[..token_len(after)]).then(|| rest.len() - after.len())
    });
    let out = redact_after(&out, |rest| {
        ["sk-", "sk_"]
            .iter()
            .find(|p| rest.starts_with(**p) && token_len(&rest[p.len()..]) >= MIN_SECRET_LEN)
            .map(|p| p.len())
    });
    redact_after(&out, |rest| {
        [
            "api_key=",
            "api-key=",
            "apikey=",
            "key=",
            "token=",
            "access_token=",
        ]
        .iter()
        .find_map(|p| strip_prefix_ci(rest, p).map(|_| p.len()))
    })
}

/// Replaces the token that follows each place where `marker` matches (it
/// returns the marker's length), keeping the marker.
fn redact_after(text: &str, marker: impl Fn(&str) -> Option<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let at_boundary = out
            .chars()
            .last()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if at_boundary && let Some(skip) = marker(rest) {
            let after = &rest[skip..];
            let token = token_len(after);
            if token > 0 && after[..token] != *REDACTED {
                out.push_str(&rest[..skip]);
                out.push_str(REDACTED);
                rest = &after[token..];
                continue;
            }
        }
        let Some(c) = rest.chars().next() else { break };
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of the token at the start of `text`: letters, digits and
/// `-_.~+/=`, as keys and tokens are written (a full stop that ends a
/// sentence is not part of it).
fn token_len(text: &str) -> usize {
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || "-_.~+/=".contains(*c)))
        .map_or(text.len(), |(i, _)| i);
    text[..end].trim_end_matches('.').len()
}

/// Whether a word after "Bearer" is a credential rather than English ("a
/// bearer of news"): long, or with a digit in it.
fn looks_like_token(word: &str) -> bool {
    word.len() >= 20 || (word.len() >= MIN_SECRET_LEN && word.chars().any(|c| c.is_ascii_digit()))
}

/// `text` after `prefix`, compared ignoring ASCII case.
fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_keys_and_tokens_are_redacted() {
        remember("my-proxy-key-0042");
        let text = redact(
            "Incorrect API key provided: Bearer sk-live-abcdef123456. Key my-proxy-key-0042 at /v1?api_key=zzz&x=1",
        );
        assert_eq!(
            text,
            "Incorrect API key provided: Bearer [redacted]. Key [redacted] at /v1?api_key=[redacted]&x=1"
        );
        let anthropic = redact("invalid x-api-key: sk-ant-api03-AbCdEf0123456789");
        assert_eq!(anthropic, "invalid x-api-key: sk-[redacted]");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "the model is overloaded; try again",
            "ask about risk-free sk- words",
            "monkey=1 turkey=2",
            "a bearer of good news",
        ] {
            assert_eq!(redact(text), text);
        }
        assert_eq!(
            redact("Authorization: Bearer abc123def456"),
            "Authorization: Bearer [redacted]"
        );
    }
}
