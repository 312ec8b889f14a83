//! A damaged store: opening it never makes the damage worse. The files are
//! kept byte for byte before sled's recovery may write to them, and the
//! message says where.

use std::path::{Path, PathBuf};

use crate::support::{Troupe, copy_dir, path_after};

/// A data dir where `tester` told the chef a secret recipe twice.
fn data_dir_with_messages() -> Troupe {
    let troupe = Troupe::new();
    for text in ["my secret marmalade recipe", "more about the marmalade"] {
        let run = troupe.run(&["--model", "offline", "chat", "chef", "--message", text]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    troupe
}

/// A copy of `troupe`'s data dir with one bit flipped inside the first
/// stored copy of the user's text; returns the copy and its damaged log.
fn damaged_copy(troupe: &Troupe) -> (PathBuf, Vec<u8>) {
    let copy = troupe.root.path().join("copy");
    copy_dir(&troupe.data_dir(), &copy);
    let log = copy.join("store").join("db");
    let mut bytes = std::fs::read(&log).expect("read the log");
    let at = bytes
        .windows(9)
        .position(|w| w == b"marmalade")
        .expect("the text is in the log");
    bytes[at + 3] ^= 0x01;
    std::fs::write(&log, &bytes).expect("damage the log");
    (copy, bytes)
}

/// The preserved copy a message names, under `data_dir`.
fn preserved_in(message: &str, data_dir: &Path) -> PathBuf {
    let prefix = data_dir.join("store-preserved").display().to_string();
    path_after(message, &prefix)
        .unwrap_or_else(|| panic!("no preserved copy under {prefix} named in: {message}"))
}

#[test]
fn reading_a_damaged_store_keeps_the_damaged_bytes_where_the_message_says() {
    let troupe = data_dir_with_messages();
    let (copy, damaged) = damaged_copy(&troupe);
    let copy_arg = copy.display().to_string();
    let run = troupe.run(&[
        "--data-dir",
        &copy_arg,
        "history",
        "--user",
        "tester",
        "--persona",
        "chef",
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("is corrupt"), "{}", run.stderr);
    let preserved = preserved_in(&run.stderr, &copy);
    let kept = std::fs::read(preserved.join("db")).expect("the preserved log");
    assert!(
        kept == damaged,
        "the preserved log is the damaged one, byte for byte"
    );
}
