//! Counts and a checksum per table, computed the same way from either
//! store, so a copy is verified by comparing its source's summary with its
//! destination's.
//!
//! Each record is written in a canonical form first: its JSON with the
//! store's own ids left out (a conversation is named by its user and
//! persona, a message by those and its sequence number) and every instant
//! cut to the microsecond, the precision both stores keep. A table's
//! checksum is the sum, modulo 2^128, of the first 16 bytes of the SHA-256
//! of each record's canonical form (prefixed with the table's name): it
//! does not depend on the order the records are read in, so the two
//! stores need not agree on one, and a record missing, added or changed
//! changes it.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use super::records::CopiedConversation;
use crate::safety::SafetyCount;
use crate::store::{Conversation, MessageKind, UsageRecord, User};

/// The tables a copy moves and verifies, in the order it moves them.
pub const TABLES: [&str; 9] = [
    "users",
    "conversations",
    "messages",
    "topics",
    "due entries",
    "follow-up intents",
    "follow-ups",
    "usage records",
    "safety events",
];

/// The count and checksum of one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableSum {
    /// How many records.
    pub count: u64,
    /// The order-independent checksum of their canonical forms.
    pub checksum: u128,
}

/// Counts and checksums of every table of one store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// One per name of [`TABLES`], in that order.
    pub tables: [TableSum; 9],
}

impl Summary {
    /// The sum of table `name` (one of [`TABLES`]).
    pub fn table(&self, name: &str) -> TableSum {
        TABLES
            .iter()
            .position(|t| *t == name)
            .map(|i| self.tables[i])
            .unwrap_or_default()
    }

    /// Adds one record, in its canonical form, to table `index`.
    fn add(&mut self, index: usize, record: &impl Serialize) {
        let mut text = TABLES[index].as_bytes().to_vec();
        text.push(0);
        text.extend(
            serde_json::to_vec(record)
                .expect("canonical records hold only strings, numbers and timestamps"),
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, &text);
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest.as_ref()[..16]);
        let sum = &mut self.tables[index];
        sum.count += 1;
        sum.checksum = sum.checksum.wrapping_add(u128::from_be_bytes(first));
    }

    /// Adds a user.
    pub fn add_user(&mut self, user: &User) {
        let mut user = user.clone();
        user.created_at = micros(user.created_at);
        user.hold_until = user.hold_until.map(micros);
        if let Some(session) = &mut user.session {
            session.last_activity = micros(session.last_activity);
            session.last_notice = micros(session.last_notice);
            session.last_break = micros(session.last_break);
        }
        self.add(0, &user);
    }

    /// Adds a conversation and what hangs off it: its messages, topics,
    /// due entry, intent and follow-ups.
    pub fn add_conversation(&mut self, copied: &CopiedConversation) {
        let conversation = canonical_conversation(&copied.conversation);
        let (user, persona) = (&conversation.user, &conversation.persona);
        self.add(1, &conversation);
        for paged in &copied.messages {
            let mut message = paged.message.clone();
            message.at = micros(message.at);
            self.add(2, &(user, persona, paged.seq, &message));
            if message.kind == MessageKind::FollowUp {
                self.add(6, &(user, persona, paged.seq, message.at));
            }
        }
        for (position, topic) in copied.topics.iter().enumerate() {
            let mut topic = topic.clone();
            topic.updated_at = micros(topic.updated_at);
            self.add(3, &(user, persona, position, &topic));
        }
        if let Some(due) = conversation.due {
            self.add(4, &(user, persona, due.from, due.until));
        }
        if let Some(recorded) = conversation.pending_followup {
            let hold = copied.intent.as_ref();
            let owner = hold.map(|h| h.owner.as_str()).unwrap_or_default();
            let until = hold.and_then(|h| h.lease_until).map(micros);
            self.add(5, &(user, persona, recorded, owner, until));
        }
    }

    /// Adds a usage record.
    pub fn add_usage(&mut self, record: &UsageRecord) {
        let mut record = record.clone();
        record.at = micros(record.at);
        self.add(7, &record);
    }

    /// Adds a count of the safety log.
    pub fn add_safety(&mut self, count: &SafetyCount) {
        self.add(8, count);
    }
}

/// A conversation without its store-given id, its instants cut to the
/// microsecond.
fn canonical_conversation(conversation: &Conversation) -> Conversation {
    let mut c = conversation.clone();
    c.id = 0;
    c.started_at = micros(c.started_at);
    c.last_user_at = c.last_user_at.map(micros);
    c.last_assistant_at = c.last_assistant_at.map(micros);
    c.recent_user_times = c.recent_user_times.into_iter().map(micros).collect();
    c.last_followup_at = c.last_followup_at.map(micros);
    c.pending_followup = c.pending_followup.map(micros);
    c.hold_until = c.hold_until.map(micros);
    if let Some(due) = &mut c.due {
        due.from = micros(due.from);
        due.until = micros(due.until);
    }
    c
}

/// `at` cut to the microsecond (PostgreSQL's precision; sled keeps
/// nanoseconds).
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Message, PagedMessage};

    fn conversation(id: u64, first_at: DateTime<Utc>) -> CopiedConversation {
        let first = Message::from_user("hello", first_at);
        let mut record = Conversation::new(id, "ana", "chef", &first);
        let seq = record.record(&first);
        CopiedConversation {
            conversation: record,
            intent: None,
            messages: vec![PagedMessage {
                seq,
                message: first,
            }],
            topics: Vec::new(),
        }
    }

    #[test]
    fn the_same_records_sum_alike_whatever_their_ids_order_or_nanoseconds() {
        let at = DateTime::from_timestamp(1_800_000_000, 123_456_789).unwrap();
        let mut sled = Summary::default();
        sled.add_conversation(&conversation(7, at));
        sled.add_user(&User::new("bob", at));
        sled.add_user(&User::new("ana", at));
        let mut postgres = Summary::default();
        postgres.add_user(&User::new("ana", micros(at)));
        postgres.add_user(&User::new("bob", micros(at)));
        postgres.add_conversation(&conversation(1, micros(at)));
        assert_eq!(sled, postgres);
        assert_eq!(sled.table("users").count, 2);
        assert_eq!(sled.table("messages").count, 1);
    }

    #[test]
    fn a_changed_or_missing_record_changes_the_checksum() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut one = Summary::default();
        one.add_conversation(&conversation(1, at));
        let mut changed = conversation(1, at);
        changed.messages[0].message.text = "hullo".into();
        let mut other = Summary::default();
        other.add_conversation(&changed);
        assert_eq!(one.table("messages").count, other.table("messages").count);
        assert_ne!(
            one.table("messages").checksum,
            other.table("messages").checksum
        );
        assert_eq!(
            one.table("conversations"),
            other.table("conversations"),
            "the conversation record itself is the same"
        );
    }
}
