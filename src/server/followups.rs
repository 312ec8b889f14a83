//! Follow-ups for operators: `GET /v1/followups/due`, `GET
//! /v1/followups/explain?user=&persona=`, and `POST /v1/followups/run` to
//! deliver what is due now rather than at the scheduler's next look.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::ApiQuery;
use super::error::{ApiError, ErrorBody, check_id};
use super::state::SharedState;

/// The conversations due now, as `troupe followups due --json`.
#[utoipa::path(get, path = "/v1/followups/due", tag = "followups",
    responses(
        (status = 200, description = "Due conversations", body = Vec<Object>),
        (status = 403, description = "Not an operator", body = ErrorBody),
    ))]
pub async fn due(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.operator_only()?;
    let access = state.store.access();
    let followups = state.app.followups(&access);
    let due = match state.store.sled() {
        Some(_) => followups.due()?,
        None => followups.due_on(&*state.store.get().await?).await?,
    };
    Ok(Json(serde_json::to_value(due).unwrap_or_default()))
}

/// Which conversation to explain.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplainQuery {
    /// The user.
    pub user: String,
    /// The persona.
    pub persona: String,
}

/// Every rule's verdict for one conversation, as `troupe followups explain --json`.
#[utoipa::path(get, path = "/v1/followups/explain", tag = "followups",
    params(ExplainQuery),
    responses(
        (status = 200, description = "{eligible, rules:[{rule, pass, detail}]}", body = Object),
        (status = 400, description = "Missing user or persona", body = ErrorBody),
        (status = 404, description = "Unknown persona, or no conversation yet", body = ErrorBody),
    ))]
pub async fn explain(
    State(state): State<SharedState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ExplainQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = state.user_id(&query.user).await?;
    check_id("persona id", &query.persona)?;
    caller.may_act_for(&user)?;
    let persona = state.app.personas().get(&query.persona)?;
    let access = state.store.access();
    let followups = state.app.followups(&access);
    let verdict = match state.store.sled() {
        Some(_) => followups.explain(&user, &persona)?,
        None => {
            let store = state.store.get().await?;
            followups.explain_on(&store, &user, &persona).await?
        }
    };
    Ok(Json(serde_json::to_value(verdict).unwrap_or_default()))
}

/// What a run delivered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunReport {
    /// Follow-ups delivered by this run.
    pub sent: usize,
}

/// Delivers every due follow-up now (operators only); each is pushed to the
/// user's open streams and webhooks as usual.
#[utoipa::path(post, path = "/v1/followups/run", tag = "followups",
    responses(
        (status = 200, description = "How many were sent", body = RunReport),
        (status = 403, description = "Not an operator", body = ErrorBody),
    ))]
pub async fn run(
    State(state): State<SharedState>,
    caller: Caller,
) -> Result<Json<RunReport>, ApiError> {
    caller.operator_only()?;
    let sent = state.scheduler.deliver_due().await?;
    Ok(Json(RunReport { sent }))
}
