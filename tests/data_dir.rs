//! A data dir that cannot be used: each case says what is wrong and what to
//! do, in one line, against the real binary. (A data dir in use by another
//! process is in `store.rs`.)

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;

use crate::support::{Troupe, finish};

#[test]
fn a_data_dir_that_is_a_file_is_named_as_a_file() {
    let troupe = Troupe::new();
    std::fs::write(troupe.data_dir(), "not a directory").expect("a file");
    let run = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("is a file, not a directory"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--data-dir"), "{}", run.stderr);
    assert!(!run.stderr.contains("os error"), "{}", run.stderr);
}

#[test]
fn an_empty_troupe_data_dir_names_the_variable_not_the_flag() {
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_DATA_DIR", "");
    let run = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("TROUPE_DATA_DIR is set but empty"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("unset TROUPE_DATA_DIR"),
        "{}",
        run.stderr
    );
}

/// Makes `dir` and everything under it readable and not writable by anyone
/// but root, and the directories above it passable.
fn read_only(dir: &Path) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        if entry.path().is_dir() {
            read_only(&entry.path());
        } else {
            let mode = std::fs::Permissions::from_mode(0o444);
            std::fs::set_permissions(entry.path(), mode).expect("chmod a file");
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).expect("chmod a dir");
}

#[test]
fn a_read_only_data_dir_says_why_reads_need_writing_and_what_to_do() {
    let troupe = Troupe::new();
    let chat = troupe.run(&["--model", "offline", "chat", "chef", "--message", "hello"]);
    assert_eq!(chat.code, 0, "{}", chat.stderr);
    read_only(&troupe.data_dir());
    // Root writes anywhere: run as nobody, who can read the data dir only.
    let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let passable = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(troupe.root.path(), passable.clone()).expect("chmod root");
    std::fs::set_permissions(troupe.work_dir(), passable).expect("chmod work dir");
    let run_as_reader = |args: &[&str]| {
        let mut command = troupe.command(args);
        if as_root {
            command.uid(65534).gid(65534);
        }
        finish(command.output().expect("run troupe"))
    };
    let history = run_as_reader(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(history.code, 1, "{}", history.stdout);
    assert_eq!(history.stderr.lines().count(), 1, "{}", history.stderr);
    for part in [
        "is not writable",
        "writes to its files even to read them",
        "cp -a",
    ] {
        assert!(history.stderr.contains(part), "{part}: {}", history.stderr);
    }
    // Checking it needs no writing.
    let verify = run_as_reader(&["store", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    assert!(
        verify.stdout.contains("the store is sound"),
        "{}",
        verify.stdout
    );
}
