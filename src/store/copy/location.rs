//! Where a copy reads from or writes to, as typed after `--from` and
//! `--to`: a data dir path (the sled store in it) or a PostgreSQL URL.

use std::path::{Path, PathBuf};

use super::CopyError;
use crate::store::postgres::{Database, PASSWORD_ENV, PgStore, database_url};
use crate::store::{STORE_DIR, Store, StoreBackend, StoreError};

/// One side of a copy.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// The sled store of a data dir.
    DataDir(PathBuf),
    /// A PostgreSQL database (the schema a `search_path` option names);
    /// boxed, as its connection options outweigh a path many times over.
    Postgres(Box<Database>),
}

impl StoreLocation {
    /// Reads `text`: a `postgres://` or `postgresql://` URL, which must not
    /// hold a password (a command line is visible to every user of the
    /// machine): it comes from the env var `password_env` names (which must
    /// then be set), else from `PGPASSWORD`; anything else is a data dir.
    pub fn parse(
        text: &str,
        password_env: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, CopyError> {
        if text.trim().is_empty() {
            return Err(CopyError::Location(
                "an empty store location; give a data dir path or a postgres:// URL".into(),
            ));
        }
        let is_url = text.contains("://");
        if !is_url {
            return Ok(Self::DataDir(PathBuf::from(text)));
        }
        database_url(text).map_err(|why| {
            CopyError::Location(format!(
                "{}: the URL {why}",
                crate::store::postgres::without_password(text)
            ))
        })?;
        let database = Database::parse(text).map_err(|e| CopyError::Location(e.to_string()))?;
        let password = match password_env {
            Some(name) => Some(env(name).ok_or_else(|| {
                CopyError::Location(format!(
                    "[store] password_env names {name}, which is not set; set {name} to the database password, or remove password_env to use {PASSWORD_ENV}"
                ))
            })?),
            None => env(PASSWORD_ENV),
        };
        Ok(Self::Postgres(Box::new(match password {
            Some(password) => database.with_password(&password),
            None => database,
        })))
    }

    /// The location for messages, never with a password.
    pub fn describe(&self) -> String {
        match self {
            Self::DataDir(dir) => format!("the data dir {}", dir.display()),
            Self::Postgres(database) => database.target().to_string(),
        }
    }

    /// Whether `self` and `other` are the same data dir.
    pub fn same_data_dir(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::DataDir(a), Self::DataDir(b)) => absolute(a) == absolute(b),
            _ => false,
        }
    }

    /// Opens the store to copy from: it must exist (a data dir with a
    /// store, a database at this troupe's schema version).
    pub async fn open_source(&self) -> Result<StoreBackend, CopyError> {
        match self {
            Self::DataDir(dir) => {
                if !dir.join(STORE_DIR).is_dir() {
                    return Err(StoreError::NoStore(dir.clone()).into());
                }
                Ok(StoreBackend::Sled(Store::open(dir)?))
            }
            Self::Postgres(database) => Ok(StoreBackend::Postgres(
                PgStore::open_migrated(database.as_ref().clone()).await?,
            )),
        }
    }

    /// Opens (creating, migrating) the store to copy into. A data dir
    /// another process holds is refused after the usual wait, as for every
    /// command: its lock is held for the whole copy.
    pub async fn open_destination(&self) -> Result<StoreBackend, CopyError> {
        match self {
            Self::DataDir(dir) => Ok(StoreBackend::Sled(Store::open(dir)?)),
            Self::Postgres(database) => Ok(StoreBackend::Postgres(
                PgStore::open(database.as_ref().clone()).await?,
            )),
        }
    }
}

/// `path` made absolute, as far as it exists.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_path_is_a_data_dir_and_a_postgres_url_a_database() {
        let dir = StoreLocation::parse("/srv/troupe", None, &no_env).unwrap();
        assert!(matches!(dir, StoreLocation::DataDir(_)));
        let db = StoreLocation::parse("postgres://troupe@db:5432/prod", None, &no_env).unwrap();
        assert_eq!(db.describe(), "postgres://troupe@db:5432/prod");
    }

    #[test]
    fn a_password_in_the_url_is_refused_and_never_repeated() {
        let err = StoreLocation::parse("postgres://troupe:hunter2-pw@db/prod", None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("PGPASSWORD"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn another_kind_of_url_is_refused_naming_what_is_wanted() {
        let err = StoreLocation::parse("mysql://troupe:pw-secret@db/prod", None, &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("PostgreSQL URL"), "{err}");
        assert!(!err.contains("pw-secret"), "{err}");
    }
}
