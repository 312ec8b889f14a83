//! The same data read two ways — the command line's `--json` on a data dir
//! of its own, then the HTTP API of `troupe serve` on that same data dir —
//! answers in the same field names, command by route. Values may differ
//! where they are the reader's own (latencies, the export's instant); the
//! names and nesting may not. The server runs without its follow-up
//! scheduler (`[server] followups = false`), so it reads the data as the
//! command line left it, what is due included.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::Troupe;

/// When both readers look: two days after [`Troupe::five_messages`], so a
/// follow-up is due.
const NOW: &str = "2026-11-04T12:00:00Z";

/// A JSON document's field names and nesting, without its values: an
/// object maps each key to the shape of its value; an array is the union
/// of its elements' shapes; every scalar (and `null`) is `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Scalar,
    Object(BTreeMap<String, Shape>),
    Array(Box<Shape>),
}

impl Shape {
    fn of(value: &Value) -> Shape {
        match value {
            Value::Object(map) => Shape::Object(
                map.iter()
                    .map(|(key, field)| (key.clone(), Shape::of(field)))
                    .collect(),
            ),
            Value::Array(items) => Shape::Array(Box::new(
                items
                    .iter()
                    .map(Shape::of)
                    .fold(Shape::Scalar, Shape::merge),
            )),
            _ => Shape::Scalar,
        }
    }

    /// Both shapes in one: an object has the keys of either; a scalar
    /// (such as a `null` where the other has an object) gives way.
    fn merge(self, other: Shape) -> Shape {
        match (self, other) {
            (Shape::Object(mut a), Shape::Object(b)) => {
                for (key, shape) in b {
                    let merged = match a.remove(&key) {
                        Some(existing) => existing.merge(shape),
                        None => shape,
                    };
                    a.insert(key, merged);
                }
                Shape::Object(a)
            }
            (Shape::Array(a), Shape::Array(b)) => Shape::Array(Box::new(a.merge(*b))),
            (Shape::Scalar, other) => other,
            (this, _) => this,
        }
    }

    /// Whether there is a field to compare at all (an empty list or object
    /// would agree with anything).
    fn has_fields(&self) -> bool {
        match self {
            Shape::Scalar => false,
            Shape::Object(map) => !map.is_empty(),
            Shape::Array(item) => item.has_fields(),
        }
    }
}

/// One read command and the route that answers the same question.
struct Pair {
    command: Vec<String>,
    method: &'static str,
    route: String,
    body: Option<Value>,
    /// Top-level fields the command prints and the route has in its path
    /// instead (the conversation a message was sent in).
    cli_adds: &'static [&'static str],
}

fn pair(command: &str, method: &'static str, route: &str) -> Pair {
    Pair {
        command: command.split_whitespace().map(String::from).collect(),
        method,
        route: route.to_string(),
        body: None,
        cli_adds: &[],
    }
}

/// What the command printed, without the fields it adds to the route's
/// answer (each of which it must print).
fn without_additions(pair: &Pair, printed: &Value) -> Value {
    let mut printed = printed.clone();
    for field in pair.cli_adds {
        let removed = printed.as_object_mut().and_then(|map| map.remove(*field));
        assert!(
            removed.is_some(),
            "`troupe {}` does not print {field:?}: {printed}",
            pair.command.join(" ")
        );
    }
    printed
}

/// A data dir with a conversation that got a follow-up (ana), one with a
/// follow-up due (eli), a crisis referral (cara), user settings, usage, and
/// two users to erase; its config keeps a server from delivering anything.
fn data_dir_with_everything() -> Troupe {
    let troupe = Troupe::new();
    troupe.write_config("[server]\nfollowups = false\n");
    troupe.five_messages("ana", &[]);
    for (user, text) in [
        ("cara", "I want to end my life"),
        ("bob", "Hello"),
        ("dan", "Hello"),
    ] {
        let args = [
            "--now",
            "2026-11-03T09:00:00Z",
            "chat",
            "chef",
            "--user",
            user,
            "--message",
            text,
        ];
        let run = troupe.run(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let set = troupe.run(&[
        "user",
        "set",
        "ana",
        "--timezone",
        "Europe/Paris",
        "--language",
        "fr",
    ]);
    assert_eq!(set.code, 0, "{}", set.stderr);
    let run = troupe.run(&["--now", NOW, "followups", "run", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sent = run.json();
    assert!(
        sent.as_array()
            .is_some_and(|sent| sent.iter().any(|s| s["user"] == "ana")),
        "no follow-up for ana: {sent}"
    );
    troupe.five_messages("eli", &[]);
    troupe
}

#[test]
fn every_read_command_s_json_has_the_field_names_of_its_http_route() {
    let troupe = data_dir_with_everything();
    let backups = troupe.root.path().join("backups");
    let cli_backup = backups.join("by-cli").display().to_string();
    let api_backup = backups.join("by-api").display().to_string();
    let mut pairs = vec![
        pair("personas list --json", "GET", "/v1/personas"),
        pair("personas show chef --json", "GET", "/v1/personas/chef"),
        pair(
            "history --user ana --persona chef --json",
            "GET",
            "/v1/conversations/ana/chef/messages?limit=500",
        ),
        pair(
            "topics --user ana --persona chef --json",
            "GET",
            "/v1/conversations/ana/chef/topics",
        ),
        pair(
            "followups explain --user ana --persona chef --json",
            "GET",
            "/v1/followups/explain?user=ana&persona=chef",
        ),
        pair("followups due --json", "GET", "/v1/followups/due"),
        pair("user show ana --json", "GET", "/v1/users/ana"),
        pair("export --user ana --json", "GET", "/v1/users/ana/export"),
        pair("usage --json", "GET", "/v1/usage"),
        pair(
            "safety report --by week --json",
            "GET",
            "/v1/safety/report?by=week",
        ),
        pair("erase --user bob --yes --json", "DELETE", "/v1/users/dan"),
    ];
    let mut backup = pair("store backup --json", "POST", "/v1/store/backup");
    backup.command.insert(2, cli_backup);
    backup.body = Some(serde_json::json!({ "dir": api_backup }));
    pairs.push(backup);
    // Last, as it writes: a first message from a new user each way.
    let mut chat = pair(
        "chat chef --user eve --message Hello --json",
        "POST",
        "/v1/conversations/fay/chef/messages",
    );
    chat.body = Some(serde_json::json!({ "text": "Hello" }));
    chat.cli_adds = &["persona", "user"];
    pairs.push(chat);

    // First every command on the files…
    let mut printed = Vec::new();
    for pair in &pairs {
        let mut args = vec!["--now", NOW];
        args.extend(pair.command.iter().map(String::as_str));
        let run = troupe.run(&args);
        assert_eq!(
            run.code,
            0,
            "`troupe {}`: {}",
            pair.command.join(" "),
            run.stderr
        );
        printed.push(run.json());
    }

    // …then every route of a server holding the same data dir.
    let server = troupe.serve(&["--now", NOW]);
    for (pair, cli) in pairs.iter().zip(&printed) {
        let answer = server.request(pair.method, &pair.route, pair.body.clone());
        assert_eq!(
            answer.status, 200,
            "{} {}: {}",
            pair.method, pair.route, answer.text
        );
        let cli = &without_additions(pair, cli);
        let (cli_shape, api_shape) = (Shape::of(cli), Shape::of(&answer.json));
        assert!(
            cli_shape.has_fields(),
            "`troupe {}` printed nothing to compare: {cli}",
            pair.command.join(" ")
        );
        assert_eq!(
            cli_shape,
            api_shape,
            "`troupe {}` and {} {} name their fields differently\ncli: {cli:#}\napi: {:#}",
            pair.command.join(" "),
            pair.method,
            pair.route,
            answer.json
        );
    }
}

#[test]
fn shapes_compare_names_and_nesting_not_values() {
    let a = serde_json::json!([{"user": "ana", "at": null}, {"user": "bob", "at": "x"}]);
    let b = serde_json::json!([{"user": "cara", "at": "y"}]);
    assert_eq!(Shape::of(&a), Shape::of(&b));
    let renamed = serde_json::json!([{"user_id": "cara", "at": "y"}]);
    assert_ne!(Shape::of(&a), Shape::of(&renamed));
    let nested = serde_json::json!({"messages": [{"seq": 1, "text": "hi"}]});
    let flat = serde_json::json!({"messages": [{"text": "hi"}]});
    assert_ne!(Shape::of(&nested), Shape::of(&flat));
    assert!(!Shape::of(&serde_json::json!([])).has_fields());
}
