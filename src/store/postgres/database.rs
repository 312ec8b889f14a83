//! Which PostgreSQL database the store lives in, resolved once from
//! `[store] url` in `troupe.toml`, `TROUPE_DATABASE_URL` (which wins), and
//! the password's env var, so nothing else reads them.
//!
//! The password never comes from the file: a `url` there holding one is
//! refused when the config is read ([`database_url`]). It comes from the
//! env var `[store] password_env` names, else from `PGPASSWORD`; a URL in
//! `TROUPE_DATABASE_URL` may carry it too, as the env is no file.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use super::PgError;

/// The env var naming the database; it wins over `[store] url`.
pub const DATABASE_URL_ENV: &str = "TROUPE_DATABASE_URL";

/// The env var the password comes from when `[store] password_env` names none.
pub const PASSWORD_ENV: &str = "PGPASSWORD";

/// A PostgreSQL database to keep the store in: how to connect, and how to
/// name it in messages (never with its password).
#[derive(Clone)]
pub struct Database {
    /// The driver's connection options, password included.
    options: PgConnectOptions,
    /// `postgres://user@host:port/db`, for messages and logs.
    target: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The options hold the password: only the target is shown.
        f.debug_struct("Database")
            .field("target", &self.target)
            .finish()
    }
}

impl Database {
    /// The database at `url` (`postgres://user@host:port/db`); the
    /// password, if the URL holds none, comes from `PGPASSWORD` as libpq does.
    pub fn parse(url: &str) -> Result<Self, PgError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(PgError::Settings(format!(
                "the database URL {} is not a PostgreSQL URL; write one such as postgres://troupe@127.0.0.1:5432/troupe",
                crate::secrets::redact(&without_password(url))
            )));
        }
        if let Some(password) = Self::password_in(url) {
            // Kept out of every message, should the driver ever repeat it.
            crate::secrets::remember(password);
        }
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            PgError::Settings(format!(
                "the database URL {} cannot be read ({}); write one such as postgres://troupe@127.0.0.1:5432/troupe",
                without_password(url),
                super::error::describe(&e)
            ))
        })?;
        Ok(Self::from_options(options))
    }

    /// The password in `url`'s `user:password@` part, if any.
    fn password_in(url: &str) -> Option<&str> {
        let rest = url.split_once("://")?.1;
        let authority = rest.split(['/', '?', '#']).next()?;
        let (credentials, _) = authority.rsplit_once('@')?;
        credentials.split_once(':').map(|(_, password)| password)
    }

    /// The database reached with `options`.
    pub fn from_options(options: PgConnectOptions) -> Self {
        let target = format!(
            "postgres://{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        Self { options, target }
    }

    /// The same database with `password`.
    pub fn with_password(self, password: &str) -> Self {
        crate::secrets::remember(password);
        Self {
            options: self.options.password(password),
            ..self
        }
    }

    /// The same database, with every table in schema `schema` (which must
    /// exist) instead of the user's default: several deployments, or
    /// several tests, side by side in one database.
    pub fn in_schema(self, schema: &str) -> Self {
        Self {
            target: format!("{} (schema {schema})", self.target),
            options: self.options.options([("search_path", schema)]),
        }
    }

    /// The database's address, without its password.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The driver's connection options.
    pub(super) fn options(&self) -> &PgConnectOptions {
        &self.options
    }
}

/// `[store] url`, checked when the config is read: a PostgreSQL URL with no
/// password in it.
pub(crate) fn database_url(text: &str) -> Result<(), String> {
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err(
            "must be a PostgreSQL URL such as \"postgres://troupe@127.0.0.1:5432/troupe\""
                .to_string(),
        );
    }
    if without_password(text) != text {
        return Err("holds a password; put it in PGPASSWORD, or in an env var named by [store] password_env, and remove it from the URL".to_string());
    }
    Ok(())
}

/// `url` with the password of its `user:password@` part, if any, removed
/// (the user is kept), as messages show a URL.
pub(crate) fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// The database the store lives in, if one is configured: the URL from
/// `TROUPE_DATABASE_URL`, else `url` (from `[store] url`); the password
/// from the env var `password_env` names (which must then be set), else
/// `PGPASSWORD`. `None`: no database, the sled store in the data dir.
pub fn resolve_database(
    url: Option<&str>,
    password_env: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Database>, PgError> {
    let from_env = env(DATABASE_URL_ENV);
    let Some(url) = from_env.as_deref().or(url) else {
        return Ok(None);
    };
    if from_env.is_none() {
        database_url(url).map_err(|why| PgError::Settings(format!("[store] url {why}")))?;
    }
    let database = Database::parse(url)?;
    let password = match password_env {
        Some(name) => Some(env(name).ok_or_else(|| {
            PgError::Settings(format!(
                "[store] password_env names {name}, which is not set; set {name} to the database password, or remove password_env to use {PASSWORD_ENV}"
            ))
        })?),
        None => env(PASSWORD_ENV),
    };
    Ok(Some(match password {
        Some(password) => database.with_password(&password),
        None => database,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn without_a_url_anywhere_the_store_stays_in_the_data_dir() {
        assert!(
            resolve_database(None, None, &env_of(&[]))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_env_url_wins_over_the_file() {
        let env = env_of(&[(DATABASE_URL_ENV, "postgres://ops@db.example:6432/prod")]);
        let db = resolve_database(Some("postgres://troupe@127.0.0.1/troupe"), None, &env)
            .unwrap()
            .unwrap();
        assert_eq!(db.target(), "postgres://ops@db.example:6432/prod");
    }

    #[test]
    fn a_password_in_the_file_url_is_refused_and_never_repeated() {
        let err = database_url("postgres://troupe:hunter2-secret@127.0.0.1/troupe").unwrap_err();
        assert!(err.contains("PGPASSWORD"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = resolve_database(
            Some("postgres://troupe:hunter2-secret@127.0.0.1/troupe"),
            None,
            &env_of(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("[store] url holds a password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_named_password_variable_must_be_set() {
        let err = resolve_database(
            Some("postgres://troupe@127.0.0.1/troupe"),
            Some("TROUPE_DB_PASSWORD"),
            &env_of(&[]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("TROUPE_DB_PASSWORD, which is not set"),
            "{err}"
        );
        let db = resolve_database(
            Some("postgres://troupe@127.0.0.1/troupe"),
            Some("TROUPE_DB_PASSWORD"),
            &env_of(&[("TROUPE_DB_PASSWORD", "s3cret-value")]),
        )
        .unwrap()
        .unwrap();
        assert!(!format!("{db:?}").contains("s3cret"));
    }

    #[test]
    fn the_target_named_in_messages_has_no_password() {
        let db = Database::parse("postgres://ana:pw-in-env@h:5433/d").unwrap();
        assert_eq!(db.target(), "postgres://ana@h:5433/d");
        let err = Database::parse("mysql://ana:pw-in-env@h/d")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw-in-env"), "{err}");
    }
}
