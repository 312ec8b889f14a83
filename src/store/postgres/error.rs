//! Why the PostgreSQL store could not be used, in words a person can act on.
//! Every message names the database by its password-free address (see
//! [`super::Database::target`]) and passes what the server said through
//! [`crate::secrets::redact`].

/// Why the PostgreSQL store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// `[store] url`, `password_env` or `TROUPE_DATABASE_URL` cannot be used.
    #[error("{0}")]
    Settings(String),
    /// A database is configured for a command that does not use it yet.
    #[error(
        "the PostgreSQL database {target} is configured ([store] url or TROUPE_DATABASE_URL), but {command} keeps conversations in sled so far: the PostgreSQL store is in progress and only `troupe store migrate`, `troupe store copy` and `troupe followups run|due|explain` use it; unset [store] url and TROUPE_DATABASE_URL to run on the sled store in the data dir"
    )]
    NotYetUsed {
        /// The database, without its password.
        target: String,
        /// The command, as typed (`troupe serve`).
        command: &'static str,
    },
    /// No connection could be made.
    #[error(
        "could not connect to the PostgreSQL database {target}: {detail}; check [store] url in troupe.toml (or TROUPE_DATABASE_URL), that the server is running, and the password (PGPASSWORD, or the env var named by [store] password_env)"
    )]
    Connect {
        /// The database, without its password.
        target: String,
        /// What the driver said.
        detail: String,
    },
    /// The database was migrated by a newer Troupe.
    #[error(
        "the PostgreSQL database {target} has schema version {found}, newer than this troupe understands ({supported}); upgrade troupe on every server and worker that uses this database"
    )]
    NewerSchema {
        /// The database, without its password.
        target: String,
        /// The version the database holds.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A statement failed.
    #[error("the PostgreSQL database {target} failed while {doing}: {detail}")]
    Query {
        /// The database, without its password.
        target: String,
        /// What Troupe was doing, as a phrase ("appending a message").
        doing: &'static str,
        /// What the server said.
        detail: String,
    },
    /// A row holds a value no record can take (edited by hand, or by a
    /// newer Troupe without a schema change).
    #[error(
        "the PostgreSQL database {target} holds a record troupe cannot read ({detail}); restore the table from a backup or fix the row"
    )]
    Unreadable {
        /// The database, without its password.
        target: String,
        /// What is wrong.
        detail: String,
    },
}

/// The text of a driver error, without any secret it may carry.
pub(super) fn describe(error: &sqlx::Error) -> String {
    crate::secrets::redact(&error.to_string())
}
