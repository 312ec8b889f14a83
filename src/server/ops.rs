//! Operations: `GET /v1/usage`, `GET /v1/safety/report`, `/healthz`,
//! `/readyz`, `/metrics` and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Caller;
use super::body::ApiQuery;
use super::error::{ApiError, ErrorBody};
use super::state::SharedState;
use crate::report::{Period, SafetyLine, UsageLine, safety_lines, usage_lines};

/// Which usage records.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// From this day (2026-11-01) or instant (RFC 3339) on.
    pub since: Option<String>,
}

/// Tokens and latency per persona and model, as `troupe usage --json`.
#[utoipa::path(get, path = "/v1/usage", tag = "operations",
    params(UsageQuery),
    responses(
        (status = 200, description = "One line per persona and model", body = Vec<UsageLine>),
        (status = 400, description = "A since that is not a date", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
    ))]
pub async fn usage(
    State(state): State<SharedState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<UsageQuery>,
) -> Result<Json<Vec<UsageLine>>, ApiError> {
    caller.operator_only()?;
    let since = match query.since.as_deref() {
        Some(text) => crate::report::parse_since(text).map_err(ApiError::bad_request)?,
        None => chrono::DateTime::<chrono::Utc>::MIN_UTC,
    };
    let store = state.store.get().await?;
    Ok(Json(usage_lines(&store.usage_since(since).await?)))
}

/// How to group the safety report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// day, week or month (the default).
    #[param(value_type = Option<String>)]
    pub by: Option<Period>,
}

/// Crisis referrals per period, from the anonymous safety log.
#[utoipa::path(get, path = "/v1/safety/report", tag = "operations",
    params(ReportQuery),
    responses(
        (status = 200, description = "One line per period", body = Vec<SafetyLine>),
        (status = 400, description = "An unknown period", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
    ))]
pub async fn safety_report(
    State(state): State<SharedState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> Result<Json<Vec<SafetyLine>>, ApiError> {
    caller.operator_only()?;
    let store = state.store.get().await?;
    Ok(Json(safety_lines(
        &store.safety_counts().await?,
        query.by.unwrap_or_default(),
    )))
}

/// The process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The server can serve: the store answers and shutdown has not begun.
pub async fn readyz(State(state): State<SharedState>) -> Response {
    if state.shutdown.is_requested() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is stopping",
        )
        .into_response();
    }
    match state.store.get().await {
        Ok(store) => match store.schema_version().await {
            Ok(_) => Json(serde_json::json!({ "status": "ready" })).into_response(),
            Err(error) => ApiError::from(error).into_response(),
        },
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// Counters, gauges and histograms in Prometheus text format: counts only,
/// nothing about any user.
pub async fn metrics(State(state): State<SharedState>) -> Response {
    metrics::gauge!("troupe_event_stream_users").set(state.hub.users_listening() as f64);
    metrics::gauge!("troupe_turns_in_flight").set(state.in_flight.count() as f64);
    let body = state
        .metrics
        .as_ref()
        .map(|m| m.render())
        .unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}
