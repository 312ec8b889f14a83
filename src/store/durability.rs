//! A flush that runs while the caller goes on working: a chat turn starts
//! making the user's message durable, builds the model's request meanwhile
//! (reading the history, rendering the prompt), and waits for the disk
//! only then, before the model is called. The message is exactly as
//! durable, at the same point of the turn, as with [`Store::flush`]; the
//! turn no longer waits for the disk and the prompt one after the other.
//!
//! On a server the flushes of every turn go to one thread of the store,
//! which makes all the writes asked for while it was busy durable with one
//! flush (a group commit), and a turn waits for its flush without holding
//! a worker of the runtime: no thread is handed a worker's tasks, and no
//! thread is started, for each durable write.

use std::path::PathBuf;
use std::sync::{Mutex, mpsc};

use tokio::sync::oneshot;

use super::error::classify;
use super::{Store, StoreError};

/// A flush under way: every write made before it started is on disk once
/// [`PendingFlush::wait`] or [`PendingFlush::finish`] returns `Ok`.
#[must_use = "a write is durable only once its flush has been waited for"]
pub struct PendingFlush(State);

enum State {
    /// Flushed already (no runtime to run it alongside the caller).
    Done(Result<(), StoreError>),
    /// Asked of the store's flushing thread; its outcome arrives here.
    Queued {
        outcome: oneshot::Receiver<Result<(), sled::Error>>,
        dir: PathBuf,
    },
}

/// One flush asked of the flushing thread: the database to flush (a handle
/// let go of once flushed, so the thread never keeps the store open) and
/// where to tell the outcome.
struct Job {
    db: sled::Db,
    done: oneshot::Sender<Result<(), sled::Error>>,
}

/// The store's flushing thread, started at the first flush a runtime asks
/// for; it ends once every handle of the store is gone.
#[derive(Debug, Default)]
pub(super) struct Flusher(Mutex<Option<mpsc::Sender<Job>>>);

impl Flusher {
    /// Hands `job` to the thread, starting it if needed; gives the job
    /// back if no thread could be started.
    fn send(&self, job: Job) -> Result<(), Job> {
        let Ok(mut sender) = self.0.lock() else {
            return Err(job);
        };
        let job = match sender.as_ref() {
            Some(running) => match running.send(job) {
                Ok(()) => return Ok(()),
                // The thread ended (it panicked inside sled): start another.
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::channel();
        let started = std::thread::Builder::new()
            .name("troupe-flush".into())
            .spawn(move || flush_as_asked(rx));
        if started.is_err() {
            return Err(job);
        }
        let sent = tx.send(job).map_err(|mpsc::SendError(job)| job);
        *sender = Some(tx);
        sent
    }
}

/// The flushing thread: takes every job waiting, flushes once for all of
/// them, lets go of their handles, then tells each the outcome.
fn flush_as_asked(jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter());
        let flushed = batch[0].db.flush().map(|_| ());
        let waiting: Vec<_> = batch.into_iter().map(|job| job.done).collect();
        for done in waiting {
            let _ = done.send(flushed.clone());
        }
    }
}

impl Store {
    /// Starts writing everything written so far to disk, on the store's
    /// flushing thread when there is a multi-threaded runtime (else at
    /// once, on this thread).
    pub fn start_flush(&self) -> PendingFlush {
        if !super::on_runtime_workers() {
            return PendingFlush(State::Done(self.flush()));
        }
        let (done, outcome) = oneshot::channel();
        let job = Job {
            db: self.db.clone(),
            done,
        };
        if let Err(job) = self.flusher.send(job) {
            drop(job);
            return PendingFlush(State::Done(self.flush()));
        }
        PendingFlush(State::Queued {
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
    /// [`Store::flush`]; async code awaits [`PendingFlush::finish`] instead.
    pub fn wait(self) -> Result<(), StoreError> {
        let (mut outcome, dir) = match self.0 {
            State::Done(result) => return result,
            State::Queued { outcome, dir } => (outcome, dir),
        };
        // Told already: no need to hand the worker's tasks over to wait.
        let received = match outcome.try_recv() {
            Ok(flushed) => Some(flushed),
            Err(oneshot::error::TryRecvError::Empty) if super::on_runtime_workers() => {
                tokio::task::block_in_place(|| outcome.blocking_recv()).ok()
            }
            Err(oneshot::error::TryRecvError::Empty) => outcome.blocking_recv().ok(),
            Err(oneshot::error::TryRecvError::Closed) => None,
        };
        told(received, &dir)
    }

    /// Waits for the flush to end without holding the runtime's worker.
    pub async fn finish(self) -> Result<(), StoreError> {
        match self.0 {
            State::Done(result) => result,
            State::Queued { outcome, dir } => told(outcome.await.ok(), &dir),
        }
    }
}

/// The outcome the flushing thread told, or its silence: it stopped
/// inside sled before telling.
fn told(
    received: Option<Result<(), sled::Error>>,
    dir: &std::path::Path,
) -> Result<(), StoreError> {
    match received {
        Some(flushed) => flushed.map_err(|e| classify(dir, e)),
        None => Err(classify(
            dir,
            sled::Error::ReportableBug("a flush of the store stopped before it ended".into()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AppendEffects, Message};

    /// A multi-threaded runtime, as a server runs on.
    fn server_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    }

    fn reopened_has(dir: &std::path::Path, text: &str) -> bool {
        let store = Store::open(dir).unwrap();
        let conversation = store.conversation("ana", "chef").unwrap().unwrap();
        let recent = store.recent_messages(&conversation, 10).unwrap();
        recent.iter().any(|m| m.text == text)
    }

    #[test]
    fn a_message_written_on_a_server_is_durable_once_its_flush_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = server_runtime();
        let path = dir.path().to_path_buf();
        runtime.block_on(async move {
            let turn = tokio::spawn(async move {
                let store = Store::open(&path).unwrap();
                let message = Message::from_user("rice and eggs?", chrono::Utc::now());
                let (conversation, flushing) = store
                    .append_flushing("ana", "chef", &message, &AppendEffects::NONE)
                    .unwrap();
                assert!(matches!(flushing.0, State::Queued { .. }), "on the side");
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

    #[test]
    fn writes_of_many_turns_at_once_are_each_durable_once_their_flush_is_awaited() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = server_runtime();
        let path = dir.path().to_path_buf();
        runtime.block_on(async move {
            let store = Store::open(&path).unwrap();
            let turns = (0..40).map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let message = Message::from_user(format!("turn {i}"), chrono::Utc::now());
                    let (_, flushing) = store
                        .append_flushing(
                            &format!("user{i}"),
                            "chef",
                            &message,
                            &AppendEffects::NONE,
                        )
                        .unwrap();
                    flushing.finish().await.unwrap();
                })
            });
            for turn in futures::future::join_all(turns).await {
                turn.unwrap();
            }
        });
        let store = Store::open(dir.path()).unwrap();
        for i in 0..40 {
            let conversation = store
                .conversation(&format!("user{i}"), "chef")
                .unwrap()
                .unwrap();
            let recent = store.recent_messages(&conversation, 1).unwrap();
            assert_eq!(recent[0].text, format!("turn {i}"));
        }
    }
}
