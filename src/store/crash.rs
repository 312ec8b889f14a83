//! Crash points: the named steps of the store's rewrites (erasure, retention
//! purge) and of its creation, where a test can make the process die.
//!
//! In a debug build, `TROUPE_CRASH_AT=N` aborts the process at the Nth step
//! it reaches, as a power cut or a kill would stop it there; the crash
//! tests (`tests/crash.rs`) run the real binary once per step and check
//! what the next run finds. Release builds compile every step to nothing.

/// Marks one step; in a debug build, aborts the process if it is the step
/// `TROUPE_CRASH_AT` names.
#[cfg(debug_assertions)]
pub(crate) fn step(name: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    /// Steps reached so far by this process.
    static REACHED: AtomicU64 = AtomicU64::new(0);
    let Some(target) = std::env::var("TROUPE_CRASH_AT")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return;
    };
    let reached = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    if reached == target {
        eprintln!("troupe: crashing at step {reached} ({name}), as TROUPE_CRASH_AT asks");
        std::process::abort();
    }
}

/// Marks one step; nothing in a release build.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn step(_name: &str) {}
