//! Progress of long operations: filling a store (`dev populate`), a
//! follow-up run, a retention purge, a store rewrite (erasure, compaction).
//! The library reports it through [`Progress`] and never prints; each front
//! end shows it its own way (the CLI draws a bar on a terminal).

/// Hears how a long operation advances. An operation may have several
/// stages (a purge, then the rewrite that makes it unrecoverable); each
/// starts with [`Progress::begin`].
pub trait Progress: Send {
    /// A stage begins: what it does ("rewriting the store"), and how many
    /// steps it takes, when that is known beforehand.
    fn begin(&mut self, stage: &str, total: Option<u64>);
    /// `done` steps of the current stage are finished.
    fn advance(&mut self, done: u64);
}

/// Progress nobody watches: for the server and background work.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&mut self, _stage: &str, _total: Option<u64>) {}
    fn advance(&mut self, _done: u64) {}
}

/// Progress written down, for tests: every stage with its total, and the
/// last count each reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// (stage, total, last count reported).
    pub stages: Vec<(String, Option<u64>, u64)>,
}

impl Progress for Recorded {
    fn begin(&mut self, stage: &str, total: Option<u64>) {
        self.stages.push((stage.to_string(), total, 0));
    }

    fn advance(&mut self, done: u64) {
        if let Some(last) = self.stages.last_mut() {
            last.2 = done;
        }
    }
}

/// A count as a step number (counts never come near `u64::MAX`).
pub(crate) fn steps(count: usize) -> u64 {
    u64::try_from(count).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::FollowUpPolicy;
    use crate::persona::Personas;
    use crate::populate::{PopulateOptions, populate};
    use crate::store::Store;

    #[test]
    fn populating_purging_and_rewriting_report_each_stage_to_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let now = chrono::Utc::now();
        let options = PopulateOptions {
            conversations: 30,
            due_percent: 10.0,
            with_messages: true,
            seed: 1,
        };
        let personas = Personas::builtin();
        let mut heard = Recorded::default();
        populate(
            &store,
            &personas,
            &FollowUpPolicy::default(),
            now,
            options,
            &mut heard,
        )
        .unwrap();
        assert_eq!(
            heard.stages,
            [("creating conversations".to_string(), Some(30), 30)]
        );

        let mut heard = Recorded::default();
        let (store, purge) = store
            .purge_before(now + chrono::Duration::days(1), &mut heard)
            .unwrap();
        assert!(purge.messages > 0);
        assert_eq!(heard.stages.len(), 2, "{heard:?}");
        let (stage, total, read) = &heard.stages[0];
        assert_eq!((stage.as_str(), *total), ("purging old messages", None));
        assert!(*read >= 30, "every message is read: {read}");
        let (stage, total, read) = &heard.stages[1];
        assert_eq!((stage.as_str(), *total), ("rewriting the store", None));
        assert!(*read >= 30, "every conversation record is read: {read}");
        drop(store);
    }
}
