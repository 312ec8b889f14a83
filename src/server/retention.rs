//! The retention period, kept while the server runs: once at start and then
//! every day, messages older than `[safety] retention_days` are purged (as
//! `troupe maintenance purge` does, which cannot run while the server holds
//! the data dir), and the store is rewritten so their text is gone from its
//! files too. Requests wait while it runs.

use std::time::Duration;

use super::state::SharedState;
use super::store::ServerStore;
use crate::shutdown::Shutdown;
use crate::store::{Purge, StoreBackend, StoreError};

/// How often the purge runs.
const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Purges once (before the server takes requests), logging what happened.
pub async fn purge_now(state: &SharedState) {
    match purge(state).await {
        Ok(Some(purge)) if purge.messages > 0 => {
            tracing::info!(
                messages = purge.messages,
                preserved_copies_removed = purge.preserved_copies_removed,
                "purged messages past the retention period (and the copies kept after a crash or damage, which still held them)"
            );
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "the retention purge failed; trying again tomorrow"),
    }
}

/// Purges every day until `shutdown` (the first purge ran at start). A
/// failure is logged and tried again the next day; it never stops the
/// server.
pub async fn keep(state: SharedState, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.requested() => return,
        }
        purge_now(&state).await;
    }
}

/// One purge, with the store to itself: a purge rewrites records that chat
/// turns write too, so it never runs beside them.
async fn purge(state: &SharedState) -> Result<Option<Purge>, StoreError> {
    if state.app.retention_cutoff().is_none() {
        return Ok(None);
    }
    let app = std::sync::Arc::clone(&state.app);
    match &state.store {
        ServerStore::Sled(shared) => {
            shared
                .rewrite(move |store| app.purge_by_retention(store, &mut crate::progress::Silent))
                .await
        }
        ServerStore::Postgres(store) => {
            let store = StoreBackend::Postgres(store.clone());
            let purged = app
                .purge_backend_by_retention(store, &mut crate::progress::Silent)
                .await?;
            Ok(purged.1)
        }
    }
}
