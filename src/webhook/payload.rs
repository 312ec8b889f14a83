//! What a webhook receives: one JSON object per delivered follow-up, and its
//! delivery id. Both are fixed when the follow-up is delivered and stored in
//! the outbox, so every attempt sends the same bytes.

use chrono::{DateTime, Utc};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use super::WebhookError;
use crate::followup::SentFollowUp;
use crate::store::OutboxEntry;

/// The event type of a delivered follow-up (`type` in the body, and the
/// `X-Troupe-Event` header).
pub const FOLLOWUP_DELIVERED: &str = "followup.delivered";

/// The body POSTed for a delivered follow-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUpPayload {
    /// The event type: [`FOLLOWUP_DELIVERED`].
    #[serde(rename = "type")]
    pub event: String,
    /// The delivery id, as in `X-Troupe-Delivery`: unique per follow-up and
    /// webhook, the same on every attempt.
    pub delivery: String,
    /// When the follow-up was delivered to the user (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// The user it was sent to.
    pub user: String,
    /// The persona that sent it.
    pub persona: PersonaRef,
    /// The follow-up, the persona's words, without disclaimers.
    pub text: String,
    /// The disclaimers to show with it, apart from the text.
    pub disclaimers: Vec<String>,
    /// The model that wrote it, or `template`.
    pub model: String,
}

/// A persona, as named in a payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonaRef {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
}

impl FollowUpPayload {
    /// The payload for `sent` (from the persona called `persona_name`),
    /// delivered at `at`, with delivery id `delivery`.
    pub fn new(
        delivery: String,
        sent: &SentFollowUp,
        persona_name: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            event: FOLLOWUP_DELIVERED.to_string(),
            delivery,
            created_at: at,
            user: sent.user.clone(),
            persona: PersonaRef {
                id: sent.persona.clone(),
                name: persona_name.to_string(),
            },
            text: sent.text.clone(),
            disclaimers: sent.disclaimers.clone(),
            model: sent.model.clone(),
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .expect("a payload serializes: it holds only strings and a timestamp")
    }
}

/// A new delivery id: a random (version 4) UUID, so ids from different
/// Troupe deployments never collide at a shared receiver.
pub fn delivery_id() -> Result<String, WebhookError> {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| WebhookError::Random)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// The outbox entries for `sent`, one per webhook in `webhooks`, each with
/// its own delivery id: what [`crate::store::Store::deliver_followup`]
/// queues with the follow-up.
pub fn outbox_entries(
    webhooks: &[String],
    sent: &SentFollowUp,
    persona_name: &str,
    at: DateTime<Utc>,
) -> Result<Vec<OutboxEntry>, WebhookError> {
    webhooks
        .iter()
        .map(|webhook| {
            let payload = FollowUpPayload::new(delivery_id()?, sent, persona_name, at);
            Ok(OutboxEntry {
                body: payload.to_json(),
                delivery: payload.delivery,
                webhook: webhook.clone(),
                user: sent.user.clone(),
                persona: sent.persona.clone(),
                queued_at: at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn sent() -> SentFollowUp {
        SentFollowUp {
            user: "alice".to_string(),
            persona: "chef".to_string(),
            text: "How did the risotto go?".to_string(),
            disclaimers: vec!["I am an AI.".to_string()],
            model: "template".to_string(),
        }
    }

    #[test]
    fn the_body_names_the_event_user_persona_text_disclaimers_model_and_times() {
        let at = Utc.with_ymd_and_hms(2026, 11, 4, 10, 0, 0).unwrap();
        let payload = FollowUpPayload::new("d-1".to_string(), &sent(), "Chef Marco", at);
        let body: serde_json::Value = serde_json::from_str(&payload.to_json()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "followup.delivered",
                "delivery": "d-1",
                "created_at": "2026-11-04T10:00:00Z",
                "user": "alice",
                "persona": {"id": "chef", "name": "Chef Marco"},
                "text": "How did the risotto go?",
                "disclaimers": ["I am an AI."],
                "model": "template",
            })
        );
        let back: FollowUpPayload = serde_json::from_value(body).unwrap();
        assert_eq!(back, payload);
    }

    #[test]
    fn delivery_ids_are_version_4_uuids_and_differ() {
        let (a, b) = (delivery_id().unwrap(), delivery_id().unwrap());
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{a}");
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn each_webhook_gets_its_own_entry_and_delivery_id_in_its_body() {
        let at = Utc.with_ymd_and_hms(2026, 11, 4, 10, 0, 0).unwrap();
        let names = ["audit".to_string(), "crm".to_string()];
        let entries = outbox_entries(&names, &sent(), "Chef Marco", at).unwrap();
        assert_eq!(entries.len(), 2);
        assert_ne!(entries[0].delivery, entries[1].delivery);
        for (entry, name) in entries.iter().zip(&names) {
            assert_eq!(&entry.webhook, name);
            let body: FollowUpPayload = serde_json::from_str(&entry.body).unwrap();
            assert_eq!(body.delivery, entry.delivery);
            assert_eq!((entry.user.as_str(), entry.queued_at), ("alice", at));
        }
    }
}
