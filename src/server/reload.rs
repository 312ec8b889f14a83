//! Live reload of the personas directory while the server runs: once a
//! second the directory's `*.toml` files are stamped (size and modification
//! time, see [`DirStamp`]); when the stamp changes, [`App::reload_personas`]
//! serves what the files hold now, and the log says what changed. A file
//! with problems is rejected with its `file:line:column` problems and its
//! persona's previous version keeps serving.
//!
//! [`App::reload_personas`]: crate::app::App::reload_personas

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::persona::{DirStamp, PersonaChanges, SkippedPersona};
use crate::shutdown::Shutdown;

/// How often the directory is looked at.
const EVERY: Duration = Duration::from_secs(1);

/// Watches `app`'s personas directory until `shutdown`; the built-in
/// personas never change, so without a directory there is nothing to run.
/// The directory is stamped before this returns, so an edit made once the
/// server says it is serving is never taken for the starting state.
pub fn start(app: Arc<App>, shutdown: Shutdown) -> Option<tokio::task::JoinHandle<()>> {
    let dir = app.personas_dir().map(PathBuf::from)?;
    tracing::info!(dir = %dir.display(), "watching the personas directory: saved edits are live on the next turn");
    let seen = DirStamp::of(&dir);
    Some(tokio::spawn(keep(app, dir, seen, shutdown)))
}

/// Reloads the personas each time `dir`'s stamp differs from `seen`.
async fn keep(app: Arc<App>, dir: PathBuf, mut seen: DirStamp, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.requested() => return,
        }
        let now = stamp(&dir).await;
        if now == seen {
            continue;
        }
        seen = now;
        let app = Arc::clone(&app);
        match tokio::task::spawn_blocking(move || app.reload_personas()).await {
            Ok(Ok(changes)) => log_changes(&changes),
            Ok(Err(error)) => tracing::warn!(
                "could not reload the personas from {}: {error}; the personas loaded before keep serving",
                dir.display()
            ),
            Err(error) => tracing::error!(%error, "the personas reload stopped unexpectedly"),
        }
    }
}

/// The directory's stamp, read off the async threads.
async fn stamp(dir: &std::path::Path) -> DirStamp {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || DirStamp::of(&dir))
        .await
        .unwrap_or_default()
}

/// One line per change, each rejected problem on its own line.
fn log_changes(changes: &PersonaChanges) {
    for id in &changes.added {
        tracing::info!(persona = %id, "persona added: its new file is served");
    }
    for id in &changes.changed {
        tracing::info!(persona = %id, "persona reloaded: the saved version serves from the next turn");
    }
    for id in &changes.removed {
        tracing::warn!(
            persona = %id,
            "persona removed: its file is gone, so its conversations get 404 until a file for it is back"
        );
    }
    log_rejected(&changes.kept, "the previous version keeps serving");
    log_rejected(&changes.rejected, "it is not served");
}

/// Each problem of each rejected file, as `file:line:column: message`.
fn log_rejected(files: &[SkippedPersona], outcome: &str) {
    for file in files {
        for problem in &file.problems {
            tracing::warn!("{problem} (rejected: {outcome}; fix the file and save it again)");
        }
    }
}
