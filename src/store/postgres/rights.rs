//! Erasure and retention in PostgreSQL: the rows go in one transaction,
//! then `VACUUM FULL` rewrites the tables that held them, so their text is
//! no longer in the table files.
//!
//! A plain `VACUUM` is not enough: it frees a deleted row's line pointer
//! and compacts the page, but the row's bytes can stay in the page's free
//! space (a row at the end of the page's tuple area is never written over)
//! until a later insert reuses the space. `VACUUM FULL` writes each table
//! and its indexes to new files and drops the old ones. It holds an
//! exclusive lock on each table while it rewrites it, so appends wait for
//! it: the price of an erasure that leaves nothing in the tables, as the
//! sled store pays it by rewriting its files. What the server keeps
//! outside the tables (WAL, base backups, archives) is the operator's to
//! expire; see the storage chapter of the docs.

use chrono::{DateTime, Utc};

use super::PgStore;
use super::error::PgError;
use crate::store::{Erasure, Purge};

/// The tables an erasure deletes from.
const USER_TABLES: &str =
    "users, conversations, messages, topics, followups, usage, outbox, tokens";

/// The tables a retention purge deletes from or changes.
const PURGED_TABLES: &str = "conversations, messages, topics, followups, usage, outbox";

impl PgStore {
    /// Removes every row of `user` (their record, conversations, messages,
    /// topics, delivered follow-ups, usage and webhook deliveries waiting)
    /// in one transaction, then rewrites those tables so nothing of them
    /// remains in the table files. The anonymous safety counts stay.
    pub async fn erase_user(&self, user: &str) -> Result<Erasure, PgError> {
        let failed = self.failed("erasing a user");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        let (conversations, messages): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM conversations WHERE user_id = $1),
                    (SELECT COUNT(*) FROM messages WHERE conversation_id IN
                         (SELECT id FROM conversations WHERE user_id = $1))",
        )
        .bind(user)
        .fetch_one(&mut *tx)
        .await
        .map_err(&failed)?;
        for statement in [
            "DELETE FROM usage WHERE user_id = $1",
            "DELETE FROM outbox WHERE user_id = $1",
            "DELETE FROM tokens WHERE user_id = $1",
            // Conversations, messages, topics and follow-ups go with it.
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(statement)
                .bind(user)
                .execute(&mut *tx)
                .await
                .map_err(&failed)?;
        }
        tx.commit().await.map_err(&failed)?;
        // Even when nothing was left to delete: erasing again is how a
        // rewrite that failed after the commit is done.
        self.rewrite_tables(
            USER_TABLES,
            "rewriting the tables after an erasure (VACUUM FULL; the rows are deleted, erase the user again to finish)",
        )
        .await?;
        Ok(Erasure {
            conversations: usize::try_from(conversations).unwrap_or(0),
            messages: usize::try_from(messages).unwrap_or(0),
            preserved_copies_removed: 0,
        })
    }

    /// Removes what is older than `cutoff`, as the sled store's purge does:
    /// messages written before it (and their times in the conversation's
    /// record), topics last mentioned before it, usage records and webhook
    /// deliveries from before it, and the record of follow-ups delivered
    /// before it; in one transaction, then rewrites the tables if anything
    /// went.
    pub async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<Purge, PgError> {
        let failed = self.failed("purging old records");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        let mut counts = [0u64; 6];
        for (count, statement) in counts.iter_mut().zip([
            "DELETE FROM messages WHERE at < $1",
            "DELETE FROM topics WHERE updated_at < $1",
            "DELETE FROM usage WHERE at < $1",
            "DELETE FROM outbox WHERE queued_at < $1",
            "DELETE FROM followups WHERE delivered_at < $1",
            "UPDATE conversations SET recent_user_times = ARRAY(
                 SELECT t FROM unnest(recent_user_times) WITH ORDINALITY AS r(t, n)
                 WHERE t >= $1 ORDER BY n)
             WHERE EXISTS (SELECT 1 FROM unnest(recent_user_times) AS t WHERE t < $1)",
        ]) {
            *count = sqlx::query(statement)
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(&failed)?
                .rows_affected();
        }
        tx.commit().await.map_err(&failed)?;
        if counts.iter().any(|c| *c > 0) {
            self.rewrite_tables(
                PURGED_TABLES,
                "rewriting the tables after a retention purge (VACUUM FULL; the rows are deleted, and the next purge that removes anything rewrites them)",
            )
            .await?;
        }
        let size = |c: u64| usize::try_from(c).unwrap_or(usize::MAX);
        Ok(Purge {
            messages: size(counts[0]),
            topics: size(counts[1]),
            usage: size(counts[2]),
            webhook_deliveries: size(counts[3]),
            preserved_copies_removed: 0,
        })
    }

    /// `VACUUM FULL` of `tables`: outside any transaction (PostgreSQL
    /// refuses it in one), as one simple-protocol statement; `doing` says,
    /// should it fail, what is already done.
    async fn rewrite_tables(
        &self,
        tables: &'static str,
        doing: &'static str,
    ) -> Result<(), PgError> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM FULL {tables}")))
            .execute(&self.pool)
            .await
            .map_err(self.failed(doing))?;
        Ok(())
    }
}
