//! The store's follow-up bookkeeping: the due index, durable intents for
//! exactly-once delivery, opt-outs, and bulk loading for demos and benchmarks.
//!
//! Delivery is two transactions around the model call: [`Store::record_intent`]
//! writes the intent (and leaves the due index) before the model is called;
//! [`Store::deliver_followup`] appends the message and removes the intent in
//! one step, queueing the follow-up for every webhook in that same step (see
//! [`super::outbox`]). A run killed in between leaves the intent, which the
//! next run resumes; a run killed after cannot deliver it again.

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, Transactional};

use super::due::{DueUser, entry_value, split_entry};
use super::records::{Conversation, DueWindow, Message, MessageKind, Topic, User};
use super::{Store, StoreError, decode, encode, keys, reschedule, unschedule};

/// The key, in the `meta` tree, of the policy fingerprint the due index
/// reflects.
const DUE_INDEX_POLICY: &[u8] = b"due_index_policy";

/// A conversation found in the due index.
#[derive(Debug, Clone, PartialEq)]
pub struct DueEntry {
    /// The conversation, as stored.
    pub conversation: Conversation,
}

/// What delivering a follow-up stores, and the rules it is stored under
/// (see [`Store::deliver_followup`]).
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    /// The follow-up message.
    pub message: &'a Message,
    /// Whether the follow-up is still wanted, checked on the stored
    /// conversation at delivery (the user may have said STOP meanwhile).
    pub still_valid: &'a (dyn Fn(&Conversation) -> bool + Sync),
    /// The due window of a conversation whose follow-up is cancelled.
    pub schedule: &'a (dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    /// One entry per webhook, queued with the follow-up.
    pub outbox: &'a [super::OutboxEntry],
}

/// A synthetic conversation for [`Store::load_synthetic`].
#[derive(Debug, Clone)]
pub struct SyntheticConversation {
    /// The user.
    pub user: User,
    /// The conversation record; its id is assigned on load.
    pub conversation: Conversation,
    /// Its messages, oldest first.
    pub messages: Vec<Message>,
    /// Its topics.
    pub topics: Vec<Topic>,
}

impl Store {
    /// Conversations whose due window has opened by `now`, earliest first.
    /// Reads only index entries up to `now`: the cost follows the number of
    /// conversations due, not the size of the store.
    pub fn due_entries(&self, now: DateTime<Utc>) -> Result<Vec<DueEntry>, StoreError> {
        self.due_entries_up_to(now, usize::MAX)
    }

    /// The first `limit` of [`Store::due_entries`].
    pub(super) fn due_entries_up_to(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueEntry>, StoreError> {
        let end = keys::due(now, u64::MAX);
        let mut entries = Vec::new();
        for item in self.due.range(..=end) {
            if entries.len() >= limit {
                break;
            }
            let (_, value) = item.map_err(|e| self.error(e))?;
            let (conv_key, _) = split_entry(&value);
            let Some(bytes) = self
                .conversations
                .get(conv_key)
                .map_err(|e| self.error(e))?
            else {
                continue;
            };
            let conversation: Conversation = decode(&bytes).map_err(|d| self.corrupt(&d))?;
            entries.push(DueEntry { conversation });
        }
        Ok(entries)
    }

    /// Conversations with a recorded intent not yet delivered.
    pub fn pending_intents(&self) -> Result<Vec<Conversation>, StoreError> {
        let mut pending = Vec::new();
        for item in self.pending.iter() {
            let (conv_key, _) = item.map_err(|e| self.error(e))?;
            if let Some(bytes) = self
                .conversations
                .get(&conv_key)
                .map_err(|e| self.error(e))?
            {
                pending.push(decode(&bytes).map_err(|d| self.corrupt(&d))?);
            }
        }
        Ok(pending)
    }

    /// Records the intent to follow up, if `still_due` holds for the stored
    /// conversation, and takes it out of the due index; flushed before
    /// returning, so the model is only called for a durable intent.
    pub fn record_intent(
        &self,
        user: &str,
        persona: &str,
        now: DateTime<Utc>,
        still_due: &(dyn Fn(&Conversation) -> bool + Sync),
    ) -> Result<Option<Conversation>, StoreError> {
        self.record_intent_as(user, persona, now, &keys::instant(now), still_due)
    }

    /// [`Store::record_intent`], keeping `lease` as the intent's entry in
    /// the `pending` tree (see [`super::claims`]).
    pub(super) fn record_intent_as(
        &self,
        user: &str,
        persona: &str,
        now: DateTime<Utc>,
        lease: &[u8],
        still_due: &(dyn Fn(&Conversation) -> bool + Sync),
    ) -> Result<Option<Conversation>, StoreError> {
        let conv_key = keys::conversation(user, persona);
        let trees = (&self.conversations, &self.due, &self.pending);
        let recorded = trees
            .transaction(|(conversations, due, pending)| {
                let Some(bytes) = conversations.get(&conv_key)? else {
                    return Ok(None);
                };
                let mut conversation: Conversation =
                    decode(&bytes).map_err(ConflictableTransactionError::Abort)?;
                if conversation.pending_followup.is_some() || !still_due(&conversation) {
                    return Ok(None);
                }
                conversation.pending_followup = Some(now);
                unschedule(due, &mut conversation)?;
                pending.insert(conv_key.as_slice(), lease)?;
                conversations.insert(conv_key.as_slice(), encode(&conversation))?;
                Ok(Some(conversation))
            })
            .map_err(|e| self.tx_error(e))?;
        if recorded.is_some() {
            self.flush()?;
        }
        Ok(recorded)
    }

    /// Delivers a follow-up for a recorded intent: appends `message`,
    /// queues `outbox` (one entry per webhook) and clears the intent in one
    /// transaction, if `still_valid` holds for the stored conversation;
    /// otherwise cancels the intent (rescheduling with `schedule`) and
    /// queues nothing. Returns whether the follow-up was delivered; nothing
    /// is stored when there is no intent (e.g. it was already delivered).
    pub fn deliver_followup(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        still_valid: &(dyn Fn(&Conversation) -> bool + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
        outbox: &[super::OutboxEntry],
    ) -> Result<bool, StoreError> {
        let delivery = Delivery {
            message,
            still_valid,
            schedule,
            outbox,
        };
        self.deliver_if_held(user, persona, &|_, _| true, &delivery)
    }

    /// [`Store::deliver_followup`], if `held` says the intent, as stored
    /// (the conversation and its entry in the `pending` tree), is still the
    /// caller's; stores nothing otherwise.
    pub(super) fn deliver_if_held(
        &self,
        user: &str,
        persona: &str,
        held: &(dyn Fn(&Conversation, Option<&[u8]>) -> bool + Sync),
        delivery: &Delivery<'_>,
    ) -> Result<bool, StoreError> {
        let Delivery {
            message,
            still_valid,
            schedule,
            outbox,
        } = *delivery;
        debug_assert_eq!(message.kind, MessageKind::FollowUp);
        let conv_key = keys::conversation(user, persona);
        let message_bytes = encode(message);
        let id_floor = self.id_floor;
        let trees = (
            &self.conversations,
            &self.messages,
            &self.pending,
            &self.due,
            &self.outbox,
            &self.users,
        );
        let (delivered, changed) = trees
            .transaction(|(conversations, messages, pending, due, queued, users)| {
                let Some(bytes) = conversations.get(&conv_key)? else {
                    pending.remove(conv_key.as_slice())?;
                    return Ok((false, true));
                };
                let mut conversation: Conversation =
                    decode(&bytes).map_err(ConflictableTransactionError::Abort)?;
                if conversation.pending_followup.is_none() {
                    return Ok((false, false));
                }
                if !held(&conversation, pending.get(conv_key.as_slice())?.as_deref()) {
                    return Ok((false, false));
                }
                let valid = still_valid(&conversation);
                if valid {
                    let seq = conversation.record(message);
                    messages.insert(
                        &keys::message(conversation.id, seq),
                        message_bytes.as_slice(),
                    )?;
                    super::outbox::queue(queued, outbox, id_floor)?;
                }
                conversation.pending_followup = None;
                pending.remove(conv_key.as_slice())?;
                let window = if valid { None } else { schedule(&conversation) };
                reschedule(due, users, &mut conversation, window, &conv_key)?;
                conversations.insert(conv_key.as_slice(), encode(&conversation))?;
                Ok((valid, true))
            })
            .map_err(|e| self.tx_error(e))?;
        if changed {
            self.flush()?;
        }
        Ok(delivered)
    }

    /// Drops a recorded intent without delivering (its persona is gone).
    pub fn cancel_intent(
        &self,
        user: &str,
        persona: &str,
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<(), StoreError> {
        self.update_conversation(user, persona, &|c| c.pending_followup = None, schedule)?;
        self.pending
            .remove(keys::conversation(user, persona))
            .map_err(|e| self.error(e))?;
        self.flush()
    }

    /// Changes a conversation in place (opt-out, seen flag, due window),
    /// keeping the due index in step; `None` if the conversation does not exist.
    pub fn update_conversation(
        &self,
        user: &str,
        persona: &str,
        change: &(dyn Fn(&mut Conversation) + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<Option<Conversation>, StoreError> {
        self.change_conversation(user, persona, None, change, schedule)
    }

    /// Like [`Store::update_conversation`], but creates the user and an
    /// empty conversation (started by the user, at `now`) if needed, so a
    /// preference such as STOP sticks even before the first chat message.
    pub fn upsert_conversation(
        &self,
        user: &str,
        persona: &str,
        now: DateTime<Utc>,
        change: &(dyn Fn(&mut Conversation) + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<Conversation, StoreError> {
        let updated = self.change_conversation(user, persona, Some(now), change, schedule)?;
        updated.ok_or_else(|| self.corrupt("a conversation created in this transaction is missing"))
    }

    fn change_conversation(
        &self,
        user: &str,
        persona: &str,
        create_at: Option<DateTime<Utc>>,
        change: &(dyn Fn(&mut Conversation) + Sync),
        schedule: &(dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    ) -> Result<Option<Conversation>, StoreError> {
        let conv_key = keys::conversation(user, persona);
        let id_floor = self.id_floor;
        let updated = (&self.conversations, &self.due, &self.users)
            .transaction(|(conversations, due, users)| {
                let mut conversation: Conversation =
                    match (conversations.get(&conv_key)?, create_at) {
                        (Some(bytes), _) => {
                            decode(&bytes).map_err(ConflictableTransactionError::Abort)?
                        }
                        (None, Some(at)) => {
                            let hold =
                                super::user_hold(users, user, &encode(&User::new(user, at)))?;
                            let id = conversations.generate_id()? + id_floor;
                            Conversation {
                                // A user on hold is on hold with every persona.
                                hold_until: hold,
                                ..Conversation::empty(id, user, persona, at)
                            }
                        }
                        (None, None) => return Ok(None),
                    };
                change(&mut conversation);
                let window = schedule(&conversation);
                reschedule(due, users, &mut conversation, window, &conv_key)?;
                conversations.insert(conv_key.as_slice(), encode(&conversation))?;
                Ok(Some(conversation))
            })
            .map_err(|e| self.tx_error(e))?;
        self.flush()?;
        Ok(updated)
    }

    /// Puts `user` on hold for proactive messages until `until`: the user
    /// record (which conversations started later inherit) and every
    /// conversation, with any persona; an existing later hold stays.
    pub fn hold_user(
        &self,
        user: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let later = |held: Option<DateTime<Utc>>| Some(held.map_or(until, |h| h.max(until)));
        self.update_user(user, now, &|u| u.hold_until = later(u.hold_until))?;
        for conversation in self.user_conversations(user)? {
            let held = later(conversation.hold_until);
            self.update_conversation(
                user,
                &conversation.persona,
                &|c| c.hold_until = held,
                &|c| {
                    // A hold only moves the start of a window.
                    let hold = c.hold_until?;
                    c.due.and_then(|w| {
                        let from = w.from.max(hold);
                        (from <= w.until).then_some(DueWindow {
                            from,
                            until: w.until,
                        })
                    })
                },
            )?;
        }
        Ok(())
    }

    /// Changes a user's settings (time zone, minor, follow-ups), creating
    /// the user if needed. The record is read and written in one
    /// transaction with the due-index entries of the user's conversations,
    /// which keep a copy of the settings: a turn storing its message at the
    /// same moment (its session marks, a crisis hold) is not written over,
    /// and a crash cannot leave the index with the old settings.
    pub fn update_user(
        &self,
        user: &str,
        now: DateTime<Utc>,
        change: &dyn Fn(&mut User),
    ) -> Result<User, StoreError> {
        let conversations = self.conversation_keys_of(user)?;
        let trees = (&self.users, &self.conversations, &self.due);
        let record = trees
            .transaction(|(users, stored, due)| {
                let mut record = match users.get(user.as_bytes())? {
                    Some(bytes) => {
                        decode::<User>(&bytes).map_err(ConflictableTransactionError::Abort)?
                    }
                    None => User::new(user, now),
                };
                change(&mut record);
                users.insert(user.as_bytes(), encode(&record))?;
                super::due::refresh_entries(stored, due, &conversations, &DueUser::from(&record))?;
                Ok(record)
            })
            .map_err(|e| self.tx_error(e))?;
        // A conversation started between the keys' read and the write
        // copied the settings it read then: give it the new ones too.
        let now_known = self.conversation_keys_of(user)?;
        if now_known != conversations {
            self.refresh_due_entries(&record)?;
        }
        self.flush()?;
        Ok(record)
    }

    /// The keys of `user`'s conversation records, in key order.
    pub(crate) fn conversation_keys_of(&self, user: &str) -> Result<Vec<sled::IVec>, StoreError> {
        self.conversations
            .scan_prefix(keys::conversation(user, ""))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))
    }

    /// The policy fingerprint the due index was last computed under, if any
    /// (see [`crate::followup::policy::FollowUpPolicy::index_fingerprint`]).
    pub fn due_index_policy(&self) -> Result<Option<String>, StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        let value = meta.get(DUE_INDEX_POLICY).map_err(|e| self.error(e))?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Records the policy fingerprint the due index now reflects.
    pub fn set_due_index_policy(&self, fingerprint: &str) -> Result<(), StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        meta.insert(DUE_INDEX_POLICY, fingerprint.as_bytes())
            .map_err(|e| self.error(e))?;
        self.flush()
    }

    /// Recomputes every conversation's due window with `schedule` (after a
    /// policy change) and keeps the index in step; returns how many moved.
    /// Writes in batches with one flush at the end.
    pub fn reschedule_all(
        &self,
        schedule: &dyn Fn(&Conversation) -> Option<DueWindow>,
    ) -> Result<usize, StoreError> {
        let mut moved = 0;
        let mut conversations = sled::Batch::default();
        let mut due = sled::Batch::default();
        let mut pending = 0;
        for item in self.conversations.iter() {
            let (key, value) = item.map_err(|e| self.error(e))?;
            let mut conversation: Conversation = decode(&value).map_err(|d| self.corrupt(&d))?;
            let window = schedule(&conversation);
            if window == conversation.due {
                continue;
            }
            if let Some(old) = conversation.due {
                due.remove(&keys::due(old.from, conversation.id));
            }
            conversation.due = window;
            if let Some(new) = window {
                let user = self.user(&conversation.user)?;
                let facts = user.as_ref().map(DueUser::from);
                due.insert(
                    &keys::due(new.from, conversation.id),
                    entry_value(&key, &conversation, facts.as_ref()),
                );
            }
            conversations.insert(key, encode(&conversation));
            moved += 1;
            pending += 1;
            if pending == 10_000 {
                self.due
                    .apply_batch(std::mem::take(&mut due))
                    .map_err(|e| self.error(e))?;
                self.conversations
                    .apply_batch(std::mem::take(&mut conversations))
                    .map_err(|e| self.error(e))?;
                pending = 0;
            }
        }
        self.due.apply_batch(due).map_err(|e| self.error(e))?;
        self.conversations
            .apply_batch(conversations)
            .map_err(|e| self.error(e))?;
        self.flush()?;
        Ok(moved)
    }

    /// How many users the store holds.
    pub fn user_count(&self) -> Result<usize, StoreError> {
        Ok(self.users.len())
    }

    /// Every conversation, in key order (user, then persona).
    pub fn conversations(&self) -> impl Iterator<Item = Result<Conversation, StoreError>> + '_ {
        self.conversations.iter().values().map(|v| {
            let bytes = v.map_err(|e| self.error(e))?;
            decode(&bytes).map_err(|d| self.corrupt(&d))
        })
    }

    /// Loads synthetic conversations in bulk (one batch per tree, one flush),
    /// keeping the due index as `schedule` says. For demos and benchmarks.
    pub fn load_synthetic(
        &self,
        items: Vec<SyntheticConversation>,
        schedule: &dyn Fn(&Conversation) -> Option<DueWindow>,
    ) -> Result<(), StoreError> {
        let mut users = sled::Batch::default();
        let mut conversations = sled::Batch::default();
        let mut messages = sled::Batch::default();
        let mut topics = sled::Batch::default();
        let mut due = sled::Batch::default();
        for mut item in items {
            let id = self.next_id()?;
            let conv_key = keys::conversation(&item.user.id, &item.conversation.persona);
            item.conversation.id = id;
            for (seq, message) in item.messages.iter().enumerate() {
                messages.insert(&keys::message(id, seq as u64), encode(message));
            }
            item.conversation.due = schedule(&item.conversation);
            if let Some(window) = item.conversation.due {
                let facts = DueUser::from(&item.user);
                due.insert(
                    &keys::due(window.from, id),
                    entry_value(&conv_key, &item.conversation, Some(&facts)),
                );
            }
            if !item.topics.is_empty() {
                topics.insert(&keys::message_prefix(id), encode(&item.topics));
            }
            users.insert(item.user.id.as_bytes(), encode(&item.user));
            conversations.insert(conv_key, encode(&item.conversation));
        }
        for (tree, batch) in [
            (&self.users, users),
            (&self.messages, messages),
            (&self.topics, topics),
            (&self.due, due),
            (&self.conversations, conversations),
        ] {
            tree.apply_batch(batch).map_err(|e| self.error(e))?;
        }
        self.flush()
    }

    /// Reads every key and value of the conversations tree without decoding
    /// them: the raw sled scan the due query is measured against. Returns
    /// (records, bytes).
    pub fn raw_scan_conversations(&self) -> Result<(usize, usize), StoreError> {
        let mut records = 0;
        let mut bytes = 0;
        for item in self.conversations.iter() {
            let (key, value) = item.map_err(|e| self.error(e))?;
            records += 1;
            bytes += key.len() + value.len();
        }
        Ok((records, bytes))
    }

    /// Decodes every conversation record and counts those whose due window
    /// has opened: what finding due conversations costs without the index.
    pub fn scan_all_conversations(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut opened = 0;
        for conversation in self.conversations() {
            if conversation?.due.is_some_and(|d| d.from <= now) {
                opened += 1;
            }
        }
        Ok(opened)
    }
}
