//! Who is calling: bearer tokens. Operator tokens come from env vars and can
//! do everything; end-user tokens are minted by an operator for one user id
//! and act only as that user. With no operator token configured, the server
//! listens on loopback only and every caller there is the operator.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::SharedState;

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An operator: every route, every user.
    Operator,
    /// An end user, through a token minted for them.
    User(String),
}

/// The operator tokens, kept as digests so comparing them takes the same
/// time whatever the guess.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// SHA-256 of each operator token.
    operator_digests: Vec<[u8; 32]>,
}

/// Prefix of minted end-user tokens, so they are recognisable in a leak scan.
pub const USER_TOKEN_PREFIX: &str = "tru_";

impl Access {
    /// Access with these operator tokens (none: open on loopback).
    pub fn new(operator_tokens: &[String]) -> Self {
        Self {
            operator_digests: operator_tokens.iter().map(|t| digest(t)).collect(),
        }
    }

    /// Whether no token is configured (loopback only, everyone an operator).
    pub fn is_open(&self) -> bool {
        self.operator_digests.is_empty()
    }

    /// Whether `token` is an operator token, compared in constant time.
    fn is_operator(&self, token: &str) -> bool {
        let guess = digest(token);
        self.operator_digests
            .iter()
            .fold(false, |found, known| found | same(known, &guess))
    }
}

/// SHA-256 of a token.
fn digest(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Bytes as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two digests without stopping at the first difference.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new end-user token: the prefix and 32 random bytes in hex.
pub fn mint_token() -> Result<String, ApiError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the system's random number generator failed; try again",
            )
        })?;
    Ok(format!("{USER_TOKEN_PREFIX}{}", hex(&bytes)))
}

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let text = value.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Caller {
    /// Refuses anyone but an operator.
    pub fn operator_only(&self) -> Result<(), ApiError> {
        match self {
            Caller::Operator => Ok(()),
            Caller::User(_) => Err(ApiError::forbidden(
                "this needs an operator token; an end-user token only reaches its own user's data",
            )),
        }
    }

    /// Refuses an end user acting for someone else.
    pub fn may_act_for(&self, user: &str) -> Result<(), ApiError> {
        match self {
            Caller::Operator => Ok(()),
            Caller::User(own) if own == user => Ok(()),
            Caller::User(_) => Err(ApiError::forbidden(
                "this token belongs to another user; it only reaches its own user's data",
            )),
        }
    }
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        if state.access.is_open() {
            return Ok(Caller::Operator);
        }
        let Some(token) = bearer(parts) else {
            return Err(ApiError::unauthorized(
                "send a token: Authorization: Bearer TOKEN (an operator token, or one minted with POST /v1/users/{user}/tokens)",
            ));
        };
        let caller = if state.access.is_operator(token) {
            Caller::Operator
        } else {
            let known = match token.starts_with(USER_TOKEN_PREFIX) {
                true => state.store.get().await?.token_user(token).await?,
                false => None,
            };
            let Some(user) = known else {
                return Err(ApiError::unauthorized(
                    "the token is not valid; ask the operator for a new one",
                ));
            };
            Caller::User(user)
        };
        // Only a valid token is counted: made-up ones cost nothing to keep.
        let key = format!("token:{}", hex(&digest(token)[..8]));
        let limit = state.config().token_requests_per_minute;
        state.rates.check(&key, limit, "requests with this token")?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_operator_tokens_are_operators() {
        let access = Access::new(&["op-one".to_string(), "op-two".to_string()]);
        assert!(access.is_operator("op-two"));
        assert!(!access.is_operator("op-three"));
        assert!(!access.is_operator(""));
        assert!(Access::new(&[]).is_open());
    }

    #[test]
    fn minted_tokens_are_long_random_and_marked() {
        let a = mint_token().unwrap();
        let b = mint_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(USER_TOKEN_PREFIX));
        assert_eq!(a.len(), USER_TOKEN_PREFIX.len() + 64);
    }
}
