//! What the due index keeps, so the due query reads little beyond it.
//!
//! An entry of sled's `due` tree is keyed by the instant the conversation
//! becomes due and its id; its value is the conversation key, then a zero
//! byte, then a compact binary copy of what the follow-up rules read: the
//! conversation record and the user's settings (time zone, minor,
//! follow-ups off, crisis hold). Finding the conversations due now is then
//! a range read of the index, with no record or user read and no JSON
//! decoded per candidate.
//!
//! Every write that changes a conversation with a due window rewrites its
//! entry in the same transaction (see `reschedule` in the parent), and
//! every change of a user's settings rewrites the entries of the user's
//! conversations ([`Store::refresh_due_entries`]). An entry written before
//! the index kept these (the conversation key alone) is still read: the
//! query then reads the record and the user, as it always did.
//!
//! On PostgreSQL the same answer is one indexed range query joined with
//! the users' settings ([`super::postgres::PgStore::due_candidates`]).

use chrono::{DateTime, Utc};

use sled::transaction::{ConflictableTransactionError, Transactional};

use super::records::{Conversation, DueWindow, Role, User};
use super::{Store, StoreBackend, StoreError, decode, keys};

/// What the follow-up rules need to know about a user, as the due index
/// keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueUser {
    /// The user's time zone, if they set one.
    pub timezone: Option<String>,
    /// Marked as a minor.
    pub minor: bool,
    /// Follow-ups turned off for every persona.
    pub followups_off: bool,
    /// The user's crisis hold, if any.
    pub hold_until: Option<DateTime<Utc>>,
}

impl From<&User> for DueUser {
    fn from(user: &User) -> Self {
        Self {
            timezone: user.timezone.clone(),
            minor: user.minor,
            followups_off: user.followups_off,
            hold_until: user.hold_until,
        }
    }
}

/// A conversation whose due window has opened, with its user's settings
/// (`None`: a user the store does not know).
#[derive(Debug, Clone, PartialEq)]
pub struct DueCandidate {
    /// The conversation, as stored.
    pub conversation: Conversation,
    /// Its user's settings.
    pub user: Option<DueUser>,
}

impl StoreBackend {
    /// Conversations whose due window has opened by `now`, earliest first,
    /// each with its user's settings: everything the follow-up rules read,
    /// from the due index alone (sled) or one indexed query (PostgreSQL).
    pub async fn due_candidates(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DueCandidate>, StoreError> {
        match self {
            Self::Sled(store) => store.due_candidates(now),
            Self::Postgres(store) => Ok(store.due_candidates(now).await?),
        }
    }
}

impl Store {
    /// Conversations whose due window has opened by `now`, earliest first,
    /// each with its user's settings, read from the due index's entries.
    pub fn due_candidates(&self, now: DateTime<Utc>) -> Result<Vec<DueCandidate>, StoreError> {
        let end = keys::due(now, u64::MAX);
        let mut candidates = Vec::new();
        for item in self.due.range(..=end) {
            let (key, value) = item.map_err(|e| self.error(e))?;
            let (conv_key, kept) = split_entry(&value);
            if let Some(candidate) = kept.and_then(|kept| read_kept(&key, conv_key, kept)) {
                candidates.push(candidate);
                continue;
            }
            // An entry from before the index kept the rules' facts.
            let Some(bytes) = self
                .conversations
                .get(conv_key)
                .map_err(|e| self.error(e))?
            else {
                continue;
            };
            let conversation: Conversation = decode(&bytes).map_err(|d| self.corrupt(&d))?;
            let user = self.user(&conversation.user)?;
            candidates.push(DueCandidate {
                user: user.as_ref().map(DueUser::from),
                conversation,
            });
        }
        Ok(candidates)
    }

    /// Reads every due-index entry up to `now`, keys and values, decoding
    /// nothing: the floor the due query is measured against. Returns
    /// (entries, bytes).
    pub fn raw_scan_due(&self, now: DateTime<Utc>) -> Result<(usize, usize), StoreError> {
        let mut entries = 0;
        let mut bytes = 0;
        for item in self.due.range(..=keys::due(now, u64::MAX)) {
            let (key, value) = item.map_err(|e| self.error(e))?;
            entries += 1;
            bytes += key.len() + value.len();
        }
        Ok((entries, bytes))
    }

    /// Rewrites the due-index entries of `user`'s conversations with the
    /// user's current settings (after they changed), in one transaction.
    pub(crate) fn refresh_due_entries(&self, user: &User) -> Result<(), StoreError> {
        let conversations = self.conversation_keys_of(&user.id)?;
        let settings = DueUser::from(user);
        (&self.conversations, &self.due)
            .transaction(|(stored, due)| refresh_entries(stored, due, &conversations, &settings))
            .map_err(|e| self.tx_error(e))
    }
}

/// Rewrites, inside a transaction, the due-index entries of the
/// conversations stored under `keys` with the user's `settings`.
pub(crate) fn refresh_entries(
    stored: &sled::transaction::TransactionalTree,
    due: &sled::transaction::TransactionalTree,
    keys: &[sled::IVec],
    settings: &DueUser,
) -> Result<(), ConflictableTransactionError<String>> {
    for key in keys {
        let Some(bytes) = stored.get(key)? else {
            continue;
        };
        let conversation: Conversation =
            decode(&bytes).map_err(ConflictableTransactionError::Abort)?;
        if let Some(window) = conversation.due {
            due.insert(
                &keys::due(window.from, conversation.id),
                entry_value(key, &conversation, Some(settings)),
            )?;
        }
    }
    Ok(())
}

/// The value of a conversation's due-index entry: its key, a zero byte,
/// then the record and its user's settings (see the module's comment).
pub(crate) fn entry_value(
    conv_key: &[u8],
    conversation: &Conversation,
    user: Option<&DueUser>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(conv_key.len() + 160);
    out.extend_from_slice(conv_key);
    out.push(0);
    let mut w = Writer(&mut out);
    w.byte(FORMAT);
    let c = conversation;
    w.at(c.started_at);
    w.byte(u8::from(c.started_by == Role::Assistant));
    for n in [
        c.next_seq,
        c.user_messages,
        c.assistant_messages,
        c.followups_sent,
    ] {
        w.number(n);
    }
    for at in [
        c.last_user_at,
        c.last_assistant_at,
        c.last_followup_at,
        c.pending_followup,
        c.hold_until,
    ] {
        w.maybe_at(at);
    }
    w.maybe_number(c.last_followup_seq);
    w.byte(u8::from(c.opted_out) | u8::from(c.followup_unseen) << 1);
    w.number(c.recent_user_times.len() as u64);
    for at in &c.recent_user_times {
        w.at(*at);
    }
    w.maybe_at(c.due.map(|d| d.from));
    w.maybe_at(c.due.map(|d| d.until));
    match user {
        None => w.byte(0),
        Some(user) => {
            w.byte(1 | u8::from(user.minor) << 1 | u8::from(user.followups_off) << 2);
            w.maybe_at(user.hold_until);
            match &user.timezone {
                None => w.byte(0),
                Some(tz) => {
                    w.byte(1);
                    w.number(tz.len() as u64);
                    w.0.extend_from_slice(tz.as_bytes());
                }
            }
        }
    }
    out
}

/// The first byte of what an entry keeps: the layout's version.
const FORMAT: u8 = 1;

/// An entry's conversation key, and what it keeps after it, if anything.
/// The key is `user ‖ 0 ‖ persona` and ids never hold a zero byte, so the
/// second zero byte ends it.
pub(super) fn split_entry(value: &[u8]) -> (&[u8], Option<&[u8]>) {
    let second_zero = value
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == 0)
        .nth(1)
        .map(|(i, _)| i);
    match second_zero {
        Some(end) => (&value[..end], Some(&value[end + 1..])),
        None => (value, None),
    }
}

/// The candidate an entry keeps, `None` if it cannot be read (the caller
/// reads the records instead).
fn read_kept(key: &[u8], conv_key: &[u8], kept: &[u8]) -> Option<DueCandidate> {
    let id = u64::from_be_bytes(key.get(8..16)?.try_into().ok()?);
    let split = conv_key.iter().position(|b| *b == 0)?;
    let user = std::str::from_utf8(&conv_key[..split]).ok()?;
    let persona = std::str::from_utf8(&conv_key[split + 1..]).ok()?;
    let mut r = Reader(kept);
    (r.byte()? == FORMAT).then_some(())?;
    let started_at = r.at()?;
    let started_by = if r.byte()? == 1 {
        Role::Assistant
    } else {
        Role::User
    };
    let [next_seq, user_messages, assistant_messages, followups_sent] =
        [r.number()?, r.number()?, r.number()?, r.number()?];
    let [
        last_user_at,
        last_assistant_at,
        last_followup_at,
        pending_followup,
        hold_until,
    ] = [
        r.maybe_at()?,
        r.maybe_at()?,
        r.maybe_at()?,
        r.maybe_at()?,
        r.maybe_at()?,
    ];
    let last_followup_seq = r.maybe_number()?;
    let flags = r.byte()?;
    let count = usize::try_from(r.number()?).ok()?;
    let mut recent_user_times = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        recent_user_times.push(r.at()?);
    }
    let due = match (r.maybe_at()?, r.maybe_at()?) {
        (Some(from), Some(until)) => Some(DueWindow { from, until }),
        _ => None,
    };
    let user_flags = r.byte()?;
    let due_user = if user_flags & 1 == 1 {
        let hold_until = r.maybe_at()?;
        let timezone = match r.byte()? {
            0 => None,
            _ => {
                let len = usize::try_from(r.number()?).ok()?;
                Some(std::str::from_utf8(r.take(len)?).ok()?.to_string())
            }
        };
        Some(DueUser {
            timezone,
            minor: user_flags & 2 != 0,
            followups_off: user_flags & 4 != 0,
            hold_until,
        })
    } else {
        None
    };
    Some(DueCandidate {
        conversation: Conversation {
            id,
            user: user.to_string(),
            persona: persona.to_string(),
            started_at,
            started_by,
            next_seq,
            user_messages,
            assistant_messages,
            last_user_at,
            last_assistant_at,
            recent_user_times,
            opted_out: flags & 1 != 0,
            followups_sent,
            last_followup_at,
            followup_unseen: flags & 2 != 0,
            last_followup_seq,
            pending_followup,
            due,
            hold_until,
        },
        user: due_user,
    })
}

/// Rewrites what a due-index entry keeps with `change` applied to its
/// conversation (retention dropping old user-message times); `None` if
/// the entry keeps nothing or cannot be read, then it stays as it is.
pub(super) fn rewrite_kept(
    key: &[u8],
    value: &[u8],
    change: impl FnOnce(&mut Conversation) -> bool,
) -> Option<Vec<u8>> {
    let (conv_key, kept) = split_entry(value);
    let mut candidate = read_kept(key, conv_key, kept?)?;
    if !change(&mut candidate.conversation) {
        return None;
    }
    Some(entry_value(
        conv_key,
        &candidate.conversation,
        candidate.user.as_ref(),
    ))
}

/// Writes the fixed-width fields of an entry (big-endian).
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn number(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }

    fn maybe_number(&mut self, n: Option<u64>) {
        match n {
            Some(n) => {
                self.byte(1);
                self.number(n);
            }
            None => self.byte(0),
        }
    }

    /// An instant, exactly: seconds, then nanoseconds.
    fn at(&mut self, at: DateTime<Utc>) {
        self.0.extend_from_slice(&at.timestamp().to_be_bytes());
        self.0
            .extend_from_slice(&at.timestamp_subsec_nanos().to_be_bytes());
    }

    fn maybe_at(&mut self, at: Option<DateTime<Utc>>) {
        match at {
            Some(at) => {
                self.byte(1);
                self.at(at);
            }
            None => self.byte(0),
        }
    }
}

/// Reads what [`Writer`] wrote; `None` at the first thing out of place.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn number(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn maybe_number(&mut self) -> Option<Option<u64>> {
        match self.byte()? {
            0 => Some(None),
            _ => self.number().map(Some),
        }
    }

    fn at(&mut self) -> Option<DateTime<Utc>> {
        let seconds = i64::from_be_bytes(self.take(8)?.try_into().ok()?);
        let nanos = u32::from_be_bytes(self.take(4)?.try_into().ok()?);
        DateTime::from_timestamp(seconds, nanos)
    }

    fn maybe_at(&mut self) -> Option<Option<DateTime<Utc>>> {
        match self.byte()? {
            0 => Some(None),
            _ => self.at().map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Message;

    fn conversation() -> Conversation {
        let at: DateTime<Utc> = "2026-11-20T09:30:00.123456789Z".parse().unwrap();
        let mut c = Conversation::new(42, "ada", "chef", &Message::from_user("hi", at));
        for n in 0..6 {
            c.record(&Message::from_user(
                "more",
                at + chrono::Duration::minutes(n),
            ));
        }
        c.last_followup_seq = Some(3);
        c.followup_unseen = true;
        c.hold_until = Some(at);
        c.due = Some(DueWindow {
            from: at + chrono::Duration::days(1),
            until: at + chrono::Duration::days(3),
        });
        c
    }

    #[test]
    fn an_entry_keeps_the_whole_record_and_the_users_settings() {
        let c = conversation();
        let conv_key = keys::conversation(&c.user, &c.persona);
        let mut user = User::new("ada", c.started_at);
        user.timezone = Some("Europe/Paris".into());
        user.minor = true;
        user.hold_until = c.hold_until;
        let key = keys::due(c.due.unwrap().from, c.id);
        let value = entry_value(&conv_key, &c, Some(&DueUser::from(&user)));
        assert!(value.starts_with(&conv_key), "erasure finds it by the key");
        let (read_key, kept) = split_entry(&value);
        assert_eq!(read_key, conv_key.as_slice());
        let read = read_kept(&key, read_key, kept.unwrap()).unwrap();
        assert_eq!(read.conversation, c);
        assert_eq!(read.user, Some(DueUser::from(&user)));
        let without = entry_value(&conv_key, &c, None);
        let (_, kept) = split_entry(&without);
        assert_eq!(
            read_kept(&key, &conv_key, kept.unwrap()).unwrap().user,
            None
        );
    }

    /// A store holding `conversation` (due), by a user in Paris.
    fn store_with(conversation: &Conversation) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut user = User::new(&conversation.user, conversation.started_at);
        user.timezone = Some("Europe/Paris".into());
        let item = crate::store::SyntheticConversation {
            user,
            conversation: conversation.clone(),
            messages: Vec::new(),
            topics: Vec::new(),
        };
        store.load_synthetic(vec![item], &|c| c.due).unwrap();
        (dir, store)
    }

    #[test]
    fn a_change_of_the_users_settings_reaches_the_due_entries_of_their_conversations() {
        let c = conversation();
        let (_dir, store) = store_with(&c);
        let now = c.due.unwrap().from;
        let before = store.due_candidates(now).unwrap();
        assert_eq!(before.len(), 1);
        let user = before[0].user.clone().unwrap();
        assert_eq!(user.timezone.as_deref(), Some("Europe/Paris"));
        assert!(!user.minor);
        store.update_user("ada", now, &|u| u.minor = true).unwrap();
        let after = store.due_candidates(now).unwrap();
        assert!(after[0].user.as_ref().unwrap().minor);
        assert_eq!(after[0].conversation, before[0].conversation);
    }

    #[test]
    fn an_entry_written_before_the_index_kept_the_rules_facts_is_read_from_the_records() {
        let c = conversation();
        let (_dir, store) = store_with(&c);
        let now = c.due.unwrap().from;
        let kept = store.due_candidates(now).unwrap();
        let conv_key = keys::conversation(&c.user, &c.persona);
        let key = keys::due(now, kept[0].conversation.id);
        store.due.insert(key, conv_key.as_slice()).unwrap();
        assert_eq!(store.due_candidates(now).unwrap(), kept);
    }

    #[test]
    fn an_entry_of_the_conversation_key_alone_keeps_nothing() {
        let conv_key = keys::conversation("ada", "chef");
        assert_eq!(split_entry(&conv_key), (conv_key.as_slice(), None));
    }
}
