//! Request and reply shapes that real OpenAI-compatible servers differ on,
//! against the test server: `stream_options`, `max_tokens` versus
//! `max_completion_tokens`, a reply without `usage`, and empty
//! `finish_reason`s.

use serde_json::Value;

use crate::support::Troupe;
use crate::support::server::{Reply, TestServer};

/// A troupe whose only backend is the test server, with `extra` keys.
fn backend(server: &TestServer, extra: &str) -> Troupe {
    let troupe = Troupe::new();
    troupe.write_config(&format!(
        "[models.main]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"m\"\nmax_retries = 0\n{extra}\n",
        server.base_url
    ));
    troupe
}

/// The `usage --json` line of the chef.
fn chef_usage(troupe: &Troupe) -> Value {
    let usage = troupe.run(&["usage", "--json"]).json();
    usage[0].clone()
}

#[test]
fn streamed_requests_ask_for_token_counts_unless_the_backend_says_not_to() {
    let server = TestServer::start(vec![Reply::Text("Ciao!")]);
    let asking = backend(&server, "");
    assert_eq!(asking.run(&["chat", "chef", "--message", "hi"]).code, 0);
    assert_eq!(server.last().body["stream"], true);
    assert_eq!(
        server.last().body["stream_options"],
        serde_json::json!({"include_usage": true})
    );
    assert_eq!(
        asking
            .run(&["chat", "chef", "--message", "hi", "--json"])
            .code,
        0
    );
    assert_eq!(server.last().body["stream"], false);
    assert!(
        server.last().body.get("stream_options").is_none(),
        "stream_options is for streams only: {}",
        server.last().body
    );

    let quiet = backend(&server, "stream_usage = false");
    assert_eq!(quiet.run(&["chat", "chef", "--message", "hi"]).code, 0);
    assert_eq!(server.last().body["stream"], true);
    assert!(
        server.last().body.get("stream_options").is_none(),
        "{}",
        server.last().body
    );
}

#[test]
fn a_server_refusing_stream_options_is_asked_again_without_them_and_not_sent_them_again() {
    let server = TestServer::start(vec![
        Reply::Status(
            400,
            r#"{"error":{"message":"Unrecognized request argument supplied: stream_options"}}"#,
        ),
        Reply::Text("First answer."),
        Reply::Text("Second answer."),
    ]);
    let troupe = backend(&server, "");
    let run = troupe.run_with_input(&["chat", "chef"], b"one\ntwo\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("First answer."), "{}", run.stdout);
    assert!(run.stdout.contains("Second answer."), "{}", run.stdout);
    let sent: Vec<bool> = server
        .received()
        .iter()
        .map(|r| r.body.get("stream_options").is_some())
        .collect();
    assert_eq!(
        sent,
        [true, false, false],
        "refused once, asked again without them, then never sent for the rest of the process"
    );
}

#[test]
fn a_400_that_does_not_name_stream_options_is_not_asked_again() {
    let server = TestServer::start(vec![
        Reply::Status(400, r#"{"error":{"message":"model 'm' not found"}}"#),
        Reply::Text("never"),
    ]);
    let troupe = backend(&server, "");
    let run = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("model 'm' not found"), "{}", run.stderr);
    assert_eq!(server.received().len(), 1);
}

#[test]
fn the_reply_limit_travels_in_the_field_the_backend_names() {
    let server = TestServer::start(vec![Reply::Text("Ciao!")]);
    let default = backend(&server, "max_tokens = 300");
    assert_eq!(default.run(&["chat", "chef", "--message", "hi"]).code, 0);
    let body = server.last().body;
    assert_eq!(body["max_tokens"], 500, "the chef's own limit: {body}");
    assert!(body.get("max_completion_tokens").is_none(), "{body}");

    let newer = backend(
        &server,
        "max_tokens = 300\nmax_tokens_field = \"max_completion_tokens\"",
    );
    assert_eq!(newer.run(&["chat", "chef", "--message", "hi"]).code, 0);
    let body = server.last().body;
    assert_eq!(body["max_completion_tokens"], 500, "{body}");
    assert!(body.get("max_tokens").is_none(), "{body}");

    let typo = backend(&server, "max_tokens_field = \"max_tokenz\"");
    let run = typo.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "troupe.toml:6:20: \"models.main.max_tokens_field\" is \"max_tokenz\"; use \"max_tokens\" or \"max_completion_tokens\""
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_reply_without_usage_is_kept_and_counted_as_a_call_without_tokens() {
    let server = TestServer::start(vec![
        Reply::Sse(vec![
            r#"{"choices":[{"index":0,"delta":{"content":"No counts "},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"here."},"finish_reason":"stop"}],"usage":null}"#,
        ]),
        Reply::Status(
            200,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Nor here."},"finish_reason":"stop"}]}"#,
        ),
    ]);
    let troupe = backend(&server, "");
    let streamed = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(streamed.code, 0, "{}", streamed.stderr);
    assert_eq!(streamed.stdout.trim(), "No counts here.");
    let whole = troupe.run(&["chat", "chef", "--message", "again", "--json"]);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    assert_eq!(whole.json()["reply"]["text"], "Nor here.");
    let usage = chef_usage(&troupe);
    assert_eq!(usage["calls"], 2, "{usage}");
    assert_eq!(usage["total_tokens"], 0, "{usage}");
    assert_eq!(usage["failed"], 0, "{usage}");
    let history = troupe.history("chef");
    assert_eq!(history.len(), 4);
    assert!(history[1].get("interrupted").is_none(), "{:?}", history[1]);
}

#[test]
fn empty_finish_reasons_are_no_ending_and_a_stream_without_a_real_one_is_interrupted() {
    let server = TestServer::start(vec![
        Reply::Sse(vec![
            r#"{"choices":[{"index":0,"delta":{"content":"Empty "},"finish_reason":""}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"reasons."},"finish_reason":""}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        ]),
        Reply::Status(
            200,
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Whole."},"finish_reason":""}]}"#,
        ),
        Reply::Sse(vec![
            r#"{"choices":[{"index":0,"delta":{"content":"Never "},"finish_reason":""}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"finished"},"finish_reason":""}]}"#,
        ]),
    ]);
    let troupe = backend(&server, "");
    let streamed = troupe.run(&["chat", "chef", "--message", "one"]);
    assert_eq!(streamed.code, 0, "{}", streamed.stderr);
    assert_eq!(streamed.stdout.trim(), "Empty reasons.");
    let whole = troupe.run(&["chat", "chef", "--message", "two", "--json"]);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    assert_eq!(whole.json()["reply"]["text"], "Whole.");
    let broken = troupe.run(&["chat", "chef", "--message", "three"]);
    assert_eq!(broken.code, 1, "{}", broken.stdout);
    let history = troupe.history("chef");
    assert_eq!(history.len(), 6);
    assert!(history[1].get("interrupted").is_none(), "{:?}", history[1]);
    assert!(history[3].get("interrupted").is_none(), "{:?}", history[3]);
    assert_eq!(history[5]["text"], "Never finished");
    assert_eq!(history[5]["interrupted"], true, "{:?}", history[5]);
}
