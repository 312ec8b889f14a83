//! Outgoing webhooks: the real `troupe serve` POSTing delivered follow-ups
//! to real receivers on 127.0.0.1 that check every signature, through
//! receivers that fail, stop, come back, and a server that restarts.
//!
//! Two users are due a follow-up from the chef: alice's goes out as the
//! server starts, bob's only when a test turns his follow-ups on. Each
//! webhook's queue is sent in order, so bob's arriving proves alice's is no
//! longer queued: "exactly once" is checked on signals, never on waiting.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Troupe;
use crate::support::receiver::{Received, Receiver};
use crate::support::serve::Served;

/// The server's clock: two days after the conversations.
const NOW: &str = "2026-11-04T10:00:00Z";

/// How long a delivery may take, retries included.
const WAIT: Duration = Duration::from_secs(30);

/// A data dir where alice and bob are due a follow-up (bob's switched off
/// for now), with each `(name, receiver)` configured as a webhook signing
/// with its own secret, retried at least every second.
fn troupe_with(webhooks: &[(&str, &Receiver)]) -> Troupe {
    let mut troupe = Troupe::new();
    let mut config = String::new();
    for (name, receiver) in webhooks {
        let var = secret_env(name);
        config.push_str(&format!(
            "[server.webhooks.{name}]\nurl = \"{}\"\nsecret_env = \"{var}\"\nmax_backoff_secs = 1\ntimeout_secs = 5\n",
            receiver.url()
        ));
        troupe.env(&var, &secret(name));
    }
    let path = troupe.root.path().join("troupe.toml");
    std::fs::write(&path, config).unwrap();
    troupe.env("TROUPE_CONFIG", path.to_str().unwrap());
    troupe.five_messages("alice", &[]);
    troupe.five_messages("bob", &[]);
    let off = troupe.run(&["user", "set", "bob", "--followups", "off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    troupe
}

fn secret_env(webhook: &str) -> String {
    format!("{}_HOOK_SECRET", webhook.to_uppercase())
}

fn secret(webhook: &str) -> String {
    format!("whsec-{webhook}-7f3a9c2e51")
}

/// Turns bob's follow-ups on: the scheduler delivers his at once.
fn release_bob(server: &Served) {
    let on = server.request("PATCH", "/v1/users/bob", Some(json!({"followups": true})));
    assert_eq!(on.status, 200, "{}", on.text);
}

/// Whose follow-ups the requests carried, in order.
fn users(requests: &[Received]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.body["user"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The follow-up stored in `user`'s conversation with the chef.
fn stored_followup(server: &Served, user: &str) -> Value {
    let history = server.get(&format!("/v1/conversations/{user}/chef/messages"));
    let last = history.json["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "follow-up", "{last}");
    last
}

/// The sum of the `/metrics` samples of `name` whose labels contain `label`.
fn metric(server: &Served, name: &str, label: &str) -> f64 {
    server
        .get("/metrics")
        .text
        .lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Reads `/metrics` until `name{label}` reaches `value` (counters are
/// updated just after the receiver answers, so the test may look first).
fn wait_for_metric(server: &Served, name: &str, label: &str, value: f64) {
    let deadline = Instant::now() + WAIT;
    while metric(server, name, label) < value {
        assert!(
            Instant::now() < deadline,
            "{name} {label} never reached {value}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_delivered_follow_up_is_posted_signed_with_who_said_what() {
    let crm = Receiver::start(&secret("crm"));
    let mut troupe = troupe_with(&[("crm", &crm)]);
    troupe.env("RUST_LOG", "troupe=debug");
    let server = troupe.serve(&["--now", NOW]);
    let hook = crm.wait_for_accepted(1, WAIT).remove(0);
    assert_eq!(hook.verified, Ok(()));
    assert_eq!(hook.event, "followup.delivered");
    assert_eq!(hook.content_type, "application/json");
    let body = &hook.body;
    assert_eq!(body["type"], "followup.delivered");
    assert_eq!(body["delivery"], hook.delivery.as_str());
    assert_eq!(body["user"], "alice");
    assert_eq!(body["persona"]["id"], "chef");
    assert_eq!(
        body["persona"]["name"],
        server.get("/v1/personas/chef").json["name"]
    );
    assert_eq!(body["created_at"], NOW);
    let stored = stored_followup(&server, "alice");
    assert_eq!(body["text"], stored["text"]);
    assert_eq!(body["model"], stored["model"]);
    assert_eq!(body["disclaimers"], stored["disclaimers"]);
    assert!(!body["disclaimers"].as_array().unwrap().is_empty());
    wait_for_metric(
        &server,
        "troupe_webhook_deliveries_total",
        "outcome=\"delivered\"",
        1.0,
    );
    let log = server.stderr();
    assert!(!log.contains(&secret("crm")), "the secret is never logged");
    assert!(!log.contains("sha256="), "nor the signature");
    assert!(
        !log.contains(&crm.url()),
        "nor the URL, which may hold a token"
    );
}

#[test]
fn a_webhook_that_is_failing_gets_the_follow_up_once_it_recovers_and_only_once() {
    let crm = Receiver::start(&secret("crm"));
    crm.answer_with(503);
    let troupe = troupe_with(&[("crm", &crm)]);
    let server = troupe.serve(&["--now", NOW]);
    crm.wait_for_requests(3, WAIT);
    crm.answer_with(200);
    let first = crm.wait_for_accepted(1, WAIT).remove(0);
    let attempts = crm.requests();
    assert!(
        attempts
            .iter()
            .all(|r| r.delivery == first.delivery && r.body == first.body),
        "every retry sends the same delivery: {attempts:#?}"
    );
    release_bob(&server);
    let accepted = crm.wait_for_accepted(2, WAIT);
    assert_eq!(users(&accepted), ["alice", "bob"]);
    wait_for_metric(
        &server,
        "troupe_webhook_deliveries_total",
        "outcome=\"failed\"",
        3.0,
    );
}

#[test]
fn a_follow_up_queued_while_the_webhook_is_down_is_sent_once_after_a_restart() {
    let crm = Receiver::start(&secret("crm"));
    crm.go_down();
    let troupe = troupe_with(&[("crm", &crm)]);
    let server = troupe.serve(&["--now", NOW]);
    crm.wait_for_cuts(2, WAIT);
    assert_eq!(server.terminate(), 0);
    let server = troupe.serve(&["--now", NOW]);
    crm.wait_for_cuts(3, WAIT);
    crm.answer_with(200);
    let accepted = crm.wait_for_accepted(1, WAIT);
    assert_eq!(users(&accepted), ["alice"]);
    assert_eq!(
        accepted[0].body["text"],
        stored_followup(&server, "alice")["text"]
    );
    release_bob(&server);
    crm.wait_for_accepted(2, WAIT);
    assert_eq!(
        users(&crm.requests()),
        ["alice", "bob"],
        "nothing sent twice"
    );
}

#[test]
fn with_two_webhooks_one_down_the_other_still_gets_the_follow_up() {
    let crm = Receiver::start(&secret("crm"));
    let audit = Receiver::start(&secret("audit"));
    audit.answer_with(500);
    let troupe = troupe_with(&[("crm", &crm), ("audit", &audit)]);
    let server = troupe.serve(&["--now", NOW]);
    let to_crm = crm.wait_for_accepted(1, WAIT).remove(0);
    assert_eq!(to_crm.verified, Ok(()), "signed with crm's own secret");
    audit.wait_for_requests(2, WAIT);
    assert!(audit.accepted().is_empty());
    audit.answer_with(200);
    let to_audit = audit.wait_for_accepted(1, WAIT).remove(0);
    assert_eq!(to_audit.verified, Ok(()), "signed with audit's own secret");
    assert_eq!(to_audit.body["text"], to_crm.body["text"]);
    assert_ne!(
        to_audit.delivery, to_crm.delivery,
        "each webhook has its own delivery id"
    );
    assert_eq!(
        users(&crm.requests()),
        ["alice"],
        "crm was not sent it again"
    );
    drop(server);
}

#[test]
fn a_user_s_pending_deliveries_are_exported_and_erased_with_them() {
    let crm = Receiver::start(&secret("crm"));
    crm.answer_with(500);
    let troupe = troupe_with(&[("crm", &crm)]);
    let server = troupe.serve(&["--now", NOW]);
    crm.wait_for_requests(1, WAIT);
    let export = server.get("/v1/users/alice/export").json;
    let pending = export["pending_webhooks"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{export}");
    assert_eq!(pending[0]["webhook"], "crm");
    assert_eq!(pending[0]["delivery"], crm.requests()[0].delivery.as_str());
    assert_eq!(
        pending[0]["payload"]["text"],
        stored_followup(&server, "alice")["text"]
    );
    let erased = server.request("DELETE", "/v1/users/alice", None);
    assert_eq!(erased.status, 200, "{}", erased.text);
    release_bob(&server);
    // In order: bob's entry is tried only once alice's is out of the queue.
    crm.wait_until(WAIT, "bob's follow-up", |requests| {
        users(requests).contains(&"bob".to_string())
    });
    crm.answer_with(200);
    let accepted = crm.wait_for_accepted(1, WAIT);
    assert_eq!(users(&accepted), ["bob"], "alice's entry went with her");
}

#[test]
fn a_follow_up_delivered_by_the_command_line_is_posted_when_the_server_starts() {
    let crm = Receiver::start(&secret("crm"));
    let troupe = troupe_with(&[("crm", &crm)]);
    let run = troupe.run(&["--now", NOW, "followups", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(crm.requests().is_empty(), "only the server sends webhooks");
    let _server = troupe.serve(&[]);
    let accepted = crm.wait_for_accepted(1, WAIT);
    assert_eq!(users(&accepted), ["alice"]);
}

#[test]
fn a_missing_webhook_secret_stops_the_server_naming_the_variable() {
    let crm = Receiver::start(&secret("crm"));
    let mut troupe = Troupe::new();
    let path = troupe.root.path().join("troupe.toml");
    std::fs::write(
        &path,
        format!(
            "[server.webhooks.crm]\nurl = \"{}\"\nsecret_env = \"CRM_HOOK_SECRET\"\n",
            crm.url()
        ),
    )
    .unwrap();
    troupe.env("TROUPE_CONFIG", path.to_str().unwrap());
    let unset = troupe.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(unset.code, 2, "{}", unset.stderr);
    assert!(unset.stderr.contains("CRM_HOOK_SECRET"), "{}", unset.stderr);
    assert!(unset.stderr.contains("\"crm\""), "{}", unset.stderr);
    troupe.env("CRM_HOOK_SECRET", "  \n");
    let blank = troupe.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(blank.code, 2, "{}", blank.stderr);
    assert!(blank.stderr.contains("CRM_HOOK_SECRET"), "{}", blank.stderr);
}
