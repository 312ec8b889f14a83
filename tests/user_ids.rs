//! User ids ignore case, as persona ids do: `ana` and `ANA` are one user,
//! stored as `ana`. Users an earlier release stored under a mixed-case id
//! stay where they are and are reached by any spelling; users whose ids
//! differ only by case stay apart, each reached by its exact spelling.

use serde_json::json;

use crate::support::{Run, Troupe};

/// Stores `text` as a message of `user` to the chef directly, as an
/// earlier release (which kept ids as typed) did.
fn stored_by_an_earlier_release(troupe: &Troupe, user: &str, text: &str) {
    let store = troupe::store::Store::open(&troupe.data_dir()).expect("open the store");
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let message = troupe::store::Message::from_user(text, at);
    store
        .append(user, "chef", &message, &troupe::store::AppendEffects::NONE)
        .expect("append");
}

fn chat(troupe: &Troupe, user: &str, text: &str) -> Run {
    let run = troupe.run(&["chat", "chef", "--user", user, "--message", text]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

fn texts(troupe: &Troupe, user: &str) -> Vec<String> {
    troupe
        .history_of(user, "chef")
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn user_ids_differing_only_by_case_are_one_user_stored_lower_case() {
    let troupe = Troupe::new();
    chat(&troupe, "ana", "first");
    chat(&troupe, "ANA", "second");
    let json = troupe.run(&[
        "chat",
        "chef",
        "--user",
        "Ana",
        "--message",
        "third",
        "--json",
    ]);
    assert_eq!(json.json()["user"], "ana");
    for spelling in ["ana", "Ana", "ANA"] {
        assert_eq!(texts(&troupe, spelling), ["first", "second", "third"]);
    }
    let shown = troupe.run(&["user", "show", "ANA", "--json"]).json();
    assert_eq!(shown["id"], "ana");
    assert_eq!(shown["conversations"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_user_an_earlier_release_stored_in_mixed_case_is_reached_by_any_spelling() {
    let troupe = Troupe::new();
    stored_by_an_earlier_release(&troupe, "Ana", "from before");
    chat(&troupe, "ana", "and now");
    assert_eq!(texts(&troupe, "ANA"), ["from before", "and now"]);
    assert_eq!(
        troupe.run(&["user", "show", "ana", "--json"]).json()["id"],
        "Ana",
        "kept under its stored id, nothing moved"
    );
    let export = troupe.run(&["export", "--user", "aNA"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert!(export.stdout.contains("from before") && export.stdout.contains("and now"));
    let erase = troupe.run(&["erase", "--user", "ANA", "--yes"]);
    assert_eq!(erase.code, 0, "{}", erase.stderr);
    assert!(texts(&troupe, "Ana").is_empty());
}

#[test]
fn users_an_earlier_release_kept_apart_by_case_stay_apart_and_other_spellings_are_refused() {
    let troupe = Troupe::new();
    stored_by_an_earlier_release(&troupe, "Ana", "I am Ana");
    stored_by_an_earlier_release(&troupe, "ANA", "I am ANA");
    assert_eq!(texts(&troupe, "Ana"), ["I am Ana"]);
    assert_eq!(texts(&troupe, "ANA"), ["I am ANA"]);
    for args in [
        vec!["history", "--user", "ana", "--persona", "chef"],
        vec!["chat", "chef", "--user", "aNa", "--message", "who am I?"],
    ] {
        let run = troupe.run(&args);
        assert_eq!(run.code, 2, "a usage error: {}", run.stderr);
        assert!(
            run.stderr.contains("could be any of \"ANA\", \"Ana\"")
                && run.stderr.contains("use one of these exact spellings"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(texts(&troupe, "Ana"), ["I am Ana"], "nothing lost or added");
    assert_eq!(texts(&troupe, "ANA"), ["I am ANA"]);
}

#[test]
fn the_api_and_the_openai_endpoint_follow_the_same_rule() {
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_OPERATOR_TOKEN", "operator-secret-token");
    let server = troupe.serve(&[]);
    let operator = server.as_token("operator-secret-token");
    let sent = operator.post(
        "/v1/conversations/ANA/chef/messages",
        json!({"text": "hello from the API"}),
    );
    assert_eq!(sent.status, 200, "{}", sent.text);
    let completion = operator.post(
        "/v1/chat/completions",
        json!({"model": "chef", "user": "Ana", "messages": [{"role": "user", "content": "and from a client"}]}),
    );
    assert_eq!(completion.status, 200, "{}", completion.text);
    let user = operator.get("/v1/users/ana");
    assert_eq!((user.status, user.json["id"].as_str()), (200, Some("ana")));
    let page = operator.get("/v1/conversations/aNa/chef/messages");
    let texts: Vec<&str> = page.json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["hello from the API", "and from a client"]);

    // A token minted for one spelling acts for every spelling of its user.
    let minted = operator.post("/v1/users/Ana/tokens", json!({}));
    assert_eq!(minted.status, 201, "{}", minted.text);
    let ana = server.as_token(minted.json["token"].as_str().unwrap());
    assert_eq!(ana.get("/v1/users/ANA").status, 200);
    assert_eq!(
        ana.post(
            "/v1/conversations/ana/chef/messages",
            json!({"text": "me again"})
        )
        .status,
        200
    );
    let bad = operator.get("/v1/users/a%2Fb");
    assert_eq!(bad.status, 400);
}
