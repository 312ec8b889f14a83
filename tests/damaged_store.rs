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

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("read dir").flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else {
                let bytes = std::fs::read(entry.path()).expect("read a file");
                files.insert(entry.path(), bytes);
            }
        }
    }
    files
}

#[test]
fn a_store_not_closed_cleanly_is_copied_before_sled_recovers_it() {
    let troupe = data_dir_with_messages();
    let (copy, damaged) = damaged_copy(&troupe);
    // What a process killed while it held the store leaves: no record of
    // a clean close.
    std::fs::remove_file(copy.join("store").join("troupe-closed.json"))
        .expect("the manifest of the last clean close");
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
    assert!(
        run.stderr.contains("not closed cleanly") || run.stderr.contains("is corrupt"),
        "{}",
        run.stderr
    );
    let preserved = preserved_in(&run.stderr, &copy);
    let kept = std::fs::read(preserved.join("db")).expect("the preserved log");
    assert!(kept == damaged, "the log as it was before sled's recovery");
}

#[test]
fn a_server_killed_mid_work_loses_no_message_and_its_files_are_copied_first() {
    let troupe = Troupe::new();
    let served = troupe.serve(&["--model", "offline"]);
    for text in ["first marmalade note", "second marmalade note"] {
        let answer = served.post(
            "/v1/conversations/tester/chef/messages",
            serde_json::json!({ "text": text }),
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    drop(served); // kill -9
    let run = troupe.run(&["history", "--user", "tester", "--persona", "chef", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let texts: Vec<String> = run.json()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(texts, ["first marmalade note", "second marmalade note"]);
    assert!(run.stderr.contains("not closed cleanly"), "{}", run.stderr);
    let preserved = preserved_in(&run.stderr, &troupe.data_dir());
    assert!(preserved.join("db").exists(), "{}", preserved.display());
    // Closed cleanly by that command: the next one finds the files as left.
    let again = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        !again.stderr.contains("not closed cleanly"),
        "{}",
        again.stderr
    );
}

#[test]
fn verify_reports_a_damaged_store_without_changing_a_byte_of_either() {
    let troupe = data_dir_with_messages();
    let sound_before = snapshot(&troupe.data_dir());
    let sound = troupe.run(&["store", "verify"]);
    assert_eq!(sound.code, 0, "{}{}", sound.stdout, sound.stderr);
    assert!(
        sound.stdout.contains("the store is sound"),
        "{}",
        sound.stdout
    );
    assert!(sound.stdout.contains("messages 4"), "{}", sound.stdout);
    assert!(
        snapshot(&troupe.data_dir()) == sound_before,
        "verify wrote to a sound store"
    );

    let (copy, _) = damaged_copy(&troupe);
    let damaged_before = snapshot(&copy);
    let copy_arg = copy.display().to_string();
    let damaged = troupe.run(&["--data-dir", &copy_arg, "store", "verify", "--json"]);
    assert_eq!(damaged.code, 1, "{}{}", damaged.stdout, damaged.stderr);
    let report = damaged.json();
    assert_eq!(report["damaged"], true);
    assert_eq!(report["files"], "changed");
    assert_eq!(report["changed_files"], serde_json::json!(["db"]));
    assert!(
        snapshot(&copy) == damaged_before,
        "verify wrote to a damaged store"
    );
}

#[test]
fn recover_opens_a_damaged_store_with_what_can_be_read_after_keeping_its_files() {
    let troupe = data_dir_with_messages();
    let (copy, damaged) = damaged_copy(&troupe);
    let copy_arg = copy.display().to_string();
    let history = [
        "--data-dir",
        &copy_arg,
        "history",
        "--user",
        "tester",
        "--persona",
        "chef",
    ];
    assert_eq!(troupe.run(&history).code, 1, "refused while damaged");
    let recover = troupe.run(&["--data-dir", &copy_arg, "store", "recover"]);
    assert!(
        recover.stdout.contains("can be read"),
        "{}{}",
        recover.stdout,
        recover.stderr
    );
    let preserved = preserved_in(&recover.stdout, &copy);
    assert!(std::fs::read(preserved.join("db")).expect("kept") == damaged);
    let after = troupe.run(&history);
    assert_eq!(after.code, 0, "{}", after.stderr);
    let verify = troupe.run(&["--data-dir", &copy_arg, "store", "verify"]);
    assert!(
        verify.stdout.contains("as troupe last closed them"),
        "{}",
        verify.stdout
    );
}

#[test]
fn a_server_stopped_by_sigterm_closes_its_store_cleanly() {
    let troupe = Troupe::new();
    let served = troupe.serve(&["--model", "offline"]);
    let answer = served.post(
        "/v1/conversations/tester/chef/messages",
        serde_json::json!({ "text": "a clean stop" }),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(served.terminate(), 0);
    let run = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("a clean stop"), "{}", run.stdout);
    assert!(!run.stderr.contains("not closed cleanly"), "{}", run.stderr);
    assert!(!troupe.data_dir().join("store-preserved").exists());
}
