//! Validation of the ids users and creators choose (user ids, persona ids):
//! they become store keys and file names, so they are bounded and plain.
//!
//! Ids ignore case. A persona's id is its file name, lower-cased. A user
//! id is resolved against the store ([`resolve_user`]): `ana`, `Ana` and
//! `ANA` are one user, stored under `ana`. Ids are ASCII, so lower-casing
//! them is their whole normal form (Unicode normalisation has nothing to
//! do). A user an earlier release stored under a mixed-case id (`Ana`)
//! keeps that id, so nothing is moved or lost, and every spelling reaches
//! them. Should a store hold several users whose ids differ only by case
//! (earlier releases allowed it), each is still reached by its exact
//! spelling, and any other spelling is refused as ambiguous.

/// The longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Checks an id: 1 to 64 characters from letters, digits, `-`, `_`, `.`, `@`,
/// not starting with a dot, so it can never be a path or a hidden file.
pub fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!("the {what} is longer than {MAX_ID_LEN} characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
    if !id.chars().all(allowed) || id.starts_with('.') {
        return Err(format!(
            "the {what} {id:?} may only use letters, digits, '-', '_', '.' and '@' (and not start with '.')"
        ));
    }
    Ok(())
}

/// The normal form of a user id: its lower-case form.
pub fn fold_user_id(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// Why a user id cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UserIdError {
    /// Not an id at all (see [`check_id`]).
    #[error("{0}")]
    Invalid(String),
    /// Several stored users whose ids differ only by case.
    #[error(
        "the user id \"{typed}\" could be any of {}, stored by an earlier release as different users; use one of these exact spellings",
        .stored.iter().map(|id| format!("\"{id}\"")).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous {
        /// The id as given.
        typed: String,
        /// The stored ids it matches.
        stored: Vec<String>,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The stored id of the user `typed` names, ignoring case (see the module's
/// rule), or the lower-case id a new user gets; checks the id first.
pub fn resolve_user(store: &crate::store::Store, typed: &str) -> Result<String, UserIdError> {
    check_id("user id", typed).map_err(UserIdError::Invalid)?;
    resolved(typed, store.match_user(typed)?)
}

/// [`resolve_user`] in either store.
pub async fn resolve_user_in(
    store: &crate::store::StoreBackend,
    typed: &str,
) -> Result<String, UserIdError> {
    check_id("user id", typed).map_err(UserIdError::Invalid)?;
    resolved(typed, store.match_user(typed).await?)
}

/// The id `typed` comes to, given how it matched the stored users.
fn resolved(typed: &str, matched: crate::store::UserMatch) -> Result<String, UserIdError> {
    match matched {
        crate::store::UserMatch::Stored(id) | crate::store::UserMatch::New(id) => Ok(id),
        crate::store::UserMatch::Ambiguous(stored) => Err(UserIdError::Ambiguous {
            typed: typed.to_string(),
            stored,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::check_id;

    #[test]
    fn plain_ids_pass_and_paths_do_not() {
        assert!(check_id("user id", "alice.b@example").is_ok());
        assert!(check_id("user id", "../etc").is_err());
        assert!(check_id("user id", "a/b").is_err());
        assert!(check_id("user id", "").is_err());
        assert!(check_id("user id", &"x".repeat(65)).is_err());
    }
}
