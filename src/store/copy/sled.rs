//! The sled side of a copy: reading the store in pages, in key order, and
//! writing pages into it, each page keyed by its natural keys so that
//! writing it twice leaves what writing it once did.
//!
//! A page of conversations is one transaction over the conversation,
//! message, topic, due-index and intent trees: a process killed mid-copy
//! leaves each conversation whole or absent, never its messages under an
//! id its record does not carry.

use std::ops::Bound;

use sled::transaction::{ConflictableTransactionError, Transactional};

use super::records::{CopiedConversation, CopyMarker, IntentHold};
use crate::safety::SafetyCount;
use crate::store::claims::{lease_entry, lease_holder};
use crate::store::records::{UsageRecord, User};
use crate::store::{ID_FLOOR, Store, StoreError, decode, encode, keys};

/// The key, in the `meta` tree, of the mark a copy leaves.
const COPY_MARKER: &[u8] = b"copy_marker";

/// The usage key prefix of millisecond `ms` (as [`keys::instant`] writes it).
fn ms_key(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// The millisecond a usage key starts with.
fn key_ms(key: &[u8]) -> Option<i64> {
    let bytes = <[u8; 8]>::try_from(key.get(..8)?).ok()?;
    Some((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
}

impl Store {
    /// How a copy names this store: its data dir, made absolute.
    pub(crate) fn copy_identity(&self) -> String {
        let dir = std::fs::canonicalize(self.dir()).unwrap_or_else(|_| self.dir().to_path_buf());
        format!("sled data dir {}", dir.display())
    }

    /// The mark a copy left here, if one did.
    pub(crate) fn copy_marker(&self) -> Result<Option<CopyMarker>, StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        meta.get(COPY_MARKER)
            .map_err(|e| self.error(e))?
            .map(|bytes| decode(&bytes).map_err(|d| self.corrupt(&d)))
            .transpose()
    }

    /// Leaves (or updates) the mark of a copy, durably.
    pub(crate) fn set_copy_marker(&self, marker: &CopyMarker) -> Result<(), StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        meta.insert(COPY_MARKER, encode(marker))
            .map_err(|e| self.error(e))?;
        self.flush()
    }

    /// Whether the store holds any user, conversation, usage record or
    /// safety count.
    pub(crate) fn holds_records(&self) -> bool {
        !(self.users.is_empty()
            && self.conversations.is_empty()
            && self.usage.is_empty()
            && self.safety.is_empty())
    }

    /// Up to `limit` users after id `after`, in byte order of their ids.
    pub(crate) fn users_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let start = after.map_or(Bound::Unbounded, |id| {
            Bound::Excluded(id.as_bytes().to_vec())
        });
        self.users
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
            .values()
            .take(limit)
            .map(|v| {
                let bytes = v.map_err(|e| self.error(e))?;
                decode(&bytes).map_err(|d| self.corrupt(&d))
            })
            .collect()
    }

    /// Up to `limit` conversations after (user, persona) `after`, in byte
    /// order of user then persona, each with its messages, topics and
    /// intent.
    pub(crate) fn conversations_after(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<CopiedConversation>, StoreError> {
        let start = after.map_or(Bound::Unbounded, |(user, persona)| {
            Bound::Excluded(keys::conversation(user, persona))
        });
        let mut page = Vec::new();
        for item in self
            .conversations
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
            .take(limit)
        {
            let (key, bytes) = item.map_err(|e| self.error(e))?;
            let conversation: crate::store::Conversation =
                decode(&bytes).map_err(|d| self.corrupt(&d))?;
            let intent = self.pending.get(&key).map_err(|e| self.error(e))?.map(|v| {
                let (owner, lease_until) = lease_holder(&v);
                IntentHold { owner, lease_until }
            });
            page.push(CopiedConversation {
                messages: self.messages_page(&conversation, None, usize::MAX)?,
                topics: self.topics(&conversation)?,
                intent,
                conversation,
            });
        }
        Ok(page)
    }

    /// At least `limit` usage records (when there are that many) from the
    /// millisecond after `after_ms` on, oldest first, always ending with
    /// every record of the last millisecond read: a page of whole
    /// milliseconds, which [`Store::put_usage`] replaces whole.
    pub(crate) fn usage_after(
        &self,
        after_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        let start = after_ms.map_or(Bound::Unbounded, |ms| {
            Bound::Included(ms_key(ms.saturating_add(1)).to_vec())
        });
        let mut records = Vec::new();
        let mut last_ms = None;
        for item in self.usage.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
            let (key, bytes) = item.map_err(|e| self.error(e))?;
            let ms = key_ms(&key).ok_or_else(|| self.corrupt("a usage key is unreadable"))?;
            if records.len() >= limit && last_ms != Some(ms) {
                break;
            }
            records.push(decode(&bytes).map_err(|d| self.corrupt(&d))?);
            last_ms = Some(ms);
        }
        Ok(records)
    }

    /// Writes `users`, replacing the records of the same ids.
    pub(crate) fn put_users(&self, users: &[User]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for user in users {
            batch.insert(user.id.as_bytes(), encode(user));
        }
        self.users.apply_batch(batch).map_err(|e| self.error(e))?;
        // A copy run again may change the settings of users whose
        // conversations an earlier run copied: their due entries follow.
        for user in users {
            self.refresh_due_entries(user)?;
        }
        self.flush()
    }

    /// Writes `page` in one transaction: each conversation under the id
    /// [`Store::ids_for`] gives it, its messages by sequence
    /// number, its topics, its due-index entry (the old one removed) and
    /// its intent.
    pub(crate) fn put_conversations(&self, page: &[CopiedConversation]) -> Result<(), StoreError> {
        let trees = (
            &self.conversations,
            &self.messages,
            &self.topics,
            &self.due,
            &self.pending,
            &self.users,
        );
        let ids = self.ids_for(page)?;
        let result = trees.transaction(|(conversations, messages, topics, due, pending, users)| {
            for (copied, id) in page.iter().zip(&ids) {
                let mut conversation = copied.conversation.clone();
                let key = keys::conversation(&conversation.user, &conversation.persona);
                let existing = match conversations.get(&key)? {
                    Some(bytes) => Some(
                        decode::<crate::store::Conversation>(&bytes)
                            .map_err(ConflictableTransactionError::Abort)?,
                    ),
                    None => None,
                };
                conversation.id = *id;
                if let Some(window) = existing.as_ref().and_then(|old| old.due) {
                    due.remove(&keys::due(window.from, conversation.id))?;
                }
                if let Some(window) = conversation.due {
                    // The entry keeps the record and the user's settings
                    // (the users are copied before their conversations).
                    let user = match users.get(conversation.user.as_bytes())? {
                        Some(bytes) => Some(
                            decode::<crate::store::User>(&bytes)
                                .map_err(ConflictableTransactionError::Abort)?,
                        ),
                        None => None,
                    };
                    let facts = user.as_ref().map(crate::store::DueUser::from);
                    due.insert(
                        &keys::due(window.from, conversation.id),
                        crate::store::due::entry_value(&key, &conversation, facts.as_ref()),
                    )?;
                }
                for paged in &copied.messages {
                    messages.insert(
                        &keys::message(conversation.id, paged.seq),
                        encode(&paged.message),
                    )?;
                }
                let topics_key = keys::message_prefix(conversation.id);
                if copied.topics.is_empty() {
                    topics.remove(&topics_key)?;
                } else {
                    topics.insert(&topics_key, encode(&copied.topics))?;
                }
                match (conversation.pending_followup, &copied.intent) {
                    (Some(recorded), _) => {
                        let hold = copied.intent.as_ref();
                        let owner = hold.map(|h| h.owner.as_str()).unwrap_or_default();
                        let until = hold.and_then(|h| h.lease_until);
                        pending.insert(key.as_slice(), lease_entry(recorded, until, owner))?;
                    }
                    (None, _) => {
                        pending.remove(key.as_slice())?;
                    }
                }
                conversations.insert(key.as_slice(), encode(&conversation))?;
            }
            Ok(())
        });
        result.map_err(|e| self.tx_error(e))?;
        let highest = ids.iter().copied().max();
        if let Some(highest) = highest {
            self.raise_id_floor(highest)?;
        }
        self.flush()
    }

    /// The id each conversation of `page` is written under: the one it
    /// has here; for a new one, the source's (so an export reads the same
    /// from both stores) unless messages or topics here already use it
    /// (a conversation started in this store since an earlier run), then a
    /// new one. This process holds the data dir, so nothing changes
    /// between this and the transaction that writes the page.
    fn ids_for(&self, page: &[CopiedConversation]) -> Result<Vec<u64>, StoreError> {
        let wanted: std::collections::HashSet<u64> =
            page.iter().map(|c| c.conversation.id).collect();
        let mut ids: Vec<u64> = Vec::with_capacity(page.len());
        for copied in page {
            let c = &copied.conversation;
            let key = keys::conversation(&c.user, &c.persona);
            if let Some(bytes) = self.conversations.get(&key).map_err(|e| self.error(e))? {
                let existing: crate::store::Conversation =
                    decode(&bytes).map_err(|d| self.corrupt(&d))?;
                ids.push(existing.id);
                continue;
            }
            let prefix = keys::message_prefix(c.id);
            let taken = self.messages.scan_prefix(prefix).next().is_some()
                || self
                    .topics
                    .contains_key(prefix)
                    .map_err(|e| self.error(e))?;
            let mut id = c.id;
            while taken && (id == c.id || wanted.contains(&id) || ids.contains(&id)) {
                id = self.next_id()?;
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// Raises the floor of generated ids (see [`ID_FLOOR`]) above `id`, so
    /// conversations this store creates later never take a copied id. The
    /// floor is read when the store opens: this process's own next ids
    /// (usage keys) need only be unique, which they stay.
    fn raise_id_floor(&self, id: u64) -> Result<(), StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        let floor = meta
            .get(ID_FLOOR)
            .map_err(|e| self.error(e))?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        let wanted = id.saturating_add(1);
        if wanted > floor {
            meta.insert(ID_FLOOR, &wanted.to_be_bytes())
                .map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Writes a page of usage records read by [`Store::usage_after`] (whole
    /// milliseconds, oldest first), replacing every record this store holds
    /// in the milliseconds the page spans, in one batch.
    pub(crate) fn put_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(());
        };
        let (from, to) = (
            ms_key(first.at.timestamp_millis()),
            ms_key(last.at.timestamp_millis().saturating_add(1)),
        );
        let mut batch = sled::Batch::default();
        for key in self.usage.range(from..to).keys() {
            batch.remove(key.map_err(|e| self.error(e))?);
        }
        for record in records {
            let mut key = keys::instant(record.at).to_vec();
            key.extend_from_slice(&self.next_id()?.to_be_bytes());
            batch.insert(key, encode(record));
        }
        self.usage.apply_batch(batch).map_err(|e| self.error(e))?;
        self.flush()
    }

    /// Sets the safety log's counts to `counts` (per day, kind and language).
    pub(crate) fn put_safety(&self, counts: &[SafetyCount]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for count in counts {
            let key = format!("{}|{}|{}", count.day, count.kind, count.language);
            batch.insert(key.as_bytes(), &count.count.to_be_bytes());
        }
        self.safety.apply_batch(batch).map_err(|e| self.error(e))?;
        self.flush()
    }
}
