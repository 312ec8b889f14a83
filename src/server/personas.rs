//! `GET /v1/personas` and `GET /v1/personas/{persona}`: what is on offer,
//! with the notices a session starts with; operators also get the rendered
//! system prompt.

use axum::Json;
use axum::extract::State;

use super::auth::Caller;
use super::body::ApiPath;
use super::error::{ApiError, ErrorBody, check_id};
use super::state::SharedState;
use crate::report::{PersonaDetail, PersonaSummary};

/// Every persona on offer.
#[utoipa::path(get, path = "/v1/personas", tag = "personas",
    responses((status = 200, description = "The personas", body = Vec<PersonaSummary>)))]
pub async fn list(State(state): State<SharedState>, _caller: Caller) -> Json<Vec<PersonaSummary>> {
    Json(PersonaSummary::all(&state.app))
}

/// One persona, as its file defines it; for operators, with the system
/// prompt it runs with now.
#[utoipa::path(get, path = "/v1/personas/{persona}", tag = "personas",
    params(("persona" = String, Path, description = "The persona id")),
    responses(
        (status = 200, description = "The persona (fields of its file), plus `system_prompt`, `post_history` (when the persona has post-history instructions) and `file` for operators, as `troupe personas show --json`", body = Object),
        (status = 404, description = "Unknown persona", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id("persona id", &id)?;
    let persona = state.app.personas().get(&id)?;
    let detail = if caller == Caller::Operator {
        PersonaDetail::for_operator(&state.app, &persona)?
    } else {
        PersonaDetail::public(&persona)
    };
    Ok(Json(serde_json::to_value(detail).unwrap_or_default()))
}
