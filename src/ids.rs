//! Validation of the ids users and creators choose (user ids, persona ids):
//! they become store keys and file names, so they are bounded and plain.

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
