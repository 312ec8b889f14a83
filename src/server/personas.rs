//! `GET /v1/personas` and `GET /v1/personas/{persona}`: what is on offer,
//! with the notices a session starts with; operators also get the rendered
//! system prompt.

use axum::Json;
use axum::extract::State;

use super::auth::Caller;
use super::body::ApiPath;
use super::error::{ApiError, ErrorBody, check_id};
use super::state::SharedState;
use crate::report::PersonaSummary;

/// Every persona on offer.
#[utoipa::path(get, path = "/v1/personas", tag = "personas",
    responses((status = 200, description = "The personas", body = Vec<PersonaSummary>)))]
pub async fn list(State(state): State<SharedState>, _caller: Caller) -> Json<Vec<PersonaSummary>> {
    Json(
        state
            .app
            .personas
            .iter()
            .map(|p| {
                let model = state.app.model_for(p).ok();
                let backend_notice = model.and_then(|m| m.session_notice(&p.language));
                PersonaSummary::new(p, backend_notice)
            })
            .collect(),
    )
}

/// One persona, as its file defines it; for operators, with the system
/// prompt it runs with now.
#[utoipa::path(get, path = "/v1/personas/{persona}", tag = "personas",
    params(("persona" = String, Path, description = "The persona id")),
    responses(
        (status = 200, description = "The persona (fields of its file), plus `system_prompt` for operators", body = Object),
        (status = 404, description = "Unknown persona", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_id("persona id", &id)?;
    let persona = state.app.personas.get(&id)?;
    let mut value = serde_json::to_value(persona.as_ref()).unwrap_or_default();
    if caller == Caller::Operator
        && let Some(object) = value.as_object_mut()
    {
        let prompt = state
            .app
            .prompts
            .render_system(
                &persona,
                &crate::prompt::Scene::preview(&persona, state.app.clock.now()),
            )
            .map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    e.to_string(),
                )
            })?;
        object.insert("system_prompt".into(), prompt.into());
        let file = state.app.personas.file_text(&id);
        object.insert(
            "file".into(),
            file.map_or(serde_json::Value::Null, Into::into),
        );
    }
    Ok(Json(value))
}
