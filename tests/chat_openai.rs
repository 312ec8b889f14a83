//! Chat against an OpenAI-compatible server through the real async-openai path.

use crate::support::server::{Reply, TestServer, closed_port_url};
use crate::support::{TEST_KEY, Troupe};

#[test]
fn streamed_reply_reaches_the_user_and_the_server_gets_persona_history_and_literal_text() {
    let server = TestServer::start(vec![
        Reply::Text("Make a frittata with the eggs."),
        Reply::Text("Forty-nine, but let's cook instead."),
    ]);
    let troupe = Troupe::with_server(&server.base_url);

    let first = troupe.run(&[
        "chat",
        "chef",
        "--message",
        "I have three eggs and some spinach",
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.stdout.trim(), "Make a frittata with the eggs.");
    assert!(
        first
            .stderr
            .contains("You are chatting with Chef Marco, an AI"),
        "{}",
        first.stderr
    );

    let second = troupe.run(&["chat", "chef", "--message", "What is {{ 7 * 7 }}?"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.stdout.trim(), "Forty-nine, but let's cook instead.");

    let request = server.last();
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TEST_KEY}").as_str())
    );
    let messages = request.messages();
    assert_eq!(messages[0].0, "system");
    assert!(
        messages[0].1.starts_with("You are Chef Marco."),
        "{}",
        messages[0].1
    );
    assert!(messages[0].1.contains("trattoria near Bologna"));
    let turns: Vec<_> = messages[1..]
        .iter()
        .map(|(r, c)| (r.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        turns,
        [
            ("user", "I have three eggs and some spinach"),
            ("assistant", "Make a frittata with the eggs."),
            ("user", "What is {{ 7 * 7 }}?"),
        ]
    );
}

#[test]
fn json_mode_uses_a_plain_completion_and_prints_the_reply_fields() {
    let server = TestServer::start(vec![Reply::Text("Bonjour ! Parlons de votre salon.")]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&[
        "chat",
        "decor",
        "--user",
        "lea",
        "--message",
        "Salut",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["persona"], "decor");
    assert_eq!(out["user"], "lea");
    assert_eq!(out["reply"]["text"], "Bonjour ! Parlons de votre salon.");
    assert_eq!(out["reply"]["model"], "test-model");
    assert_eq!(server.last().body["stream"], false);
    assert!(
        server.last().messages()[0]
            .1
            .contains("Always answer in French")
    );
}

#[test]
fn chunks_in_the_shapes_local_servers_send_are_accepted() {
    // No id, no created, empty finish_reason, usage null: what Ollama,
    // vLLM and llama.cpp really send.
    let server = TestServer::start(vec![Reply::Sse(vec![
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":""}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"Risotto "},"finish_reason":""}],"usage":null}"#,
        r#"{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"tonight!"},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    ])]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&["chat", "chef", "--message", "dinner idea?"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "Risotto tonight!");
    let history = troupe.history("chef");
    assert_eq!(history[1]["text"], "Risotto tonight!");
    assert_eq!(history[1]["model"], "test-model");
}

#[test]
fn a_refused_key_gets_one_clear_line_naming_the_env_var_and_the_message_is_kept() {
    let server = TestServer::start(vec![Reply::Status(
        401,
        r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#,
    )]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&["chat", "chef", "--message", "keep this message"]);
    assert_ne!(run.code, 0);
    let error_lines: Vec<_> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("troupe:"))
        .collect();
    assert_eq!(error_lines.len(), 1, "{}", run.stderr);
    assert!(
        error_lines[0].contains("the API key in OPENAI_API_KEY was refused"),
        "{}",
        run.stderr
    );
    assert!(error_lines[0].contains("Your message was saved"));
    assert!(
        !run.stderr.contains(TEST_KEY) && !run.stdout.contains(TEST_KEY),
        "the key leaked"
    );
    assert_eq!(server.received().len(), 1, "a 401 is not retried");
    let history = troupe.history("chef");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["role"], "user");
    assert_eq!(history[0]["text"], "keep this message");
}

#[test]
fn a_failing_server_keeps_the_message_and_stores_no_reply() {
    let server = TestServer::start(vec![Reply::Status(
        500,
        "<html>Internal Server Error</html>",
    )]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&["chat", "chef", "--message", "are you there?"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("failed (HTTP 500"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
    let history = troupe.history("chef");
    assert_eq!(history.len(), 1, "only the user's message is stored");
    assert_eq!(history[0]["text"], "are you there?");
}

#[test]
fn an_unreachable_server_is_reported_in_plain_words() {
    let troupe = Troupe::with_server(&closed_port_url());
    let run = troupe.run(&["chat", "chef", "--message", "hello?", "--json"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("could not be reached"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "no JSON reply on failure: {}",
        run.stdout
    );
    assert_eq!(troupe.history("chef").len(), 1);
}

#[test]
fn a_stream_cut_midway_is_kept_only_as_an_interrupted_reply() {
    let server = TestServer::start(vec![Reply::SseCut(vec![
        r#"{"choices":[{"index":0,"delta":{"content":"First, boil the "},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"water and"},"finish_reason":null}]}"#,
    ])]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&["chat", "chef", "--message", "pasta please"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stdout.contains("First, boil the water and"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("broke off"), "{}", run.stderr);
    let history = troupe.history("chef");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["text"], "First, boil the water and");
    assert_eq!(history[1]["interrupted"], true);

    // The broken reply is not sent back to the model as if it were complete.
    let next = TestServer::start(vec![Reply::Text("Sorry, where were we?")]);
    let mut again = Troupe::with_server(&next.base_url);
    again.root = troupe.root;
    assert_eq!(again.run(&["chat", "chef", "--message", "go on"]).code, 0);
    let roles: Vec<_> = next.last().messages().into_iter().map(|(r, _)| r).collect();
    assert_eq!(roles, ["system", "user", "user"]);
}

#[test]
fn a_reply_cut_by_the_length_limit_is_marked_as_such() {
    let server = TestServer::start(vec![Reply::Sse(vec![
        r#"{"choices":[{"index":0,"delta":{"content":"Step one: chop the"},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
    ])]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&["chat", "chef", "--message", "full recipe please"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reply = troupe.history("chef").pop().unwrap_or_default();
    assert_eq!(reply["truncated"], true);
    assert!(reply.get("interrupted").is_none());
}

#[test]
fn a_reply_that_breaks_off_still_gets_its_disclaimers() {
    let server = TestServer::start(vec![Reply::SseCut(vec![
        r#"{"choices":[{"index":0,"delta":{"content":"Skip the nuts and "},"finish_reason":null}]}"#,
    ])]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&[
        "chat",
        "chef",
        "--message",
        "My doctor says I have a nut allergy, what pasta can I make?",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stdout.contains("Skip the nuts and")
            && run
                .stdout
                .contains("not a substitute for professional medical advice"),
        "{}",
        run.stdout
    );
    let reply = troupe.history("chef").pop().unwrap_or_default();
    assert_eq!(reply["interrupted"], true);
    assert!(
        reply["disclaimers"]
            .as_array()
            .is_some_and(|d| !d.is_empty()),
        "{reply}"
    );
}
