//! The data dir (writable; held by another command, or by a server, which is
//! fine) and the store in it (its schema version).

use std::path::Path;

use super::{Check, Finding};
use crate::store::{DataDirState, SCHEMA_VERSION, StoreError, StoreFacts, inspect};

/// The data dir's and the store's findings, and the store's facts when it
/// could be read.
pub(super) fn check_data_dir(dir: &Path) -> (Vec<Finding>, Option<StoreFacts>) {
    let shown = dir.display().to_string();
    if let Err(finding) = writable(dir) {
        return (vec![finding.named(shown)], None);
    }
    let (data, store, facts) = match inspect(dir) {
        Ok(DataDirState::Missing) => (
            Finding::ok(
                Check::DataDir,
                format!("{shown} does not exist yet; it is created on first use"),
            ),
            Finding::ok(Check::Store, "no store yet: the first chat creates it"),
            None,
        ),
        Ok(DataDirState::NoStore) => (
            Finding::ok(Check::DataDir, format!("{shown}: writable, not in use")),
            Finding::ok(Check::Store, "no store yet: the first chat creates it"),
            None,
        ),
        Ok(DataDirState::Served(address)) => (
            Finding::ok(
                Check::DataDir,
                format!(
                    "{shown} is held by the running troupe server at {address}; that is fine: commands go through it"
                ),
            ),
            Finding::ok(
                Check::Store,
                "in use by the server, which checked its schema when it started",
            ),
            None,
        ),
        Ok(DataDirState::Store(facts)) => (
            Finding::ok(Check::DataDir, format!("{shown}: writable, not in use")),
            store_finding(&facts),
            Some(facts),
        ),
        Err(error) => {
            let (data, store) = opening_failed(&shown, error);
            (data, store, None)
        }
    };
    (vec![data.named(shown.clone()), store.named(shown)], facts)
}

/// Whether a file can be created in `dir` (or, if it does not exist yet, in
/// the nearest folder above it that does).
fn writable(dir: &Path) -> Result<(), Finding> {
    let fix =
        "make it writable for this user, or choose another with --data-dir (or TROUPE_DATA_DIR)";
    if dir.exists() && !dir.is_dir() {
        return Err(Finding::problem(
            Check::DataDir,
            format!("{} is not a folder", dir.display()),
            fix,
        ));
    }
    let Some(existing) = dir.ancestors().find(|d| d.is_dir()) else {
        return Ok(());
    };
    let probe = existing.join(format!(".troupe-doctor-{}", std::process::id()));
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    match created {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Finding::problem(
            Check::DataDir,
            format!("cannot write in {}: {e}", existing.display()),
            fix,
        )),
    }
}

/// The store's schema, and a rewrite left pending.
fn store_finding(facts: &StoreFacts) -> Finding {
    let message = format!(
        "schema version {} (this troupe reads up to {SCHEMA_VERSION}), {} user(s)",
        facts.schema_version, facts.users
    );
    if facts.compaction_pending {
        return Finding::warning(
            Check::Store,
            format!(
                "{message}; a retention purge has not finished rewriting the store, so purged text is still in its files"
            ),
            "run `troupe maintenance purge` to finish it",
        );
    }
    Finding::ok(Check::Store, message)
}

/// The findings when the store could not be opened.
fn opening_failed(shown: &str, error: StoreError) -> (Finding, Finding) {
    let not_checked = |why: &str| {
        Finding::warning(
            Check::Store,
            format!("not checked: {why}"),
            "fix the data dir first, then run `troupe doctor` again",
        )
    };
    match error {
        StoreError::Locked(_) => (
            Finding::problem(
                Check::DataDir,
                format!(
                    "{shown} is in use by another troupe command, and has been for over a second"
                ),
                "let it finish or close it (a console, `troupe followups watch`), or use another data dir with --data-dir",
            ),
            not_checked("the data dir is in use"),
        ),
        StoreError::Served { address, .. } => (
            Finding::ok(
                Check::DataDir,
                format!(
                    "{shown} is held by the running troupe server at {address}; that is fine: commands go through it"
                ),
            ),
            Finding::ok(
                Check::Store,
                "in use by the server, which checked its schema when it started",
            ),
        ),
        e @ StoreError::NewerSchema { .. } => (
            Finding::ok(Check::DataDir, format!("{shown}: writable, not in use")),
            Finding::problem(
                Check::Store,
                e.to_string(),
                "upgrade troupe, or point --data-dir at another data dir",
            ),
        ),
        e @ StoreError::Corrupt { .. } => (
            Finding::ok(Check::DataDir, format!("{shown}: writable, not in use")),
            Finding::problem(
                Check::Store,
                e.to_string(),
                format!("move {shown} aside to start afresh, or restore it from a backup"),
            ),
        ),
        e => (
            Finding::problem(
                Check::DataDir,
                e.to_string(),
                "check the folder's permissions and free space, or use another data dir with --data-dir",
            ),
            not_checked("the data dir could not be used"),
        ),
    }
}
