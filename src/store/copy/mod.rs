//! `troupe store copy`: every record of one store written into another,
//! sled to PostgreSQL and back (or sled to sled, PostgreSQL to
//! PostgreSQL), then verified.
//!
//! The copy reads its source through [`StoreBackend`] in pages, in the byte
//! order of the natural keys (user ids; user and persona; the usage
//! records' milliseconds), and writes each page into the destination as
//! one transaction of upserts keyed by those natural keys, never by the
//! stores' own ids: a page written twice leaves what it left once. So a
//! copy interrupted anywhere (a kill, a lost connection) is finished by
//! running it again, which reads and writes everything once more and ends
//! with the same records.
//!
//! While it reads, the copy sums up its source ([`Summary`]: counts and an
//! order-independent checksum per table, over a canonical encoding of the
//! records); once everything is written, it sums up the destination the
//! same way and compares. A mismatch is an error (the source changed
//! during the copy, most likely).
//!
//! The destination is recognised by the mark ([`CopyMarker`]) a copy
//! leaves in it first: a store holding records is written only when its
//! mark names the same source (a copy resumed or run again); an empty one
//! is marked and written; any other is refused, so a copy never mixes two
//! stores' data. The mark is finished only once the copy is verified.

mod location;
mod records;
mod sled;
mod summary;

pub use location::StoreLocation;
pub use records::{CopiedConversation, CopyMarker, IntentHold};
pub use summary::{Summary, TABLES, TableSum};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::postgres::PgError;
use super::{StoreBackend, StoreError};
use crate::progress::{Progress, steps};

/// Why a copy could not be made or finished.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// `--from` or `--to` cannot be used as typed.
    #[error("{0}")]
    Location(String),
    /// The source and the destination are one store.
    #[error("{0} is both the source and the destination; name another store after --to")]
    SameStore(String),
    /// The destination holds records that no copy of the source wrote.
    #[error(
        "{destination} already holds users, conversations, usage or safety counts that are not a copy of {copying}; copy into an empty data dir or database (or a schema of its own: ?options=-c%20search_path%3DSCHEMA), or empty it first"
    )]
    OtherData {
        /// The destination, as the copy names it.
        destination: String,
        /// The source, as the copy names it.
        copying: String,
    },
    /// The destination holds a copy of another store.
    #[error(
        "{destination} holds a copy of {copied}, not of {copying}; copy into an empty data dir or database, or run the copy of {copied} again to finish that one"
    )]
    OtherCopy {
        /// The destination, as the copy names it.
        destination: String,
        /// The source asked for.
        copying: String,
        /// The source its mark names.
        copied: String,
    },
    /// The copy stopped after as many batches as it was told to (a test
    /// hook standing for an interruption).
    #[error(
        "the copy into {destination} stopped after {batches} batch(es), as --stop-after-batches asked; run the same command again to finish it"
    )]
    Stopped {
        /// The destination, as the copy names it.
        destination: String,
        /// Batches written.
        batches: u64,
    },
    /// The destination does not sum up as the source did.
    #[error(
        "the copy in {destination} does not match its source ({tables}); the source probably changed during the copy: stop what writes to it and run the same command again"
    )]
    Mismatch {
        /// The destination, as the copy names it.
        destination: String,
        /// The tables that differ, with their counts.
        tables: String,
    },
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PgError> for CopyError {
    fn from(error: PgError) -> Self {
        Self::Store(error.into())
    }
}

/// How to copy.
#[derive(Debug, Clone, Copy)]
pub struct CopyOptions {
    /// Records per page (users, usage records, safety counts), and
    /// conversations per page (each with all its messages).
    pub batch: usize,
    /// Stop with [`CopyError::Stopped`] after this many pages are written:
    /// a test hook standing for an interruption.
    pub stop_after_batches: Option<u64>,
    /// Now, for the copy's mark.
    pub now: DateTime<Utc>,
}

/// What a verified copy copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// The source, as the copy names it.
    pub source: String,
    /// The destination, as the copy names it.
    pub destination: String,
    /// Whether the destination held a mark of an earlier run of this copy
    /// (interrupted, or finished and run again).
    pub resumed: bool,
    /// Pages written.
    pub batches: u64,
    /// Each table, in the order of [`TABLES`].
    pub tables: Vec<TableCheck>,
}

/// One table of a copy, as summed up on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCheck {
    /// The table ("users", "messages", …).
    pub table: &'static str,
    /// Records in the source.
    pub source_count: u64,
    /// Records in the destination.
    pub destination_count: u64,
    /// The source's checksum, 32 hex digits.
    pub source_checksum: String,
    /// The destination's checksum.
    pub destination_checksum: String,
}

impl TableCheck {
    /// Whether both sides agree.
    pub fn matches(&self) -> bool {
        self.source_count == self.destination_count
            && self.source_checksum == self.destination_checksum
    }
}

/// Copies every record of `from` into `to` (see the module's comment) and
/// verifies the copy.
pub async fn copy_store(
    from: &StoreBackend,
    to: &StoreBackend,
    options: CopyOptions,
    progress: &mut dyn Progress,
) -> Result<CopyReport, CopyError> {
    let source = from.copy_identity().await?;
    let destination = to.copy_identity().await?;
    if source == destination {
        return Err(CopyError::SameStore(source));
    }
    let (mut marker, resumed) = mark_destination(to, &source, &destination, options.now).await?;
    let mut writer = Writer {
        to,
        destination: &destination,
        written: 0,
        stop_after: options.stop_after_batches,
    };
    let copied = pass(from, Some(&mut writer), options.batch, "copying", progress).await?;
    let batches = writer.written;
    let verified = pass(to, None, options.batch, "verifying", progress).await?;
    let tables = checks(&copied, &verified);
    let differing: Vec<String> = tables
        .iter()
        .filter(|t| !t.matches())
        .map(|t| {
            format!(
                "{}: {} in the source, {} in the copy",
                t.table, t.source_count, t.destination_count
            )
        })
        .collect();
    if !differing.is_empty() {
        return Err(CopyError::Mismatch {
            destination,
            tables: differing.join("; "),
        });
    }
    marker.finished_at = Some(options.now);
    to.set_copy_marker(&marker).await?;
    Ok(CopyReport {
        source,
        destination,
        resumed,
        batches,
        tables,
    })
}

/// Checks that `to` may receive a copy of `source` and marks it; returns
/// the mark and whether it was there already (a resumed copy).
async fn mark_destination(
    to: &StoreBackend,
    source: &str,
    destination: &str,
    now: DateTime<Utc>,
) -> Result<(CopyMarker, bool), CopyError> {
    let (marker, resumed) = match to.copy_marker().await? {
        Some(marker) if marker.source == source => (marker, true),
        Some(marker) => {
            return Err(CopyError::OtherCopy {
                destination: destination.to_string(),
                copying: source.to_string(),
                copied: marker.source,
            });
        }
        None if to.holds_records().await? => {
            return Err(CopyError::OtherData {
                destination: destination.to_string(),
                copying: source.to_string(),
            });
        }
        None => (
            CopyMarker {
                source: source.to_string(),
                started_at: now,
                finished_at: None,
            },
            false,
        ),
    };
    let marker = CopyMarker {
        finished_at: None,
        ..marker
    };
    to.set_copy_marker(&marker).await?;
    Ok((marker, resumed))
}

/// Writes pages into the destination, counting them.
struct Writer<'a> {
    /// The destination.
    to: &'a StoreBackend,
    /// Its name, for messages.
    destination: &'a str,
    /// Pages written so far.
    written: u64,
    /// The test hook of [`CopyOptions::stop_after_batches`].
    stop_after: Option<u64>,
}

impl Writer<'_> {
    /// Counts a page written; stops the copy where the test hook says.
    fn written(&mut self) -> Result<(), CopyError> {
        self.written += 1;
        tracing::info!(batches = self.written, "copy: batch written");
        if self.stop_after == Some(self.written) {
            return Err(CopyError::Stopped {
                destination: self.destination.to_string(),
                batches: self.written,
            });
        }
        Ok(())
    }
}

/// Reads every table of `store` in pages and sums it up, writing each page
/// through `writer` when there is one.
async fn pass(
    store: &StoreBackend,
    mut writer: Option<&mut Writer<'_>>,
    batch: usize,
    doing: &str,
    progress: &mut dyn Progress,
) -> Result<Summary, CopyError> {
    let batch = batch.max(1);
    let mut summary = Summary::default();
    progress.begin(&format!("{doing} users"), None);
    let (mut after, mut done) = (None::<String>, 0);
    loop {
        let page = store.users_after(after.as_deref(), batch).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        page.iter().for_each(|user| summary.add_user(user));
        if let Some(writer) = writer.as_deref_mut() {
            writer.to.put_users(&page).await?;
            writer.written()?;
        }
        done += page.len();
        progress.advance(steps(done));
    }
    progress.begin(&format!("{doing} conversations"), None);
    let (mut after, mut done) = (None::<(String, String)>, 0);
    loop {
        let cursor = after.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
        let page = store.conversations_after(cursor, batch).await?;
        let Some(last) = page.last() else { break };
        after = Some((
            last.conversation.user.clone(),
            last.conversation.persona.clone(),
        ));
        page.iter().for_each(|c| summary.add_conversation(c));
        if let Some(writer) = writer.as_deref_mut() {
            writer.to.put_conversations(&page).await?;
            writer.written()?;
        }
        done += page.len();
        progress.advance(steps(done));
    }
    progress.begin(&format!("{doing} usage records"), None);
    let (mut after, mut done) = (None::<i64>, 0);
    loop {
        let page = store.usage_after(after, batch).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.at.timestamp_millis());
        page.iter().for_each(|record| summary.add_usage(record));
        if let Some(writer) = writer.as_deref_mut() {
            writer.to.put_usage(&page).await?;
            writer.written()?;
        }
        done += page.len();
        progress.advance(steps(done));
    }
    progress.begin(&format!("{doing} the safety log"), None);
    let counts = store.safety_counts().await?;
    counts.iter().for_each(|count| summary.add_safety(count));
    if let Some(writer) = writer
        && !counts.is_empty()
    {
        for page in counts.chunks(batch) {
            writer.to.put_safety(page).await?;
            writer.written()?;
        }
    }
    progress.advance(steps(counts.len()));
    Ok(summary)
}

/// Each table of both summaries, side by side.
fn checks(source: &Summary, destination: &Summary) -> Vec<TableCheck> {
    TABLES
        .iter()
        .map(|table| {
            let (s, d) = (source.table(table), destination.table(table));
            TableCheck {
                table,
                source_count: s.count,
                destination_count: d.count,
                source_checksum: format!("{:032x}", s.checksum),
                destination_checksum: format!("{:032x}", d.checksum),
            }
        })
        .collect()
}
