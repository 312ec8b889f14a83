//! The store in PostgreSQL: many processes (servers, follow-up workers,
//! commands) on one database, where sled serves one process.
//!
//! The tables mirror the sled records (see `migrations/`): `users`,
//! `conversations` (with the same counters and timestamps, kept current by
//! every append), `messages` keyed by (conversation, sequence), `topics`,
//! `usage`, `safety_events`, and `troupe_schema` for the version.
//!
//! Queries are checked when they run (`sqlx::query_as` with `FromRow`), never
//! at build time, so building Troupe needs no database.
//!
//! The conversation path and the follow-up bookkeeping are here (see
//! [`super::StoreBackend`]): the due query, claims with leases
//! (`followups`), exactly-once delivery, STOP and crisis holds
//! (`changes`), erasure and retention (`rights`). The webhook outbox is
//! written by delivery but not yet drained from PostgreSQL, and tokens and
//! export still run on sled alone. `copy` and `copy_into` read and write
//! whole tables, in pages, for `troupe store copy` (its mark is kept in
//! `store_copy`); `synthetic` loads `troupe dev populate`'s conversations
//! with `COPY`.

mod changes;
mod conversations;
mod copy;
mod copy_into;
mod database;
mod due;
mod error;
mod followups;
mod migrate;
mod notify;
mod outbox;
mod records;
mod reschedule;
mod rights;
mod rows;
mod synthetic;

pub use database::{DATABASE_URL_ENV, Database, PASSWORD_ENV, resolve_database};
pub(crate) use database::{database_url, without_password};
pub use due::DUE_QUERY;
pub use error::PgError;
pub use migrate::{Migrated, PG_SCHEMA_VERSION, migrate};
pub use notify::{Delivered, FollowUpListener};
pub use outbox::WebhookTurn;

use sqlx::postgres::{PgPool, PgPoolOptions};

/// How many connections one process keeps to the database at most.
const POOL_SIZE: u32 = 10;

/// How long a statement waits for a free connection before failing.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The store in one PostgreSQL database (or one schema of it); cloning
/// shares the connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    /// The connections.
    pool: PgPool,
    /// Where it is, for messages.
    database: std::sync::Arc<Database>,
}

impl PgStore {
    /// Connects to `database`, migrating it first (see [`migrate`]): a
    /// database from a newer Troupe is refused.
    pub async fn open(database: Database) -> Result<Self, PgError> {
        migrate(&database).await?;
        Self::open_migrated(database).await
    }

    /// Connects to `database`, which must be at this build's schema version
    /// (another process migrated it): refuses an older or a newer one.
    pub async fn open_migrated(database: Database) -> Result<Self, PgError> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(database.options().clone())
            .await
            .map_err(|e| PgError::Connect {
                target: database.target().to_string(),
                detail: error::describe(&e),
            })?;
        let store = Self {
            pool,
            database: std::sync::Arc::new(database),
        };
        let found = store.schema_version().await?;
        migrate::refuse_newer(&store.database, found)?;
        if found < PG_SCHEMA_VERSION {
            return Err(PgError::Settings(format!(
                "the PostgreSQL database {} has schema version {found}, older than this troupe's ({PG_SCHEMA_VERSION}); run `troupe store migrate`",
                store.database.target()
            )));
        }
        Ok(store)
    }

    /// The schema version of the database (0 if Troupe never migrated it).
    pub async fn schema_version(&self) -> Result<i64, PgError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(self.failed("reading the schema version"))?;
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('troupe_schema') IS NOT NULL")
            .fetch_one(&mut *connection)
            .await
            .map_err(self.failed("reading the schema version"))?;
        if !exists {
            return Ok(0);
        }
        migrate::current_version(&mut connection)
            .await
            .map_err(self.failed("reading the schema version"))
    }

    /// The database's address, without its password.
    pub fn target(&self) -> &str {
        self.database.target()
    }

    /// Closes every connection, waiting for the statements in progress.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Maps a driver error met while `doing` something.
    fn failed(&self, doing: &'static str) -> impl Fn(sqlx::Error) -> PgError + '_ {
        move |e| PgError::Query {
            target: self.database.target().to_string(),
            doing,
            detail: error::describe(&e),
        }
    }

    /// A row that no record can take.
    fn unreadable(&self, detail: String) -> PgError {
        PgError::Unreadable {
            target: self.database.target().to_string(),
            detail,
        }
    }
}
