//! A user's settings, data and rights: `GET`/`PATCH`/`DELETE
//! /v1/users/{user}`, `GET …/export`, and `POST …/tokens` (operators mint
//! a token that acts only for this user).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::auth::{Caller, mint_token};
use super::body::{ApiJson, ApiPath};
use super::error::{ApiError, ErrorBody};
use super::state::SharedState;
use super::store::ServerStore;
use crate::report::Erased;
use crate::report::{Export, SettingsChange, UserView, conversations_of};
use crate::store::StoreBackend;

/// The 404 for a user who never wrote.
fn no_user(user: &str) -> ApiError {
    ApiError::not_found(format!("there is no user \"{user}\""))
}

/// A user's settings and conversations.
#[utoipa::path(get, path = "/v1/users/{user}", tag = "users",
    params(("user" = String, Path, description = "The user id")),
    responses(
        (status = 200, description = "Settings and conversations, as `troupe user show --json`", body = UserView),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.user_id(&user).await?;
    caller.may_act_for(&user)?;
    view(&state, &user).await
}

async fn view(state: &SharedState, user: &str) -> Result<Json<UserView>, ApiError> {
    let store = state.store.get().await?;
    let record = store.user(user).await?.ok_or_else(|| no_user(user))?;
    let conversations = conversations_of(&store, &state.app.personas(), user).await?;
    let default_tz = &state.app.config.followups.default_timezone;
    Ok(Json(UserView::new(record, conversations, default_tz)))
}

/// Changes a user's settings (creating the user if needed).
#[utoipa::path(patch, path = "/v1/users/{user}", tag = "users",
    params(("user" = String, Path, description = "The user id")),
    request_body = SettingsChange,
    responses(
        (status = 200, description = "The settings after the change", body = UserView),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "Another user, or an end-user token changing `minor` (operators only)", body = ErrorBody),
        (status = 422, description = "A setting that cannot be applied (unknown time zone, bad language)", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
    ApiJson(change): ApiJson<SettingsChange>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.user_id(&user).await?;
    caller.may_act_for(&user)?;
    if change.minor.is_some() && caller != Caller::Operator {
        // The protections for minors are not the minor's to lift.
        return Err(ApiError::forbidden(
            "only an operator can change whether a user is a minor",
        ));
    }
    let update = change
        .into_update()
        .map_err(|e| ApiError::invalid_settings(e.to_string()))?;
    {
        let store = state.store.get().await?;
        store
            .update_user(&user, state.app.clock.now(), &update)
            .await?;
    }
    // Follow-ups switched on, a new time zone: the scheduler looks again.
    state.wake.notify_one();
    view(&state, &user).await
}

/// Everything stored about a user, as `troupe export` prints it.
#[utoipa::path(get, path = "/v1/users/{user}/export", tag = "users",
    params(("user" = String, Path, description = "The user id")),
    responses(
        (status = 200, description = "The export document (format troupe-export/1)", body = Object),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn export(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = state.user_id(&user).await?;
    caller.may_act_for(&user)?;
    let store = state.store.get().await?;
    let data = store
        .export_user(&user)
        .await?
        .ok_or_else(|| no_user(&user))?;
    let document = Export::new(data, state.app.clock.now());
    Ok(Json(serde_json::to_value(document).unwrap_or_default()))
}

/// Erases everything about a user, unrecoverably: the store is rewritten
/// without them (turns in flight finish first), and their tokens stop
/// working.
#[utoipa::path(delete, path = "/v1/users/{user}", tag = "users",
    params(("user" = String, Path, description = "The user id")),
    responses(
        (status = 200, description = "What was erased", body = Erased),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn erase(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
) -> Result<Json<Erased>, ApiError> {
    let user = state.user_id(&user).await?;
    caller.may_act_for(&user)?;
    {
        let store = state.store.get().await?;
        if store.user(&user).await?.is_none() {
            return Err(no_user(&user));
        }
    }
    let erasure = match &state.store {
        ServerStore::Sled(shared) => {
            let who = user.clone();
            shared
                .rewrite(move |store| store.erase_user(&who, &mut crate::progress::Silent))
                .await?
        }
        ServerStore::Postgres(store) => {
            let store = StoreBackend::Postgres(store.clone());
            store
                .erase_user(&user, &mut crate::progress::Silent)
                .await?
                .1
        }
    };
    // Streams opened before (with a token now revoked, too) end here.
    state.hub.close(&user);
    let legacy = crate::console::legacy_history_file(&state.app.data_dir, &user);
    if legacy.exists()
        && let Err(error) = std::fs::remove_file(&legacy)
    {
        tracing::warn!(%error, "could not remove an old console history file");
    }
    Ok(Json(Erased::new(user, &erasure)))
}

/// A new end-user token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MintedToken {
    /// The user it acts for.
    pub user: String,
    /// The token: send it as `Authorization: Bearer TOKEN`. Shown once;
    /// the server keeps only its digest.
    pub token: String,
}

/// Mints a token that acts only for this user (operators only).
#[utoipa::path(post, path = "/v1/users/{user}/tokens", tag = "users",
    params(("user" = String, Path, description = "The user id")),
    responses(
        (status = 201, description = "The token", body = MintedToken),
        (status = 403, description = "Not an operator", body = ErrorBody),
    ))]
pub async fn mint(
    State(state): State<SharedState>,
    caller: Caller,
    ApiPath(user): ApiPath<String>,
) -> Result<(StatusCode, Json<MintedToken>), ApiError> {
    let user = state.user_id(&user).await?;
    caller.operator_only()?;
    let token = mint_token()?;
    state.store.get().await?.add_token(&token, &user).await?;
    Ok((StatusCode::CREATED, Json(MintedToken { user, token })))
}
