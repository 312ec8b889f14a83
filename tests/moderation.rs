//! `[safety.moderation]`: a moderation endpoint or a guard model read each
//! user message beside the persona's reply, through the real binary and
//! the real `troupe serve`, against stand-in servers on 127.0.0.1 that
//! pass, flag, answer too late, or fail.

use std::time::Duration;

use serde_json::json;

use crate::support::serve::SseEvent;
use crate::support::server::{Reply, TestServer};
use crate::support::{Run, Troupe};

/// The moderation server's key, read from the env var the config names.
const MODERATION_KEY: &str = "sk-moderation-secret-42424242";

/// A harmless message: only the stand-in decides whether it is a crisis,
/// whatever the offline detector's lists become.
const ASKED: &str = "Tell me about knives for the kitchen";

/// The persona's reply from its stand-in model.
const PERSONA_REPLY: &str = "A good chef's knife and a paring knife will do.";

/// A moderation server that answers after the reply's time budget.
fn too_late(reply: Reply) -> Reply {
    Reply::Slow(Duration::from_secs(3), Box::new(reply))
}

/// A failure whose body echoes the key and the message, as some proxies do.
const ECHOING_FAILURE: Reply = Reply::Status(
    500,
    r#"{"error":{"message":"upstream failed for Bearer sk-moderation-secret-42424242 on input: Tell me about knives for the kitchen"}}"#,
);

/// The config for an OpenAI-compatible moderation endpoint at `server`.
fn openai_moderation(server: &TestServer, timeout_ms: u64) -> String {
    format!(
        "[safety]\nmoderation_timeout_ms = {timeout_ms}\n[safety.moderation]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key_env = \"MODERATION_KEY\"\n",
        server.base_url
    )
}

/// The config for Llama Guard 3 served at `server`.
fn llama_guard(server: &TestServer, timeout_ms: u64) -> String {
    format!(
        "[safety]\nmoderation_timeout_ms = {timeout_ms}\n[safety.moderation]\nkind = \"llama-guard\"\nbase_url = \"{}\"\nmodel = \"llama-guard3:8b\"\napi_key_env = \"MODERATION_KEY\"\n",
        server.base_url
    )
}

/// A user with a persona model at `model` and the moderation key set.
fn troupe_with(model: &TestServer, config: &str) -> Troupe {
    let mut troupe = Troupe::with_server(&model.base_url);
    troupe.env("MODERATION_KEY", MODERATION_KEY);
    troupe.write_config(config);
    troupe
}

/// Says `text` to the chef from the command line.
fn say(troupe: &Troupe, text: &str) -> Run {
    let run = troupe.run(&["chat", "chef", "--message", text]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains(MODERATION_KEY) && !run.stderr.contains(MODERATION_KEY));
    run
}

/// Asserts the turn got the persona's reply and the check gave no verdict,
/// logged without the message or the key.
fn assert_decided_offline(run: &Run, outcome: &str) {
    assert_eq!(run.stdout.trim(), PERSONA_REPLY, "{}", run.stderr);
    assert!(
        run.stderr.contains("the moderation check gave no verdict") && run.stderr.contains(outcome),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("knives"), "{}", run.stderr);
}

#[test]
fn an_openai_moderation_endpoint_passes_flags_times_out_and_fails_from_the_command_line() {
    let moderation = TestServer::start(vec![
        Reply::moderation(&[]),
        Reply::Slow(
            Duration::from_millis(300),
            Box::new(Reply::moderation(&["self-harm/intent"])),
        ),
        too_late(Reply::moderation(&["self-harm"])),
        ECHOING_FAILURE,
    ]);
    let model = TestServer::start(vec![Reply::Text(PERSONA_REPLY)]);
    let troupe = troupe_with(&model, &openai_moderation(&moderation, 1_000));

    let clear = say(&troupe, ASKED);
    assert_eq!(clear.stdout.trim(), PERSONA_REPLY);
    let check = moderation.last();
    assert_eq!(check.path, "/v1/moderations");
    assert_eq!(
        check.body,
        json!({"model": "omni-moderation-latest", "input": ASKED})
    );
    assert_eq!(
        check.header("authorization"),
        Some(format!("Bearer {MODERATION_KEY}").as_str())
    );
    assert_eq!(troupe.history("chef")[1]["text"], PERSONA_REPLY);

    let flagged = say(&troupe, ASKED);
    assert!(flagged.stdout.contains("988"), "{}", flagged.stdout);
    assert!(
        !flagged.stdout.contains(PERSONA_REPLY),
        "{}",
        flagged.stdout
    );
    assert_eq!(
        model.received().len(),
        2,
        "the reply was written beside the check, then dropped"
    );
    let history = troupe.history("chef");
    let kinds: Vec<_> = history.iter().map(|m| m["kind"].clone()).collect();
    assert_eq!(
        kinds[2..],
        [json!("crisis"), json!("safety")],
        "{history:?}"
    );

    assert_decided_offline(&say(&troupe, ASKED), "timeout");
    assert_decided_offline(&say(&troupe, ASKED), "failed");
    assert_eq!(moderation.received().len(), 4);

    let report = troupe.run(&["safety", "report", "--json"]);
    assert_eq!(report.json()[0]["crisis_referrals"], 1, "{}", report.stdout);
}

#[test]
fn a_flagged_message_puts_proactive_messages_on_hold_like_an_offline_crisis() {
    let moderation = TestServer::start(vec![Reply::moderation(&["self-harm"])]);
    let model = TestServer::start(vec![Reply::Text(PERSONA_REPLY)]);
    let troupe = troupe_with(&model, &openai_moderation(&moderation, 5_000));
    let run = troupe.run(&[
        "--now",
        "2026-11-02T10:00:00Z",
        "chat",
        "chef",
        "--message",
        ASKED,
    ]);
    assert!(run.stdout.contains("988"), "{}", run.stdout);
    let explain = troupe.run(&[
        "--now",
        "2026-11-05T12:00:00Z",
        "followups",
        "explain",
        "--user",
        "tester",
        "--persona",
        "chef",
        "--json",
    ]);
    let hold = explain.json()["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["rule"] == "not_on_hold").cloned())
        .unwrap_or_default();
    assert_eq!(hold["pass"], false, "{hold}");
}

#[test]
fn violence_is_a_crisis_only_when_the_user_is_the_one_threatened() {
    let moderation = TestServer::start(vec![Reply::moderation(&["violence"])]);
    let model = TestServer::start(vec![Reply::Text(PERSONA_REPLY)]);
    let troupe = troupe_with(&model, &openai_moderation(&moderation, 5_000));
    let threatened = say(&troupe, "My ex says he will come over tonight and hurt me");
    assert!(
        threatened.stdout.contains("911"),
        "the danger reply, with the emergency number: {}",
        threatened.stdout
    );
    let threatening = say(&troupe, "I could strangle my brother for eating the cake");
    assert_eq!(threatening.stdout.trim(), PERSONA_REPLY);
}

#[test]
fn a_llama_guard_model_passes_flags_times_out_and_fails_from_the_command_line() {
    let guard = TestServer::start(vec![
        Reply::Text("safe"),
        Reply::Text("unsafe\nS11"),
        too_late(Reply::Text("unsafe\nS11")),
        ECHOING_FAILURE,
    ]);
    let model = TestServer::start(vec![Reply::Text(PERSONA_REPLY)]);
    let troupe = troupe_with(&model, &llama_guard(&guard, 1_000));

    assert_eq!(say(&troupe, ASKED).stdout.trim(), PERSONA_REPLY);
    let check = guard.last();
    assert_eq!(check.path, "/v1/chat/completions");
    assert_eq!(check.body["model"], "llama-guard3:8b");
    let prompt = &check.messages()[0].1;
    assert!(prompt.contains("S11: Self-Harm."), "{prompt}");
    assert!(prompt.contains(&format!("User: {ASKED}")), "{prompt}");

    let flagged = say(&troupe, ASKED);
    assert!(flagged.stdout.contains("988"), "{}", flagged.stdout);
    assert!(!flagged.stdout.contains(PERSONA_REPLY));

    assert_decided_offline(&say(&troupe, ASKED), "timeout");
    assert_decided_offline(&say(&troupe, ASKED), "failed");
}

/// The text of every `delta` event, in order.
fn deltas(events: &[SseEvent]) -> String {
    events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.json()["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

const CHAT: &str = "/v1/conversations/alice/chef/messages";

/// Sends [`ASKED`] to the chef as JSON and as SSE, once each, and gives
/// the JSON reply's kind and the SSE events.
fn ask_both_ways(server: &crate::support::serve::Served) -> (String, Vec<SseEvent>) {
    let answer = server.post(CHAT, json!({"text": ASKED}));
    assert_eq!(answer.status, 200, "{}", answer.text);
    let kind = answer.json["reply"]["kind"].as_str().unwrap_or_default();
    let (status, events) = server.post_sse(CHAT, json!({"text": ASKED}));
    assert_eq!(status, 200);
    (kind.to_string(), events)
}

/// Asserts a passed SSE turn streamed the persona's reply whole.
fn assert_streamed_reply(events: &[SseEvent]) {
    let reply = events.last().map(SseEvent::json).unwrap_or_default();
    assert_eq!(reply["kind"], "persona", "{events:?}");
    assert_eq!(deltas(events), reply["text"].as_str().unwrap_or_default());
}

/// Asserts a flagged SSE turn showed no piece of the persona's reply.
fn assert_held_back(events: &[SseEvent]) {
    assert_eq!(deltas(events), "", "{events:?}");
    let crisis = events
        .iter()
        .find(|e| e.event == "crisis")
        .expect("a crisis event");
    assert!(
        crisis.json()["text"]
            .as_str()
            .unwrap_or_default()
            .contains("988")
    );
}

#[test]
fn through_the_server_a_moderation_endpoint_holds_json_and_streamed_replies() {
    // The persona's model is the offline one, which answers at once: a
    // delta that was not held would arrive before the check's answer.
    let slow_flag = || {
        Reply::Slow(
            Duration::from_millis(300),
            Box::new(Reply::moderation(&["self-harm/intent"])),
        )
    };
    let moderation = TestServer::start(vec![
        Reply::moderation(&[]),
        Reply::moderation(&[]),
        slow_flag(),
        slow_flag(),
        too_late(Reply::moderation(&["self-harm"])),
        too_late(Reply::moderation(&["self-harm"])),
        ECHOING_FAILURE,
    ]);
    let mut troupe = Troupe::new();
    troupe.env("MODERATION_KEY", MODERATION_KEY);
    troupe.write_config(&openai_moderation(&moderation, 1_000));
    let server = troupe.serve(&[]);

    let (kind, events) = ask_both_ways(&server);
    assert_eq!(kind, "persona");
    assert_streamed_reply(&events);

    let (kind, events) = ask_both_ways(&server);
    assert_eq!(kind, "crisis");
    assert_held_back(&events);

    for _ in ["timeout", "failed"] {
        let (kind, events) = ask_both_ways(&server);
        assert_eq!(kind, "persona");
        assert_streamed_reply(&events);
    }
    let metrics = server.get("/metrics").text;
    for outcome in ["clear", "flagged", "timeout", "failed"] {
        let line =
            format!("troupe_moderation_checks_total{{kind=\"openai\",outcome=\"{outcome}\"}} 2");
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
    let stored = server.get(CHAT).json["messages"].clone();
    let kinds: Vec<_> = stored
        .as_array()
        .map(|m| m.iter().map(|m| m["kind"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(kinds.len(), 16, "{stored}");
    assert_eq!(
        kinds[4..8],
        [
            json!("crisis"),
            json!("safety"),
            json!("crisis"),
            json!("safety")
        ]
    );
    let logs = server.stderr();
    assert!(
        !logs.contains(MODERATION_KEY) && !logs.contains("knives"),
        "{logs}"
    );
}

#[test]
fn through_the_server_a_llama_guard_model_holds_json_and_streamed_replies() {
    let slow_flag = || {
        Reply::Slow(
            Duration::from_millis(300),
            Box::new(Reply::Text("  UNSAFE\n s11 ")),
        )
    };
    let guard = TestServer::start(vec![
        Reply::Text("safe"),
        Reply::Text("safe"),
        slow_flag(),
        slow_flag(),
        too_late(Reply::Text("unsafe\nS11")),
        too_late(Reply::Text("unsafe\nS11")),
        Reply::Status(503, r#"{"error":{"message":"overloaded"}}"#),
    ]);
    let mut troupe = Troupe::new();
    troupe.env("MODERATION_KEY", MODERATION_KEY);
    troupe.write_config(&llama_guard(&guard, 1_000));
    let server = troupe.serve(&[]);

    let (kind, events) = ask_both_ways(&server);
    assert_eq!(kind, "persona");
    assert_streamed_reply(&events);

    let (kind, events) = ask_both_ways(&server);
    assert_eq!(kind, "crisis");
    assert_held_back(&events);

    for _ in ["timeout", "failed"] {
        let (kind, events) = ask_both_ways(&server);
        assert_eq!(kind, "persona");
        assert_streamed_reply(&events);
    }
    let metrics = server.get("/metrics").text;
    for outcome in ["clear", "flagged", "timeout", "failed"] {
        let line = format!(
            "troupe_moderation_checks_total{{kind=\"llama-guard\",outcome=\"{outcome}\"}} 2"
        );
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
    let report = server.get("/v1/safety/report?by=day");
    assert_eq!(report.json[0]["crisis_referrals"], 2);
}

#[test]
fn in_the_console_a_flagged_message_shows_helplines_and_no_piece_of_the_reply() {
    let moderation = TestServer::start(vec![
        Reply::moderation(&[]),
        Reply::Slow(
            Duration::from_millis(300),
            Box::new(Reply::moderation(&["self-harm"])),
        ),
    ]);
    let model = TestServer::start(vec![Reply::Text(PERSONA_REPLY)]);
    let troupe = troupe_with(&model, &openai_moderation(&moderation, 5_000));
    let script = format!("{ASKED}\n{ASKED}\n");
    let run = troupe.run_with_input(&["chat", "chef"], script.as_bytes());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.matches(PERSONA_REPLY).count(),
        1,
        "{}",
        run.stdout
    );
    let helplines = run.stdout.find("988").expect("the crisis reply");
    assert!(run.stdout.find(PERSONA_REPLY) < Some(helplines));
    assert_eq!(model.received().len(), 2);
    assert_eq!(moderation.received().len(), 2);
}

#[test]
fn a_shieldgemma_model_is_asked_its_policy_question_and_a_yes_is_a_crisis() {
    let guard = TestServer::start(vec![
        Reply::Text("Yes\nThe human question expresses a wish to die."),
        Reply::Text("no"),
    ]);
    let model = TestServer::start(vec![Reply::Text(PERSONA_REPLY)]);
    let config = format!(
        "[safety.moderation]\nkind = \"shieldgemma\"\nbase_url = \"{}\"\nmodel = \"shieldgemma:2b\"\n",
        guard.base_url
    );
    let troupe = troupe_with(&model, &config);
    let flagged = say(&troupe, ASKED);
    assert!(flagged.stdout.contains("988"), "{}", flagged.stdout);
    let prompt = &guard.last().messages()[0].1;
    assert!(
        prompt.contains(&format!("Human Question: {ASKED}")),
        "{prompt}"
    );
    assert!(prompt.contains("Your answer must start with 'Yes' or 'No'"));
    assert_eq!(
        guard.last().header("authorization"),
        None,
        "no key is sent when the config names none"
    );
    assert_eq!(say(&troupe, ASKED).stdout.trim(), PERSONA_REPLY);
}

#[test]
fn with_the_server_s_template_a_llama_guard_model_gets_the_message_alone() {
    let guard = TestServer::start(vec![Reply::Text("safe")]);
    let model = TestServer::start(vec![Reply::Text(PERSONA_REPLY)]);
    let config = format!("{}template = \"server\"\n", llama_guard(&guard, 5_000));
    let troupe = troupe_with(&model, &config);
    assert_eq!(say(&troupe, ASKED).stdout.trim(), PERSONA_REPLY);
    assert_eq!(
        guard.last().messages(),
        [("user".to_string(), ASKED.to_string())]
    );
}
