//! Several `troupe serve` processes on one PostgreSQL database (the real
//! binary, `TROUPE_DATABASE_URL` pointing at a test schema; skipped, saying
//! so, without `TROUPE_TEST_DATABASE_URL`): a user's turns land on either
//! server, in order, with nothing lost or doubled; a token minted on one
//! works on the other; a follow-up written by one server's scheduler
//! reaches the user's event stream open on the other, once; an erasure on
//! one is seen by the other; a webhook is sent by one server at a time,
//! each delivery once, and by another when that one stops.

use std::time::Duration;

use serde_json::json;

use crate::support::Troupe;
use crate::support::postgres::{TestSchema, database_url};
use crate::support::receiver::Receiver;

/// When both servers run: two days after [`Troupe::five_messages`].
const NOW: &str = "2026-11-04T10:00:00Z";

/// The operator's token, so end-user tokens mean something.
const OPERATOR: &str = "operator-secret-token";

/// A test schema, and a `troupe` whose commands and servers use it.
fn on_database(url: &str) -> (tokio::runtime::Runtime, TestSchema, Troupe) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let schema = runtime.block_on(TestSchema::create(url));
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_DATABASE_URL", &schema.process_url());
    (runtime, schema, troupe)
}

#[test]
fn two_servers_on_one_database_serve_the_same_users() {
    let Some(url) = database_url("servers_on_postgres::two_servers") else {
        return;
    };
    let (runtime, schema, mut troupe) = on_database(&url);
    troupe.env("TROUPE_OPERATOR_TOKEN", OPERATOR);
    troupe.five_messages("alice", &[]);
    let off = troupe.run(&["user", "set", "alice", "--followups", "off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    let (first, second) = (troupe.serve(&["--now", NOW]), troupe.serve(&["--now", NOW]));
    let (one, two) = (first.as_token(OPERATOR), second.as_token(OPERATOR));
    assert!(
        !troupe.data_dir().join("store").exists(),
        "no sled store in the data dir"
    );

    // Turns on either server, one conversation.
    let chat = "/v1/conversations/bob/chef/messages";
    for (i, server) in [&one, &two, &one, &two].into_iter().enumerate() {
        let sent = server.post(chat, json!({"text": format!("soup question {i}")}));
        assert_eq!(sent.status, 200, "{}", sent.text);
        assert_eq!(sent.json["reply"]["kind"], "persona", "{}", sent.text);
    }
    let history = one.get(chat);
    let texts: Vec<&str> = history.json["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "soup question 0",
            "soup question 1",
            "soup question 2",
            "soup question 3"
        ]
    );
    assert_eq!(
        two.get(chat).json,
        history.json,
        "both servers read the same"
    );

    // A token minted on one server acts for its user on the other.
    let minted = one.post("/v1/users/bob/tokens", json!({}));
    assert_eq!(minted.status, 201, "{}", minted.text);
    let token = minted.json["token"].as_str().expect("a token").to_string();
    let as_bob = second.as_token(&token);
    assert_eq!(as_bob.get(chat).status, 200);

    // Alice's stream is open on the second server; the first one's
    // scheduler is woken by her settings change and writes the follow-up.
    let events = two.open_events("/v1/users/alice/events");
    assert_eq!(events.status, 200);
    let on = one.request("PATCH", "/v1/users/alice", Some(json!({"followups": true})));
    assert_eq!(on.status, 200, "{}", on.text);
    let pushed = events
        .next_within(Duration::from_secs(30))
        .expect("the follow-up reaches the stream open on the other server");
    assert_eq!(pushed.event, "followup");
    assert_eq!(pushed.json()["persona"], "chef");
    assert!(
        events.next_within(Duration::from_millis(500)).is_none(),
        "pushed once"
    );
    for server in [&one, &two] {
        let run = server.post("/v1/followups/run", json!({}));
        assert_eq!(run.json["sent"], 0, "exactly once across both servers");
    }
    let delivered = runtime.block_on(schema.number("SELECT count(*) FROM followups"));
    assert_eq!(delivered, 1);

    // What only a data dir has is refused with a reason.
    let backup = one.post("/v1/store/backup", json!({"dir": "/tmp/troupe-backup-pg"}));
    assert_eq!(backup.status, 409, "{}", backup.text);
    assert!(backup.text.contains("pg_dump"), "{}", backup.text);

    // An erasure on one server is seen by the other.
    let erased = two.request("DELETE", "/v1/users/bob", None);
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert_eq!(one.get("/v1/users/bob").status, 404);
    assert_eq!(
        as_bob.get(chat).status,
        401,
        "the erased user's token is gone"
    );
    first.terminate();
    second.terminate();
    runtime.block_on(schema.drop_all());
}

#[test]
fn one_users_turns_sent_to_two_servers_at_once_are_all_kept_in_order() {
    let Some(url) = database_url("servers_on_postgres::turns_at_once") else {
        return;
    };
    let (runtime, schema, troupe) = on_database(&url);
    let servers = [troupe.serve(&[]), troupe.serve(&[])];
    let chat = "/v1/conversations/carol/chef/messages";
    std::thread::scope(|scope| {
        for (i, server) in servers.iter().enumerate() {
            scope.spawn(move || {
                for turn in 0..5 {
                    let text = format!("server {i}, turn {turn}: what about leeks?");
                    let sent = server.post(chat, json!({ "text": text }));
                    assert_eq!(sent.status, 200, "{}", sent.text);
                }
            });
        }
    });
    let history = servers[0].get(&format!("{chat}?limit=100"));
    let messages = history.json["messages"].as_array().expect("messages");
    let seqs: Vec<u64> = messages.iter().filter_map(|m| m["seq"].as_u64()).collect();
    assert_eq!(
        seqs,
        (0..20).collect::<Vec<u64>>(),
        "none lost, none doubled"
    );
    for server in 0..2 {
        let sent: Vec<&str> = messages
            .iter()
            .filter_map(|m| m["text"].as_str())
            .filter(|t| t.starts_with(&format!("server {server},")))
            .collect();
        let expected: Vec<String> = (0..5)
            .map(|turn| format!("server {server}, turn {turn}: what about leeks?"))
            .collect();
        assert_eq!(sent, expected, "each server's turns in the order sent");
    }
    for server in servers {
        server.terminate();
    }
    runtime.block_on(schema.drop_all());
}

#[test]
fn a_webhook_is_sent_once_by_one_server_and_by_another_when_that_one_stops() {
    let Some(url) = database_url("servers_on_postgres::a_webhook") else {
        return;
    };
    let (runtime, schema, mut troupe) = on_database(&url);
    let receiver = Receiver::start("whsec-pg-2b71c4");
    let config = troupe.root.path().join("troupe.toml");
    std::fs::write(
        &config,
        format!(
            "[server.webhooks.crm]\nurl = \"{}\"\nsecret_env = \"CRM_SECRET\"\nmax_backoff_secs = 1\n",
            receiver.url()
        ),
    )
    .expect("config written");
    troupe.env("TROUPE_CONFIG", config.to_str().expect("a UTF-8 path"));
    troupe.env("CRM_SECRET", "whsec-pg-2b71c4");
    troupe.five_messages("alice", &[]);
    troupe.five_messages("bob", &[]);
    let off = troupe.run(&["user", "set", "bob", "--followups", "off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    let servers = vec![troupe.serve(&["--now", NOW]), troupe.serve(&["--now", NOW])];

    // Alice's follow-up is written as the servers start, and sent once.
    let sent = receiver.wait_for_accepted(1, Duration::from_secs(30));
    assert_eq!(sent[0].body["user"], "alice");
    let turn = "this server sends the webhook's queue";
    let holders: Vec<usize> = (0..2)
        .filter(|&i| servers[i].stderr().contains(turn))
        .collect();
    assert_eq!(holders.len(), 1, "one server at a time sends the queue");

    // The server sending it stops; the other takes the turn and sends
    // bob's follow-up, which that other server writes.
    let mut servers = servers;
    let holder = servers.remove(holders[0]);
    holder.terminate();
    let other = servers.remove(0);
    let on = other.request("PATCH", "/v1/users/bob", Some(json!({"followups": true})));
    assert_eq!(on.status, 200, "{}", on.text);
    let sent = receiver.wait_for_accepted(2, Duration::from_secs(30));
    let users: Vec<&str> = sent
        .iter()
        .filter_map(|r| r.body["user"].as_str())
        .collect();
    assert_eq!(users, ["alice", "bob"]);
    assert!(
        other.stderr().contains(turn),
        "the other server took the turn"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while runtime.block_on(schema.number("SELECT count(*) FROM outbox")) > 0 {
        assert!(std::time::Instant::now() < deadline, "the outbox empties");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(receiver.requests().len(), 2, "no delivery sent twice");
    other.terminate();
    runtime.block_on(schema.drop_all());
}
