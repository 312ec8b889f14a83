//! Users' rights over their data: export, erasure, and retention.
//!
//! Erasure must leave nothing recoverable, and sled keeps old values in its
//! log until segments are reclaimed, so deleting keys is not enough. Troupe
//! rewrites the store instead: every record that does not belong to the user
//! is copied into a fresh sled database next to the old one, the fresh one
//! replaces it, and the old files are deleted. A crash at any point leaves
//! either the old store or the new one in place ([`recover_rewrite`]).
//! A retention purge deletes keys, then rewrites the store the same way.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::outbox::OutboxEntry;
use super::records::{Conversation, Message, Topic, UsageRecord, User};
use super::{COMPACTION_PENDING, STORE_DIR, Store, StoreError, decode, keys};

/// The store being written by an erasure, before it replaces the old one.
const NEW_DIR: &str = "store.new";

/// The old store, between the swap and its deletion.
const OLD_DIR: &str = "store.old";

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
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Purge {
    /// Messages removed.
    pub messages: usize,
    /// Topics removed.
    pub topics: usize,
    /// Usage records removed.
    pub usage: usize,
    /// Webhook deliveries still waiting, removed with the text they carry.
    pub webhook_deliveries: usize,
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

    /// Everything stored about `user`, or `None` if the store has nothing.
    pub fn export_user(&self, user: &str) -> Result<Option<UserData>, StoreError> {
        let Some(record) = self.user(user)? else {
            return Ok(None);
        };
        let mut conversations = Vec::new();
        for conversation in self.user_conversations(user)? {
            conversations.push(ConversationData {
                messages: self.messages(&conversation)?,
                topics: self.topics(&conversation)?,
                conversation,
            });
        }
        let usage = self
            .usage_since(DateTime::<Utc>::MIN_UTC)?
            .into_iter()
            .filter(|u| u.user.as_deref() == Some(user))
            .collect();
        let pending_webhooks = self
            .user_outbox(user)?
            .into_iter()
            .map(PendingWebhook::from)
            .collect();
        Ok(Some(UserData {
            user: record,
            conversations,
            usage,
            pending_webhooks,
        }))
    }

    /// Removes every record of `user` so that nothing can be recovered from
    /// the store's files, by rewriting the store without them. Takes the
    /// store (no other handle may be open) and returns the reopened one.
    pub fn erase_user(self, user: &str) -> Result<(Store, Erasure), StoreError> {
        let conversations = self.user_conversations(user)?;
        let mut erasure = Erasure {
            conversations: conversations.len(),
            messages: 0,
        };
        let ids: BTreeSet<[u8; 8]> = conversations
            .iter()
            .map(|c| keys::message_prefix(c.id))
            .collect();
        let mut conv_prefix = user.as_bytes().to_vec();
        conv_prefix.push(0);
        let store = self.rewrite(|tree, key, value| {
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
            !belongs
        })?;
        Ok((store, erasure))
    }

    /// Whether a purge deleted records that only a rewrite
    /// ([`Store::compact`]) makes unrecoverable.
    pub fn compaction_pending(&self) -> Result<bool, StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        meta.contains_key(COMPACTION_PENDING)
            .map_err(|e| self.error(e))
    }

    /// Records that a rewrite is needed, durably, before deleting.
    fn set_compaction_pending(&self) -> Result<(), StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        meta.insert(COMPACTION_PENDING, &[1u8])
            .map_err(|e| self.error(e))?;
        self.flush()
    }

    /// Rewrites the store as it is, so that values deleted earlier (by a
    /// purge) can no longer be recovered from its files. Costs a copy of
    /// the store.
    pub fn compact(self) -> Result<Store, StoreError> {
        self.rewrite(|_, _, _| true)
    }

    /// Copies every record that `keep(tree, key, value)` accepts into a
    /// fresh sled database beside this one, then swaps it in and deletes the
    /// old files. A crash at any point leaves one whole store
    /// ([`recover_rewrite`] runs on the next open).
    fn rewrite(
        self,
        mut keep: impl FnMut(&[u8], &[u8], &[u8]) -> bool,
    ) -> Result<Store, StoreError> {
        let dir = self.dir.clone();
        let io = |source| StoreError::Io {
            dir: dir.clone(),
            source,
        };
        let new_path = dir.join(NEW_DIR);
        if new_path.exists() {
            fs::remove_dir_all(&new_path).map_err(io)?;
        }
        let fresh = super::open_sled(&dir, &new_path)?;
        self.copy_into(&fresh, &mut keep)?;
        self.seal_copy(&fresh)?;
        drop(fresh);
        super::integrity::record(&new_path).map_err(io)?;
        // Keep the data dir locked through the swap.
        let lock = std::sync::Arc::clone(&self.lock);
        drop(self);
        let store_path = dir.join(STORE_DIR);
        let old_path = dir.join(OLD_DIR);
        fs::rename(&store_path, &old_path).map_err(io)?;
        fs::rename(&new_path, &store_path).map_err(io)?;
        fs::remove_dir_all(&old_path).map_err(io)?;
        Store::open_locked(&dir, lock)
    }

    /// Removes messages older than `cutoff`, topics last mentioned before it,
    /// and usage records and webhook deliveries from before it.
    /// Before its first deletion, it records that the store needs a rewrite
    /// ([`Store::compaction_pending`]), so a crash before the rewrite does
    /// not leave the deleted text in the files for good.
    pub fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<Purge, StoreError> {
        let mut purge = Purge::default();
        let mut marked = false;
        let mut before_deleting = |store: &Store| {
            if !marked {
                marked = true;
                store.set_compaction_pending()?;
            }
            Ok::<(), StoreError>(())
        };
        for conversation in self.conversations() {
            let conversation = conversation?;
            let mut batch = sled::Batch::default();
            let mut old = 0;
            for item in self
                .messages
                .scan_prefix(keys::message_prefix(conversation.id))
            {
                let (key, value) = item.map_err(|e| self.error(e))?;
                let message: Message = decode(&value).map_err(|d| self.corrupt(&d))?;
                if message.at < cutoff {
                    batch.remove(key);
                    old += 1;
                }
            }
            if old > 0 {
                before_deleting(self)?;
                purge.messages += old;
                self.messages
                    .apply_batch(batch)
                    .map_err(|e| self.error(e))?;
            }
            // The record's timeline of user messages goes with them.
            if conversation.recent_user_times.iter().any(|at| *at < cutoff) {
                before_deleting(self)?;
                let mut trimmed = conversation.clone();
                trimmed.recent_user_times.retain(|at| *at >= cutoff);
                self.conversations
                    .insert(
                        keys::conversation(&conversation.user, &conversation.persona),
                        super::encode(&trimmed),
                    )
                    .map_err(|e| self.error(e))?;
            }
            let topics = self.topics(&conversation)?;
            let kept: Vec<Topic> = topics
                .iter()
                .filter(|t| t.updated_at >= cutoff)
                .cloned()
                .collect();
            if kept.len() != topics.len() {
                before_deleting(self)?;
                purge.topics += topics.len() - kept.len();
                self.topics
                    .insert(keys::message_prefix(conversation.id), super::encode(&kept))
                    .map_err(|e| self.error(e))?;
            }
        }
        let old_usage: Vec<_> = self
            .usage
            .range(..keys::instant(cutoff).to_vec())
            .keys()
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))?;
        purge.usage = old_usage.len();
        if !old_usage.is_empty() {
            before_deleting(self)?;
        }
        for key in old_usage {
            self.usage.remove(key).map_err(|e| self.error(e))?;
        }
        let old_outbox = self.outbox_keys_before(cutoff)?;
        purge.webhook_deliveries = old_outbox.len();
        if !old_outbox.is_empty() {
            before_deleting(self)?;
        }
        for key in old_outbox {
            self.outbox.remove(key).map_err(|e| self.error(e))?;
        }
        self.flush()?;
        Ok(purge)
    }
}

/// Finishes or undoes an erasure interrupted by a crash, before the store
/// opens: a complete new store that was not yet swapped in replaces the old
/// one; a half-written one is dropped.
pub(crate) fn recover_rewrite(dir: &Path) -> std::io::Result<()> {
    let store = dir.join(STORE_DIR);
    let new = dir.join(NEW_DIR);
    let old = dir.join(OLD_DIR);
    if old.exists() {
        if !store.exists() && new.exists() {
            fs::rename(&new, &store)?;
        } else if !store.exists() {
            fs::rename(&old, &store)?;
            return Ok(());
        }
        fs::remove_dir_all(&old)?;
    }
    if new.exists() {
        fs::remove_dir_all(&new)?;
    }
    Ok(())
}
