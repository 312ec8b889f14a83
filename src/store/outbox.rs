//! The webhook outbox: follow-ups waiting to be POSTed to each configured
//! webhook.
//!
//! Entries are written by [`Store::deliver_followup`] in the transaction
//! that stores the follow-up, so a follow-up is never delivered without its
//! webhooks queued; the delivery worker ([`crate::webhook`]) removes an entry
//! only after its receiver answered 2xx. What an entry holds (the body, the
//! delivery id) is decided by the follow-up layer: the store only keeps it.
//!
//! Keys are `webhook \0 sequence` (big-endian), so each webhook's entries
//! read back in the order they were queued, and one webhook's queue is read
//! without touching another's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{Store, StoreError, decode, encode, keys};

/// One follow-up waiting to be sent to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The delivery id, sent as `X-Troupe-Delivery` and in the body: the
    /// same on every attempt, so a receiver can drop a repeat.
    pub delivery: String,
    /// The webhook's name (`[server.webhooks.NAME]`).
    pub webhook: String,
    /// The user the follow-up went to, so the entry is exported and erased
    /// with them.
    pub user: String,
    /// The persona that sent it.
    pub persona: String,
    /// When it was queued (the follow-up's delivery).
    pub queued_at: DateTime<Utc>,
    /// The JSON body, sent byte for byte on every attempt.
    pub body: String,
}

/// An entry and its place in its webhook's queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedDelivery {
    /// Its sequence number: pass it to [`Store::remove_from_outbox`].
    pub seq: u64,
    /// The entry.
    pub entry: OutboxEntry,
}

/// Inside a delivery's transaction: queues each entry behind what its
/// webhook already has. `id_floor` keeps sequence numbers rising across
/// store rewrites (see [`super::ID_FLOOR`]).
pub(super) fn queue(
    outbox: &TransactionalTree,
    entries: &[OutboxEntry],
    id_floor: u64,
) -> Result<(), ConflictableTransactionError<String>> {
    for entry in entries {
        let seq = outbox.generate_id()? + id_floor;
        outbox.insert(keys::outbox(&entry.webhook, seq), encode(entry))?;
    }
    Ok(())
}

impl Store {
    /// The oldest entry waiting for webhook `name`, if any.
    pub fn next_in_outbox(&self, name: &str) -> Result<Option<QueuedDelivery>, StoreError> {
        let Some(item) = self.outbox.scan_prefix(keys::outbox_prefix(name)).next() else {
            return Ok(None);
        };
        let (key, value) = item.map_err(|e| self.error(e))?;
        let seq = key
            .len()
            .checked_sub(8)
            .and_then(|at| <[u8; 8]>::try_from(&key[at..]).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| self.corrupt("an outbox key is unreadable"))?;
        let entry = decode(&value).map_err(|d| self.corrupt(&d))?;
        Ok(Some(QueuedDelivery { seq, entry }))
    }

    /// How many entries wait for webhook `name`.
    pub fn outbox_len(&self, name: &str) -> Result<usize, StoreError> {
        let mut count = 0;
        for key in self.outbox.scan_prefix(keys::outbox_prefix(name)).keys() {
            key.map_err(|e| self.error(e))?;
            count += 1;
        }
        Ok(count)
    }

    /// Removes entry `seq` of webhook `name` once its receiver took it, and
    /// flushes, so a restart does not send it again; `false` if it was
    /// already gone (erased with its user, or purged).
    pub fn remove_from_outbox(&self, name: &str, seq: u64) -> Result<bool, StoreError> {
        let removed = self
            .outbox
            .remove(keys::outbox(name, seq))
            .map_err(|e| self.error(e))?;
        self.flush()?;
        Ok(removed.is_some())
    }

    /// Every webhook with entries waiting, and how many: at start, entries
    /// for a webhook no longer configured are reported, not dropped.
    pub fn outbox_counts(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let mut counts = BTreeMap::new();
        for value in self.outbox.iter().values() {
            let bytes = value.map_err(|e| self.error(e))?;
            let entry: OutboxEntry = decode(&bytes).map_err(|d| self.corrupt(&d))?;
            *counts.entry(entry.webhook).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// The entries still waiting to be sent about `user`, oldest first per
    /// webhook.
    pub fn user_outbox(&self, user: &str) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut entries = Vec::new();
        for value in self.outbox.iter().values() {
            let bytes = value.map_err(|e| self.error(e))?;
            let entry: OutboxEntry = decode(&bytes).map_err(|d| self.corrupt(&d))?;
            if entry.user == user {
                entries.push(entry);
            }
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::store::{AppendEffects, Message, MessageKind, Role};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 4, hour, 0, 0).unwrap()
    }

    fn entry(webhook: &str, user: &str, delivery: &str) -> OutboxEntry {
        OutboxEntry {
            delivery: delivery.to_string(),
            webhook: webhook.to_string(),
            user: user.to_string(),
            persona: "chef".to_string(),
            queued_at: at(10),
            body: format!("{{\"delivery\":\"{delivery}\"}}"),
        }
    }

    fn followup() -> Message {
        Message {
            kind: MessageKind::FollowUp,
            role: Role::Assistant,
            ..Message::from_user("Did the risotto work out?", at(10))
        }
    }

    /// Delivers a follow-up to `user` with `outbox` queued alongside it;
    /// `valid` is what the rules say at delivery.
    fn deliver(store: &Store, user: &str, outbox: &[OutboxEntry], valid: bool) -> bool {
        let hello = Message::from_user("saffron risotto?", at(8));
        store
            .append(user, "chef", &hello, &AppendEffects::NONE)
            .unwrap();
        store
            .record_intent(user, "chef", at(9), &|_| true)
            .unwrap()
            .expect("an intent");
        store
            .deliver_followup(user, "chef", &followup(), &|_| valid, &|_| None, outbox)
            .unwrap()
    }

    fn drain(store: &Store, name: &str) -> Vec<String> {
        let mut sent = Vec::new();
        while let Some(next) = store.next_in_outbox(name).unwrap() {
            assert!(store.remove_from_outbox(name, next.seq).unwrap());
            sent.push(next.entry.delivery);
        }
        sent
    }

    #[test]
    fn entries_queued_with_delivered_follow_ups_come_back_in_order_per_webhook() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(deliver(
            &store,
            "ana",
            &[entry("crm", "ana", "d1"), entry("audit", "ana", "d2")],
            true
        ));
        assert!(deliver(
            &store,
            "bob",
            &[entry("crm", "bob", "d3"), entry("audit", "bob", "d4")],
            true
        ));
        assert_eq!(store.outbox_len("crm").unwrap(), 2);
        assert_eq!(
            store.outbox_counts().unwrap(),
            BTreeMap::from([("audit".to_string(), 2), ("crm".to_string(), 2)])
        );
        assert_eq!(drain(&store, "crm"), ["d1", "d3"]);
        assert_eq!(
            store.outbox_len("audit").unwrap(),
            2,
            "each webhook has its own queue"
        );
        assert_eq!(drain(&store, "audit"), ["d2", "d4"]);
    }

    #[test]
    fn a_follow_up_cancelled_at_delivery_queues_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(!deliver(&store, "ana", &[entry("crm", "ana", "d1")], false));
        assert_eq!(store.next_in_outbox("crm").unwrap(), None);
    }

    #[test]
    fn an_entry_stays_queued_across_a_restart_until_it_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            deliver(&store, "ana", &[entry("crm", "ana", "d1")], true);
        }
        let store = Store::open(dir.path()).unwrap();
        let next = store.next_in_outbox("crm").unwrap().expect("still queued");
        assert_eq!(next.entry, entry("crm", "ana", "d1"));
        assert!(store.remove_from_outbox("crm", next.seq).unwrap());
        assert!(
            !store.remove_from_outbox("crm", next.seq).unwrap(),
            "removing twice is harmless"
        );
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.next_in_outbox("crm").unwrap(), None);
    }

    #[test]
    fn erasing_a_user_drops_their_entries_and_keeps_everyone_else_s() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        deliver(&store, "ana", &[entry("crm", "ana", "d1")], true);
        deliver(&store, "bob", &[entry("crm", "bob", "d2")], true);
        assert_eq!(
            store.user_outbox("ana").unwrap(),
            [entry("crm", "ana", "d1")]
        );
        let (store, _) = store
            .erase_user("ana", &mut crate::progress::Silent)
            .unwrap();
        assert_eq!(store.user_outbox("ana").unwrap(), []);
        deliver(&store, "cy", &[entry("crm", "cy", "d3")], true);
        assert_eq!(
            drain(&store, "crm"),
            ["d2", "d3"],
            "new entries queue after the old ones"
        );
    }

    #[test]
    fn a_retention_purge_drops_entries_queued_before_the_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        deliver(&store, "ana", &[entry("crm", "ana", "d1")], true);
        let (store, purge) = store
            .purge_before(at(10), &mut crate::progress::Silent)
            .unwrap();
        assert_eq!(purge.webhook_deliveries, 0);
        let (store, purge) = store
            .purge_before(at(10) + Duration::hours(1), &mut crate::progress::Silent)
            .unwrap();
        assert_eq!(purge.webhook_deliveries, 1);
        assert_eq!(store.outbox_len("crm").unwrap(), 0);
    }
}
