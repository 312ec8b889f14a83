//! The API's one error shape, `{"error":{"code","message"}}`, and how
//! library errors map to statuses: by their kind, never by their text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::chat::TurnError;
use crate::error::Error;
use crate::model::ModelError;
use crate::persona::PersonaError;
use crate::store::StoreError;

/// An error answered to a client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code (`bad_request`, `not_found`, …).
    pub code: &'static str,
    /// One sentence a person can act on.
    pub message: String,
    /// What an end user is told instead, when `message` holds details that
    /// are the operator's business (see [`ApiError::for_caller`]).
    pub for_end_users: Option<String>,
}

/// The JSON body of an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable code: bad_request, unauthorized, forbidden, not_found,
    /// conflict, no_personas_dir, too_large, invalid_settings, rate_limited,
    /// model_unavailable, timeout, internal.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            for_end_users: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no valid token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: a valid token that may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404: no such persona, user or route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409: the request cannot apply to the server as it is.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422: settings that cannot be applied.
    pub fn invalid_settings(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_settings",
            message,
        )
    }

    /// 429: too many requests or streams.
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }

    /// 503: the persona's model failed; `detail` says how (for operators),
    /// and whether the user's message was `saved`.
    pub fn model_failed(detail: String, saved: bool) -> Self {
        let saved = if saved {
            "; your message was saved"
        } else {
            ""
        };
        Self {
            for_end_users: Some(format!(
                "the persona's model could not answer right now{saved}; try again in a moment"
            )),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "model_unavailable", detail)
        }
    }

    /// The error as `operator` or an end user may see it: an end user is
    /// not told the details that are the operator's business (a model
    /// server's address, its own words), which stay in the server's log.
    pub fn for_caller(self, operator: bool) -> Self {
        match self.for_end_users {
            Some(plain) if !operator => {
                tracing::warn!(message = %self.message, "a model failed; the end user was told without details");
                Self {
                    message: plain,
                    for_end_users: None,
                    ..self
                }
            }
            _ => self,
        }
    }

    /// The body as sent.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, code = self.code, "request failed: {}", self.message);
        }
        (self.status, Json(self.body())).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let (status, code) = match error {
            StoreError::Locked(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            StoreError::BackupTarget { .. } => (StatusCode::CONFLICT, "conflict"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "store_unavailable"),
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<PersonaError> for ApiError {
    fn from(error: PersonaError) -> Self {
        match error {
            PersonaError::NotFound { .. } => Self::not_found(error.to_string()),
            // Callers are not told the server's file paths; its log has them.
            PersonaError::Broken { id, .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "persona_unavailable",
                format!(
                    "the persona \"{id}\" is not available: its file has problems, which the server's log names"
                ),
            ),
            PersonaError::NoneLoaded(_) | PersonaError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "persona_unavailable",
                "no persona is available: their files have problems, which the server's log names",
            ),
            other => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        Self::model_failed(error.to_string(), false)
    }
}

impl From<TurnError> for ApiError {
    fn from(error: TurnError) -> Self {
        match error {
            TurnError::Input(message) => Self::new(StatusCode::FORBIDDEN, "refused", message),
            TurnError::Store(e) => e.into(),
            TurnError::Prompt(e) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            }
            TurnError::Remote(message) | TurnError::RemoteInterrupted { message, .. } => {
                Self::new(StatusCode::BAD_GATEWAY, "upstream", message)
            }
            // The turn's error says the message was saved, and how.
            error @ TurnError::Model { .. } => Self::model_failed(error.to_string(), true),
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        match error {
            Error::Persona(e) => e.into(),
            Error::Store(e) => e.into(),
            Error::Model(e) => e.into(),
            Error::Turn(e) => e.into(),
            Error::Usage(m) | Error::Input(m) => Self::bad_request(m),
            Error::NotFound(m) => Self::not_found(m),
            other => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                other.to_string(),
            ),
        }
    }
}

impl From<crate::ids::UserIdError> for ApiError {
    /// A bad or ambiguous user id is the client's to correct: a 400.
    fn from(error: crate::ids::UserIdError) -> Self {
        match error {
            crate::ids::UserIdError::Store(e) => e.into(),
            other => Self::bad_request(other.to_string()),
        }
    }
}

/// Checks an id from a path or a query.
pub fn check_id(what: &str, id: &str) -> Result<(), ApiError> {
    crate::ids::check_id(what, id).map_err(ApiError::bad_request)
}
