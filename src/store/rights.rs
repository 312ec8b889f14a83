//! Users' rights over their data: export and erasure.
//!
//! Erasure must leave nothing recoverable, so it rewrites the store without
//! the user's records ([`super::rewrite`]): a crash at any point leaves
//! either the old store or the new one whole.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::outbox::OutboxEntry;
use super::records::{Conversation, Message, Topic, UsageRecord, User};
use super::{Store, StoreError, decode, keys};
use crate::progress::Progress;

/// Everything stored about one user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserData {
    /// The profile.
    pub user: User,
    /// Each conversation with its messages and topics.
    pub conversations: Vec<ConversationData>,
    /// Every model call made for the user.
    pub usage: Vec<UsageRecord>,
    /// Follow-ups not yet taken by a webhook's receiver: what each will
    /// still be sent (a recipient the user has a right to know of).
    pub pending_webhooks: Vec<PendingWebhook>,
}

/// A follow-up about the user still waiting to be sent to a webhook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingWebhook {
    /// The webhook's name (its URL stays in the operator's config).
    pub webhook: String,
    /// The delivery id it will be sent with.
    pub delivery: String,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// The body the receiver will get.
    pub payload: serde_json::Value,
}

impl From<OutboxEntry> for PendingWebhook {
    fn from(entry: OutboxEntry) -> Self {
        Self {
            payload: serde_json::from_str(&entry.body)
                .unwrap_or(serde_json::Value::String(entry.body)),
            webhook: entry.webhook,
            delivery: entry.delivery,
            queued_at: entry.queued_at,
        }
    }
}

/// One conversation, in full.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationData {
    /// The record: counters, follow-up state, preferences.
    pub conversation: Conversation,
    /// Every message, oldest first (follow-ups are messages of kind `follow-up`).
    pub messages: Vec<Message>,
    /// The topics.
    pub topics: Vec<Topic>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    /// Conversations removed.
    pub conversations: usize,
    /// Messages removed.
    pub messages: usize,
    /// Copies of the store kept after a crash or damage
    /// (`DATA_DIR/store-preserved/`), removed because they still held the
    /// erased records.
    #[serde(default)]
    pub preserved_copies_removed: usize,
}

impl Store {
    /// The user's conversations, with every persona.
    pub fn user_conversations(&self, user: &str) -> Result<Vec<Conversation>, StoreError> {
        let mut prefix = user.as_bytes().to_vec();
        prefix.push(0);
        self.conversations
            .scan_prefix(prefix)
            .values()
            .map(|v| {
                let bytes = v.map_err(|e| self.error(e))?;
                decode(&bytes).map_err(|d| self.corrupt(&d))
            })
            .collect()
    }

    /// Removes every record of `user` so that nothing can be recovered from
    /// the store's files, by rewriting the store without them, and removes
    /// the copies of the store kept after a crash or damage, which hold
    /// them too (backups, made on purpose, are left alone). Takes the
    /// store (no other handle may be open) and returns the reopened one;
    /// `progress` hears the rewrite advance.
    pub fn erase_user(
        self,
        user: &str,
        progress: &mut dyn Progress,
    ) -> Result<(Store, Erasure), StoreError> {
        let conversations = self.user_conversations(user)?;
        let mut erasure = Erasure {
            conversations: conversations.len(),
            ..Erasure::default()
        };
        let ids: BTreeSet<[u8; 8]> = conversations
            .iter()
            .map(|c| keys::message_prefix(c.id))
            .collect();
        let mut conv_prefix = user.as_bytes().to_vec();
        conv_prefix.push(0);
        let (store, copies) = self.rewrite(progress, |tree, key, value| {
            let belongs = match tree {
                b"users" => key == user.as_bytes(),
                b"conversations" | b"pending" => key.starts_with(&conv_prefix),
                b"messages" => {
                    let owned = key.len() >= 8 && ids.contains(&key[..8]);
                    erasure.messages += usize::from(owned);
                    owned
                }
                b"topics" => key.len() >= 8 && ids.contains(&key[..8]),
                b"due" => value.starts_with(&conv_prefix),
                b"usage" => {
                    decode::<UsageRecord>(value).is_ok_and(|u| u.user.as_deref() == Some(user))
                }
                b"tokens" => value == user.as_bytes(),
                b"outbox" => decode::<OutboxEntry>(value).is_ok_and(|e| e.user == user),
                _ => false,
            };
            Ok((!belongs).then(|| value.clone()))
        })?;
        erasure.preserved_copies_removed = copies;
        Ok((store, erasure))
    }
}
