//! The schema, as migrations embedded in the binary and applied in order.
//!
//! `troupe_schema` holds one row per migration applied. Migrating runs in
//! one transaction that first takes a transaction-scoped advisory lock
//! (`pg_advisory_xact_lock`) on a key derived from the schema name: ten
//! processes starting at once queue on the lock, the first applies what is
//! missing, the others find nothing left to do. PostgreSQL's DDL is
//! transactional, so a migration that fails leaves nothing half-applied,
//! and the lock goes with the transaction even if the process dies.
//!
//! A database whose newest applied version is above the newest this build
//! knows was migrated by a newer Troupe: it is refused, naming both.

use sqlx::{Connection, PgConnection};

use super::{Database, PgError};

/// One step of the schema.
struct Migration {
    /// Its version: the schema's version once it is applied.
    version: i64,
    /// What it does, recorded with it.
    name: &'static str,
    /// The statements.
    sql: &'static str,
}

/// Every migration, oldest first.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "follow-up claims",
        sql: include_str!("../../../migrations/0002_followup_claims.sql"),
    },
    Migration {
        version: 3,
        name: "store copy marker",
        sql: include_str!("../../../migrations/0003_store_copy.sql"),
    },
    Migration {
        version: 4,
        name: "server tokens",
        sql: include_str!("../../../migrations/0004_server.sql"),
    },
    Migration {
        version: 5,
        name: "users' settings kept with their conversations",
        sql: include_str!("../../../migrations/0005_due_user_settings.sql"),
    },
    Migration {
        version: 6,
        name: "due policy fingerprint",
        sql: include_str!("../../../migrations/0006_due_policy.sql"),
    },
];

/// The schema version this build writes and reads.
pub const PG_SCHEMA_VERSION: i64 = 6;

/// What a migration run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    /// The schema version found (0: a database Troupe had never used).
    pub from: i64,
    /// The schema version now.
    pub to: i64,
    /// How many migrations this run applied (0 when another process, or an
    /// earlier run, had applied them).
    pub applied: usize,
}

/// Brings `database` to [`PG_SCHEMA_VERSION`], under the advisory lock;
/// refuses a database with a newer schema.
pub async fn migrate(database: &Database) -> Result<Migrated, PgError> {
    let failed = |doing| {
        move |e: sqlx::Error| PgError::Query {
            target: database.target().to_string(),
            doing,
            detail: super::error::describe(&e),
        }
    };
    let mut connection = PgConnection::connect_with(database.options())
        .await
        .map_err(|e| PgError::Connect {
            target: database.target().to_string(),
            detail: super::error::describe(&e),
        })?;
    let mut tx = connection
        .begin()
        .await
        .map_err(failed("starting a migration"))?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('troupe-migrate:' || current_schema()))")
        .execute(&mut *tx)
        .await
        .map_err(failed("waiting for the migration lock"))?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS troupe_schema (
             version bigint PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *tx)
    .await
    .map_err(failed("creating the schema-version table"))?;
    let from = current_version(&mut tx)
        .await
        .map_err(failed("reading the schema version"))?;
    refuse_newer(database, from)?;
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version > from) {
        sqlx::raw_sql(migration.sql)
            .execute(&mut *tx)
            .await
            .map_err(failed("applying a schema migration"))?;
        sqlx::query("INSERT INTO troupe_schema (version, name) VALUES ($1, $2)")
            .bind(migration.version)
            .bind(migration.name)
            .execute(&mut *tx)
            .await
            .map_err(failed("recording a schema migration"))?;
        applied += 1;
    }
    tx.commit()
        .await
        .map_err(failed("committing a schema migration"))?;
    Ok(Migrated {
        from,
        to: from.max(PG_SCHEMA_VERSION),
        applied,
    })
}

/// The newest schema version applied (0 for none).
pub(super) async fn current_version(connection: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM troupe_schema")
        .fetch_one(connection)
        .await
}

/// An error if `found` is newer than this build's schema.
pub(super) fn refuse_newer(database: &Database, found: i64) -> Result<(), PgError> {
    if found > PG_SCHEMA_VERSION {
        return Err(PgError::NewerSchema {
            target: database.target().to_string(),
            found,
            supported: PG_SCHEMA_VERSION,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_after_another_up_to_the_schema_version() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, i as i64 + 1, "{}", migration.name);
        }
        assert_eq!(
            MIGRATIONS.last().map(|m| m.version),
            Some(PG_SCHEMA_VERSION)
        );
    }
}
