//! Key encoding for the sled trees.
//!
//! Numbers are big-endian so sled's byte order is numeric order: a range scan
//! over a conversation's messages returns them in the order they were added,
//! which is time order.

/// Separates a user id from a persona id in a conversation key. Ids never
/// contain it (see [`crate::ids::check_id`]).
const SEPARATOR: u8 = 0;

/// The key of the conversation between `user` and `persona`.
pub(crate) fn conversation(user: &str, persona: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(user.len() + persona.len() + 1);
    key.extend_from_slice(user.as_bytes());
    key.push(SEPARATOR);
    key.extend_from_slice(persona.as_bytes());
    key
}

/// The prefix of every message of a conversation.
pub(crate) fn message_prefix(conversation_id: u64) -> [u8; 8] {
    conversation_id.to_be_bytes()
}

/// The key of message number `seq` in a conversation.
pub(crate) fn message(conversation_id: u64, seq: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&conversation_id.to_be_bytes());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The key of a conversation's entry in the due index: the instant it
/// becomes due (milliseconds, sign bit flipped so earlier sorts first), then
/// its id.
pub(crate) fn due(from: chrono::DateTime<chrono::Utc>, conversation_id: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&instant(from));
    key[8..].copy_from_slice(&conversation_id.to_be_bytes());
    key
}

/// The prefix of every outbox entry of webhook `name`. Names are plain ids
/// (checked when the config is read), so they never contain the separator.
pub(crate) fn outbox_prefix(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(SEPARATOR);
    key
}

/// The key of outbox entry `seq` of webhook `name`: a range scan over the
/// prefix returns the webhook's entries in the order they were queued.
pub(crate) fn outbox(name: &str, seq: u64) -> Vec<u8> {
    let mut key = outbox_prefix(name);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// An instant as 8 bytes that sort in time order.
pub(crate) fn instant(at: chrono::DateTime<chrono::Utc>) -> [u8; 8] {
    ((at.timestamp_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_sort_by_conversation_then_sequence() {
        let mut keys = vec![message(2, 1), message(1, 256), message(1, 2), message(2, 0)];
        keys.sort();
        assert_eq!(
            keys,
            vec![message(1, 2), message(1, 256), message(2, 0), message(2, 1)]
        );
        assert!(message(1, 9).starts_with(&message_prefix(1)));
    }

    #[test]
    fn due_keys_sort_by_instant_even_before_1970() {
        use chrono::{TimeZone, Utc};
        let early = Utc.timestamp_millis_opt(-5_000).unwrap();
        let late = Utc.timestamp_millis_opt(5_000).unwrap();
        assert!(due(early, 9) < due(late, 1));
        assert!(due(late, 1) < due(late, 2));
    }

    #[test]
    fn outbox_keys_sort_by_webhook_then_the_order_they_were_queued() {
        let mut keys = vec![outbox("crm", 256), outbox("audit", 9), outbox("crm", 2)];
        keys.sort();
        assert_eq!(
            keys,
            vec![outbox("audit", 9), outbox("crm", 2), outbox("crm", 256)]
        );
        assert!(outbox("crm", 7).starts_with(&outbox_prefix("crm")));
        assert!(!outbox("crm2", 7).starts_with(&outbox_prefix("crm")));
    }

    #[test]
    fn conversation_keys_do_not_collide_across_the_separator() {
        assert_ne!(conversation("ab", "c"), conversation("a", "bc"));
    }
}
