//! Who holds a data dir: its lock file (`troupe.lock`), taken by whoever
//! opens the store and, while a server holds it, naming the server's address;
//! and the lock of follow-up runs (`followups.lock`), so two runs never work
//! on the same intents at once.
//!
//! Commands open the store only for their reads and writes, so a data dir
//! held by another command is free again within milliseconds: opening waits
//! in the kernel's queue for the lock rather than polling for it, so a burst
//! of commands takes turns instead of racing. A server holds its data dir for
//! as long as it runs; that is reported at once, with its address.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::Duration;

use super::{LOCK_FILE, StoreError, announced_server};

/// The lock file of follow-up runs inside the data dir.
const DELIVERY_LOCK_FILE: &str = "followups.lock";

/// Takes the lock of data dir `dir` (creating the dir and the lock file if
/// needed), waiting up to `patience` for another command to let go of it.
/// A server announced in the lock file is reported at once as
/// [`StoreError::Served`]; an address left by a server that died without
/// clearing it is cleared.
pub(super) fn lock_data_dir(dir: &Path, patience: Duration) -> Result<File, StoreError> {
    let io = |source| io_error(dir, source);
    create_data_dir(dir)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))
        .map_err(io)?;
    let file = match file.try_lock() {
        Ok(()) => file,
        Err(TryLockError::WouldBlock) => {
            if let Some(address) = announced_server(dir) {
                return Err(StoreError::Served {
                    dir: dir.to_path_buf(),
                    address,
                });
            }
            wait_for_lock(dir, file, patience)?
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    };
    // Whoever holds the lock now is not a server (a server announces itself
    // after opening), so an address still in the file is stale.
    if file.metadata().map_err(io)?.len() > 0 {
        file.set_len(0).map_err(io)?;
    }
    Ok(file)
}

/// Waits for the lock on `file` in the kernel's queue, on a thread of its
/// own so the wait can end after `patience`. A thread that gets the lock
/// after the wait has ended finds no one to hand it to and drops it.
pub(super) fn wait_for_lock(
    dir: &Path,
    file: File,
    patience: Duration,
) -> Result<File, StoreError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("troupe-lock-wait".to_string())
        .spawn(move || {
            let locked = file.lock().map(|()| file);
            let _ = sender.send(locked);
        })
        .map_err(|e| io_error(dir, e))?;
    match receiver.recv_timeout(patience) {
        Ok(Ok(file)) => Ok(file),
        Ok(Err(e)) => Err(io_error(dir, e)),
        Err(_) => Err(StoreError::Locked(dir.to_path_buf())),
    }
}

/// The address of the server holding data dir `dir` right now: its lock is
/// taken and its lock file names an address. `None` when the data dir is
/// free, does not exist yet, or is held by a command for a moment (opening
/// the store then waits its turn).
pub fn server_holding(dir: &Path) -> Option<String> {
    let file = File::open(dir.join(LOCK_FILE)).ok()?;
    match file.try_lock() {
        // Free: dropping the file lets the lock go again.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => announced_server(dir),
        Err(TryLockError::Error(_)) => None,
    }
}

/// Held by a follow-up run for as long as it delivers; dropping it lets
/// the next run start.
#[derive(Debug)]
pub struct DeliveryLock {
    /// The locked file; the lock goes with it.
    _file: File,
}

/// Takes the lock of follow-up runs on data dir `dir`, without waiting:
/// another run that holds it is [`StoreError::Delivering`]. Runs hold the
/// store only for their reads and writes, so without this lock two runs
/// could both pick up an intent the other has just recorded and both pay
/// for the model call (only one would be delivered).
pub fn lock_deliveries(dir: &Path) -> Result<DeliveryLock, StoreError> {
    let io = |source| io_error(dir, source);
    create_data_dir(dir)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(DELIVERY_LOCK_FILE))
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(DeliveryLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(StoreError::Delivering(dir.to_path_buf())),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Creates data dir `dir` if needed; a file where it, or a directory above
/// it, should be is named as such (the system would only say "File exists"
/// or "Not a directory").
fn create_data_dir(dir: &Path) -> Result<(), StoreError> {
    if let Some(file) = dir.ancestors().find(|a| a.exists() && !a.is_dir()) {
        return Err(StoreError::NotADirectory {
            dir: dir.to_path_buf(),
            file: file.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))
}

fn io_error(dir: &Path, source: std::io::Error) -> StoreError {
    super::io_error(dir, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_open_gets_the_lock_as_soon_as_it_is_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_data_dir(dir.path(), Duration::from_secs(1)).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(first);
        });
        let started = std::time::Instant::now();
        let second = lock_data_dir(dir.path(), Duration::from_secs(5));
        assert!(second.is_ok(), "{second:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        releaser.join().unwrap();
    }

    #[test]
    fn a_held_data_dir_is_locked_after_the_patience_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let _first = lock_data_dir(dir.path(), Duration::from_secs(1)).unwrap();
        let err = lock_data_dir(dir.path(), Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, StoreError::Locked(_)), "{err:?}");
        assert_eq!(server_holding(dir.path()), None, "no address announced");
    }

    #[test]
    fn an_announced_server_is_reported_at_once_and_a_stale_address_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_data_dir(dir.path(), Duration::from_secs(1)).unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "http://127.0.0.1:9").unwrap();
        let started = std::time::Instant::now();
        let err = lock_data_dir(dir.path(), Duration::from_secs(5)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(
            matches!(&err, StoreError::Served { address, .. } if address == "http://127.0.0.1:9"),
            "{err:?}"
        );
        assert_eq!(
            server_holding(dir.path()).as_deref(),
            Some("http://127.0.0.1:9")
        );
        // The server dies without clearing its address.
        drop(first);
        assert_eq!(server_holding(dir.path()), None);
        let _next = lock_data_dir(dir.path(), Duration::from_secs(1)).unwrap();
        assert_eq!(
            announced_server(dir.path()),
            None,
            "the stale address is gone"
        );
    }

    #[test]
    fn only_one_follow_up_run_delivers_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_deliveries(dir.path()).unwrap();
        let err = lock_deliveries(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Delivering(_)), "{err:?}");
        drop(first);
        assert!(lock_deliveries(dir.path()).is_ok());
    }
}
