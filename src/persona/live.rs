//! The persona catalog a long-running process serves, swappable while in
//! use: readers take a snapshot ([`LivePersonas::snapshot`], an `Arc`, so a
//! turn keeps the version it started with) and a reload replaces it whole.
//! [`Personas::reloaded`] decides what a reload serves: a file with
//! problems keeps its persona's previous version; a new file adds one; a
//! deleted file removes one. [`DirStamp`] tells when the directory changed,
//! by polling, so no file-watching dependency is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use super::{Personas, SkippedPersona};

/// The catalog being served, replaced whole on reload.
#[derive(Debug)]
pub struct LivePersonas {
    /// The current version; a reader clones the `Arc` and lets go at once.
    current: RwLock<Arc<Personas>>,
}

impl LivePersonas {
    /// Serves `personas` until the next [`LivePersonas::replace`].
    pub fn new(personas: Personas) -> Self {
        Self {
            current: RwLock::new(Arc::new(personas)),
        }
    }

    /// The current catalog; it stays as it is for whoever holds it, however
    /// often the catalog is replaced meanwhile.
    pub fn snapshot(&self) -> Arc<Personas> {
        // A writer that panicked left a whole catalog (the swap is one
        // assignment), so a poisoned lock still holds a good one.
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Serves `personas` from now on.
    pub fn replace(&self, personas: Personas) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(personas);
    }
}

/// What a reload changed, by persona id, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonaChanges {
    /// New files that became personas.
    pub added: Vec<String>,
    /// Personas whose file changed and is valid: the new version serves.
    pub changed: Vec<String>,
    /// Personas whose file is gone: their conversations get "no persona".
    pub removed: Vec<String>,
    /// Files with problems whose persona keeps its previous version.
    pub kept: Vec<SkippedPersona>,
    /// Files with problems that never made a persona (nothing to keep).
    pub rejected: Vec<SkippedPersona>,
}

impl PersonaChanges {
    /// Whether the reload changed nothing a user or the log would notice.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.removed.is_empty()
            && self.kept.is_empty()
            && self.rejected.is_empty()
    }
}

impl Personas {
    /// This freshly loaded catalog as a reload of `previous` serves it: each
    /// persona whose file now has problems keeps its `previous` version
    /// (the file stays listed in [`Personas::skipped`] with its problems),
    /// and what changed is reported.
    pub fn reloaded(mut self, previous: &Personas) -> (Personas, PersonaChanges) {
        let mut changes = PersonaChanges::default();
        for skipped in &self.skipped {
            let old = skipped
                .id
                .as_ref()
                .and_then(|id| Some((id, previous.by_id.get(id)?, previous.files.get(id)?)));
            match old {
                Some((id, persona, file)) if !self.by_id.contains_key(id) => {
                    self.by_id.insert(id.clone(), Arc::clone(persona));
                    self.files.insert(id.clone(), file.clone());
                    changes.kept.push(skipped.clone());
                }
                _ => changes.rejected.push(skipped.clone()),
            }
        }
        let kept: Vec<&String> = changes.kept.iter().filter_map(|s| s.id.as_ref()).collect();
        for (id, (_, text)) in &self.files {
            match previous.files.get(id) {
                None => changes.added.push(id.clone()),
                Some((_, old)) if old != text && !kept.contains(&id) => {
                    changes.changed.push(id.clone());
                }
                Some(_) => {}
            }
        }
        changes.removed = previous
            .by_id
            .keys()
            .filter(|id| !self.by_id.contains_key(*id))
            .cloned()
            .collect();
        (self, changes)
    }
}

/// What a personas directory's `*.toml` files look like from outside: each
/// one's path, size and modification time. Two stamps differ when a file
/// was saved, added, removed or renamed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirStamp(BTreeMap<PathBuf, (u64, Option<SystemTime>)>);

impl DirStamp {
    /// The stamp of `dir` now; an unreadable directory stamps as empty.
    pub fn of(dir: &Path) -> Self {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Self::default();
        };
        let files = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
            })
            .map(|path| {
                let meta = std::fs::metadata(&path).ok();
                let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
                let modified = meta.and_then(|m| m.modified().ok());
                (path, (size, modified))
            })
            .collect();
        Self(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEF: &str = include_str!("../../personas/chef.toml");

    fn load(dir: &Path) -> Personas {
        Personas::load_dir(dir).unwrap()
    }

    #[test]
    fn a_reload_adds_changes_removes_and_keeps_the_last_good_version() {
        let dir = tempfile::tempdir().unwrap();
        let write = |id: &str, text: &str| std::fs::write(dir.path().join(id), text).unwrap();
        write("chef.toml", CHEF);
        write("cook.toml", CHEF);
        write("gone.toml", CHEF);
        let before = load(dir.path());
        write("chef.toml", &CHEF.replace("Chef Marco", "Chef Mario"));
        write("cook.toml", &format!("{CHEF}\nnot toml at all"));
        std::fs::remove_file(dir.path().join("gone.toml")).unwrap();
        write("new.toml", CHEF);
        write("broken.toml", "name = 1\n");
        let (after, changes) = load(dir.path()).reloaded(&before);
        assert_eq!(after.get("chef").unwrap().name, "Chef Mario");
        assert_eq!(
            after.get("cook").unwrap().name,
            "Chef Marco",
            "the last good version"
        );
        assert!(after.get("gone").is_err());
        assert_eq!(changes.added, ["new"]);
        assert_eq!(changes.changed, ["chef"]);
        assert_eq!(changes.removed, ["gone"]);
        let ids = |s: &[SkippedPersona]| s.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&changes.kept), [Some("cook".to_string())]);
        assert_eq!(ids(&changes.rejected), [Some("broken".to_string())]);
        let problem = changes.kept[0].problems[0].to_string();
        assert!(problem.contains("cook.toml:"), "{problem}");
    }

    #[test]
    fn a_snapshot_outlives_a_replace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("chef.toml"), CHEF).unwrap();
        let live = LivePersonas::new(load(dir.path()));
        let held = live.snapshot();
        std::fs::write(dir.path().join("baker.toml"), CHEF).unwrap();
        live.replace(load(dir.path()));
        assert_eq!(held.ids(), ["chef"]);
        assert_eq!(live.snapshot().ids(), ["baker", "chef"]);
    }

    #[test]
    fn a_stamp_changes_when_a_file_is_saved_added_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("chef.toml"), CHEF).unwrap();
        let first = DirStamp::of(dir.path());
        assert_eq!(first, DirStamp::of(dir.path()));
        std::fs::write(dir.path().join("chef.toml"), format!("{CHEF}\n")).unwrap();
        let saved = DirStamp::of(dir.path());
        assert_ne!(first, saved);
        std::fs::write(dir.path().join("notes.txt"), "not a persona").unwrap();
        assert_eq!(saved, DirStamp::of(dir.path()), "only *.toml files count");
        std::fs::remove_file(dir.path().join("chef.toml")).unwrap();
        assert_ne!(saved, DirStamp::of(dir.path()));
    }
}
