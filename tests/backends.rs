//! Model backends over real HTTP with fault injection: both API dialects,
//! retries, timeouts, fallback, detection and usage.

use std::time::{Duration, Instant};

use crate::support::Troupe;
use crate::support::server::{Reply, TestServer, closed_port_url};

/// A troupe whose `troupe.toml` holds `config`.
fn configured(config: &str) -> Troupe {
    let troupe = Troupe::new();
    troupe.write_config(config);
    troupe
}

fn openai_backend(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[models.{name}]\nprovider = \"openai\"\nbase_url = \"{url}\"\nmodel = \"{name}-model\"\n{extra}\n"
    )
}

#[test]
fn anthropic_replies_stream_and_arrive_whole_with_the_right_headers() {
    let server = TestServer::start(vec![Reply::Anthropic("Buongiorno! Let's cook.")]);
    let anthropic_url = server.base_url.trim_end_matches("/v1").to_string();
    let mut troupe = configured(&format!(
        "[models.claude]\nprovider = \"anthropic\"\nbase_url = \"{anthropic_url}\"\nmodel = \"claude-test\"\napi_key_env = \"TEST_ANTHROPIC_KEY\"\nmax_tokens = 300\n"
    ));
    troupe.env("TEST_ANTHROPIC_KEY", "ant-secret-key");

    let streamed = troupe.run(&["chat", "chef", "--message", "Ciao Marco"]);
    assert_eq!(streamed.code, 0, "{}", streamed.stderr);
    assert_eq!(streamed.stdout.trim(), "Buongiorno! Let's cook.");
    let request = server.last();
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some("ant-secret-key"));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.body["stream"], true);
    assert_eq!(
        request.body["max_tokens"], 500,
        "the persona's own limit wins over the backend's"
    );
    assert_eq!(request.body["model"], "claude-test");
    assert!(
        request.body["system"]
            .as_str()
            .unwrap_or_default()
            .starts_with("You are Chef Marco.")
    );
    assert_eq!(
        request.messages(),
        [("user".to_string(), "Ciao Marco".to_string())]
    );

    let whole = troupe.run(&["chat", "chef", "--message", "And dessert?", "--json"]);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    assert_eq!(whole.json()["reply"]["text"], "Buongiorno! Let's cook.");
    assert_eq!(whole.json()["reply"]["model"], "claude-test");
    let roles: Vec<String> = server
        .last()
        .messages()
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(server.last().body["stream"], false);
}

#[test]
fn a_429_is_retried_after_the_servers_retry_after() {
    let server = TestServer::start(vec![
        Reply::WithHeaders(
            429,
            vec![("retry-after", "1")],
            r#"{"error":{"message":"slow down"}}"#,
        ),
        Reply::Text("Patience pays."),
    ]);
    let troupe = Troupe::with_server(&server.base_url);
    let started = Instant::now();
    let run = troupe.run(&["chat", "chef", "--message", "hello"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(run.stdout.trim(), "Patience pays.");
    assert_eq!(server.received().len(), 2);
}

#[test]
fn a_server_failing_forever_is_tried_a_bounded_number_of_times() {
    let server = TestServer::start(vec![Reply::Status(
        503,
        r#"{"error":{"message":"overloaded"}}"#,
    )]);
    let troupe = configured(&openai_backend("main", &server.base_url, "max_retries = 2"));
    let run = troupe.run(&["chat", "chef", "--message", "anyone?"]);
    assert_eq!(run.code, 1);
    assert_eq!(server.received().len(), 3, "one try and two retries");
    let errors: Vec<_> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("troupe:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0].contains("failed (HTTP 503: overloaded)"),
        "{}",
        run.stderr
    );
    let history = troupe.history("chef");
    assert_eq!(history.len(), 1, "the message is kept, no reply is stored");
}

#[test]
fn no_retry_starts_once_the_retry_budget_would_be_spent() {
    let server = TestServer::start(vec![
        Reply::WithHeaders(
            429,
            vec![("retry-after", "2")],
            r#"{"error":{"message":"slow down"}}"#,
        ),
        Reply::Text("too late"),
    ]);
    let troupe = configured(&openai_backend(
        "main",
        &server.base_url,
        "max_retries = 3\nretry_budget_secs = 1",
    ));
    let run = troupe.run(&["chat", "chef", "--message", "hello"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("slow down"), "{}", run.stderr);
    assert_eq!(
        server.received().len(),
        1,
        "a retry after 2 s would end past the 1 s budget, so none starts"
    );
}

#[test]
fn a_first_token_timeout_is_retried() {
    let server = TestServer::start(vec![
        Reply::Slow(Duration::from_secs(3), Box::new(Reply::Text("late"))),
        Reply::Text("On time now."),
    ]);
    let troupe = configured(&openai_backend(
        "main",
        &server.base_url,
        "first_token_timeout_secs = 1\nmax_retries = 1",
    ));
    let run = troupe.run(&["chat", "chef", "--message", "quick?"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "On time now.");
    assert_eq!(
        server.received().len(),
        2,
        "the timed-out try and its retry"
    );
}

#[test]
fn a_refused_connection_is_retried_up_to_max_retries() {
    let troupe = configured(&openai_backend(
        "main",
        &closed_port_url(),
        "max_retries = 2",
    ));
    let run = troupe.run(&["-v", "chat", "chef", "--message", "anyone there?"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let retries: Vec<_> = run
        .stderr
        .lines()
        .filter(|l| l.contains("retrying"))
        .collect();
    assert_eq!(retries.len(), 2, "{}", run.stderr);
    assert!(
        retries.iter().all(|l| l.contains("127.0.0.1")),
        "each retry names the server it could not reach: {}",
        run.stderr
    );
    assert_eq!(troupe.history("chef").len(), 1, "the message is kept");
}

#[test]
fn a_stream_cut_before_the_first_token_is_retried_from_scratch() {
    let server = TestServer::start(vec![
        Reply::SseCut(vec![]),
        Reply::Text("Here is the whole reply."),
    ]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&["chat", "chef", "--message", "tell me"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "Here is the whole reply.");
    assert_eq!(server.received().len(), 2);
    let history = troupe.history("chef");
    assert_eq!(history.len(), 2);
    assert!(history[1].get("interrupted").is_none());
}

#[test]
fn bodies_that_are_not_the_protocol_become_clear_errors() {
    for garbage in [
        "<html><body>Bad Gateway</body></html>",
        r#"{"choices":[{"message":{"content":"hal"#,
        r#"{"choices":[]}"#,
    ] {
        let server = TestServer::start(vec![Reply::Status(200, garbage)]);
        let troupe = Troupe::with_server(&server.base_url);
        let run = troupe.run(&["chat", "chef", "--message", "hi", "--json"]);
        assert_eq!(run.code, 1, "{garbage}");
        assert!(
            run.stderr.contains("sent a reply Troupe cannot read"),
            "{garbage}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"));
        assert_eq!(
            server.received().len(),
            1,
            "a protocol error is not retried"
        );
    }
}

#[test]
fn a_slow_first_token_times_out_without_cutting_long_replies() {
    let server = TestServer::start(vec![Reply::Slow(
        Duration::from_secs(3),
        Box::new(Reply::Text("late")),
    )]);
    let troupe = configured(&openai_backend(
        "main",
        &server.base_url,
        "first_token_timeout_secs = 1\nmax_retries = 0",
    ));
    let started = Instant::now();
    let run = troupe.run(&["chat", "chef", "--message", "quick?"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no first token within 1 s"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(troupe.history("chef").len(), 1);
}

#[test]
fn a_failing_backend_falls_back_and_the_reply_names_the_model_that_answered() {
    let broken = TestServer::start(vec![Reply::Status(500, "down")]);
    let backup = TestServer::start(vec![Reply::Text("Backup here, still cooking.")]);
    let troupe = configured(&format!(
        "default_model = \"main\"\n{}{}",
        openai_backend(
            "main",
            &broken.base_url,
            "max_retries = 0\nfallback = [\"backup\"]"
        ),
        openai_backend("backup", &backup.base_url, "")
    ));
    let run = troupe.run(&["chat", "chef", "--message", "dinner?", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["reply"]["model"], "backup-model");
    assert_eq!(broken.received().len(), 1);
    let history = troupe.history("chef");
    assert_eq!(history[1]["model"], "backup-model");
    let streamed = troupe.run(&["chat", "chef", "--message", "and now?"]);
    assert_eq!(streamed.stdout.trim(), "Backup here, still cooking.");
}

#[test]
fn a_local_ollama_is_found_when_nothing_is_configured() {
    let server = TestServer::start(vec![
        Reply::Status(
            200,
            r#"{"models":[{"name":"qwen2.5:0.5b","model":"qwen2.5:0.5b"}]}"#,
        ),
        Reply::Text("Hello from a local model."),
    ]);
    let host = server
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches("/v1")
        .to_string();
    let mut troupe = Troupe::new();
    troupe.env("OLLAMA_HOST", &host);
    let run = troupe.run(&["chat", "chef", "--message", "hi there", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["reply"]["model"], "qwen2.5:0.5b");
    assert_eq!(server.received()[0].path, "/api/tags");
    assert_eq!(server.last().path, "/v1/chat/completions");
    let list = troupe.run(&["models", "list", "--json"]).json();
    assert_eq!(list["default"], "ollama");
    assert!(
        list["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("Ollama server answers")
    );
}

#[test]
fn models_list_says_which_backend_is_used_and_why() {
    let mut troupe = Troupe::new();
    let offline = troupe.run(&["models", "list", "--json"]).json();
    assert_eq!(offline["default"], "offline");
    troupe.env("ANTHROPIC_API_KEY", "ant-key-not-printed");
    let run = troupe.run(&["models", "list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("default: env (ANTHROPIC_API_KEY is set"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("anthropic") && run.stdout.contains("key in ANTHROPIC_API_KEY"));
    assert!(!run.stdout.contains("ant-key-not-printed"));
}

#[test]
fn models_check_reports_latency_or_the_error_in_plain_words() {
    let server = TestServer::start(vec![Reply::Text("OK")]);
    let troupe = configured(&format!(
        "{}{}",
        openai_backend("good", &server.base_url, ""),
        openai_backend("gone", &closed_port_url(), "")
    ));
    let run = troupe.run(&["models", "check", "--json"]);
    assert_eq!(run.code, 1, "one backend is down");
    let results = run.json();
    let by_name = |name: &str| {
        results
            .as_array()
            .and_then(|r| r.iter().find(|x| x["name"] == name).cloned())
            .unwrap_or_default()
    };
    assert_eq!(by_name("good")["ok"], true);
    assert_eq!(by_name("good")["reply"], "OK");
    assert_eq!(by_name("gone")["ok"], false);
    assert!(
        by_name("gone")["error"]
            .as_str()
            .unwrap_or_default()
            .contains("could not be reached")
    );
    assert_eq!(troupe.run(&["models", "check", "good"]).code, 0);
}

#[test]
fn usage_sums_tokens_and_calls_per_persona_and_model() {
    let server = TestServer::start(vec![
        Reply::Text("Sure."),
        Reply::Text("Sure."),
        Reply::Text("Sure."),
        Reply::Status(400, r#"{"error":{"message":"bad request"}}"#),
        Reply::SseCut(vec![
            r#"{"choices":[{"index":0,"delta":{"content":"First, "},"finish_reason":null}]}"#,
        ]),
    ]);
    let troupe = Troupe::with_server(&server.base_url);
    for (persona, text, ok) in [
        ("chef", "one", true),
        ("chef", "two", true),
        ("decor", "trois", true),
        ("chef", "refused", false),
        ("chef", "cut off", false),
    ] {
        let run = troupe.run(&[
            "--now",
            "2026-11-10T10:00:00Z",
            "chat",
            persona,
            "--message",
            text,
        ]);
        assert_eq!(run.code == 0, ok, "{text}: {}", run.stderr);
    }
    let usage = troupe.run(&["usage", "--json"]).json();
    let chef = usage
        .as_array()
        .and_then(|u| u.iter().find(|l| l["persona"] == "chef").cloned())
        .unwrap_or_default();
    assert_eq!(chef["model"], "test-model");
    assert_eq!(chef["calls"], 4, "failed and interrupted calls count too");
    assert_eq!(chef["failed"], 1);
    assert_eq!(chef["interrupted"], 1);
    assert_eq!(chef["prompt_tokens"], 84);
    assert_eq!(chef["completion_tokens"], 14);
    let table = troupe.run(&["usage"]);
    assert!(table.stdout.contains("interrupted"), "{}", table.stdout);
    assert_eq!(usage.as_array().map(Vec::len), Some(2));
    let later = troupe
        .run(&["usage", "--since", "2026-11-11", "--json"])
        .json();
    assert_eq!(later, serde_json::json!([]));
    let bad = troupe.run(&["usage", "--since", "last week"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn a_missing_key_is_named_as_missing() {
    let server = TestServer::start(vec![Reply::Status(
        401,
        r#"{"error":{"message":"no key"}}"#,
    )]);
    let mut troupe = Troupe::new();
    troupe.env("OPENAI_BASE_URL", &server.base_url);
    let run = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("OPENAI_API_KEY is not set; set OPENAI_API_KEY to your API key"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_page_that_is_not_a_stream_is_a_clear_error_in_both_dialects() {
    let server = TestServer::start(vec![Reply::Status(
        200,
        "<html><body>Login required</body></html>",
    )]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("cannot read (a stream was asked for, but the reply is text/html)"),
        "{}",
        run.stderr
    );
    assert_eq!(server.received().len(), 1, "not retried");

    let anthropic = TestServer::start(vec![Reply::Status(200, "<html>proxy</html>")]);
    let url = anthropic.base_url.trim_end_matches("/v1").to_string();
    let troupe = configured(&format!(
        "[models.claude]\nprovider = \"anthropic\"\nbase_url = \"{url}\"\n"
    ));
    let run = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
    assert_eq!(anthropic.received().len(), 1);
}

#[test]
fn an_empty_streamed_reply_falls_back_like_a_failure() {
    let empty = TestServer::start(vec![Reply::Sse(vec![
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    ])]);
    let backup = TestServer::start(vec![Reply::Text("Backup has words.")]);
    let troupe = configured(&format!(
        "default_model = \"main\"\n{}{}",
        openai_backend(
            "main",
            &empty.base_url,
            "max_retries = 0\nfallback = [\"backup\"]"
        ),
        openai_backend("backup", &backup.base_url, "")
    ));
    let run = troupe.run(&["chat", "chef", "--message", "hello"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "Backup has words.");
}

#[test]
fn several_backends_without_a_default_are_reported_not_guessed() {
    let troupe = configured(&format!(
        "{}{}",
        openai_backend("a", &closed_port_url(), ""),
        openai_backend("b", &closed_port_url(), "")
    ));
    let run = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("several model backends (a, b) but no default_model"),
        "{}",
        run.stderr
    );
    let list = troupe.run(&["models", "list", "--json"]).json();
    assert_eq!(list["default"], "(none)");
    assert_eq!(list["backends"].as_array().map(Vec::len), Some(2));
}

#[test]
fn keys_are_trimmed_refused_when_malformed_and_never_sent_elsewhere() {
    let server = TestServer::start(vec![Reply::Text("ok")]);
    let mut troupe = Troupe::new();
    troupe
        .env("OPENAI_BASE_URL", &server.base_url)
        .env("OPENAI_API_KEY", "sk-from-dotenv\r\n");
    let run = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        server.last().header("authorization"),
        Some("Bearer sk-from-dotenv")
    );

    let mut bad = Troupe::new();
    bad.env("OPENAI_BASE_URL", &server.base_url)
        .env("OPENAI_API_KEY", "sk one two");
    let run = bad.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("the value of OPENAI_API_KEY cannot be sent as an API key"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("sk one two"));

    let other = TestServer::start(vec![Reply::Text("ok")]);
    let mut groq = configured(&openai_backend(
        "groq",
        &other.base_url,
        "api_key_env = \"GROQ_KEY\"",
    ));
    groq.env("GROQ_KEY", "gsk-secret")
        .env("OPENAI_BASE_URL", &server.base_url);
    let before = server.received().len();
    assert_eq!(groq.run(&["chat", "chef", "--message", "hi"]).code, 0);
    assert_eq!(
        server.received().len(),
        before,
        "OPENAI_BASE_URL does not redirect a backend with its own key"
    );
    assert_eq!(
        other.last().header("authorization"),
        Some("Bearer gsk-secret")
    );
}

#[test]
fn json_replies_carry_the_ai_notice_when_it_is_due() {
    let troupe = Troupe::new();
    let run = troupe.run(&["chat", "creator", "--message", "hi", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.json()["notice"]
            .as_str()
            .unwrap_or_default()
            .contains("It is an AI, not Jade"),
        "{}",
        run.stdout
    );
    let again = troupe.run(&["chat", "creator", "--message", "and?", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.json()["notice"],
        serde_json::Value::Null,
        "the notice opens a session, it is not repeated at every message"
    );
}

#[test]
fn a_personas_model_name_goes_to_its_own_backend_only() {
    let main = TestServer::start(vec![
        Reply::Text("Proof the dough overnight."),
        Reply::Status(500, "down"),
    ]);
    let other = TestServer::start(vec![Reply::Text("Other backend here.")]);
    let backup = TestServer::start(vec![Reply::Text("Backup here.")]);
    let troupe = configured(&format!(
        "default_model = \"other\"\n{}{}{}",
        openai_backend(
            "main",
            &main.base_url,
            "max_retries = 0\nfallback = [\"backup\"]"
        ),
        openai_backend("other", &other.base_url, ""),
        openai_backend("backup", &backup.base_url, "")
    ));
    let dir = troupe.work_dir().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    let baker = std::fs::read_to_string(crate::support::fixture("good/baker.toml")).unwrap();
    std::fs::write(
        dir.join("baker.toml"),
        format!("{baker}\n[model]\nbackend = \"main\"\nname = \"bakers-own-model\"\n"),
    )
    .unwrap();
    let personas = dir.to_str().unwrap().to_string();
    let chat = |extra: &[&str]| {
        let mut args = vec!["--personas", &personas];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["chat", "baker", "--message", "bread?", "--json"]);
        troupe.run(&args)
    };

    let own = chat(&[]);
    assert_eq!(own.code, 0, "{}", own.stderr);
    assert_eq!(main.last().body["model"], "bakers-own-model");
    assert_eq!(own.json()["reply"]["model"], "bakers-own-model");

    let elsewhere = chat(&["--model", "other"]);
    assert_eq!(elsewhere.code, 0, "{}", elsewhere.stderr);
    assert_eq!(
        other.last().body["model"],
        "other-model",
        "--model sends the persona to another backend, with that backend's model"
    );
    assert_eq!(elsewhere.json()["reply"]["model"], "other-model");

    let fallen_back = chat(&[]);
    assert_eq!(fallen_back.code, 0, "{}", fallen_back.stderr);
    assert_eq!(main.last().body["model"], "bakers-own-model");
    assert_eq!(backup.last().body["model"], "backup-model");
    assert_eq!(fallen_back.json()["reply"]["model"], "backup-model");
}
