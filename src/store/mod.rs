//! The conversation store: users, conversations and messages in sled.
//!
//! One [`Store`] (one sled `Db`) per process, opened in the data dir. Trees:
//! - `meta`: the schema version;
//! - `users`: user id → [`User`];
//! - `conversations`: `user \0 persona` → [`Conversation`], with counters and
//!   timestamps kept current on every append;
//! - `messages`: conversation id ‖ sequence (both big-endian) → [`Message`];
//! - `topics`: conversation id → the [`Topic`]s the user talked about;
//! - `due`: instant ‖ conversation id → conversation key ‖ a copy of the
//!   record and the user's settings: the due index, so finding follow-ups
//!   due now reads only the entries up to now, and nothing else (see `due`);
//! - `pending`: conversation key → instant (‖ lease until ‖ owner): follow-up
//!   intents recorded before the model is called and removed when the
//!   follow-up is delivered, with the lease of the worker holding them
//!   (see [`claims`]);
//! - `tokens`: SHA-256 of an end-user access token → the user it acts for
//!   (the token itself is never stored);
//! - `outbox`: webhook name ‖ sequence → [`OutboxEntry`]: follow-ups waiting
//!   to be POSTed to each webhook, queued in the transaction that delivers
//!   the follow-up (see [`outbox`]).
//!
//! [`StoreBackend`] puts the conversation path behind one interface over
//! this store and the PostgreSQL one ([`postgres`]), for deployments of
//! several processes.
//!
//! Every append is one transaction over all three trees, followed by a flush,
//! so a message the runtime has acknowledged survives a crash.
//!
//! Opening never makes damage worse: the files are checked against the
//! manifest of the last clean close first, and copied aside before sled's
//! recovery may write to them (`integrity`, `preserve`). `backup` copies a
//! live store consistently; `verify` checks one without writing to it;
//! `copy` copies every record into another store, sled or PostgreSQL.

mod access;
mod backend;
mod backup;
mod claims;
pub mod copy;
mod crash;
mod due;
mod durability;
mod error;
mod followups;
mod inspect;
mod instant;
pub mod integrity;
mod keys;
mod lock;
pub mod outbox;
pub mod postgres;
pub mod preserve;
mod records;
mod retention;
mod rewrite;
mod rights;
mod server;
mod shared;
mod user_ids;
mod verify;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

pub use access::{Held, Step, StoreAccess};
pub use backend::StoreBackend;
pub(crate) use backup::STORE_FIELDS;
pub use backup::{Backup, StoreConfig, backup_now, scheduled_backup};
pub use claims::Claim;
pub use due::{DueCandidate, DueUser};
pub use durability::PendingFlush;
pub use error::StoreError;
use error::{classify, io_error};
pub use followups::{Delivery, DueEntry, SyntheticConversation};
pub use inspect::{DataDirState, StoreFacts, inspect};
pub use lock::{DeliveryLock, lock_deliveries, server_holding};
pub use outbox::{OutboxEntry, QueuedDelivery};
pub use records::{
    CallOutcome, Conversation, DueWindow, Message, MessageKind, RECENT_USER_TIMES, Role,
    SessionMarks, Topic, UsageRecord, User,
};
pub use retention::Purge;
pub use rights::{ConversationData, Erasure, PendingWebhook, UserData};
pub(crate) use server::token_digest;
pub use server::{PagedMessage, announced_server};
pub use shared::{SharedStore, StoreHandle};
pub use user_ids::UserMatch;
pub use verify::{Recovery, Verification, recover, verify};

/// The record layout this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The key of the schema version in the `meta` tree.
const SCHEMA_KEY: &[u8] = b"schema_version";

/// The key, in the `meta` tree, of the number added to every id sled
/// generates. sled's id counter lives outside the trees, so a store rewrite
/// (erasure, retention) starts it again; the floor keeps new ids above every
/// id the old store handed out.
const ID_FLOOR: &[u8] = b"id_floor";

/// The key, in the `meta` tree, that older builds set while a purge's
/// deletions waited for the store rewrite that makes them unrecoverable.
const COMPACTION_PENDING: &[u8] = b"compaction_pending";

/// The key, in the `meta` tree, of the preserved copies (names under
/// `store-preserved/`) that a store rewrite found, which still hold what
/// it removed; removed once the rewritten store is in place, at the next
/// open if a crash came first (see [`rewrite`]).
const COPIES_TO_REMOVE: &[u8] = b"preserved_copies_to_remove";

/// The store's cache by default, in MiB: the recent messages a turn reads
/// stay in memory, while a server's memory stays bounded however large the
/// store grows (sled's own default is 1 GiB).
pub const DEFAULT_CACHE_MIB: u64 = 64;

/// The cache, in bytes, every store this process opens is given.
static CACHE_BYTES: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(DEFAULT_CACHE_MIB * 1024 * 1024);

/// Sets the cache of every store this process opens from now on to
/// `mib` MiB (`[store] cache_mib`). One setting per process, as the memory
/// it bounds is the process's.
pub fn set_cache_mib(mib: u64) {
    CACHE_BYTES.store(
        mib.saturating_mul(1024 * 1024),
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// The lock file inside the data dir.
const LOCK_FILE: &str = "troupe.lock";

/// The store's sub-directory inside the data dir.
const STORE_DIR: &str = "store";

/// Where a new store is created and stamped with its schema version before
/// it is renamed to [`STORE_DIR`], so a crash during creation never leaves a
/// store that reads as damaged.
const INIT_DIR: &str = "store.init";

/// The sled store of one data dir.
#[derive(Debug, Clone)]
pub struct Store {
    /// The sled database; cloning the store shares it.
    db: sled::Db,
    /// The data dir, for messages.
    dir: PathBuf,
    /// user id → User.
    users: sled::Tree,
    /// conversation key → Conversation.
    conversations: sled::Tree,
    /// message key → Message.
    messages: sled::Tree,
    /// conversation id → topics.
    topics: sled::Tree,
    /// due instant ‖ conversation id → conversation key.
    due: sled::Tree,
    /// conversation key → intent instant.
    pending: sled::Tree,
    /// instant ‖ id → usage record of one model call.
    usage: sled::Tree,
    /// instant ‖ id → anonymous safety event (no user, no text).
    safety: sled::Tree,
    /// SHA-256 of an end-user access token → the user id it acts for.
    tokens: sled::Tree,
    /// webhook name ‖ sequence → a follow-up waiting to be sent to it.
    outbox: sled::Tree,
    /// Added to every generated id (see [`ID_FLOOR`]).
    id_floor: u64,
    /// Records the files' manifest once the last handle is dropped and
    /// sled has closed (see [`integrity`]).
    closer: std::sync::Arc<integrity::Closer>,
    /// The thread that flushes for a runtime's tasks, shared by the clones.
    flusher: std::sync::Arc<durability::Flusher>,
    /// The data dir's lock file, held while the store is open, so no other
    /// process touches the files (not even to finish an interrupted erasure).
    /// Declared last, so it is let go of only after sled has closed its
    /// files: the next process to take the lock finds them free.
    lock: std::sync::Arc<std::fs::File>,
}

/// Folds a new message into a conversation's topics.
pub type TopicUpdate<'a> = dyn Fn(&mut Vec<Topic>) + Sync + 'a;

/// What an append does besides storing the message, inside the same
/// transaction: keep the due index current and update the topics.
pub struct AppendEffects<'a> {
    /// The conversation's due window after the append.
    pub schedule: &'a (dyn Fn(&Conversation) -> Option<DueWindow> + Sync),
    /// Folds the message into the conversation's topics.
    pub topics: Option<&'a TopicUpdate<'a>>,
    /// The user's session marks after this message (user messages only).
    pub session: Option<SessionMarks>,
}

impl AppendEffects<'_> {
    /// No due window, no topics: for stores used without follow-ups.
    pub const NONE: AppendEffects<'static> = AppendEffects {
        schedule: &|_| None,
        topics: None,
        session: None,
    };
}

/// Creates an empty store with its schema version in [`INIT_DIR`], flushes
/// it, and only then renames it into place (a leftover from a crash during
/// creation is discarded first).
fn create(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    let init = dir.join(INIT_DIR);
    if init.exists() {
        std::fs::remove_dir_all(&init).map_err(io)?;
        crash::step("create: a leftover store.init removed");
    }
    {
        let db = open_sled(dir, &init)?;
        crash::step("create: store.init created");
        let meta = db.open_tree("meta").map_err(|e| classify(dir, e))?;
        meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
            .map_err(|e| classify(dir, e))?;
        db.flush().map_err(|e| classify(dir, e))?;
    }
    crash::step("create: store.init stamped and closed");
    integrity::record(&init).map_err(io)?;
    std::fs::rename(&init, dir.join(STORE_DIR)).map_err(io)?;
    crash::step("create: store.init renamed to store");
    Ok(())
}

/// How long opening waits for another process to release the data dir
/// before saying it is in use. Commands hold the data dir only for their
/// reads and writes (milliseconds each), so this is room for a queue of
/// them, or for a store rewrite to finish; a server holding the data dir is
/// reported at once instead (see [`lock`]).
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens the sled database at `path` (in data dir `dir`), waiting up to
/// [`LOCK_PATIENCE`] while its file lock is held: a database reopened right
/// after it was closed (a new store, a rewritten one) must not fail because
/// the lock has not been let go of yet.
///
/// sled writes each snapshot as `snap.N.generating` and renames it when
/// complete, but it reads the `.generating` one as a snapshot too: a kill
/// while it writes one (every open writes one) leaves a file that makes
/// every later open fail as damaged. When sled refuses the files and such
/// a file is there, it is removed and sled tried again: sled then recovers
/// from the last complete snapshot and its log, as if the process had died
/// a moment before starting the snapshot.
fn open_sled(dir: &Path, path: &Path) -> Result<sled::Db, StoreError> {
    let started = std::time::Instant::now();
    let mut unfinished_removed = false;
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES.load(std::sync::atomic::Ordering::Relaxed))
            .open()
            .map_err(|e| classify(dir, e))
        {
            Err(StoreError::Locked(_)) if started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            Err(StoreError::Corrupt { .. })
                if !unfinished_removed
                    && remove_unfinished_snapshots(path).map_err(|e| io_error(dir, e))? > 0 =>
            {
                unfinished_removed = true;
            }
            result => return result,
        }
    }
}

/// Removes the snapshots sled left unfinished in the database at `path`
/// (`snap.*.generating`, see [`open_sled`]); returns how many.
pub(super) fn remove_unfinished_snapshots(path: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.")
            && name.ends_with(".generating")
            && entry.file_type()?.is_file()
        {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

impl Store {
    /// Opens (creating if needed) the store in data dir `dir`, waiting up to
    /// [`LOCK_PATIENCE`] if another process holds it, and failing at once
    /// with [`StoreError::Served`] if a server does.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let lock = lock::lock_data_dir(dir, LOCK_PATIENCE)?;
        Self::open_locked(dir, std::sync::Arc::new(lock))
    }

    /// Opens the store in `dir`, whose lock this process already holds,
    /// after checking its files against the manifest of the last clean
    /// close (see [`integrity`]): files that changed since are kept and not
    /// opened; files not closed cleanly are copied aside before sled's
    /// recovery may write to them. Then removes what is left of the
    /// preserved copies that a rewrite interrupted by a crash had still to
    /// remove (a failure is logged and tried again at the next open: the
    /// store itself is sound).
    fn open_locked(dir: &Path, lock: std::sync::Arc<std::fs::File>) -> Result<Self, StoreError> {
        let store = Self::open_checked(dir, lock)?;
        match store.remove_copies_of_old_store() {
            Ok(0) => {}
            Ok(removed) => tracing::info!(
                removed,
                "removed the copies kept after a crash or damage that still held text an erasure or a retention purge removed"
            ),
            Err(error) => tracing::warn!(
                %error,
                "could not remove the copies kept after a crash or damage that still hold text an erasure or a retention purge removed; the next open tries again"
            ),
        }
        Ok(store)
    }

    /// [`Self::open_locked`] without finishing the removal of preserved
    /// copies: recovers an interrupted rewrite, creates the store if there
    /// is none, checks and keeps the files, opens them.
    fn open_checked(dir: &Path, lock: std::sync::Arc<std::fs::File>) -> Result<Self, StoreError> {
        let io = |source| io_error(dir, source);
        rewrite::recover_rewrite(dir).map_err(io)?;
        if !dir.join(STORE_DIR).exists() {
            create(dir)?;
        }
        let preserved = preserve::keep_before_opening(dir, true)?;
        let store =
            Self::open_sled_store(dir, lock).map_err(|e| e.preserved_in(preserved.as_deref()))?;
        if let Some(path) = &preserved {
            tracing::warn!(
                "the store in {} was not closed cleanly (a crash or a kill, or a troupe older than this one closed it); its files as they were before this open are kept in {} (the newest {} such copies are kept)",
                dir.display(),
                path.display(),
                preserve::KEPT_COPIES
            );
        }
        Ok(store)
    }

    /// Opens sled on the store's files and checks its schema; only a store
    /// that opened without error records its files when it closes.
    fn open_sled_store(
        dir: &Path,
        lock: std::sync::Arc<std::fs::File>,
    ) -> Result<Self, StoreError> {
        let log = dir.join(STORE_DIR).join("db");
        let existed = std::fs::metadata(&log).is_ok_and(|m| m.len() > 0);
        let db = open_sled(dir, &dir.join(STORE_DIR))?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| classify(dir, e));
        let id_floor = match tree("meta")?.get(ID_FLOOR).map_err(|e| classify(dir, e))? {
            None => 0,
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    dir: dir.to_path_buf(),
                    detail: "the id floor is unreadable".to_string(),
                    preserved: None,
                })?,
        };
        let store = Self {
            id_floor,
            users: tree("users")?,
            conversations: tree("conversations")?,
            messages: tree("messages")?,
            topics: tree("topics")?,
            due: tree("due")?,
            pending: tree("pending")?,
            usage: tree("usage")?,
            safety: tree("safety")?,
            tokens: tree("tokens")?,
            outbox: tree("outbox")?,
            dir: dir.to_path_buf(),
            db,
            closer: std::sync::Arc::new(integrity::Closer::new(dir.join(STORE_DIR))),
            flusher: std::sync::Arc::default(),
            lock,
        };
        store.check_schema(existed)?;
        store.closer.arm();
        Ok(store)
    }

    /// Records the schema version on first use; refuses a newer one, and a
    /// store that `existed` on disk but lost its schema record.
    fn check_schema(&self, existed: bool) -> Result<(), StoreError> {
        let meta = self.db.open_tree("meta").map_err(|e| self.error(e))?;
        match meta.get(SCHEMA_KEY).map_err(|e| self.error(e))? {
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| self.corrupt("the schema version is unreadable"))?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        dir: self.dir.clone(),
                        found,
                    });
                }
            }
            // sled recovers a damaged log by dropping what it cannot read;
            // an existing store without its schema record lost everything.
            None if existed => {
                return Err(
                    self.corrupt("its files are damaged and the records in them are unreadable")
                );
            }
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(|e| self.error(e))?;
                self.flush()?;
            }
        }
        Ok(())
    }

    /// A new id, above every id this store (and any store it was rewritten
    /// from) handed out.
    fn next_id(&self) -> Result<u64, StoreError> {
        let id = self.db.generate_id().map_err(|e| self.error(e))?;
        Ok(id + self.id_floor)
    }

    /// The data dir this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `message` to the conversation of `user` with `persona`,
    /// creating the user and the conversation if needed, applies `effects`,
    /// and flushes to disk before returning the updated conversation.
    pub fn append(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        effects: &AppendEffects<'_>,
    ) -> Result<Conversation, StoreError> {
        let conversation = self.append_unflushed(user, persona, message, effects)?;
        self.flush()?;
        Ok(conversation)
    }

    /// [`Store::append`] with the flush started rather than waited for:
    /// the message is durable once the returned flush has been waited for,
    /// and the caller can do other work meanwhile.
    pub fn append_flushing(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        effects: &AppendEffects<'_>,
    ) -> Result<(Conversation, PendingFlush), StoreError> {
        let conversation = self.append_unflushed(user, persona, message, effects)?;
        Ok((conversation, self.start_flush()))
    }

    /// The write of [`Store::append`], in one transaction, not yet flushed.
    fn append_unflushed(
        &self,
        user: &str,
        persona: &str,
        message: &Message,
        effects: &AppendEffects<'_>,
    ) -> Result<Conversation, StoreError> {
        let conv_key = keys::conversation(user, persona);
        let message_bytes = encode(message);
        let new_user = encode(&User::new(user, message.at));
        let trees = (
            &self.users,
            &self.conversations,
            &self.messages,
            &self.topics,
            &self.due,
        );
        let id_floor = self.id_floor;
        let result = trees.transaction(|(users, conversations, messages, topics, due)| {
            let hold = user_hold(users, user, &new_user)?;
            if let Some(marks) = effects.session {
                mark_session(users, user, marks)?;
            }
            let mut conversation = match conversations.get(&conv_key)? {
                Some(bytes) => {
                    decode::<Conversation>(&bytes).map_err(ConflictableTransactionError::Abort)?
                }
                None => Conversation {
                    // A user on hold is on hold with every persona.
                    hold_until: hold,
                    ..Conversation::new(
                        conversations.generate_id()? + id_floor,
                        user,
                        persona,
                        message,
                    )
                },
            };
            let seq = conversation.record(message);
            messages.insert(
                &keys::message(conversation.id, seq),
                message_bytes.as_slice(),
            )?;
            if let Some(update) = effects.topics {
                let id = keys::message_prefix(conversation.id);
                let mut list: Vec<Topic> = match topics.get(id)? {
                    Some(bytes) => decode(&bytes).map_err(ConflictableTransactionError::Abort)?,
                    None => Vec::new(),
                };
                update(&mut list);
                topics.insert(&id, encode(&list))?;
            }
            let window = (effects.schedule)(&conversation);
            reschedule(due, users, &mut conversation, window, &conv_key)?;
            conversations.insert(conv_key.as_slice(), encode(&conversation))?;
            Ok(conversation)
        });
        result.map_err(|e| self.tx_error(e))
    }

    /// Records one model call's usage (not flushed on its own: it rides on
    /// the flush of the message it belongs to, or the next one).
    pub fn record_usage(&self, record: &UsageRecord) -> Result<(), StoreError> {
        let id = self.next_id()?;
        let mut key = keys::instant(record.at).to_vec();
        key.extend_from_slice(&id.to_be_bytes());
        self.usage
            .insert(key, encode(record))
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Counts a safety event in the log: one counter per day, kind and
    /// language, so nothing in it can point back at a user or a message.
    pub fn record_safety_event(
        &self,
        event: &crate::safety::SafetyEvent,
    ) -> Result<(), StoreError> {
        metrics::counter!("troupe_safety_events_total", "kind" => event.kind.clone()).increment(1);
        let key = format!(
            "{}|{}|{}",
            event.at.format("%Y-%m-%d"),
            event.kind,
            event.language
        );
        self.safety
            .update_and_fetch(key.as_bytes(), |old| {
                let count = old
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                Some((count + 1).to_be_bytes().to_vec())
            })
            .map_err(|e| self.error(e))?;
        self.flush()
    }

    /// The safety log: counts per day, kind and language, oldest day first.
    pub fn safety_counts(&self) -> Result<Vec<crate::safety::SafetyCount>, StoreError> {
        let mut counts = Vec::new();
        for item in self.safety.iter() {
            let (key, value) = item.map_err(|e| self.error(e))?;
            let key = String::from_utf8_lossy(&key).into_owned();
            let mut parts = key.splitn(3, '|');
            let (Some(day), Some(kind), Some(language)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(self.corrupt("a safety log entry is unreadable"));
            };
            let count = <[u8; 8]>::try_from(value.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| self.corrupt("a safety log count is unreadable"))?;
            counts.push(crate::safety::SafetyCount {
                day: day.to_string(),
                kind: kind.to_string(),
                language: language.to_string(),
                count,
            });
        }
        Ok(counts)
    }

    /// Usage records from `since` on, oldest first.
    pub fn usage_since(&self, since: DateTime<Utc>) -> Result<Vec<UsageRecord>, StoreError> {
        self.usage
            .range(keys::instant(since).to_vec()..)
            .values()
            .map(|v| {
                let bytes = v.map_err(|e| self.error(e))?;
                decode(&bytes).map_err(|d| self.corrupt(&d))
            })
            .collect()
    }

    /// The topics of a conversation, as stored (scores not yet decayed).
    pub fn topics(&self, conversation: &Conversation) -> Result<Vec<Topic>, StoreError> {
        self.topics
            .get(keys::message_prefix(conversation.id))
            .map_err(|e| self.error(e))?
            .map(|bytes| decode(&bytes).map_err(|d| self.corrupt(&d)))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// The conversation of `user` with `persona`, if they have talked.
    pub fn conversation(
        &self,
        user: &str,
        persona: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        self.conversations
            .get(keys::conversation(user, persona))
            .map_err(|e| self.error(e))?
            .map(|bytes| decode(&bytes).map_err(|d| self.corrupt(&d)))
            .transpose()
    }

    /// The user with this id, if they have ever written.
    pub fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.users
            .get(id.as_bytes())
            .map_err(|e| self.error(e))?
            .map(|bytes| decode(&bytes).map_err(|d| self.corrupt(&d)))
            .transpose()
    }

    /// Message number `seq` of a conversation.
    pub fn message(
        &self,
        conversation: &Conversation,
        seq: u64,
    ) -> Result<Option<Message>, StoreError> {
        self.messages
            .get(keys::message(conversation.id, seq))
            .map_err(|e| self.error(e))?
            .map(|bytes| decode(&bytes).map_err(|d| self.corrupt(&d)))
            .transpose()
    }

    /// Every message of a conversation, oldest first.
    pub fn messages(&self, conversation: &Conversation) -> Result<Vec<Message>, StoreError> {
        self.messages
            .scan_prefix(keys::message_prefix(conversation.id))
            .values()
            .map(|v| {
                let bytes = v.map_err(|e| self.error(e))?;
                decode(&bytes).map_err(|d| self.corrupt(&d))
            })
            .collect()
    }

    /// The last `limit` messages of a conversation, oldest first. Read
    /// forwards from where the record says the last `limit` begin (sled
    /// walks a tree forwards far faster than backwards), so long
    /// conversations cost no more than short ones; backwards from the end
    /// when that finds fewer (messages removed in between).
    pub fn recent_messages(
        &self,
        conversation: &Conversation,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let id = conversation.id;
        let from = conversation.next_seq.saturating_sub(limit as u64);
        let decoded = |v: sled::Result<sled::IVec>| {
            let bytes = v.map_err(|e| self.error(e))?;
            decode(&bytes).map_err(|d| self.corrupt(&d))
        };
        let mut recent = self
            .messages
            .range(keys::message(id, from)..=keys::message(id, u64::MAX))
            .values()
            .map(decoded)
            .collect::<Result<Vec<Message>, StoreError>>()?;
        if recent.len() >= limit || from == 0 {
            let extra = recent.len().saturating_sub(limit);
            recent.drain(..extra);
            return Ok(recent);
        }
        let mut recent = self
            .messages
            .scan_prefix(keys::message_prefix(id))
            .values()
            .rev()
            .take(limit)
            .map(decoded)
            .collect::<Result<Vec<Message>, StoreError>>()?;
        recent.reverse();
        Ok(recent)
    }

    /// Writes everything to disk.
    ///
    /// Waiting for the disk does not hold up a server's other tasks: on a
    /// multi-threaded runtime the wait hands this worker's tasks to another
    /// thread, so many turns wait for the disk at once and one write of
    /// the log makes all of them durable (sled flushes what is pending for
    /// every waiter together).
    pub fn flush(&self) -> Result<(), StoreError> {
        let flush = || self.db.flush().map(|_| ()).map_err(|e| self.error(e));
        if on_runtime_workers() {
            tokio::task::block_in_place(flush)
        } else {
            flush()
        }
    }

    fn tx_error(&self, e: TransactionError<String>) -> StoreError {
        match e {
            TransactionError::Abort(detail) => self.corrupt(&detail),
            TransactionError::Storage(e) => self.error(e),
        }
    }

    fn error(&self, e: sled::Error) -> StoreError {
        classify(&self.dir, e)
    }

    fn corrupt(&self, detail: &str) -> StoreError {
        StoreError::Corrupt {
            dir: self.dir.clone(),
            detail: detail.to_string(),
            preserved: None,
        }
    }
}

/// Moves a conversation's entry in the due index to `window`, keeping in
/// it the conversation as it will be stored and its user's settings (read
/// from `users` in the same transaction; see [`due`]). The caller stores
/// `conversation` as it is on return.
fn reschedule(
    due: &sled::transaction::TransactionalTree,
    users: &sled::transaction::TransactionalTree,
    conversation: &mut Conversation,
    window: Option<DueWindow>,
    conv_key: &[u8],
) -> Result<(), ConflictableTransactionError<String>> {
    if window.is_none() {
        return unschedule(due, conversation);
    }
    if let Some(old) = conversation.due.filter(|old| Some(*old) != window) {
        due.remove(&keys::due(old.from, conversation.id))?;
    }
    conversation.due = window;
    if let Some(new) = window {
        let user = match users.get(conversation.user.as_bytes())? {
            Some(bytes) => {
                Some(decode::<User>(&bytes).map_err(ConflictableTransactionError::Abort)?)
            }
            None => None,
        };
        let facts = user.as_ref().map(due::DueUser::from);
        due.insert(
            &keys::due(new.from, conversation.id),
            due::entry_value(conv_key, conversation, facts.as_ref()),
        )?;
    }
    Ok(())
}

/// Takes a conversation out of the due index.
fn unschedule(
    due: &sled::transaction::TransactionalTree,
    conversation: &mut Conversation,
) -> Result<(), ConflictableTransactionError<String>> {
    if let Some(old) = conversation.due.take() {
        due.remove(&keys::due(old.from, conversation.id))?;
    }
    Ok(())
}

/// Serializes a record; records are plain data, so this cannot fail.
fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record)
        .expect("records serialize: they hold only strings, numbers and timestamps")
}

/// Reads a record, describing what is wrong if it cannot.
/// Inside a transaction: the user's crisis hold, which a new conversation
/// inherits, creating the user's record (`new_user`) if there is none.
fn user_hold(
    users: &sled::transaction::TransactionalTree,
    user: &str,
    new_user: &[u8],
) -> Result<Option<DateTime<Utc>>, ConflictableTransactionError<String>> {
    match users.get(user.as_bytes())? {
        Some(bytes) => Ok(decode::<User>(&bytes)
            .map_err(ConflictableTransactionError::Abort)?
            .hold_until),
        None => {
            users.insert(user.as_bytes(), new_user)?;
            Ok(None)
        }
    }
}

/// Records the user's session marks (the user record exists by now).
fn mark_session(
    users: &sled::transaction::TransactionalTree,
    user: &str,
    marks: SessionMarks,
) -> Result<(), ConflictableTransactionError<String>> {
    if let Some(bytes) = users.get(user.as_bytes())? {
        let mut record: User = decode(&bytes).map_err(ConflictableTransactionError::Abort)?;
        record.session = Some(marks);
        users.insert(user.as_bytes(), encode(&record))?;
    }
    Ok(())
}

/// Whether this thread is a worker of a multi-threaded tokio runtime, where
/// waiting for the disk can hand the worker's other tasks to another thread
/// (and a flush can run beside the caller on a blocking thread).
fn on_runtime_workers() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("a record is unreadable: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn a_store_left_half_created_by_a_crash_is_created_again() {
        let dir = tempfile::tempdir().unwrap();
        // What a crash between sled creating its files and the schema
        // version reaching the disk leaves behind.
        {
            let half = sled::Config::new()
                .path(dir.path().join(INIT_DIR))
                .open()
                .unwrap();
            half.insert(b"x", b"y").unwrap();
            half.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert!(store.conversation("ana", "chef").unwrap().is_none());
        assert!(!dir.path().join(INIT_DIR).exists());
        drop(store);
        Store::open(dir.path()).unwrap();
    }

    #[test]
    fn a_snapshot_left_half_written_by_a_kill_does_not_stop_the_store_from_opening() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Utc::now();
        let store = Store::open(dir.path()).unwrap();
        store
            .append(
                "ana",
                "chef",
                &Message::from_user("kept", t0),
                &AppendEffects::NONE,
            )
            .unwrap();
        drop(store);
        // What a kill leaves while sled writes a snapshot: no manifest of a
        // clean close, and a snapshot cut short under its temporary name.
        let files = dir.path().join(STORE_DIR);
        integrity::forget(&files).unwrap();
        std::fs::write(files.join("snap.7FFFFFFFFFFFFFFF.generating"), b"cut").unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conversation = &store.user_conversations("ana").unwrap()[0];
        assert_eq!(store.messages(conversation).unwrap()[0].text, "kept");
        assert!(!files.join("snap.7FFFFFFFFFFFFFFF.generating").exists());
    }

    #[test]
    fn a_purge_left_unfinished_by_an_older_build_is_finished_by_the_next_purge() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Utc::now() - Duration::days(400);
        {
            let store = Store::open(dir.path()).unwrap();
            let old = Message::from_user("old marmalade-xyz", t0);
            store
                .append("ana", "chef", &old, &AppendEffects::NONE)
                .unwrap();
            // What an older build's purge left when it died before its
            // rewrite: the key deleted, the mark set.
            store.messages.clear().unwrap();
            let meta = store.db.open_tree("meta").unwrap();
            meta.insert(COMPACTION_PENDING, &[1u8]).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let (store, purge) = store
            .purge_before(t0 - Duration::days(1), &mut crate::progress::Silent)
            .unwrap();
        assert_eq!(purge, Purge::default(), "nothing is past the cutoff");
        assert!(
            !store.compaction_pending().unwrap(),
            "the store was rewritten"
        );
        let (store, _) = store
            .purge_before(t0 - Duration::days(1), &mut crate::progress::Silent)
            .unwrap();
        assert!(!store.compaction_pending().unwrap());
    }

    #[test]
    fn recent_messages_are_the_last_ones_even_from_a_record_read_before_more_were_added() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t0 = Utc::now();
        let append = |i: i64| {
            let msg = Message::from_user(format!("m{i}"), t0 + Duration::seconds(i));
            store
                .append("ana", "chef", &msg, &AppendEffects::NONE)
                .unwrap();
        };
        (0..10).for_each(append);
        let stale = store.conversation("ana", "chef").unwrap().unwrap();
        (10..13).for_each(append);
        let texts = |limit| -> Vec<String> {
            let recent = store.recent_messages(&stale, limit).unwrap();
            recent.into_iter().map(|m| m.text).collect()
        };
        assert_eq!(texts(4), ["m9", "m10", "m11", "m12"]);
        assert_eq!(texts(20).len(), 13);
        assert_eq!(texts(20)[0], "m0");
    }

    #[test]
    fn messages_come_back_in_order_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Utc::now();
        {
            let store = Store::open(dir.path()).unwrap();
            for i in 0..300 {
                let msg = Message::from_user(format!("m{i}"), t0 + Duration::seconds(i));
                store
                    .append("ana", "chef", &msg, &AppendEffects::NONE)
                    .unwrap();
            }
        }
        let store = Store::open(dir.path()).unwrap();
        let conv = store.conversation("ana", "chef").unwrap().unwrap();
        let texts: Vec<_> = store
            .messages(&conv)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts.len(), 300);
        assert_eq!(texts[0], "m0");
        assert_eq!(texts[299], "m299");
        let recent = store.recent_messages(&conv, 2).unwrap();
        assert_eq!(
            recent.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
            ["m298", "m299"]
        );
    }

    #[test]
    fn conversations_are_kept_apart_per_user_and_persona() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = Utc::now();
        store
            .append(
                "ana",
                "chef",
                &Message::from_user("a", now),
                &AppendEffects::NONE,
            )
            .unwrap();
        store
            .append(
                "ana",
                "decor",
                &Message::from_user("b", now),
                &AppendEffects::NONE,
            )
            .unwrap();
        let chef = store.conversation("ana", "chef").unwrap().unwrap();
        let decor = store.conversation("ana", "decor").unwrap().unwrap();
        assert_ne!(chef.id, decor.id);
        assert_eq!(store.messages(&decor).unwrap()[0].text, "b");
        assert!(store.conversation("bob", "chef").unwrap().is_none());
        assert!(store.user("ana").unwrap().is_some());
    }

    #[test]
    fn a_second_open_of_the_same_dir_is_refused_with_the_dir_named() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Locked(_)), "{err:?}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let meta = store.db.open_tree("meta").unwrap();
            meta.insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            store.flush().unwrap();
        }
        let err = Store::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("upgrade troupe"), "{err}");
    }

    /// An instant `i` minutes after a fixed start.
    fn minute(i: i64) -> chrono::DateTime<Utc> {
        chrono::DateTime::<Utc>::UNIX_EPOCH + Duration::minutes(1_000_000 + i)
    }

    #[test]
    fn a_settings_change_beside_turns_keeps_both_the_settings_and_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.update_user("ana", minute(0), &|_| {}).unwrap();
        const ROUNDS: i64 = 150;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for i in 0..ROUNDS {
                    let marks = SessionMarks {
                        last_activity: minute(i),
                        last_notice: minute(0),
                        last_break: minute(0),
                    };
                    let effects = AppendEffects {
                        session: Some(marks),
                        ..AppendEffects::NONE
                    };
                    let message = Message::from_user(format!("turn {i}"), minute(i));
                    store
                        .append_unflushed("ana", "chef", &message, &effects)
                        .unwrap();
                }
            });
            scope.spawn(|| {
                for i in 0..ROUNDS {
                    let zone = format!("Etc/GMT+{}", i % 12);
                    store
                        .update_user("ana", minute(i), &|u| u.timezone = Some(zone.clone()))
                        .unwrap();
                }
            });
        });
        let user = store.user("ana").unwrap().unwrap();
        assert_eq!(
            user.timezone.as_deref(),
            Some(format!("Etc/GMT+{}", (ROUNDS - 1) % 12).as_str()),
            "the last settings change is kept"
        );
        assert_eq!(
            user.session.map(|m| m.last_activity),
            Some(minute(ROUNDS - 1)),
            "no settings change wrote over a turn's session marks"
        );
    }

    #[test]
    fn a_turn_stored_while_a_settings_change_is_under_way_is_not_written_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.update_user("ana", minute(0), &|_| {}).unwrap();
        let marks = SessionMarks {
            last_activity: minute(5),
            last_notice: minute(5),
            last_break: minute(5),
        };
        let started = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            // The turn starts while the change is being made, and is given a
            // moment to finish before the change is written.
            let change = |user: &mut User| {
                if !started.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    let (done, finished) = std::sync::mpsc::channel();
                    let store = &store;
                    scope.spawn(move || {
                        let effects = AppendEffects {
                            session: Some(marks),
                            ..AppendEffects::NONE
                        };
                        let message = Message::from_user("hello", minute(5));
                        store
                            .append_unflushed("ana", "chef", &message, &effects)
                            .unwrap();
                        let _ = done.send(());
                    });
                    let _ = finished.recv_timeout(std::time::Duration::from_millis(300));
                }
                user.timezone = Some("Europe/Paris".to_string());
            };
            store.update_user("ana", minute(1), &change).unwrap();
        });
        let user = store.user("ana").unwrap().unwrap();
        assert_eq!(user.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(
            user.session,
            Some(marks),
            "the turn's session marks are kept"
        );
    }
}
