//! Outgoing webhooks: every follow-up a persona delivers is also POSTed,
//! signed, to each webhook in `[server.webhooks]`.
//!
//! - [`payload`]: the JSON body and its delivery id, fixed when the
//!   follow-up is delivered;
//! - [`signature`]: the HMAC-SHA256 headers, and [`signature::verify`] for
//!   receivers;
//! - [`courier`]: the task that sends one webhook's queue, in order,
//!   retrying with capped exponential backoff;
//! - this module: the configured webhooks with their secrets, checked when
//!   the server starts.
//!
//! The queue is the store's outbox ([`crate::store::outbox`]): the follow-up
//! layer writes one entry per webhook in the transaction that delivers the
//! follow-up, and a courier removes an entry only after a 2xx. Delivery is
//! therefore at least once: a crash between the receiver's 2xx and the
//! removal sends that entry again, with the same delivery id, which the
//! receiver uses to drop the repeat.

pub mod courier;
pub mod payload;
pub mod signature;

use std::time::Duration;

pub use courier::{Courier, Wake};
pub use payload::{FOLLOWUP_DELIVERED, FollowUpPayload, PersonaRef};
pub use signature::{SignatureError, sign, verify};

use crate::server::ServerConfig;

/// Why webhooks could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The env var holding a webhook's secret is unset or empty.
    #[error(
        "webhook \"{webhook}\": the environment variable {var} (its secret_env) is not set or is empty; set it to the signing secret shared with the receiver"
    )]
    MissingSecret {
        /// The webhook's name.
        webhook: String,
        /// The variable's name (never its value).
        var: String,
    },
    /// The URL cannot be sent to (it passed the config's check, but has no
    /// host, or a bad port). The URL itself is not repeated: it may hold a
    /// token.
    #[error(
        "webhook \"{webhook}\": its url cannot be used ({detail}); write it like https://receiver.example/hooks/troupe"
    )]
    BadUrl {
        /// The webhook's name.
        webhook: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The HTTP client could not be built.
    #[error("webhook \"{webhook}\": could not set up HTTP: {detail}")]
    Client {
        /// The webhook's name.
        webhook: String,
        /// What reqwest reported.
        detail: String,
    },
    /// No random bytes for a delivery id.
    #[error(
        "the system's random number generator failed, so no delivery id could be made; try again"
    )]
    Random,
}

/// A webhook's signing secret. Kept as the HMAC key only; its `Debug`
/// shows nothing, so it cannot reach a log by accident.
#[derive(Clone)]
pub struct Secret(ring::hmac::Key);

impl Secret {
    /// The secret `text` (surrounding whitespace, such as the newline of a
    /// secret read from a file, is ignored).
    pub fn new(text: &str) -> Self {
        Self(signature::key(text.trim().as_bytes()))
    }

    /// The `X-Troupe-Signature` value for `body` sent at `timestamp`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        signature::sign_with(&self.0, timestamp, body)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// One configured webhook, ready to send to.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its name: the key of its queue in the outbox.
    pub name: String,
    /// Where it POSTs. Never logged: such URLs often carry a token.
    pub url: String,
    /// The signing secret.
    pub secret: Secret,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

/// Every webhook in `config`, with its secret read through `env` (the
/// process environment in the server). A secret that is missing is an
/// error naming its variable; a URL that cannot be sent to is an error too.
pub fn configured(
    config: &ServerConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Webhook>, WebhookError> {
    config
        .webhooks
        .iter()
        .map(|(name, webhook)| {
            check_url(name, &webhook.url)?;
            let secret = env(&webhook.secret_env)
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| WebhookError::MissingSecret {
                    webhook: name.clone(),
                    var: webhook.secret_env.clone(),
                })?;
            Ok(Webhook {
                name: name.clone(),
                url: webhook.url.clone(),
                secret: Secret::new(&secret),
                timeout: Duration::from_secs(webhook.timeout_secs.max(1)),
                max_backoff: Duration::from_secs(webhook.max_backoff_secs.max(1)),
            })
        })
        .collect()
}

/// Refuses a URL with no host or an unparsable port, which the config's
/// check lets through but no request could use.
fn check_url(webhook: &str, url: &str) -> Result<(), WebhookError> {
    let bad = |detail: String| WebhookError::BadUrl {
        webhook: webhook.to_string(),
        detail,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    match parsed.host_str() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err(bad("it names no host".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::config::WebhookConfig;

    fn config() -> ServerConfig {
        let mut config = ServerConfig::default();
        config.webhooks.insert(
            "crm".to_string(),
            WebhookConfig {
                url: "https://crm.example/hook".to_string(),
                secret_env: "CRM_SECRET".to_string(),
                ..WebhookConfig::default()
            },
        );
        config
    }

    #[test]
    fn a_missing_or_blank_secret_names_its_variable_and_never_a_value() {
        for value in [None, Some("  \n")] {
            let error = configured(&config(), &|_| value.map(str::to_string)).unwrap_err();
            let text = error.to_string();
            assert!(text.contains("CRM_SECRET"), "{text}");
            assert!(text.contains("\"crm\""), "{text}");
        }
    }

    #[test]
    fn a_url_with_no_host_is_refused_without_being_repeated() {
        let mut config = config();
        for url in [
            "http://",
            "https://:443/hook?token=abc123",
            "http://host:99999/",
        ] {
            config.webhooks.get_mut("crm").unwrap().url = url.to_string();
            let error = configured(&config, &|_| Some("secret".to_string())).unwrap_err();
            assert!(
                matches!(error, WebhookError::BadUrl { .. }),
                "{url}: {error}"
            );
            assert!(!error.to_string().contains("abc123"), "{error}");
        }
    }

    #[test]
    fn a_configured_webhook_signs_with_the_trimmed_secret_and_never_shows_it() {
        let webhooks = configured(&config(), &|var| {
            (var == "CRM_SECRET").then(|| "s3cret-value\n".to_string())
        })
        .unwrap();
        let crm = &webhooks[0];
        assert_eq!(
            (crm.timeout.as_secs(), crm.max_backoff.as_secs()),
            (10, 300)
        );
        assert_eq!(crm.secret.sign(7, b"{}"), sign(b"s3cret-value", 7, b"{}"));
        assert!(!format!("{webhooks:?}").contains("s3cret"));
    }
}
