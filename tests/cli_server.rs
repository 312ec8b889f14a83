//! The command line on a data dir that `troupe serve` holds: commands go
//! through the server's API instead of failing on the lock, and print what
//! they print on a data dir of their own. Each test runs the same commands
//! twice, directly on one data dir and through a server on another (both
//! with the clock fixed and the offline backend), and compares.

use std::time::Duration;

use serde_json::Value;

use crate::support::serve::Served;
use crate::support::server::{Reply, TestServer};
use crate::support::{Run, Troupe};

/// The instant both data dirs live at.
const NOW: &str = "2026-11-26T09:00:00Z";

/// One data dir used directly, one held by a server.
struct Twins {
    direct: Troupe,
    served: Troupe,
    server: Served,
}

impl Twins {
    fn new() -> Self {
        Self::with(Troupe::new(), Troupe::new())
    }

    /// Both data dirs with the model at `base_url` instead of the offline one.
    fn with_model(base_url: &str) -> Self {
        Self::with(Troupe::with_server(base_url), Troupe::with_server(base_url))
    }

    fn with(direct: Troupe, served: Troupe) -> Self {
        let server = served.serve(&["--now", NOW]);
        Self {
            direct,
            served,
            server,
        }
    }

    /// Runs `args` on both data dirs (with `stdin`); the direct run gets the
    /// fixed clock the server has.
    fn both_with_input(&self, args: &[&str], stdin: &[u8]) -> (Run, Run) {
        let mut fixed = vec!["--now", NOW];
        fixed.extend_from_slice(args);
        let direct = self.direct.run_with_input(&fixed, stdin);
        let served = self.served.run_with_input(args, stdin);
        (direct, served)
    }

    fn both(&self, args: &[&str]) -> (Run, Run) {
        self.both_with_input(args, b"")
    }

    /// Runs `args` on both and checks that they print the same (each data
    /// dir's path read as `DATA`) and exit alike; returns the served run.
    fn same(&self, args: &[&str]) -> Run {
        self.same_with_input(args, b"")
    }

    fn same_with_input(&self, args: &[&str], stdin: &[u8]) -> Run {
        let (direct, served) = self.both_with_input(args, stdin);
        assert_eq!(
            (
                direct.code,
                self.plain(&direct.stdout, true),
                self.plain(&direct.stderr, true)
            ),
            (
                served.code,
                self.plain(&served.stdout, false),
                self.plain(&served.stderr, false)
            ),
            "`troupe {}` differs through the server",
            args.join(" ")
        );
        served
    }

    /// `text` with the data dir's path replaced by `DATA`.
    fn plain(&self, text: &str, direct: bool) -> String {
        let troupe = if direct { &self.direct } else { &self.served };
        text.replace(&troupe.data_dir().display().to_string(), "DATA")
    }

    /// Runs `args` (which ask for JSON) on both and checks the documents
    /// are the same once latencies are zeroed; returns the served one.
    fn same_json(&self, args: &[&str]) -> Value {
        let (direct, served) = self.both(args);
        assert_eq!(direct.code, 0, "{}", direct.stderr);
        assert_eq!(served.code, 0, "{}", served.stderr);
        let (mut direct, mut served) = (direct.json(), served.json());
        zero_latencies(&mut direct);
        zero_latencies(&mut served);
        assert_eq!(direct, served, "`troupe {}` differs", args.join(" "));
        served
    }
}

/// Sets every latency in a JSON document to zero: timings differ between
/// two runs, nothing else may.
fn zero_latencies(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key.contains("latency") {
                    *field = Value::from(0);
                } else {
                    zero_latencies(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(zero_latencies),
        _ => {}
    }
}

/// The same conversations in both data dirs: ana and the chef, bea with
/// Élise, through one-shot messages (text and JSON).
fn talk(twins: &Twins) {
    for (args, text) in [
        (
            ["chef", "--user", "ana"],
            "I have leftover rice and two eggs",
        ),
        (
            ["chef", "--user", "ana"],
            "Which rice is best for saffron risotto?",
        ),
        (
            ["decor", "--user", "bea"],
            "Quelle peinture pour un couloir sombre ?",
        ),
    ] {
        let mut command = vec!["chat"];
        command.extend_from_slice(&args);
        command.extend_from_slice(&["--message", text]);
        let served = twins.same(&command);
        assert_eq!(served.code, 0, "{}", served.stderr);
        assert!(!served.stdout.trim().is_empty());
    }
    let json = twins.same_json(&[
        "chat",
        "chef",
        "--user",
        "ana",
        "--message",
        "And for dessert?",
        "--json",
    ]);
    assert_eq!(json["persona"], "chef");
    assert_eq!(json["reply"]["model"], "offline");
}

#[test]
fn each_command_through_the_server_prints_what_it_prints_on_its_own_data_dir() {
    let twins = Twins::new();
    talk(&twins);
    for args in [
        vec!["history", "--user", "ana", "--persona", "chef"],
        vec!["topics", "--user", "ana", "--persona", "chef"],
        vec!["followups", "due"],
        vec!["followups", "explain", "--user", "ana", "--persona", "chef"],
        vec!["user", "show", "ana"],
        vec!["safety", "report"],
    ] {
        let served = twins.same(&args);
        assert_eq!(served.code, 0, "{args:?}: {}", served.stderr);
        assert!(!served.stdout.is_empty(), "{args:?}");
    }
    let history = twins.same_json(&["history", "--user", "ana", "--persona", "chef", "--json"]);
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(6));
    let topics = twins.same_json(&["topics", "--user", "ana", "--persona", "chef", "--json"]);
    assert!(topics[0]["phrase"].is_string(), "{topics}");
    let verdict = twins.same_json(&[
        "followups",
        "explain",
        "--user",
        "ana",
        "--persona",
        "chef",
        "--json",
    ]);
    assert_eq!(verdict["eligible"], false);
    twins.same_json(&["followups", "due", "--json"]);
    let usage = twins.same_json(&["usage", "--json"]);
    assert_eq!(usage[0]["calls"], 3, "{usage}");
    twins.same_json(&["usage", "--since", "2026-11-01", "--json"]);
    twins.same_json(&["safety", "report", "--by", "day", "--json"]);

    let set = twins.same(&[
        "user",
        "set",
        "ana",
        "--timezone",
        "Europe/Paris",
        "--followups",
        "off",
    ]);
    assert_eq!(set.stdout.trim(), "updated ana");
    let view = twins.same_json(&["user", "show", "ana", "--json"]);
    assert_eq!(view["timezone"], "Europe/Paris");
    assert_eq!(view["followups"], "off");
    let export = twins.same_json(&["export", "--user", "ana"]);
    assert_eq!(export["format"], "troupe-export/1");
    assert_eq!(export["user"]["timezone"], "Europe/Paris");

    let erased = twins.same(&["erase", "--user", "bea", "--yes"]);
    assert!(
        erased
            .stdout
            .starts_with("erased bea: 1 conversation(s), 2 message(s)"),
        "{}",
        erased.stdout
    );
    let gone = twins.same(&["history", "--user", "bea", "--persona", "decor"]);
    assert!(gone.stdout.contains("no conversation"), "{}", gone.stdout);
}

#[test]
fn a_crisis_through_the_server_says_its_kind_as_it_does_on_its_own() {
    let twins = Twins::new();
    for (text, kind, resource) in [
        (
            "someone is breaking in and I'm hiding in the closet",
            "danger",
            "911",
        ),
        ("I want to end my life", "self_harm", "988"),
    ] {
        let json = twins.same_json(&["chat", "chef", "--user", "ana", "--message", text, "--json"]);
        assert_eq!(json["reply"]["kind"], "crisis", "{json}");
        assert_eq!(json["reply"]["crisis"], kind, "{json}");
        assert!(
            json["reply"]["text"]
                .as_str()
                .unwrap_or_default()
                .contains(resource),
            "{json}"
        );
    }
    let report = twins.same_json(&["safety", "report", "--json"]);
    assert_eq!(report[0]["danger_referrals"], 1, "{report}");
}

#[test]
fn mistakes_get_the_same_message_and_exit_code_through_the_server() {
    let twins = Twins::new();
    talk(&twins);
    for (args, code) in [
        (vec!["history", "--user", "ana", "--persona", "nobody"], 1),
        (vec!["history", "--user", "../ana", "--persona", "chef"], 2),
        (vec!["user", "show", "zoe"], 1),
        (vec!["export", "--user", "zoe"], 1),
        (vec!["erase", "--user", "zoe", "--yes"], 1),
        (
            vec!["followups", "explain", "--user", "zoe", "--persona", "chef"],
            1,
        ),
        (vec!["user", "set", "ana", "--timezone", "Mars/Olympus"], 2),
        (vec!["user", "set", "ana", "--language", "klingon!"], 2),
        (
            vec!["chat", "chef", "--user", "ana", "--message", " \u{7} "],
            1,
        ),
    ] {
        let served = twins.same(&args);
        assert_eq!(served.code, code, "{args:?}: {}", served.stderr);
        let last = served.stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("troupe: "), "{args:?}: {}", served.stderr);
    }
    let long = "a".repeat(5000);
    let refused = twins.same(&["chat", "chef", "--user", "ana", "--message", &long]);
    assert!(
        refused.stderr.contains("the limit is 4000"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_reply_streamed_from_a_model_and_a_failing_model_look_alike_through_the_server() {
    let model = TestServer::start(vec![
        Reply::Text("Fold the eggs in last. "),
        Reply::Text("Fold the eggs in last. "),
        Reply::Status(400, r#"{"error":{"message":"this model does not exist"}}"#),
    ]);
    let twins = Twins::with_model(&model.base_url);
    let streamed = twins.same(&["chat", "chef", "--user", "ana", "--message", "Eggs?"]);
    assert_eq!(streamed.stdout, "Fold the eggs in last. \n");
    let failed = twins.same(&[
        "chat",
        "chef",
        "--user",
        "ana",
        "--message",
        "And the rice?",
    ]);
    assert_eq!(failed.code, 1);
    assert!(
        failed.stderr.contains("Your message was saved"),
        "{}",
        failed.stderr
    );
    let history = twins.same_json(&["history", "--user", "ana", "--persona", "chef", "--json"]);
    assert_eq!(
        history["messages"].as_array().map(Vec::len),
        Some(3),
        "{history}"
    );
}

#[test]
fn erasing_through_the_server_asks_on_the_terminal_first() {
    let twins = Twins::new();
    talk(&twins);
    let refused = twins.same_with_input(&["erase", "--user", "ana"], b"ana\n");
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("run it on a terminal to confirm, or pass --yes"),
        "{}",
        refused.stderr
    );
    let user = twins.server.get("/v1/users/ana");
    assert_eq!(user.status, 200, "nothing was erased");
}

#[test]
fn a_chat_through_the_server_is_stored_and_in_the_servers_history() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let run = troupe.run(&[
        "chat",
        "chef",
        "--user",
        "ana",
        "--message",
        "I have leftover rice and two eggs",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("rice"), "{}", run.stdout);
    assert!(run.stderr.contains("an AI"), "the notice: {}", run.stderr);

    let history = server.get("/v1/conversations/ana/chef/messages");
    assert_eq!(history.status, 200, "{}", history.text);
    let messages = history.json["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["text"], "I have leftover rice and two eggs");
    assert_eq!(messages[1]["role"], "assistant");
    let texts: Vec<&Value> = messages.iter().map(|m| &m["text"]).collect();
    let through_cli = troupe.history_of("ana", "chef");
    assert_eq!(
        texts,
        through_cli.iter().map(|m| &m["text"]).collect::<Vec<_>>()
    );
    assert_eq!(
        server.get("/readyz").status,
        200,
        "the server still holds the data dir"
    );
}

#[test]
fn the_console_works_through_the_server_as_it_does_on_its_own() {
    let twins = Twins::new();
    let script = "I have leftover rice\n/history\nSTOP\n/personas\nI want to end my life\n/switch decor\nbonjour\n/stop\n/nonsense\n/quit\nnever sent\n";
    let served = twins.same_with_input(&["chat", "chef", "--user", "carl"], script.as_bytes());
    assert_eq!(served.code, 0, "{}", served.stderr);
    assert!(
        served
            .stdout
            .starts_with("[You are chatting with Chef Marco, an AI"),
        "{}",
        served.stdout
    );
    assert!(
        served.stdout.contains("] you: I have leftover rice"),
        "/history: {}",
        served.stdout
    );
    assert!(
        served.stdout.contains("[Got it: Chef Marco won't check in"),
        "{}",
        served.stdout
    );
    assert!(
        served.stdout.contains("\nTroupe: I'm really sorry"),
        "{}",
        served.stdout
    );
    assert!(
        served.stdout.contains("[Vous discutez avec Élise, une IA"),
        "{}",
        served.stdout
    );
    assert!(served.stderr.contains("unknown command /nonsense"));
    let chef = twins.server.get("/v1/conversations/carl/chef/messages");
    assert_eq!(
        chef.json["messages"].as_array().map(Vec::len),
        Some(4),
        "{}",
        chef.text
    );
}

#[test]
fn the_follow_up_waiting_for_a_user_is_shown_once_through_the_server() {
    let troupe = Troupe::new();
    for i in 0..5 {
        let at = format!("2026-11-02T10:{i}0:00Z");
        let text = format!("Saffron risotto question {i}");
        let run = troupe.run(&["--now", &at, "chat", "chef", "--message", &text]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let later = "2026-11-03T12:00:00Z";
    let sent = troupe.run(&["--now", later, "followups", "run", "--json"]);
    assert_eq!(
        sent.json().as_array().map(Vec::len),
        Some(1),
        "{}",
        sent.stderr
    );
    let _server = troupe.serve(&["--now", later]);

    let first = troupe.run_with_input(&["chat", "chef"], b"/quit\n");
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stdout
            .contains("While you were away, Chef Marco wrote:"),
        "{}",
        first.stdout
    );
    let again = troupe.run_with_input(&["chat", "chef"], b"/quit\n");
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        !again.stdout.contains("While you were away"),
        "shown once: {}",
        again.stdout
    );
}

#[test]
fn an_announced_server_that_does_not_answer_is_a_clear_error() {
    let troupe = Troupe::new();
    assert_eq!(troupe.run(&["chat", "chef", "--message", "hello"]).code, 0);
    let holder = troupe::store::Store::open(&troupe.data_dir()).expect("hold the store");
    let dead = crate::support::server::closed_port_url().replace("/v1", "");
    holder.announce_server(Some(&dead)).expect("announce");
    let run = troupe.run(&["history", "--user", "tester", "--persona", "chef"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(&dead), "{}", run.stderr);
    assert!(run.stderr.contains("does not answer"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&troupe.data_dir().display().to_string()),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_with_an_operator_token_wants_it_from_the_command_line_too() {
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_OPERATOR_TOKEN", "op-secret-123456");
    let _server = troupe.serve(&[]);
    let with = troupe.run(&["chat", "chef", "--user", "ana", "--message", "hello"]);
    assert_eq!(with.code, 0, "{}", with.stderr);
    let without = crate::support::finish(
        troupe
            .command(&["history", "--user", "ana", "--persona", "chef"])
            .env_remove("TROUPE_OPERATOR_TOKEN")
            .output()
            .expect("run troupe"),
    );
    assert_eq!(without.code, 1);
    assert!(
        without
            .stderr
            .contains("needs an operator token; set TROUPE_OPERATOR_TOKEN"),
        "{}",
        without.stderr
    );
    assert!(!without.stderr.contains("op-secret"), "{}", without.stderr);
}

#[test]
fn commands_that_cannot_go_through_the_server_say_it_holds_the_data_dir() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    for args in [
        vec!["maintenance", "purge"],
        vec!["followups", "run"],
        vec!["dev", "populate", "--conversations", "3"],
    ] {
        let run = troupe.run(&args);
        assert_eq!(run.code, 1, "{args:?}");
        assert!(
            run.stderr.contains("is held by the troupe server at"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(&server.url), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn ctrl_c_in_a_console_going_through_the_server_stops_the_reply_there_too() {
    const WHOLE: &str = "Toast the rice first, then add the wine, then the stock a little at a time until it is creamy and just firm.";
    let model = TestServer::start(vec![Reply::Trickle(WHOLE, Duration::from_millis(100))]);
    let troupe = Troupe::with_server(&model.base_url);
    let server = troupe.serve(&[]);
    let client = troupe::client::ApiClient::new(
        &server.url,
        &troupe.data_dir(),
        &troupe::server::ServerConfig::default(),
    )
    .expect("a client of the server");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let failure = runtime.block_on(async {
        let (first_words, heard) = tokio::sync::oneshot::channel::<()>();
        let mut first_words = Some(first_words);
        let mut failure = None;
        let mut on_event = |event| match event {
            troupe::chat::TurnEvent::Delta(_) => {
                if let Some(first) = first_words.take() {
                    let _ = first.send(());
                }
            }
            troupe::chat::TurnEvent::Failed(error) => failure = Some(error.to_string()),
            _ => {}
        };
        // Ctrl-C, pressed once the first words are on screen.
        let ctrl_c = std::pin::pin!(async {
            let _ = heard.await;
        });
        client
            .stream_turn(
                "alice",
                "chef",
                "Risotto, step by step?",
                &mut on_event,
                ctrl_c,
            )
            .await;
        failure
    });
    let failure = failure.expect("a stopped turn says so");
    assert!(failure.contains("Ctrl-C"), "{failure}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let reply = loop {
        let history = troupe.history_of("alice", "chef");
        if history.len() == 2 {
            break history[1].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no reply stored");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(reply["interrupted"], true, "{reply}");
    assert_ne!(reply["text"], WHOLE, "the model was not left writing");
}

#[test]
fn a_reply_that_breaks_off_on_the_server_still_gets_its_disclaimers_in_the_console() {
    let model = TestServer::start(vec![Reply::SseCut(vec![
        r#"{"choices":[{"index":0,"delta":{"content":"Skip the nuts and "},"finish_reason":null}]}"#,
    ])]);
    let troupe = Troupe::with_server(&model.base_url);
    let _server = troupe.serve(&[]);
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
        "the partial reply and its disclaimer, through the server: {}",
        run.stdout
    );
}
