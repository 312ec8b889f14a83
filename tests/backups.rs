//! Backups: `troupe store backup DIR` with and without a server holding the
//! data dir, and the server's scheduled backups (`[store]`).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::Troupe;

/// The user texts of `tester`'s conversation with the chef in data dir `dir`.
fn user_texts(troupe: &Troupe, dir: &std::path::Path) -> Vec<String> {
    let dir = dir.display().to_string();
    let run = troupe.run(&[
        "--data-dir",
        &dir,
        "history",
        "--user",
        "tester",
        "--persona",
        "chef",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_backup_made_without_a_server_opens_with_every_message() {
    let troupe = Troupe::new();
    for text in ["one", "two", "three"] {
        let run = troupe.run(&["--model", "offline", "chat", "chef", "--message", text]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let target = troupe.root.path().join("backup");
    let target_arg = target.display().to_string();
    let run = troupe.run(&["store", "backup", &target_arg, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json()["messages"],
        6,
        "three messages and three replies"
    );
    assert_eq!(user_texts(&troupe, &target), ["one", "two", "three"]);
    let verify = troupe.run(&["--data-dir", &target_arg, "store", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    // The data dir itself goes on as before.
    assert_eq!(
        user_texts(&troupe, &troupe.data_dir()),
        ["one", "two", "three"]
    );
}

#[test]
fn a_backup_made_while_a_server_holds_the_data_dir_goes_through_it() {
    let troupe = Troupe::new();
    let server = troupe.serve(&["--model", "offline"]);
    for text in ["served one", "served two"] {
        let answer = server.post(
            "/v1/conversations/tester/chef/messages",
            json!({ "text": text }),
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let target = troupe.root.path().join("live-backup");
    let run = troupe.run(&["store", "backup", &target.display().to_string()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("4 message(s)"), "{}", run.stdout);
    // The server still serves, and the backup holds what it had.
    let after = server.post(
        "/v1/conversations/tester/chef/messages",
        json!({ "text": "served three" }),
    );
    assert_eq!(after.status, 200, "{}", after.text);
    assert_eq!(user_texts(&troupe, &target), ["served one", "served two"]);
}

#[test]
fn a_backup_never_overwrites_a_directory_that_holds_something() {
    let troupe = Troupe::new();
    let run = troupe.run(&["--model", "offline", "chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let taken = troupe.root.path().join("taken");
    std::fs::create_dir_all(&taken).expect("a directory");
    std::fs::write(taken.join("notes.txt"), "mine").expect("a file in it");
    let run = troupe.run(&["store", "backup", &taken.display().to_string()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("not empty"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(taken.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn the_server_writes_scheduled_backups_and_keeps_only_the_newest() {
    let troupe = Troupe::new();
    troupe.write_config(
        "[store]\nbackup_dir = \"backups\"\nbackup_interval_secs = 1\nbackup_keep = 2\n",
    );
    let server = troupe.serve(&["--model", "offline"]);
    let answer = server.post(
        "/v1/conversations/tester/chef/messages",
        json!({ "text": "kept in every backup" }),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    let started = Instant::now();
    while server.stderr().matches("scheduled backup written").count() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "fewer than three backups: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    let backups = troupe.data_dir().join("backups");
    let mut kept: Vec<_> = std::fs::read_dir(&backups)
        .expect("the backups dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.to_string_lossy().ends_with(".partial"))
        .collect();
    kept.sort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let newest = kept.last().expect("a backup");
    assert_eq!(user_texts(&troupe, newest), ["kept in every backup"]);
}
