//! One data dir, many commands at once, no server: each command holds the
//! store only for its reads and writes, never while it waits for a person
//! (an idle console) or a model (a chat turn, a follow-up run).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::server::{Reply, TestServer};
use crate::support::{Troupe, finish};

/// Starts the console for `tester` with `persona` and waits for its
/// greeting, so it is open and idle at its prompt.
fn idle_console(
    troupe: &Troupe,
    persona: &str,
    greeting: &str,
) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut console = troupe
        .command(&["--model", "offline", "chat", persona])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the console");
    let mut stdout = BufReader::new(console.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains(greeting) {
        line.clear();
        assert_ne!(
            stdout.read_line(&mut line).expect("read the greeting"),
            0,
            "the console exited early"
        );
    }
    (console, stdout)
}

/// Waits until the model server is answering a request (or `limit` passes).
fn wait_for_model_call(server: &TestServer, limit: Duration) {
    let started = Instant::now();
    while server.max_in_flight() == 0 {
        assert!(started.elapsed() < limit, "the model was never called");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_idle_console_does_not_block_another_users_chat_or_history() {
    let troupe = Troupe::new();
    let (mut console, stdout) = idle_console(&troupe, "chef", "Chef Marco:");

    let started = Instant::now();
    let chat = troupe.run(&[
        "--model",
        "offline",
        "chat",
        "decor",
        "--user",
        "bob",
        "--message",
        "Which paint for a hallway?",
    ]);
    assert_eq!(chat.code, 0, "{}", chat.stderr);
    let history = troupe.history_of("bob", "decor");
    assert_eq!(history.len(), 2, "bob's message and its reply");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no waiting on the console: {:?}",
        started.elapsed()
    );

    // The console still works, and sees the data dir as it is now.
    let mut stdin = console.stdin.take().expect("stdin");
    stdin
        .write_all(b"I have leftover rice\n/quit\n")
        .expect("type into the console");
    drop(stdin);
    console.stdout = Some(stdout.into_inner());
    let run = finish(console.wait_with_output().expect("the console exits"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(troupe.history("chef").len(), 2);
}

#[test]
fn twenty_one_shot_chats_at_once_against_a_slow_model_all_succeed() {
    let server = TestServer::start_slow(
        vec![Reply::Text("A considered reply.")],
        Duration::from_millis(300),
    );
    let troupe = Troupe::with_server(&server.base_url);
    let users: Vec<String> = (0..20).map(|i| format!("user{i:02}")).collect();
    let children: Vec<Child> = users
        .iter()
        .map(|user| {
            troupe
                .command(&[
                    "chat",
                    "chef",
                    "--user",
                    user,
                    "--message",
                    "What goes with saffron?",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a chat")
        })
        .collect();
    for (user, child) in users.iter().zip(children) {
        let run = finish(child.wait_with_output().expect("a chat exits"));
        assert_eq!(run.code, 0, "{user}: {}", run.stderr);
        assert!(
            run.stdout.contains("A considered reply."),
            "{user}: {}",
            run.stdout
        );
    }
    for user in &users {
        assert_eq!(troupe.history_of(user, "chef").len(), 2, "{user}");
    }
    assert_eq!(server.received().len(), 20);
    assert!(
        server.max_in_flight() >= 2,
        "the model calls overlapped instead of queueing behind the store"
    );
}

#[test]
fn a_follow_up_run_waiting_on_a_slow_model_does_not_block_a_chat() {
    let server = TestServer::start_slow(
        vec![Reply::Text("Did the risotto work out?")],
        Duration::from_secs(3),
    );
    let troupe = Troupe::with_server(&server.base_url);
    troupe.five_messages("tester", &["--model", "offline"]);
    let now = "2026-11-03T12:00:00Z";
    let followups = troupe
        .command(&["--now", now, "followups", "run", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a follow-up run");
    wait_for_model_call(&server, Duration::from_secs(20));

    let started = Instant::now();
    let chat = troupe.run(&[
        "--now",
        now,
        "--model",
        "offline",
        "chat",
        "decor",
        "--user",
        "bob",
        "--message",
        "Hello!",
    ]);
    assert_eq!(chat.code, 0, "{}", chat.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the chat did not wait for the follow-up's model: {:?}",
        started.elapsed()
    );
    assert_eq!(troupe.history_of("bob", "decor").len(), 2);

    let run = finish(followups.wait_with_output().expect("the run exits"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent = run.json();
    assert_eq!(sent.as_array().map(Vec::len), Some(1), "{sent}");
    assert_eq!(sent[0]["text"], "Did the risotto work out?");
    let delivered = troupe
        .history("chef")
        .into_iter()
        .filter(|m| m["kind"] == "follow-up")
        .count();
    assert_eq!(delivered, 1, "delivered exactly once");
}

#[test]
fn two_follow_up_runs_at_once_do_not_both_deliver() {
    let server = TestServer::start_slow(
        vec![Reply::Text("Did the risotto work out?")],
        Duration::from_secs(2),
    );
    let troupe = Troupe::with_server(&server.base_url);
    for i in 0..5 {
        let now = format!("2026-11-02T10:{i}0:00Z");
        let text = format!("Risotto question number {i}");
        let run = troupe.run(&[
            "--now",
            &now,
            "--model",
            "offline",
            "chat",
            "chef",
            "--message",
            &text,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let now = "2026-11-03T12:00:00Z";
    let first = troupe
        .command(&["--now", now, "followups", "run", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a follow-up run");
    wait_for_model_call(&server, Duration::from_secs(20));
    let second = troupe.run(&["--now", now, "followups", "run", "--json"]);
    assert_eq!(second.code, 1);
    assert!(
        second.stderr.contains("another follow-up run"),
        "{}",
        second.stderr
    );
    let first = finish(first.wait_with_output().expect("the run exits"));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.json().as_array().map(Vec::len), Some(1));
    assert_eq!(server.received().len(), 1, "one model call, one follow-up");
}
