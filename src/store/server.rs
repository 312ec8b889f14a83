//! What the store keeps for the server: end-user access tokens, history in
//! pages, the next instant a follow-up can fall due, and the address of the
//! server holding the data dir (written into the lock file, so other
//! commands know where to send their requests).

use std::io::{Seek, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::records::{Conversation, Message};
use super::{LOCK_FILE, Store, StoreError, decode, keys};

/// A message with its position in the conversation, for paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagedMessage {
    /// The message's sequence number: pass it as `before` for older ones.
    pub seq: u64,
    /// The message.
    #[serde(flatten)]
    pub message: Message,
}

/// The SHA-256 of a token: what the store keeps instead of the token.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

impl Store {
    /// Records an end-user token for `user` (only its digest is kept).
    pub fn add_token(&self, token: &str, user: &str) -> Result<(), StoreError> {
        self.tokens
            .insert(token_digest(token), user.as_bytes())
            .map_err(|e| self.error(e))?;
        self.flush()
    }

    /// The user an end-user token acts for, if it is one this store issued.
    pub fn token_user(&self, token: &str) -> Result<Option<String>, StoreError> {
        let found = self
            .tokens
            .get(token_digest(token))
            .map_err(|e| self.error(e))?;
        Ok(found.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Up to `limit` messages before sequence number `before` (the newest
    /// when `None`), oldest first.
    pub fn messages_page(
        &self,
        conversation: &Conversation,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<PagedMessage>, StoreError> {
        let start = keys::message(conversation.id, 0);
        let end = keys::message(conversation.id, before.unwrap_or(u64::MAX));
        let mut page = self
            .messages
            .range(start..end)
            .rev()
            .take(limit)
            .map(|item| {
                let (key, bytes) = item.map_err(|e| self.error(e))?;
                let seq = key
                    .get(8..16)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| self.corrupt("a message key is unreadable"))?;
                let message = decode(&bytes).map_err(|d| self.corrupt(&d))?;
                Ok(PagedMessage { seq, message })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        page.reverse();
        Ok(page)
    }

    /// The earliest instant after `now` at which a conversation's due window
    /// opens, read from the first due-index entry past `now`.
    pub fn next_due_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let start = keys::due(now, u64::MAX);
        let Some(item) = self.due.range(start..).next() else {
            return Ok(None);
        };
        let (key, _) = item.map_err(|e| self.error(e))?;
        let millis = key
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(|b| (u64::from_be_bytes(b) ^ (1 << 63)) as i64)
            .ok_or_else(|| self.corrupt("a due-index key is unreadable"))?;
        Ok(DateTime::from_timestamp_millis(millis))
    }

    /// Writes `address` into the data dir's lock file, so other `troupe`
    /// commands on this data dir reach the server instead of the files;
    /// `None` clears it.
    pub fn announce_server(&self, address: Option<&str>) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            dir: self.dir.clone(),
            source,
        };
        let mut file: &std::fs::File = &self.lock;
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        if let Some(address) = address {
            file.write_all(address.as_bytes()).map_err(io)?;
        }
        file.sync_all().map_err(io)
    }
}

/// The address of the server holding data dir `dir`, if one announced itself
/// in the lock file (see [`Store::announce_server`]).
pub fn announced_server(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
    let address = text.trim();
    (!address.is_empty()).then(|| address.to_string())
}
