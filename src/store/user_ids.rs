//! Finding a user by an id typed in any case (the rule is in
//! [`crate::ids`]): the `users` tree is keyed by the id as stored, so the
//! spellings of an id that differ only by case are found by walking the
//! tree's keys a character at a time, each step a prefix probe, instead of
//! reading every user.

use super::{Store, StoreError};

/// How an id typed in some case matches the users stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserMatch {
    /// A stored user: this is their id as stored.
    Stored(String),
    /// Nobody yet; a new user is stored under this (lower-case) id.
    New(String),
    /// Several stored users whose ids differ from each other only by case
    /// (an earlier release allowed it), none of them spelt as typed.
    Ambiguous(Vec<String>),
}

impl UserMatch {
    /// How `id` matches `stored`, every stored id equal to it but for
    /// ASCII case: exactly as typed, else its lower-case form, else the one
    /// other spelling; a new lower-case id when there is none.
    pub fn among(id: &str, mut stored: Vec<String>) -> Self {
        let folded = crate::ids::fold_user_id(id);
        for spelling in [id, folded.as_str()] {
            if stored.iter().any(|s| s == spelling) {
                return UserMatch::Stored(spelling.to_string());
            }
        }
        stored.sort();
        match stored.len() {
            0 => UserMatch::New(folded),
            1 => UserMatch::Stored(stored.remove(0)),
            _ => UserMatch::Ambiguous(stored),
        }
    }
}

impl Store {
    /// The user `id` names, ignoring case: the user stored under exactly
    /// `id`, else under its lower-case form, else the one user stored under
    /// another spelling of it; a new (lower-case) id when there is none.
    pub fn match_user(&self, id: &str) -> Result<UserMatch, StoreError> {
        let folded = crate::ids::fold_user_id(id);
        for spelling in [id, folded.as_str()] {
            if self
                .users
                .contains_key(spelling.as_bytes())
                .map_err(|e| self.error(e))?
            {
                return Ok(UserMatch::Stored(spelling.to_string()));
            }
        }
        let mut others = self.spellings_of(id)?;
        Ok(match others.len() {
            0 => UserMatch::New(folded),
            1 => UserMatch::Stored(others.remove(0)),
            _ => UserMatch::Ambiguous(others),
        })
    }

    /// Every stored user id equal to `id` but for ASCII case (ids are
    /// ASCII, see [`crate::ids::check_id`]). Each step keeps the prefixes
    /// some stored id starts with, so the walk costs a probe or two per
    /// character, not a read of every user.
    fn spellings_of(&self, id: &str) -> Result<Vec<String>, StoreError> {
        let mut prefixes: Vec<Vec<u8>> = vec![Vec::new()];
        for byte in id.bytes() {
            let mut next = Vec::new();
            for prefix in &prefixes {
                let mut cases = vec![byte.to_ascii_lowercase(), byte.to_ascii_uppercase()];
                cases.dedup();
                for case in cases {
                    let mut longer = prefix.clone();
                    longer.push(case);
                    let found = self.users.scan_prefix(&longer).next();
                    if found.transpose().map_err(|e| self.error(e))?.is_some() {
                        next.push(longer);
                    }
                }
            }
            prefixes = next;
        }
        let mut ids = Vec::new();
        for prefix in prefixes {
            if self
                .users
                .contains_key(&prefix)
                .map_err(|e| self.error(e))?
            {
                ids.push(String::from_utf8_lossy(&prefix).into_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AppendEffects, Message};

    fn store_with(users: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        for user in users {
            let message = Message::from_user("hi", chrono::Utc::now());
            store
                .append(user, "chef", &message, &AppendEffects::NONE)
                .expect("append");
        }
        (dir, store)
    }

    #[test]
    fn any_case_finds_the_one_stored_spelling_and_new_ids_are_lower_case() {
        let (_dir, store) = store_with(&["Ana", "anabel", "ANAIS", "bob"]);
        for typed in ["Ana", "ana", "ANA", "aNa"] {
            assert_eq!(
                store.match_user(typed).unwrap(),
                UserMatch::Stored("Ana".into())
            );
        }
        assert_eq!(
            store.match_user("BOB").unwrap(),
            UserMatch::Stored("bob".into())
        );
        assert_eq!(
            store.match_user("Carol.B@x").unwrap(),
            UserMatch::New("carol.b@x".into())
        );
    }

    #[test]
    fn spellings_differing_only_by_case_stay_reachable_exactly_and_are_ambiguous_otherwise() {
        let (_dir, store) = store_with(&["Ana", "ANA"]);
        assert_eq!(
            store.match_user("ANA").unwrap(),
            UserMatch::Stored("ANA".into())
        );
        assert_eq!(
            store.match_user("Ana").unwrap(),
            UserMatch::Stored("Ana".into())
        );
        assert_eq!(
            store.match_user("ana").unwrap(),
            UserMatch::Ambiguous(vec!["ANA".into(), "Ana".into()])
        );
        let (_dir, store) = store_with(&["ana", "Ana"]);
        assert_eq!(
            store.match_user("ANA").unwrap(),
            UserMatch::Stored("ana".into()),
            "the lower-case one, which every new spelling is stored under"
        );
    }
}
