//! What a copy moves between the stores, in the shapes both can read and
//! write: a conversation with everything that hangs off it, and the mark a
//! copy leaves in its destination.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{Conversation, PagedMessage, Topic};

/// One conversation as a copy reads and writes it: the record (its id is
/// the store's own and is not carried over), its messages with their
/// sequence numbers, its topics, and the follow-up intent held on it.
#[derive(Debug, Clone, PartialEq)]
pub struct CopiedConversation {
    /// The record; its due window and `pending_followup` travel with it.
    pub conversation: Conversation,
    /// Who holds the intent recorded on it, if one is (`pending_followup`).
    pub intent: Option<IntentHold>,
    /// Every message, oldest first, with its sequence number (a retention
    /// purge may have removed the first ones, so numbers need not start at 0).
    pub messages: Vec<PagedMessage>,
    /// The topics, in their stored order.
    pub topics: Vec<Topic>,
}

/// Who holds a follow-up intent, and until when. The intent's key is not
/// copied: sled derives it from the conversation's id, PostgreSQL draws a
/// random one; in both the intent stays one intent, delivered once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentHold {
    /// The worker holding it (empty: nobody).
    pub owner: String,
    /// Until when (`None`: held by nobody, open to the next worker).
    pub lease_until: Option<DateTime<Utc>>,
}

/// The mark a copy leaves in its destination: which store it copies, and
/// whether it finished. A destination that holds records is written only
/// when its mark names the same source (a copy being resumed or run
/// again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyMarker {
    /// The source, as [`crate::store::StoreBackend::copy_identity`] names it.
    pub source: String,
    /// When the first run of the copy began.
    pub started_at: DateTime<Utc>,
    /// When a run finished with every table verified; `None` while a copy
    /// is under way or was interrupted.
    pub finished_at: Option<DateTime<Utc>>,
}
