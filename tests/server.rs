//! `troupe serve`: the real server on a random loopback port, driven over
//! real HTTP: chat (JSON and SSE), history, settings, rights, tokens,
//! follow-ups pushed to an open event stream, errors, and shutdown.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::Troupe;
use crate::support::serve::SseEvent;
use crate::support::server::{Reply, TestServer};

const CHAT: &str = "/v1/conversations/alice/chef/messages";

fn kinds(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

#[test]
fn personas_are_listed_and_operators_see_the_rendered_prompt() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let list = server.get("/v1/personas");
    assert_eq!(list.status, 200);
    let ids: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["chef", "creator", "decor"]);
    let chef = server.get("/v1/personas/chef");
    assert_eq!(chef.json["name"], "Chef Marco");
    assert!(
        chef.json["system_prompt"]
            .as_str()
            .unwrap()
            .contains("Chef Marco")
    );
    assert!(
        chef.json["file"]
            .as_str()
            .unwrap()
            .contains("name = \"Chef Marco\"")
    );
    let missing = server.get("/v1/personas/nobody");
    assert_eq!((missing.status, missing.error_code()), (404, "not_found"));
}

#[test]
fn a_message_gets_a_stored_reply_as_json_with_the_notice_first() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let answer = server.post(CHAT, json!({"text": "I have leftover rice and two eggs"}));
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json["reply"]["kind"], "persona");
    assert!(
        answer.json["reply"]["text"]
            .as_str()
            .unwrap()
            .contains("rice")
    );
    assert!(answer.json["notice"].as_str().unwrap().contains("an AI"));
    let second = server.post(CHAT, json!({"text": "And for dessert?"}));
    assert_eq!(
        second.json["notice"],
        Value::Null,
        "the notice is not repeated within a session"
    );
    let history = server.get(CHAT);
    let messages = history.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0]["text"], "I have leftover rice and two eggs");
    assert_eq!(messages[1]["role"], "assistant");
}

#[test]
fn history_pages_backwards_with_before_and_limit() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    for text in ["one", "two", "three"] {
        assert_eq!(server.post(CHAT, json!({ "text": text })).status, 200);
    }
    let newest = server.get(&format!("{CHAT}?limit=2"));
    let page: Vec<u64> = newest.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(page, [4, 5]);
    let before = newest.json["before"].as_u64().unwrap();
    let older = server.get(&format!("{CHAT}?limit=10&before={before}"));
    let texts: Vec<&str> = older.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 4);
    assert_eq!(texts[0], "one");
    assert_eq!(
        older.json["before"],
        Value::Null,
        "the first page says there is nothing before it"
    );
    let bad = server.get(&format!("{CHAT}?limit=0"));
    assert_eq!((bad.status, bad.error_code()), (400, "bad_request"));
    let bad = server.get(&format!("{CHAT}?before=soon"));
    assert_eq!(bad.status, 400);
}

#[test]
fn a_streamed_reply_is_framed_as_notice_deltas_then_the_stored_reply() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let (status, events) = server.post_sse(CHAT, json!({"text": "What about saffron risotto?"}));
    assert_eq!(status, 200);
    assert_eq!(events.first().map(|e| e.event.as_str()), Some("notice"));
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("reply"));
    let deltas: String = events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.json()["text"].as_str().unwrap().to_string())
        .collect();
    let reply = events.last().unwrap().json();
    assert_eq!(
        deltas,
        reply["text"].as_str().unwrap(),
        "the deltas add up to the stored reply"
    );
    assert_eq!(reply["kind"], "persona");
    let stored = server.get(CHAT).json["messages"][1]["text"].clone();
    assert_eq!(stored, reply["text"]);
}

#[test]
fn a_crisis_message_gets_helplines_as_a_crisis_event_not_the_persona_s_words() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let (_, events) = server.post_sse(CHAT, json!({"text": "I want to end my life"}));
    assert!(!kinds(&events).contains(&"reply"), "{events:?}");
    let crisis = events
        .iter()
        .find(|e| e.event == "crisis")
        .expect("a crisis event");
    assert!(
        crisis.json()["text"].as_str().unwrap().contains("988"),
        "{}",
        crisis.data
    );
    assert_eq!(crisis.json()["kind"], "crisis");
    let json = server.post(CHAT, json!({"text": "I want to end my life"}));
    assert_eq!(json.json["reply"]["kind"], "crisis");
    let report = server.get("/v1/safety/report?by=day");
    assert_eq!(report.json[0]["crisis_referrals"], 2);
}

#[test]
fn immediate_danger_is_a_crisis_event_that_says_its_kind() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let text = "my husband is hitting me right now, please help";
    let (_, events) = server.post_sse(CHAT, json!({ "text": text }));
    let crisis = events
        .iter()
        .find(|e| e.event == "crisis")
        .expect("a crisis event");
    assert_eq!(crisis.json()["crisis"], "danger", "{}", crisis.data);
    assert!(
        crisis.json()["text"].as_str().unwrap().contains("911"),
        "{}",
        crisis.data
    );
    let suicide = server.post(CHAT, json!({"text": "I want to end my life"}));
    assert_eq!(suicide.json["reply"]["crisis"], "self_harm");
    let report = server.get("/v1/safety/report?by=day");
    assert_eq!(report.json[0]["crisis_referrals"], 1);
    assert_eq!(report.json[0]["danger_referrals"], 1);
}

#[test]
fn stop_is_confirmed_as_a_control_event_and_turns_follow_ups_off() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    assert_eq!(server.post(CHAT, json!({"text": "hello"})).status, 200);
    let (_, events) = server.post_sse(CHAT, json!({"text": "STOP"}));
    let control = events
        .iter()
        .find(|e| e.event == "control")
        .expect("a control event");
    assert_eq!(control.json()["kind"], "control");
    let user = server.get("/v1/users/alice");
    assert_eq!(user.json["conversations"][0]["followups"], "off (STOP)");
}

#[test]
fn client_mistakes_are_4xx_in_one_error_shape() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let cases: Vec<(&str, &str, Option<Value>, u16, &str)> = vec![
        (
            "POST",
            CHAT,
            Some(json!({"txt": "typo"})),
            400,
            "bad_request",
        ),
        (
            "POST",
            CHAT,
            Some(json!({"text": "   "})),
            400,
            "bad_request",
        ),
        (
            "POST",
            CHAT,
            Some(json!({"text": "x".repeat(5_000)})),
            413,
            "too_large",
        ),
        (
            "POST",
            "/v1/conversations/alice/nobody/messages",
            Some(json!({"text": "hi"})),
            404,
            "not_found",
        ),
        (
            "POST",
            "/v1/conversations/..%2Fetc/chef/messages",
            Some(json!({"text": "hi"})),
            400,
            "bad_request",
        ),
        ("GET", "/v1/users/nobody", None, 404, "not_found"),
        (
            "PATCH",
            "/v1/users/alice",
            Some(json!({"timezone": "Mars/Olympus"})),
            422,
            "invalid_settings",
        ),
        (
            "PATCH",
            "/v1/users/alice",
            Some(json!({"minor": "yes"})),
            400,
            "bad_request",
        ),
        (
            "GET",
            "/v1/followups/explain?user=alice",
            None,
            400,
            "bad_request",
        ),
        ("GET", "/v1/safety/report?by=year", None, 400, "bad_request"),
        ("GET", "/v1/usage?since=yesterday", None, 400, "bad_request"),
        ("GET", "/v1/nothing-here", None, 404, "not_found"),
        ("PUT", "/v1/personas", None, 405, "method_not_allowed"),
    ];
    for (method, path, body, status, code) in cases {
        let answer = server.request(method, path, body);
        assert_eq!(
            (answer.status, answer.error_code()),
            (status, code),
            "{method} {path}: {}",
            answer.text
        );
        assert!(
            answer.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let huge = server.post(CHAT, json!({"text": "y".repeat(300_000)}));
    assert_eq!((huge.status, huge.error_code()), (413, "too_large"));
    let not_json = server.client().request("POST", CHAT, None);
    assert_eq!(not_json.status, 415);
    assert_eq!(
        server.get(CHAT).json["messages"].as_array().unwrap().len(),
        0,
        "nothing refused was stored"
    );
}

#[test]
fn a_failing_model_is_a_503_and_the_message_is_kept() {
    let model = TestServer::start(vec![Reply::Status(500, "{\"error\":\"down\"}")]);
    let troupe = Troupe::with_server(&model.base_url);
    let config = format!(
        "default_model = \"main\"\n[models.main]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"test-model\"\napi_key_env = \"OPENAI_API_KEY\"\nmax_retries = 0\n",
        model.base_url
    );
    troupe.write_config(&config);
    let server = troupe.serve(&[]);
    let answer = server.post(CHAT, json!({"text": "Is anyone there?"}));
    assert_eq!(
        (answer.status, answer.error_code()),
        (503, "model_unavailable"),
        "{}",
        answer.text
    );
    assert!(
        answer.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("saved")
    );
    let history = server.get(CHAT);
    assert_eq!(history.json["messages"][0]["text"], "Is anyone there?");
    let (_, events) = server.post_sse(CHAT, json!({"text": "Hello?"}));
    assert_eq!(events.last().unwrap().event, "error");
    assert_eq!(
        events.last().unwrap().json()["error"]["code"],
        "model_unavailable"
    );
}

#[test]
fn an_adults_only_persona_refuses_a_minor_as_a_refusal_event() {
    let troupe = Troupe::new();
    let dir = troupe.adults_only_personas(false);
    let server = troupe.serve(&["--personas", dir.to_str().unwrap()]);
    let minor = server.request("PATCH", "/v1/users/kid", Some(json!({"minor": true})));
    assert_eq!(minor.json["minor"], true);
    let path = "/v1/conversations/kid/sommelier/messages";
    let refused = server.post(path, json!({"text": "hi"}));
    assert_eq!((refused.status, refused.error_code()), (403, "refused"));
    let (_, events) = server.post_sse(path, json!({"text": "hi"}));
    assert_eq!(kinds(&events), ["refusal"]);
}

#[test]
fn settings_export_and_erasure_work_over_the_api() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    assert_eq!(
        server
            .post(CHAT, json!({"text": "Risotto tips please"}))
            .status,
        200
    );
    let changed = server.request(
        "PATCH",
        "/v1/users/alice",
        Some(json!({"timezone": "Europe/Paris", "followups": false})),
    );
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json["timezone"], "Europe/Paris");
    assert_eq!(changed.json["followups"], "off");
    let export = server.get("/v1/users/alice/export");
    assert_eq!(export.json["format"], "troupe-export/1");
    assert!(export.text.contains("Risotto tips please"));
    let erased = server.request("DELETE", "/v1/users/alice", None);
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert_eq!(erased.json["messages"], 2);
    assert_eq!(server.get("/v1/users/alice").status, 404);
    assert_eq!(server.get("/v1/users/alice/export").status, 404);
    assert_eq!(
        server.post(CHAT, json!({"text": "back again"})).status,
        200,
        "the server keeps serving after a rewrite"
    );
    drop(server);
    let store = troupe.data_dir().join("store");
    let on_disk = std::fs::read_dir(&store).unwrap().flatten().any(|f| {
        std::fs::read(f.path()).is_ok_and(|b| b.windows(19).any(|w| w == b"Risotto tips please"))
    });
    assert!(!on_disk, "the erased text is gone from the files");
}

#[test]
fn tokens_keep_each_user_to_their_own_data() {
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_OPERATOR_TOKEN", "operator-secret-token");
    let server = troupe.serve(&[]);
    assert_eq!(server.get("/v1/personas").status, 401);
    assert_eq!(server.as_token("wrong").get("/v1/personas").status, 401);
    let operator = server.as_token("operator-secret-token");
    let minted = operator.post("/v1/users/alice/tokens", json!({}));
    assert_eq!(minted.status, 201);
    let alice = server.as_token(minted.json["token"].as_str().unwrap());
    assert_eq!(alice.post(CHAT, json!({"text": "hi chef"})).status, 200);
    assert_eq!(
        alice.get(CHAT).json["messages"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        operator
            .post("/v1/conversations/bob/chef/messages", json!({"text": "hi"}))
            .status,
        200
    );
    for (method, path) in [
        ("GET", "/v1/conversations/bob/chef/messages"),
        ("POST", "/v1/conversations/bob/chef/messages"),
        ("GET", "/v1/users/bob"),
        ("GET", "/v1/users/bob/export"),
        ("DELETE", "/v1/users/bob"),
        ("GET", "/v1/users/bob/events"),
        ("POST", "/v1/users/alice/tokens"),
        ("GET", "/v1/usage"),
        ("GET", "/v1/followups/due"),
    ] {
        let body = (method == "POST").then(|| json!({"text": "sneaky"}));
        let answer = alice.request(method, path, body);
        assert_eq!(
            (answer.status, answer.error_code()),
            (403, "forbidden"),
            "{method} {path}"
        );
    }
    assert_eq!(
        operator.get("/v1/users/bob").json["conversations"][0]["user_messages"],
        1
    );
    assert_eq!(alice.request("DELETE", "/v1/users/alice", None).status, 200);
    assert_eq!(
        alice.get(CHAT).status,
        401,
        "an erased user's tokens stop working"
    );
}

#[test]
fn without_tokens_the_server_refuses_a_public_address() {
    let troupe = Troupe::new();
    let run = troupe.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("without access tokens"),
        "{}",
        run.stderr
    );
    let bad = troupe.run(&["serve", "--listen", "localhost"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("not an address"), "{}", bad.stderr);
}

#[test]
fn a_follow_up_is_pushed_to_the_open_event_stream_as_it_is_written() {
    let troupe = Troupe::new();
    troupe.five_messages("alice", &[]);
    let off = troupe.run(&["user", "set", "alice", "--followups", "off"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    let server = troupe.serve(&["--now", "2026-11-04T10:00:00Z"]);
    let events = server.open_events("/v1/users/alice/events");
    assert_eq!(events.status, 200);
    assert!(
        events.next_within(Duration::from_millis(300)).is_none(),
        "nothing is due while follow-ups are off"
    );
    let on = server.request("PATCH", "/v1/users/alice", Some(json!({"followups": true})));
    assert_eq!(on.status, 200);
    let pushed = events
        .next_within(Duration::from_secs(20))
        .expect("the scheduler pushes the follow-up");
    assert_eq!(pushed.event, "followup");
    let followup = pushed.json();
    assert_eq!(followup["persona"], "chef");
    assert!(
        followup["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("risotto"),
        "{followup}"
    );
    assert!(!followup["disclaimers"].as_array().unwrap().is_empty());
    assert_eq!(
        server.post("/v1/followups/run", json!({})).json["sent"],
        0,
        "exactly once"
    );
    let history = server.get(CHAT);
    assert_eq!(
        history.json["messages"].as_array().unwrap().last().unwrap()["kind"],
        "follow-up"
    );
}

#[test]
fn a_follow_up_delivered_while_no_stream_was_open_arrives_when_one_opens() {
    let troupe = Troupe::new();
    troupe.five_messages("alice", &[]);
    let server = troupe.serve(&["--now", "2026-11-04T10:00:00Z"]);
    let sent = server.post("/v1/followups/run", json!({}));
    assert_eq!(sent.status, 200);
    let events = server.open_events("/v1/users/alice/events");
    let first = events
        .next_within(Duration::from_secs(10))
        .expect("the unseen follow-up");
    assert_eq!(first.event, "followup");
    let again = server.open_events("/v1/users/alice/events");
    assert!(
        again.next_within(Duration::from_millis(300)).is_none(),
        "it was marked seen"
    );
}

#[test]
fn a_server_with_follow_ups_off_delivers_them_only_when_asked() {
    let troupe = Troupe::new();
    troupe.write_config("[server]\nfollowups = false\n");
    troupe.five_messages("alice", &[]);
    let server = troupe.serve(&["--now", "2026-11-04T10:00:00Z"]);
    let due = server.get("/v1/followups/due");
    assert_eq!(due.json.as_array().map(Vec::len), Some(1), "{}", due.text);
    assert!(
        server.stderr().contains("followups = false"),
        "the log says why nothing is delivered: {}",
        server.stderr()
    );
    let sent = server.post("/v1/followups/run", json!({}));
    assert_eq!(
        sent.json["sent"], 1,
        "nothing had delivered it before: {}",
        sent.text
    );
    assert_eq!(server.get("/v1/followups/due").json, json!([]));
}

#[test]
fn sigterm_lets_a_turn_in_flight_store_its_reply_then_exits_cleanly() {
    let model = TestServer::start_slow(
        vec![Reply::Text("Slow but sure: a frittata.")],
        Duration::from_millis(1500),
    );
    let troupe = Troupe::with_server(&model.base_url);
    let server = troupe.serve(&[]);
    let client = server.client();
    let asking =
        std::thread::spawn(move || client.post(CHAT, json!({"text": "Quick dinner idea?"})));
    while model.max_in_flight() == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.terminate(), 0);
    let answer = asking.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text);
    let history = troupe.history_of("alice", "chef");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["text"], "Slow but sure: a frittata.");
}

#[test]
fn the_openapi_document_lists_every_route_and_metrics_count_turns() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    assert_eq!(server.post(CHAT, json!({"text": "hello"})).status, 200);
    let document = server.get("/openapi.json").json;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/personas",
        "/v1/personas/{persona}",
        "/v1/conversations/{user}/{persona}/messages",
        "/v1/users/{user}/events",
        "/v1/users/{user}",
        "/v1/users/{user}/export",
        "/v1/users/{user}/tokens",
        "/v1/followups/due",
        "/v1/followups/explain",
        "/v1/usage",
        "/v1/safety/report",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
    for (path, name) in [
        ("/v1/conversations/{user}/{persona}/messages", "before"),
        ("/v1/followups/explain", "user"),
        ("/v1/usage", "since"),
        ("/v1/safety/report", "by"),
    ] {
        let parameters = document["paths"][path]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let found = parameters.iter().find(|p| p["name"] == name);
        assert_eq!(
            found.map(|p| p["in"].clone()),
            Some(json!("query")),
            "{path} takes {name} in its query: {parameters:?}"
        );
    }
    assert_eq!(server.get("/healthz").json["status"], "ok");
    assert_eq!(server.get("/readyz").json["status"], "ready");
    assert!(
        server.stderr().contains("only this machine can connect"),
        "{}",
        server.stderr()
    );
    let metrics = server.get("/metrics");
    assert!(metrics.content_type.starts_with("text/plain"));
    assert!(
        metrics
            .text
            .contains("troupe_turns_total{kind=\"persona\"} 1"),
        "{}",
        metrics.text
    );
    assert!(
        !metrics.text.contains("alice"),
        "metrics say nothing about users"
    );
}

#[test]
fn a_user_past_their_turn_budget_is_rate_limited_and_the_stream_cap_holds() {
    let troupe = Troupe::new();
    troupe.write_config("[server]\nuser_turns_per_minute = 2\nmax_streams = 1\n");
    let server = troupe.serve(&[]);
    assert_eq!(server.post(CHAT, json!({"text": "one"})).status, 200);
    assert_eq!(server.post(CHAT, json!({"text": "two"})).status, 200);
    let third = server.post(CHAT, json!({"text": "three"}));
    assert_eq!((third.status, third.error_code()), (429, "rate_limited"));
    assert!(
        third.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 2 a minute")
    );
    let other = server.post("/v1/conversations/bob/chef/messages", json!({"text": "hi"}));
    assert_eq!(other.status, 200, "the budget is per user");
    assert_eq!(
        server.get(CHAT).json["messages"].as_array().unwrap().len(),
        4,
        "the limited message was not stored"
    );
    let open = server.open_events("/v1/users/alice/events");
    assert_eq!(open.status, 200);
    let refused = server.get("/v1/users/bob/events");
    assert_eq!(
        (refused.status, refused.error_code()),
        (429, "rate_limited")
    );
}

#[test]
fn cors_is_off_by_default_and_answers_only_configured_origins() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let plain = server
        .client()
        .preflight("/v1/personas", "https://app.example");
    assert_eq!(plain, None, "no CORS headers unless configured");
    drop(server);
    troupe.write_config("[server]\ncors_origins = [\"https://app.example\"]\n");
    let server = troupe.serve(&[]);
    let allowed = server
        .client()
        .preflight("/v1/personas", "https://app.example");
    assert_eq!(allowed.as_deref(), Some("https://app.example"));
    assert_eq!(
        server
            .client()
            .preflight("/v1/personas", "https://evil.example"),
        None
    );
}

#[test]
fn the_listen_address_comes_from_the_flag_then_the_env_then_the_config() {
    let mut troupe = Troupe::new();
    let config = troupe.work_dir().join("troupe.toml");
    std::fs::write(&config, "[server]\nlisten = \"0.0.0.0:0\"\n").unwrap();
    let from_file = troupe.run(&["serve"]);
    assert_eq!(from_file.code, 2);
    assert!(
        from_file.stderr.contains("refusing to listen on 0.0.0.0:0"),
        "{}",
        from_file.stderr
    );
    std::fs::write(&config, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    troupe.env("TROUPE_LISTEN", "0.0.0.0:0");
    let from_env = troupe.run(&["serve"]);
    assert!(
        from_env.stderr.contains("refusing to listen on 0.0.0.0:0"),
        "TROUPE_LISTEN beats the file: {}",
        from_env.stderr
    );
    let flag_wins = troupe.serve(&[]);
    assert!(
        flag_wins.url.starts_with("http://127.0.0.1:"),
        "--listen beats TROUPE_LISTEN"
    );
}

#[test]
fn a_key_echoed_by_the_model_server_reaches_no_client_log_or_store() {
    use crate::support::TEST_KEY;
    let echo: &'static str = Box::leak(
        format!("{{\"error\":{{\"message\":\"Incorrect API key provided: Bearer {TEST_KEY}\"}}}}")
            .into_boxed_str(),
    );
    let model = TestServer::start(vec![Reply::Status(400, echo)]);
    let troupe = Troupe::with_server(&model.base_url);
    let server = troupe.serve(&["-vv"]);
    let answer = server.post(CHAT, json!({"text": "hello?"}));
    assert_eq!(answer.status, 503);
    assert!(
        answer.text.contains("Incorrect API key provided"),
        "{}",
        answer.text
    );
    assert!(!answer.text.contains(TEST_KEY), "{}", answer.text);
    let (_, events) = server.post_sse(CHAT, json!({"text": "hello again?"}));
    assert!(!events.iter().any(|e| e.data.contains(TEST_KEY)));
    let cli = Troupe::with_server(&model.base_url).run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(cli.code, 1);
    assert!(
        cli.stderr.contains("[redacted]") && !cli.stderr.contains(TEST_KEY),
        "{}",
        cli.stderr
    );
    assert!(!server.stderr().contains(TEST_KEY));
    drop(server);
    let leaked = std::fs::read_dir(troupe.data_dir().join("store"))
        .unwrap()
        .flatten()
        .any(|f| {
            std::fs::read(f.path())
                .is_ok_and(|b| b.windows(TEST_KEY.len()).any(|w| w == TEST_KEY.as_bytes()))
        });
    assert!(!leaked, "the key is in no stored record");
}

#[test]
fn only_valid_tokens_are_counted_so_probes_and_made_up_tokens_cannot_exhaust_a_budget() {
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_OPERATOR_TOKEN", "operator-secret-token");
    troupe.write_config("[server]\ntoken_requests_per_minute = 3\n");
    let server = troupe.serve(&[]);
    for i in 0..5 {
        assert_eq!(server.get("/v1/personas").status, 401);
        assert_eq!(
            server
                .as_token(&format!("junk-{i}"))
                .get("/v1/personas")
                .status,
            401
        );
    }
    for path in ["/healthz", "/readyz", "/metrics", "/", "/openapi.json"] {
        assert_eq!(server.get(path).status, 200, "{path} is never rate-limited");
    }
    let operator = server.as_token("operator-secret-token");
    for _ in 0..3 {
        assert_eq!(operator.get("/v1/personas").status, 200);
    }
    let limited = operator.get("/v1/personas");
    assert_eq!(
        (limited.status, limited.error_code()),
        (429, "rate_limited")
    );
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn a_user_s_own_token_cannot_lift_the_protections_for_minors() {
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_OPERATOR_TOKEN", "operator-secret-token");
    let server = troupe.serve(&[]);
    let operator = server.as_token("operator-secret-token");
    assert_eq!(
        operator
            .request("PATCH", "/v1/users/kid", Some(json!({"minor": true})))
            .status,
        200
    );
    let token = operator.post("/v1/users/kid/tokens", json!({})).json["token"]
        .as_str()
        .unwrap()
        .to_string();
    let kid = server.as_token(&token);
    let lifted = kid.request("PATCH", "/v1/users/kid", Some(json!({"minor": false})));
    assert_eq!((lifted.status, lifted.error_code()), (403, "forbidden"));
    assert_eq!(operator.get("/v1/users/kid").json["minor"], true);
    let own = kid.request(
        "PATCH",
        "/v1/users/kid",
        Some(json!({"timezone": "Europe/Paris"})),
    );
    assert_eq!(own.status, 200, "other settings are the user's own");
}

#[test]
fn a_streamed_message_refused_for_lack_of_a_stream_is_not_stored() {
    let troupe = Troupe::new();
    troupe.write_config("[server]\nmax_streams = 1\n");
    let server = troupe.serve(&[]);
    let open = server.open_events("/v1/users/someone/events");
    assert_eq!(open.status, 200);
    let (status, _) = server.post_sse(CHAT, json!({"text": "one message"}));
    assert_eq!(status, 429);
    assert_eq!(
        server.get(CHAT).json["messages"].as_array().unwrap().len(),
        0,
        "a 429 stored nothing, so a retry doubles nothing"
    );
}

#[test]
fn erasure_ends_the_user_s_open_event_streams_and_one_user_cannot_hold_them_all() {
    let troupe = Troupe::new();
    troupe.write_config("[server]\nmax_streams_per_user = 2\n");
    let server = troupe.serve(&[]);
    assert_eq!(server.post(CHAT, json!({"text": "hello"})).status, 200);
    let first = server.open_events("/v1/users/alice/events");
    let _second = server.open_events("/v1/users/alice/events");
    let third = server.get("/v1/users/alice/events");
    assert_eq!((third.status, third.error_code()), (429, "rate_limited"));
    assert_eq!(
        server.open_events("/v1/users/bob/events").status,
        200,
        "another user still gets one"
    );
    assert_eq!(
        server.request("DELETE", "/v1/users/alice", None).status,
        200
    );
    assert!(
        first.ends_within(Duration::from_secs(5)),
        "the erased user's stream ends"
    );
}

#[test]
fn a_connection_left_silent_is_closed_but_an_open_event_stream_is_not() {
    use std::io::{Read, Write};
    let troupe = Troupe::new();
    troupe.write_config("[server]\nheader_timeout_secs = 1\n");
    let server = troupe.serve(&[]);
    let address = server.url.trim_start_matches("http://").to_string();
    let stream = server.open_events("/v1/users/alice/events");
    assert_eq!(stream.status, 200);
    let mut silent = std::net::TcpStream::connect(&address).unwrap();
    let mut halfway = std::net::TcpStream::connect(&address).unwrap();
    halfway
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    for (name, socket) in [("silent", &mut silent), ("halfway", &mut halfway)] {
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut rest = Vec::new();
        let ended = socket.read_to_end(&mut rest);
        assert!(
            ended.is_ok(),
            "the {name} connection is closed by the server, not left open: {ended:?}"
        );
    }
    assert!(
        !stream.ends_within(Duration::from_millis(500)),
        "an event stream whose request was read long ago stays open"
    );
    assert_eq!(server.get("/healthz").status, 200, "new clients are served");
}

#[test]
fn two_messages_sent_at_once_to_one_conversation_are_answered_in_turn() {
    let model = TestServer::start_slow(
        vec![Reply::Text("One at a time.")],
        Duration::from_millis(200),
    );
    let troupe = Troupe::with_server(&model.base_url);
    let server = troupe.serve(&[]);
    let senders: Vec<_> = (0..4)
        .map(|i| {
            let client = server.client();
            std::thread::spawn(move || {
                client
                    .post(CHAT, json!({ "text": format!("message {i}") }))
                    .status
            })
        })
        .collect();
    for sender in senders {
        assert_eq!(sender.join().unwrap(), 200);
    }
    let roles: Vec<String> = server.get(CHAT).json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant"].repeat(4),
        "each reply follows its message"
    );
    assert_eq!(model.max_in_flight(), 1);
}

#[test]
fn a_path_that_is_not_utf8_is_a_400_in_the_error_shape() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    for path in [
        "/v1/users/%FF",
        "/v1/conversations/%FF/chef/topics",
        "/v1/personas/%FF",
    ] {
        let answer = server.get(path);
        assert_eq!(
            (answer.status, answer.error_code()),
            (400, "bad_request"),
            "{path}: {}",
            answer.text
        );
    }
}

#[test]
fn an_erasure_waits_for_no_one_s_model_and_turns_in_flight_keep_their_replies() {
    let model = TestServer::start_slow(
        vec![Reply::Text("A slow but sure frittata.")],
        Duration::from_secs(3),
    );
    let troupe = Troupe::with_server(&model.base_url);
    let server = troupe.serve(&[]);
    assert_eq!(
        server
            .request(
                "PATCH",
                "/v1/users/bob",
                Some(json!({"timezone": "Europe/Paris"}))
            )
            .status,
        200
    );
    let client = server.client();
    let asking = std::thread::spawn(move || client.post(CHAT, json!({"text": "Dinner idea?"})));
    while model.max_in_flight() == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.request("DELETE", "/v1/users/bob", None).status, 200);
    assert_eq!(server.get("/readyz").status, 200);
    let finished = asking.is_finished();
    let answer = asking.join().unwrap();
    assert!(
        !finished,
        "the erasure and the requests after it were answered while alice's model was still writing: {} {}",
        answer.status, answer.text
    );
    assert_eq!(answer.status, 200);
    let history = server.get(CHAT).json["messages"].clone();
    assert_eq!(
        history[1]["text"], "A slow but sure frittata.",
        "the turn in flight kept its reply"
    );
}

#[test]
fn an_end_user_learns_that_the_model_failed_but_not_where_it_runs() {
    let model = TestServer::start(vec![Reply::Status(
        500,
        "{\"error\":{\"message\":\"shard 7 on gpu-node-3 is down\"}}",
    )]);
    let mut troupe = Troupe::with_server(&model.base_url);
    troupe.env("TROUPE_OPERATOR_TOKEN", "operator-secret-token");
    troupe.write_config(&format!("default_model = \"main\"\n[models.main]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"test-model\"\napi_key_env = \"OPENAI_API_KEY\"\nmax_retries = 0\n", model.base_url));
    let server = troupe.serve(&[]);
    let operator = server.as_token("operator-secret-token");
    let token = operator.post("/v1/users/alice/tokens", json!({})).json["token"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = server.as_token(&token);
    let answer = alice.post(CHAT, json!({"text": "hello?"}));
    assert_eq!(
        (answer.status, answer.error_code()),
        (503, "model_unavailable")
    );
    assert!(
        answer.text.contains("your message was saved"),
        "{}",
        answer.text
    );
    assert!(
        !answer.text.contains("127.0.0.1") && !answer.text.contains("gpu-node"),
        "{}",
        answer.text
    );
    let (_, events) = alice.post_sse(CHAT, json!({"text": "still there?"}));
    assert!(!events.last().unwrap().data.contains("127.0.0.1"));
    let completion = alice.post(
        "/v1/chat/completions",
        json!({"model": "chef", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(completion.status, 503);
    assert!(
        !completion.text.contains("127.0.0.1"),
        "{}",
        completion.text
    );
    let detailed = operator.post(
        "/v1/conversations/bob/chef/messages",
        json!({"text": "hello?"}),
    );
    assert!(
        detailed.text.contains("gpu-node-3"),
        "the operator sees the details: {}",
        detailed.text
    );
    assert!(
        server.stderr().contains("gpu-node-3"),
        "and so does the server's log"
    );
}

#[test]
fn the_server_purges_messages_past_the_retention_period_from_its_files() {
    let troupe = Troupe::new();
    troupe.write_config("[safety]\nretention_days = 3\n");
    troupe.five_messages("alice", &[]);
    let server = troupe.serve(&["--now", "2026-11-20T10:00:00Z"]);
    let history = server.get(CHAT);
    assert_eq!(
        history.json["messages"].as_array().unwrap().len(),
        0,
        "purged at start"
    );
    assert_eq!(
        server
            .post(CHAT, json!({"text": "A fresh question"}))
            .status,
        200
    );
    drop(server);
    let on_disk = std::fs::read_dir(troupe.data_dir().join("store"))
        .unwrap()
        .flatten()
        .any(|f| {
            std::fs::read(f.path()).is_ok_and(|b| b.windows(15).any(|w| w == b"saffron risotto"))
        });
    assert!(!on_disk, "the purged text is gone from the store's files");
}

#[test]
fn a_runaway_reply_is_cut_at_the_limit_and_stored_marked_truncated() {
    let long: &'static str = Box::leak("spaghetti ".repeat(5_000).into_boxed_str());
    let model = TestServer::start(vec![Reply::Text(long)]);
    let troupe = Troupe::with_server(&model.base_url);
    troupe.write_config(&format!(
        "default_model = \"main\"\n[chat]\nmax_reply_chars = 120\n[models.main]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"test-model\"\napi_key_env = \"OPENAI_API_KEY\"\nmax_retries = 0\n",
        model.base_url
    ));
    let server = troupe.serve(&[]);
    let whole = server.post(CHAT, json!({"text": "Pasta?"}));
    assert_eq!(whole.status, 200, "{}", whole.text);
    assert_eq!(
        whole.json["reply"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        120
    );
    assert_eq!(whole.json["reply"]["truncated"], true);
    let (_, events) = server.post_sse(CHAT, json!({"text": "More pasta?"}));
    let reply = events.last().unwrap().json();
    assert_eq!(
        reply["text"].as_str().unwrap().chars().count(),
        120,
        "{reply}"
    );
    let streamed: usize = events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.json()["text"].as_str().unwrap().chars().count())
        .sum();
    assert_eq!(
        streamed, 120,
        "no more than the limit reaches the client either"
    );
    let history = server.get(CHAT).json["messages"].clone();
    assert_eq!(history[1]["truncated"], true);
    assert_eq!(history[3]["text"].as_str().unwrap().chars().count(), 120);
}

#[test]
fn a_reader_who_leaves_mid_reply_does_not_lose_it_but_a_stop_keeps_only_what_was_written() {
    const WHOLE: &str = "Start with the onions, slowly, in butter, then the rice, then the stock a ladle at a time, stirring, for eighteen minutes or so.";
    let model = TestServer::start(vec![Reply::Trickle(WHOLE, Duration::from_millis(100))]);
    let troupe = Troupe::with_server(&model.base_url);
    let server = troupe.serve(&[]);
    let stored_reply = |index: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let messages = server.get(CHAT).json["messages"].clone();
            if messages[index]["role"] == "assistant" {
                return messages[index].clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the reply was never stored: {messages}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let start_reading = |text: &str| {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}{CHAT}", server.url))
            .header("accept", "text/event-stream")
            .json(&json!({ "text": text }))
            .send()
            .expect("the server answers");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(response));
        let first_delta = lines.find(|l| l.as_ref().is_ok_and(|l| l == "event: delta"));
        assert!(first_delta.is_some(), "the reply starts streaming");
        lines
    };

    // A reader who goes away (a dropped connection, a closed tab) finds the
    // whole reply in the history.
    drop(start_reading("How do I make risotto?"));
    let kept = stored_reply(1);
    assert_eq!(kept["text"], WHOLE, "{kept}");
    assert!(kept["interrupted"].is_null(), "{kept}");

    // Stopping it (the console's Ctrl-C) keeps only what was written.
    let reading = start_reading("And a saffron one?");
    let stopped = server.post("/v1/conversations/alice/chef/stop", json!({}));
    assert_eq!(stopped.status, 202, "{}", stopped.text);
    drop(reading);
    let kept = stored_reply(3);
    assert_eq!(kept["interrupted"], true, "{kept}");
    let text = kept["text"].as_str().unwrap();
    assert!(
        !text.is_empty() && text.len() < WHOLE.len() && WHOLE.starts_with(text),
        "what was written before the stop is kept, not the whole reply: {text:?}"
    );

    // The reply is stored a moment before its turn ends; once the turn has
    // ended, there is nothing left to stop.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let nothing = loop {
        let answer = server.post("/v1/conversations/alice/chef/stop", json!({}));
        if answer.status != 202 || std::time::Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        (nothing.status, nothing.error_code()),
        (409, "nothing_to_stop")
    );
}
