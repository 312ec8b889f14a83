//! Backups while the server holds the data dir: `POST /v1/store/backup`
//! (what `troupe store backup` sends when a server holds the data dir), and
//! the scheduled backups of `[store] backup_dir`. Either way the server
//! holds its store to itself while it copies (requests wait), so the copy
//! is consistent.

use std::path::PathBuf;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::auth::Caller;
use super::body::ApiJson;
use super::error::{ApiError, ErrorBody};
use super::state::SharedState;
use crate::shutdown::Shutdown;
use crate::store::{Backup, scheduled_backup};

/// Where to write a backup.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BackupRequest {
    /// An absolute path on the server's machine: a new or empty directory.
    pub dir: String,
}

/// Writes a consistent backup of the store to a new directory on the
/// server's machine, as a data dir of its own (open it with `--data-dir`).
#[utoipa::path(post, path = "/v1/store/backup", tag = "operations",
    request_body = BackupRequest,
    responses(
        (status = 200, description = "The backup is written", body = Backup),
        (status = 400, description = "A relative path", body = ErrorBody),
        (status = 403, description = "Not an operator", body = ErrorBody),
        (status = 409, description = "The directory is not new or empty", body = ErrorBody),
    ))]
pub async fn backup(
    State(state): State<SharedState>,
    caller: Caller,
    ApiJson(request): ApiJson<BackupRequest>,
) -> Result<Json<Backup>, ApiError> {
    caller.operator_only()?;
    let target = PathBuf::from(&request.dir);
    if !target.is_absolute() {
        return Err(ApiError::bad_request(format!(
            "\"{}\" is not an absolute path; name the backup's directory from the root of the server's machine",
            request.dir
        )));
    }
    let Some(shared) = state.store.sled() else {
        return Err(ApiError::conflict(
            "the store is a PostgreSQL database: back it up with PostgreSQL's own tools (pg_dump, or your provider's snapshots); this endpoint copies the sled store of a data dir",
        ));
    };
    let backup = shared.exclusive(|store| store.backup_to(&target)).await?;
    tracing::info!(dir = %backup.dir.display(), messages = backup.messages, "backup written");
    Ok(Json(backup))
}

/// Writes a backup every `[store] backup_interval_secs` into `[store]
/// backup_dir`, keeping the newest `backup_keep`, until `shutdown`. A
/// failure is logged and tried again at the next interval; it never stops
/// the server. Does nothing when `backup_dir` is not set.
pub async fn keep(state: SharedState, mut shutdown: Shutdown) {
    let config = state.app.config.store.clone();
    let Some(dir) = config.backup_dir(&state.app.data_dir) else {
        return;
    };
    let Some(shared) = state.store.sled().cloned() else {
        tracing::warn!(
            "[store] backup_dir is set, but the store is a PostgreSQL database: no scheduled backups are written; back the database up with PostgreSQL's own tools"
        );
        return;
    };
    let every = Duration::from_secs(config.backup_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.requested() => return,
        }
        let made = shared
            .exclusive(|store| scheduled_backup(store, &dir, config.backup_keep))
            .await;
        match made {
            Ok(backup) => tracing::info!(
                dir = %backup.dir.display(),
                messages = backup.messages,
                "scheduled backup written"
            ),
            Err(error) => tracing::warn!(
                %error,
                "the scheduled backup failed; trying again at the next interval"
            ),
        }
    }
}
