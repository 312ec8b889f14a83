//! A flush that runs while the caller goes on working: a chat turn starts
//! making the user's message durable, builds the model's request meanwhile
//! (reading the history, rendering the prompt), and waits for the disk
//! only then, before the model is called. The message is exactly as
//! durable, at the same point of the turn, as with [`Store::flush`]; the
//! turn no longer waits for the disk and the prompt one after the other.

use std::path::PathBuf;
use std::sync::mpsc;

use super::error::classify;
use super::{Store, StoreError};

/// A flush under way: every write made before it started is on disk once
/// [`PendingFlush::wait`] returns `Ok`.
#[must_use = "a write is durable only once its flush has been waited for"]
pub struct PendingFlush(State);

enum State {
    /// Flushed already (no runtime to run it alongside the caller).
    Done(Result<(), StoreError>),
    /// Running on a blocking thread; its outcome arrives on the channel.
    Running {
        outcome: mpsc::Receiver<Result<(), sled::Error>>,
        dir: PathBuf,
    },
}

impl Store {
    /// Starts writing everything written so far to disk, on a blocking
    /// thread of the runtime when there is a multi-threaded one (else at
    /// once, on this thread).
    pub fn start_flush(&self) -> PendingFlush {
        if !super::on_runtime_workers() {
            return PendingFlush(State::Done(self.flush()));
        }
        let (sender, outcome) = mpsc::sync_channel(1);
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let flushed = db.flush().map(|_| ());
            // The database handle goes before the outcome is told, so the
            // waiter's handles are the last ones (closing is theirs).
            drop(db);
            let _ = sender.send(flushed);
        });
        PendingFlush(State::Running {
            outcome,
            dir: self.dir.clone(),
        })
    }
}

impl PendingFlush {
    /// A flush with nothing left to wait for: the write was durable when
    /// it returned (a PostgreSQL commit).
    pub(crate) fn finished() -> Self {
        PendingFlush(State::Done(Ok(())))
    }

    /// Waits for the flush to end. On a runtime's worker, the worker's
    /// other tasks move to another thread meanwhile, as in
    /// [`Store::flush`].
    pub fn wait(self) -> Result<(), StoreError> {
        let (outcome, dir) = match self.0 {
            State::Done(result) => return result,
            State::Running { outcome, dir } => (outcome, dir),
        };
        // Told already: no need to hand the worker's tasks over to wait.
        let received = match outcome.try_recv() {
            Ok(flushed) => Ok(flushed),
            Err(mpsc::TryRecvError::Empty) => tokio::task::block_in_place(|| outcome.recv()),
            Err(mpsc::TryRecvError::Disconnected) => Err(mpsc::RecvError),
        };
        match received {
            Ok(flushed) => flushed.map_err(|e| classify(&dir, e)),
            // The thread ended without a word: it panicked inside sled.
            Err(mpsc::RecvError) => Err(classify(
                &dir,
                sled::Error::ReportableBug("a flush of the store stopped before it ended".into()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AppendEffects, Message};

    fn reopened_has(dir: &std::path::Path, text: &str) -> bool {
        let store = Store::open(dir).unwrap();
        let conversation = store.conversation("ana", "chef").unwrap().unwrap();
        let recent = store.recent_messages(&conversation, 10).unwrap();
        recent.iter().any(|m| m.text == text)
    }

    #[test]
    fn a_message_written_on_a_server_is_durable_once_its_flush_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let path = dir.path().to_path_buf();
        runtime.block_on(async move {
            let turn = tokio::spawn(async move {
                let store = Store::open(&path).unwrap();
                let message = Message::from_user("rice and eggs?", chrono::Utc::now());
                let (conversation, flushing) = store
                    .append_flushing("ana", "chef", &message, &AppendEffects::NONE)
                    .unwrap();
                assert!(matches!(flushing.0, State::Running { .. }), "on the side");
                // The caller works meanwhile: here, reading what it wrote.
                assert_eq!(store.recent_messages(&conversation, 5).unwrap().len(), 1);
                flushing.wait().unwrap();
            });
            turn.await.unwrap();
        });
        assert!(reopened_has(dir.path(), "rice and eggs?"));
    }

    #[test]
    fn without_a_runtime_the_flush_is_done_before_it_is_handed_back() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let message = Message::from_user("a quiet kitchen", chrono::Utc::now());
            let (_, flushing) = store
                .append_flushing("ana", "chef", &message, &AppendEffects::NONE)
                .unwrap();
            assert!(matches!(flushing.0, State::Done(Ok(()))));
            flushing.wait().unwrap();
        }
        assert!(reopened_has(dir.path(), "a quiet kitchen"));
    }
}
