//! Retention: removing what is older than the retention period, from the
//! store's files too.
//!
//! A purge first reads the store to count what is past the cutoff; if
//! anything is, it rewrites the store without it ([`super::rewrite`]), so
//! the purge is all-or-nothing: a crash leaves the old store whole, and the
//! next purge does the whole work.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sled::IVec;

use super::outbox::OutboxEntry;
use super::records::{Conversation, Message, Topic};
use super::{Store, StoreError, decode, encode, keys};
use crate::progress::Progress;

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
    /// Copies of the store kept after a crash or damage
    /// (`DATA_DIR/store-preserved/`), removed because they still held the
    /// purged records.
    pub preserved_copies_removed: usize,
}

/// What a purge does to one record.
struct Pruned {
    /// The record to keep (`None`: drop it).
    kept: Option<IVec>,
    /// Whether it is dropped or changed: the store needs a rewrite.
    changed: bool,
}

impl Store {
    /// Removes messages older than `cutoff` (with their times in the
    /// conversation's record), topics last mentioned before it, and usage
    /// records and webhook deliveries from before it, by rewriting the
    /// store without them; the copies of the store kept after a crash or
    /// damage, which hold them too, are removed with the old store. Takes
    /// the store (no other handle may be open) and returns it, rewritten
    /// only if something was past the cutoff (or an older build left a
    /// purge's rewrite undone). `progress` hears both stages: the records read to find what is past
    /// the cutoff, then the rewrite.
    pub fn purge_before(
        self,
        cutoff: DateTime<Utc>,
        progress: &mut dyn Progress,
    ) -> Result<(Store, Purge), StoreError> {
        let mut purge = Purge::default();
        let mut changed = self.compaction_pending()?;
        progress.begin("purging old messages", None);
        let mut read: u64 = 0;
        for name in ["messages", "conversations", "topics", "usage", "outbox"] {
            let tree = self.db.open_tree(name).map_err(|e| self.error(e))?;
            for item in tree.iter() {
                let (key, value) = item.map_err(|e| self.error(e))?;
                read += 1;
                if read.is_multiple_of(1_000) {
                    progress.advance(read);
                }
                let pruned = prune(name.as_bytes(), &key, &value, cutoff, &mut purge)
                    .map_err(|d| self.corrupt(&d))?;
                changed |= pruned.changed;
            }
        }
        if !changed {
            return Ok((self, purge));
        }
        progress.advance(read);
        let (store, copies) = self.rewrite(progress, |tree, key, value| {
            Ok(prune(tree, key, value, cutoff, &mut Purge::default())?.kept)
        })?;
        purge.preserved_copies_removed = copies;
        Ok((store, purge))
    }
}

/// What a purge at `cutoff` keeps of the record `key` → `value` of `tree`,
/// counting what it removes in `purge`.
fn prune(
    tree: &[u8],
    key: &[u8],
    value: &IVec,
    cutoff: DateTime<Utc>,
    purge: &mut Purge,
) -> Result<Pruned, String> {
    let drop_if = |old: bool, count: &mut usize| {
        *count += usize::from(old);
        Pruned {
            kept: (!old).then(|| value.clone()),
            changed: old,
        }
    };
    Ok(match tree {
        b"messages" => drop_if(decode::<Message>(value)?.at < cutoff, &mut purge.messages),
        // Usage keys start with the instant of the call.
        b"usage" => drop_if(key < keys::instant(cutoff).as_slice(), &mut purge.usage),
        b"outbox" => drop_if(
            decode::<OutboxEntry>(value)?.queued_at < cutoff,
            &mut purge.webhook_deliveries,
        ),
        // The record's timeline of user messages goes with them.
        b"conversations" => {
            let mut conversation: Conversation = decode(value)?;
            let before = conversation.recent_user_times.len();
            conversation.recent_user_times.retain(|at| *at >= cutoff);
            changed(
                value,
                before != conversation.recent_user_times.len(),
                || encode(&conversation),
            )
        }
        // The due index keeps a copy of the record (see `super::due`).
        b"due" => {
            let rewritten = super::due::rewrite_kept(key, value, |c| {
                let before = c.recent_user_times.len();
                c.recent_user_times.retain(|at| *at >= cutoff);
                before != c.recent_user_times.len()
            });
            match rewritten {
                Some(bytes) => Pruned {
                    kept: Some(bytes.into()),
                    changed: true,
                },
                None => Pruned {
                    kept: Some(value.clone()),
                    changed: false,
                },
            }
        }
        b"topics" => {
            let mut topics: Vec<Topic> = decode(value)?;
            let before = topics.len();
            topics.retain(|t| t.updated_at >= cutoff);
            purge.topics += before - topics.len();
            changed(value, before != topics.len(), || encode(&topics))
        }
        _ => Pruned {
            kept: Some(value.clone()),
            changed: false,
        },
    })
}

/// A record kept, re-encoded by `encode` if it `was_changed`.
fn changed(value: &IVec, was_changed: bool, encode: impl FnOnce() -> Vec<u8>) -> Pruned {
    Pruned {
        kept: Some(if was_changed {
            encode().into()
        } else {
            value.clone()
        }),
        changed: was_changed,
    }
}
