//! Safety: the labelled sets measure the detectors; precision and recall
//! below 0.9 on either set fails.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use troupe::safety::classifier::{self, Classifier};
use troupe::safety::meaning::{self, MeaningReader, PieceVectors};
use troupe::safety::{CrisisKind, Subject, assess};

/// The label of a crisis kind in the labelled sets: `crisis` (suicide or
/// self-harm) or `danger` (from someone else).
fn label_of(kind: CrisisKind) -> &'static str {
    match kind {
        CrisisKind::SelfHarm => "crisis",
        CrisisKind::Danger => "danger",
    }
}

/// (label, lang, text) rows of a labelled set; a fourth column, when there
/// is one, is a note on the row (what kind of message it is) and not text.
fn rows(name: &str) -> Vec<(String, String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let mut next = || fields.next().unwrap_or_default().to_string();
            (next(), next(), next())
        })
        .collect()
}

/// Labels of one text, as a set ("none" is the empty set).
type Labels = BTreeSet<String>;

/// Scores `predict` against the labelled set `name` (whose label column is
/// read by `gold`), prints the misses, and fails below 0.9 precision or recall.
fn measure(name: &str, min_rows: usize, gold: fn(&str) -> Labels, predict: fn(&str) -> Labels) {
    let data = rows(name);
    assert!(data.len() >= min_rows, "{name} has {} rows", data.len());
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    let mut misses = Vec::new();
    for (label, _, text) in &data {
        let (expected, found) = (gold(label), predict(text));
        tp += expected.intersection(&found).count() as f64;
        fp += found.difference(&expected).count() as f64;
        fn_ += expected.difference(&found).count() as f64;
        if expected != found {
            misses.push(format!("expected {expected:?}, got {found:?}: {text}"));
        }
    }
    let (precision, recall) = (tp / (tp + fp), tp / (tp + fn_));
    println!(
        "{name}: precision {precision:.3}, recall {recall:.3} on {} sentences",
        data.len()
    );
    for miss in &misses {
        println!("  {miss}");
    }
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "{name}: precision {precision:.3}, recall {recall:.3}"
    );
}

#[test]
fn sensitive_subjects_are_found_with_precision_and_recall_above_0_9() {
    measure(
        "sensitive.tsv",
        150,
        |label| {
            (label != "none")
                .then(|| label.to_string())
                .into_iter()
                .collect()
        },
        |text| {
            assess(text)
                .subjects
                .iter()
                .map(|s: &Subject| s.name().to_string())
                .collect()
        },
    );
}

#[test]
fn crisis_messages_are_found_with_precision_and_recall_above_0_9() {
    measure(
        "crisis.tsv",
        100,
        |label| {
            (label == "crisis")
                .then(|| "crisis".to_string())
                .into_iter()
                .collect()
        },
        |text| {
            assess(text)
                .is_crisis()
                .then(|| "crisis".to_string())
                .into_iter()
                .collect()
        },
    );
}

use crate::support::server::{Received, Reply, TestServer};
use crate::support::{Troupe, fixture};

fn say(troupe: &Troupe, now: &str, user: &str, persona: &str, text: &str) -> crate::support::Run {
    let run = troupe.run(&[
        "--now",
        now,
        "chat",
        persona,
        "--user",
        user,
        "--message",
        text,
    ]);
    assert_eq!(run.code, 0, "{text}: {}", run.stderr);
    run
}

#[test]
fn a_follow_up_prompt_never_quotes_a_crisis_exchange() {
    let server = TestServer::start(vec![Reply::Text("Checking in!")]);
    let troupe = Troupe::with_server(&server.base_url);
    troupe.write_config("[safety]\ncrisis_hold_days = 1\n\n[safety.crisis.en]\nmessage = \"Please talk to someone today: our team is on 0800 123 456.\"\n");
    for i in 0..5 {
        say(
            &troupe,
            &format!("2026-11-02T10:0{i}:00Z"),
            "tester",
            "chef",
            "saffron risotto tips",
        );
    }
    say(
        &troupe,
        "2026-11-02T10:30:00Z",
        "tester",
        "chef",
        "I keep thinking about killing myself",
    );
    let run = troupe.run(&[
        "--now",
        "2026-11-05T12:00:00Z",
        "followups",
        "run",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json().as_array().map(Vec::len),
        Some(1),
        "after the hold"
    );
    let prompt = server.last().body.to_string();
    assert!(
        !prompt.contains("killing myself") && !prompt.contains("0800 123 456"),
        "{prompt}"
    );
}

#[test]
fn a_crisis_message_over_the_size_limit_still_gets_helplines() {
    let troupe = Troupe::new();
    let letter = format!(
        "{}I want to kill myself tonight.",
        "I have been feeling so alone for months and nobody notices. ".repeat(70)
    );
    let run = say(&troupe, "2026-11-02T10:00:00Z", "tester", "chef", &letter);
    assert!(run.stdout.contains("988"), "{}", run.stdout);
    let report = troupe.run(&["safety", "report", "--json"]).json();
    assert_eq!(report[0]["crisis_referrals"], 1);
    let history = troupe.history("chef");
    let kept = history[0]["text"].as_str().unwrap_or_default();
    assert_eq!(kept.chars().count(), 4000, "kept up to the limit");
    assert!(kept.ends_with('…'));
}

#[test]
fn a_crisis_message_gets_helplines_not_the_persona_and_is_logged_anonymously() {
    let server = TestServer::start(vec![Reply::Text("in character")]);
    let troupe = Troupe::with_server(&server.base_url);
    for i in 0..5 {
        for (persona, text) in [("chef", "risotto tips"), ("decor", "un salon vert sauge")] {
            say(
                &troupe,
                &format!("2026-11-02T10:0{i}:00Z"),
                "tester",
                persona,
                text,
            );
        }
    }
    let before = server.received().len();
    let crisis = say(
        &troupe,
        "2026-11-02T11:00:00Z",
        "tester",
        "chef",
        "I keep thinking about killing myself",
    );
    assert_eq!(crisis.code, 0, "{}", crisis.stderr);
    assert!(crisis.stdout.contains("988"), "{}", crisis.stdout);
    assert_eq!(
        server.received().len(),
        before,
        "the persona's model is not asked"
    );
    let history = troupe.history("chef");
    let last = history.last().cloned().unwrap_or_default();
    assert_eq!(last["kind"], "safety");
    assert_eq!(
        history[history.len() - 2]["text"],
        "I keep thinking about killing myself",
        "the message is kept"
    );
    let next = say(
        &troupe,
        "2026-11-02T11:02:00Z",
        "tester",
        "chef",
        "what about dinner?",
    );
    assert_eq!(next.code, 0, "{}", next.stderr);
    let sent = server.last().messages();
    assert!(
        sent.iter()
            .all(|(_, text)| !text.contains("killing myself") && !text.contains("988")),
        "the crisis message and its reply never reach the persona's model: {sent:?}"
    );
    assert_eq!(
        sent.last().map(|(_, t)| t.as_str()),
        Some("what about dinner?")
    );

    let french = say(
        &troupe,
        "2026-11-02T11:05:00Z",
        "lea",
        "decor",
        "J'ai envie d'en finir",
    );
    assert!(french.stdout.contains("3114"), "{}", french.stdout);

    let report = troupe.run(&["safety", "report", "--by", "day", "--json"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert_eq!(
        report.json(),
        serde_json::json!([{"period": "2026-11-02", "crisis_referrals": 2, "danger_referrals": 0}])
    );
    assert!(!report.stdout.contains("tester") && !report.stdout.contains("lea"));

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
    // The hold covers the person: every persona, and conversations started
    // after the referral, even by a control word.
    say(
        &troupe,
        "2026-11-03T09:00:00Z",
        "tester",
        "creator",
        "start",
    );
    for i in 0..5 {
        say(
            &troupe,
            &format!("2026-11-03T10:0{i}:00Z"),
            "tester",
            "creator",
            "loved your last video",
        );
    }
    let due = troupe.run(&[
        "--now",
        "2026-11-05T12:00:00Z",
        "followups",
        "due",
        "--json",
    ]);
    assert_eq!(due.json(), serde_json::json!([]));
}

#[test]
fn danger_from_someone_else_gets_emergency_numbers_a_hold_and_its_own_log_entry() {
    let server = TestServer::start(vec![Reply::Text("in character")]);
    let troupe = Troupe::with_server(&server.base_url);
    for i in 0..5 {
        say(
            &troupe,
            &format!("2026-11-02T10:0{i}:00Z"),
            "tester",
            "chef",
            "risotto tips",
        );
    }
    let before = server.received().len();
    let danger = troupe.run(&[
        "--now",
        "2026-11-02T11:00:00Z",
        "chat",
        "chef",
        "--user",
        "tester",
        "--message",
        "my boyfriend is hitting me right now, I locked myself in the bathroom",
        "--json",
    ]);
    assert_eq!(danger.code, 0, "{}", danger.stderr);
    let answer = danger.json();
    let reply = &answer["reply"];
    assert_eq!(reply["kind"], "crisis", "{reply}");
    assert_eq!(reply["crisis"], "danger", "{reply}");
    let text = reply["text"].as_str().unwrap_or_default();
    for resource in ["911", "999", "1-800-799-7233", "START to 88788"] {
        assert!(text.contains(resource), "{resource} in {text}");
    }
    assert!(!text.contains("988"), "not the suicide line: {text}");
    assert_eq!(
        server.received().len(),
        before,
        "the persona's model is not asked"
    );
    assert_eq!(
        troupe.history("chef").last().cloned().unwrap_or_default()["kind"],
        "safety"
    );

    let french = say(
        &troupe,
        "2026-11-02T11:05:00Z",
        "lea",
        "decor",
        "mon mec me frappe, je me suis enfermée dans la salle de bain",
    );
    for resource in ["17", "114", "3919"] {
        assert!(french.stdout.contains(resource), "{}", french.stdout);
    }
    assert!(!french.stdout.contains("3114"), "{}", french.stdout);

    let report = troupe.run(&["safety", "report", "--by", "day", "--json"]);
    assert_eq!(
        report.json(),
        serde_json::json!([{"period": "2026-11-02", "crisis_referrals": 0, "danger_referrals": 2}])
    );
    let plain = troupe.run(&["safety", "report", "--by", "day"]);
    assert!(
        plain
            .stdout
            .contains("0 crisis referral(s), 2 danger referral(s)"),
        "{}",
        plain.stdout
    );
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
fn warning_signs_spread_over_messages_add_up_to_a_crisis() {
    let server = TestServer::start(vec![Reply::Text("in character")]);
    let troupe = Troupe::with_server(&server.base_url);
    for (user, persona, signs, farewell, helpline) in [
        (
            "sam",
            "chef",
            [
                "gave my vinyl collection and my bike to friends over the weekend",
                "my sister agreed to look after my cat from now on",
            ],
            "thanks for everything, chef",
            "988",
        ),
        (
            "lou",
            "decor",
            [
                "j'ai donné mes vinyles et mon vélo à des potes",
                "ma voisine va s'occuper de mon chat à partir de maintenant",
            ],
            "merci pour tout, vraiment",
            "3114",
        ),
    ] {
        for (i, sign) in signs.iter().enumerate() {
            let run = say(
                &troupe,
                &format!("2026-11-02T10:0{i}:00Z"),
                user,
                persona,
                sign,
            );
            assert!(!run.stdout.contains(helpline), "{sign}: {}", run.stdout);
        }
        let asked = server.received().len();
        let last = say(&troupe, "2026-11-02T18:00:00Z", user, persona, farewell);
        assert!(
            last.stdout.contains(helpline),
            "{farewell}: {}",
            last.stdout
        );
        assert_eq!(server.received().len(), asked, "the persona is not asked");
        let alone = say(
            &troupe,
            "2026-11-02T18:00:00Z",
            "newcomer",
            persona,
            farewell,
        );
        assert!(
            !alone.stdout.contains(helpline),
            "alone it is harmless: {}",
            alone.stdout
        );
    }
    let report = troupe.run(&["safety", "report", "--json"]).json();
    assert_eq!(report[0]["crisis_referrals"], 2, "{report}");
}

#[test]
fn the_same_signs_around_a_move_abroad_stay_a_chat() {
    let server = TestServer::start(vec![Reply::Text("in character")]);
    let troupe = Troupe::with_server(&server.base_url);
    for (i, text) in [
        "we're moving to Montreal in May, so I'm giving away most of my furniture",
        "my neighbour will take my cat, the new flat doesn't allow pets",
        "the new flat has a tiny kitchen, which pans should I keep?",
        "thanks for everything, chef",
    ]
    .iter()
    .enumerate()
    {
        let run = say(
            &troupe,
            &format!("2026-11-02T10:0{i}:00Z"),
            "ana",
            "chef",
            text,
        );
        assert_eq!(run.stdout.trim(), "in character", "{text}");
    }
    let report = troupe.run(&["safety", "report", "--json"]).json();
    assert_eq!(report, serde_json::json!([]));
}

#[test]
fn signs_from_long_ago_are_not_read_with_a_new_message() {
    let server = TestServer::start(vec![Reply::Text("in character")]);
    let troupe = Troupe::with_server(&server.base_url);
    say(
        &troupe,
        "2026-09-01T10:00:00Z",
        "sam",
        "chef",
        "I've been giving away my books and records to friends this week",
    );
    say(
        &troupe,
        "2026-09-01T10:05:00Z",
        "sam",
        "chef",
        "my sister agreed to take my cat, she'll look after him well",
    );
    let run = say(
        &troupe,
        "2026-11-02T10:00:00Z",
        "sam",
        "chef",
        "thanks for everything, chef",
    );
    assert_eq!(run.stdout.trim(), "in character");
}

#[test]
fn a_deployment_can_replace_the_danger_reply_alone() {
    let troupe = Troupe::new();
    troupe.write_config(
        "[safety.crisis.en]\ndanger = \"Call 911 now. Our local shelter: 555-0100.\"\n",
    );
    let danger = say(
        &troupe,
        "2026-11-02T10:00:00Z",
        "tester",
        "chef",
        "someone is breaking in downstairs and I'm hiding under the bed",
    );
    assert!(danger.stdout.contains("555-0100"), "{}", danger.stdout);
    let suicide = say(
        &troupe,
        "2026-11-02T10:05:00Z",
        "tester",
        "chef",
        "I want to kill myself",
    );
    assert!(suicide.stdout.contains("988"), "{}", suicide.stdout);
}

#[test]
fn sensitive_subjects_get_their_disclaimer_in_the_persona_language() {
    let server = TestServer::start(vec![Reply::Text("Bonne question, voyons le menu.")]);
    let troupe = Troupe::with_server(&server.base_url);
    let run = troupe.run(&[
        "chat",
        "decor",
        "--message",
        "Mon médecin m'a prescrit des antibiotiques, je peux boire du vin ?",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let answer = run.json();
    let reply = &answer["reply"];
    assert_eq!(
        reply["disclaimers"],
        serde_json::json!([
            "Ces échanges ne remplacent en aucun cas un avis médical : pour toute question de santé, consultez un médecin ou un pharmacien."
        ])
    );
    let stored = troupe.history("decor").pop().unwrap_or_default();
    assert_eq!(stored["disclaimers"], reply["disclaimers"]);
    let plain = troupe.run(&[
        "chat",
        "decor",
        "--message",
        "Quelle couleur pour le salon ?",
        "--json",
    ]);
    assert_eq!(plain.json()["reply"]["disclaimers"], serde_json::json!([]));
}

#[test]
fn disclaimers_can_be_replaced_per_deployment_and_per_persona() {
    let troupe = Troupe::new();
    troupe.write_config("[safety.disclaimers.en]\nlegal = \"Talk to a real lawyer.\"\n");
    let run = troupe.run(&[
        "chat",
        "chef",
        "--message",
        "My landlord kept my deposit",
        "--json",
    ]);
    assert_eq!(
        run.json()["reply"]["disclaimers"],
        serde_json::json!(["Talk to a real lawyer."])
    );

    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    let baker = std::fs::read_to_string(fixture("good/baker.toml")).unwrap();
    std::fs::write(
        dir.join("baker.toml"),
        format!("{baker}\n[safety]\nlegal = \"Bea is a baker, not a lawyer.\"\n"),
    )
    .unwrap();
    let own = troupe.run(&[
        "--personas",
        dir.to_str().unwrap(),
        "chat",
        "baker",
        "--message",
        "Can I sue my landlord?",
        "--json",
    ]);
    assert_eq!(
        own.json()["reply"]["disclaimers"],
        serde_json::json!(["Bea is a baker, not a lawyer."])
    );
}

#[test]
fn minors_get_no_followups_and_no_adults_only_personas() {
    let troupe = Troupe::new();
    for i in 0..5 {
        say(
            &troupe,
            &format!("2026-11-02T10:0{i}:00Z"),
            "kid",
            "chef",
            "pancakes please",
        );
    }
    assert_eq!(troupe.run(&["user", "set", "kid", "--minor"]).code, 0);
    let due = troupe.run(&[
        "--now",
        "2026-11-03T12:00:00Z",
        "followups",
        "due",
        "--json",
    ]);
    assert_eq!(due.json(), serde_json::json!([]));
    let show = troupe.run(&["user", "show", "kid", "--json"]).json();
    assert_eq!(show["minor"], true);

    let dir = troupe.adults_only_personas(false);
    let refused = troupe.run(&[
        "--personas",
        dir.to_str().unwrap(),
        "chat",
        "sommelier",
        "--user",
        "kid",
        "--message",
        "hi",
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("is for adults only"),
        "{}",
        refused.stderr
    );
    let adult = troupe.run(&[
        "--personas",
        dir.to_str().unwrap(),
        "chat",
        "sommelier",
        "--user",
        "grownup",
        "--message",
        "hi",
    ]);
    assert_eq!(adult.code, 0, "{}", adult.stderr);
}

#[test]
fn minors_sending_one_shot_messages_are_reminded_to_take_a_break() {
    let troupe = Troupe::new();
    assert_eq!(troupe.run(&["user", "set", "kid", "--minor"]).code, 0);
    let at = |minutes: u32| {
        format!(
            "2026-11-02T{:02}:{:02}:00Z",
            10 + minutes / 60,
            minutes % 60
        )
    };
    let mut reminded = Vec::new();
    for minutes in (0..=200).step_by(20) {
        // Switching personas does not end the session.
        let persona = if minutes % 40 == 0 { "chef" } else { "creator" };
        let run = say(
            &troupe,
            &at(minutes),
            "kid",
            persona,
            "another pancake idea?",
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        if run.stderr.contains("take a break") {
            reminded.push(minutes);
        }
    }
    assert_eq!(reminded, [180], "three hours of continued chatting");
    let json = troupe.run(&[
        "--now",
        &at(380),
        "chat",
        "chef",
        "--user",
        "kid",
        "--message",
        "hi again",
        "--json",
    ]);
    assert_eq!(
        json.json()["break_reminder"],
        serde_json::Value::Null,
        "a long pause started a new session"
    );
    let adult = Troupe::new();
    for minutes in (0..=200).step_by(20) {
        let run = say(
            &adult,
            &at(minutes),
            "grown",
            "chef",
            "another pancake idea?",
        );
        assert!(!run.stderr.contains("take a break"), "{}", run.stderr);
    }
}

#[test]
fn followups_can_be_turned_off_for_every_persona() {
    let troupe = Troupe::new();
    for i in 0..5 {
        say(
            &troupe,
            &format!("2026-11-02T10:0{i}:00Z"),
            "ana",
            "chef",
            "bread",
        );
    }
    let due = |t: &Troupe| {
        t.run(&[
            "--now",
            "2026-11-03T12:00:00Z",
            "followups",
            "due",
            "--json",
        ])
        .json()
    };
    assert_eq!(due(&troupe).as_array().map(Vec::len), Some(1));
    assert_eq!(
        troupe
            .run(&["user", "set", "ana", "--followups", "off"])
            .code,
        0
    );
    assert_eq!(due(&troupe), serde_json::json!([]));
    assert_eq!(
        troupe.run(&["user", "show", "ana", "--json"]).json()["followups"],
        "off"
    );
    troupe.run(&["user", "set", "ana", "--followups", "on"]);
    assert_eq!(due(&troupe).as_array().map(Vec::len), Some(1));
}

#[test]
fn export_holds_everything_about_the_user() {
    let server = TestServer::start(vec![Reply::Text("Sure!")]);
    let troupe = Troupe::with_server(&server.base_url);
    say(
        &troupe,
        "2026-11-02T10:00:00Z",
        "ana",
        "chef",
        "saffron risotto for six",
    );
    say(
        &troupe,
        "2026-11-02T10:05:00Z",
        "ana",
        "decor",
        "un salon vert sauge",
    );
    troupe.run(&["user", "set", "ana", "--timezone", "Europe/Paris"]);
    let export = troupe.run(&["export", "--user", "ana"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let doc = export.json();
    assert_eq!(doc["format"], "troupe-export/1");
    assert_eq!(doc["user"]["id"], "ana");
    assert_eq!(doc["user"]["timezone"], "Europe/Paris");
    let conversations = doc["conversations"].as_array().cloned().unwrap_or_default();
    assert_eq!(conversations.len(), 2);
    assert_eq!(
        conversations[0]["messages"][0]["text"],
        "saffron risotto for six"
    );
    assert_eq!(conversations[0]["topics"][0]["phrase"], "saffron risotto");
    assert_eq!(doc["usage"].as_array().map(Vec::len), Some(2));
    assert!(!export.stdout.contains("sk-test"), "no secrets in exports");
}

#[test]
fn erasing_a_user_leaves_nothing_of_them_even_in_the_store_files() {
    let troupe = Troupe::new();
    for user in ["ana", "bob", "cyd"] {
        for i in 0..3 {
            let text = format!("distinctive-{user}-marmalade-{i} about my landlord");
            let run = say(
                &troupe,
                &format!("2026-11-02T10:0{i}:00Z"),
                user,
                "chef",
                &text,
            );
            assert_eq!(run.code, 0, "{}", run.stderr);
        }
    }
    let calls = |troupe: &Troupe| troupe.run(&["usage", "--json"]).json()[0]["calls"].clone();
    assert_eq!(calls(&troupe), 9, "three users' calls before erasure");
    let refused = troupe.run(&["erase", "--user", "bob"]);
    assert_eq!(refused.code, 2, "no terminal, no --yes: {}", refused.stderr);
    assert!(
        files_contain(&troupe.data_dir(), b"distinctive-bob-marmalade"),
        "the marker is stored before erasure"
    );

    let erased = troupe.run(&["erase", "--user", "bob", "--yes"]);
    assert_eq!(erased.code, 0, "{}", erased.stderr);
    assert!(
        erased.stdout.contains("1 conversation(s), 6 message(s)"),
        "{}",
        erased.stdout
    );
    assert!(
        !files_contain(&troupe.data_dir(), b"distinctive-bob-marmalade"),
        "bob's text is gone from the files"
    );
    assert!(
        files_contain(&troupe.data_dir(), b"distinctive-ana-marmalade"),
        "others are untouched"
    );

    assert_eq!(troupe.run(&["export", "--user", "bob"]).code, 1);
    assert_eq!(troupe.run(&["user", "show", "bob"]).code, 1);
    let history = troupe.run(&["history", "--user", "bob", "--persona", "chef", "--json"]);
    assert_eq!(history.json()["messages"], serde_json::json!([]));
    let topics = troupe.run(&["topics", "--user", "bob", "--persona", "chef", "--json"]);
    assert_eq!(topics.json(), serde_json::json!([]));
    let usage = troupe.run(&["usage", "--json"]).json();
    assert_eq!(usage.as_array().map(Vec::len), Some(1), "{usage}");
    assert_eq!(
        calls(&troupe),
        6,
        "only the others' calls are left: {usage}"
    );
    assert_eq!(troupe.history_of("ana", "chef").len(), 6);
}

#[test]
fn messages_past_the_retention_period_are_purged_with_their_topics_even_from_the_files() {
    let troupe = Troupe::new();
    troupe.write_config("[safety]\nretention_days = 30\n");
    for (now, text) in [
        ("2026-09-01T10:00:00Z", "old paella question"),
        ("2026-11-20T10:00:00Z", "fresh ramen question"),
    ] {
        let run = say(&troupe, now, "ana", "chef", text);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert!(
        files_contain(&troupe.data_dir(), b"old paella question"),
        "the text is stored before the purge: {:?}",
        troupe.history_of("ana", "chef")
    );
    let purge = troupe.run(&[
        "--now",
        "2026-11-26T10:00:00Z",
        "maintenance",
        "purge",
        "--json",
    ]);
    assert_eq!(purge.code, 0, "{}", purge.stderr);
    assert_eq!(purge.json()["messages"], 2);
    assert!(
        !files_contain(&troupe.data_dir(), b"old paella question"),
        "the store is rewritten, so the purged text is gone from its files"
    );
    let history = troupe.history_of("ana", "chef");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["text"], "fresh ramen question");
    let export = troupe.run(&["export", "--user", "ana"]).json();
    assert_eq!(
        export["conversations"][0]["conversation"]["recent_user_times"],
        serde_json::json!(["2026-11-20T10:00:00Z"]),
        "the purged message's time goes too"
    );
    let topics = troupe
        .run(&[
            "--now",
            "2026-11-26T10:00:00Z",
            "topics",
            "--user",
            "ana",
            "--persona",
            "chef",
            "--json",
        ])
        .json();
    let phrases: Vec<_> = topics
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|t| t["phrase"].clone())
        .collect();
    assert!(
        phrases.contains(&serde_json::json!("fresh ramen question"))
            || phrases.contains(&serde_json::json!("fresh ramen")),
        "{topics}"
    );
    assert!(
        !phrases
            .iter()
            .any(|p| p.as_str().unwrap_or_default().contains("paella")),
        "{topics}"
    );
}

#[test]
fn conversations_started_after_a_store_rewrite_never_share_an_id() {
    let troupe = Troupe::new();
    troupe.write_config("[safety]\nretention_days = 30\n");
    say(
        &troupe,
        "2026-09-01T10:00:00Z",
        "ana",
        "chef",
        "ana old question",
    );
    say(
        &troupe,
        "2026-11-20T10:00:00Z",
        "ana",
        "chef",
        "ana new question",
    );
    say(
        &troupe,
        "2026-11-20T10:00:00Z",
        "bob",
        "chef",
        "bob question",
    );
    let purge = troupe.run(&["--now", "2026-11-26T10:00:00Z", "maintenance", "purge"]);
    assert_eq!(purge.code, 0, "{}", purge.stderr);
    say(
        &troupe,
        "2026-11-26T11:00:00Z",
        "carl",
        "chef",
        "carl first message",
    );
    assert_eq!(troupe.run(&["erase", "--user", "bob", "--yes"]).code, 0);
    say(
        &troupe,
        "2026-11-26T12:00:00Z",
        "dan",
        "chef",
        "dan first message",
    );

    let id = |user: &str| {
        troupe.run(&["export", "--user", user]).json()["conversations"][0]["conversation"]["id"]
            .clone()
    };
    let ids = [id("ana"), id("carl"), id("dan")];
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );
    let ana: Vec<_> = troupe
        .history_of("ana", "chef")
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(ana, [serde_json::json!("ana new question")]);
}

#[test]
fn ids_with_path_separators_are_refused() {
    let troupe = Troupe::new();
    let run = troupe.run(&["chat", "chef", "--user", "../../etc", "--message", "hi"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("may only use letters"),
        "{}",
        run.stderr
    );
    let run = troupe.run(&["chat", "../x", "--message", "hi"]);
    assert_eq!(run.code, 2, "a persona id is checked too: {}", run.stderr);
    let mut typo = Troupe::new();
    typo.env("TROUPE_USER", "alice smith");
    let run = typo.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("TROUPE_USER"), "{}", run.stderr);
    let long = "u".repeat(80);
    assert_eq!(
        troupe
            .run(&["history", "--user", &long, "--persona", "chef"])
            .code,
        2
    );
}

/// Whether any file under `dir` contains `needle`.
fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            files_contain(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        }
    })
}

#[test]
fn crisis_resources_follow_the_users_language_when_set() {
    let troupe = Troupe::new();
    assert_eq!(
        troupe
            .run(&["user", "set", "amelie", "--language", "fr"])
            .code,
        0
    );
    let run = say(
        &troupe,
        "2026-11-02T10:00:00Z",
        "amelie",
        "chef",
        "I want to end it all",
    );
    assert!(
        run.stdout.contains("3114"),
        "a French user of an English persona: {}",
        run.stdout
    );
    let bad = troupe.run(&["user", "set", "amelie", "--language", "French"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

/// Scores the detector on a set labelled with all five classes (medical,
/// psychological, legal, crisis, none); crisis replaces the subjects, as in
/// the chat turn.
fn five_way(name: &str) -> (f64, f64) {
    let data = rows(name);
    assert!(data.len() >= 100, "{name} has {} rows", data.len());
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for (label, _, text) in &data {
        let expected: Labels = (label != "none")
            .then(|| label.clone())
            .into_iter()
            .collect();
        let found = assess(text);
        let predicted: Labels = if let Some(kind) = found.crisis {
            [label_of(kind).to_string()].into_iter().collect()
        } else {
            found
                .subjects
                .iter()
                .map(|s| s.name().to_string())
                .collect()
        };
        tp += expected.intersection(&predicted).count() as f64;
        fp += predicted.difference(&expected).count() as f64;
        fn_ += expected.difference(&predicted).count() as f64;
        if expected != predicted {
            println!("  expected {expected:?}, got {predicted:?}: {text}");
        }
    }
    let (precision, recall) = (tp / (tp + fp), tp / (tp + fn_));
    println!(
        "{name}: precision {precision:.3}, recall {recall:.3} on {} sentences",
        data.len()
    );
    (precision, recall)
}

/// The development sets were written blind, measured once, and have since
/// been used to improve the cues, frames and learned reader: `dev.tsv`
/// (first measured at precision 0.82, recall 0.50), `dev2.tsv` (0.86, 0.70),
/// `dev3.tsv` (0.905, 0.59), `dev4.tsv` (0.94, 0.75), `dev5.tsv` (0.875,
/// 0.76), `dev6.tsv` (0.944, 0.842), `dev7.tsv` (0.917, 0.825) and
/// `dev8.tsv` (0.964, 0.900).
#[test]
fn the_development_sets_score_above_0_9() {
    for name in [
        "dev.tsv", "dev2.tsv", "dev3.tsv", "dev4.tsv", "dev5.tsv", "dev6.tsv", "dev7.tsv",
        "dev8.tsv",
    ] {
        let (precision, recall) = five_way(name);
        assert!(
            precision >= 0.9 && recall >= 0.9,
            "{name}: precision {precision:.3}, recall {recall:.3}"
        );
    }
}

/// The crisis development sets: each row's fourth column says what kind
/// of message it is (`danger`, `method`, `farewell`, `past_harm`, or a kind
/// of look-alike). `dev9.tsv` was written before the detector was tuned for
/// these kinds, `dev10.tsv` to `dev13.tsv` after each round of tuning; all
/// have been used to tune it since, so they are not blind, and the reader
/// learns from them as from every set. The manual's evaluation page tells
/// their history.
const CRISIS_DEV_SETS: [&str; 5] = [
    "dev9.tsv",
    "dev10.tsv",
    "dev11.tsv",
    "dev12.tsv",
    "dev13.tsv",
];

/// (found with the right kind, rows) per kind of crisis row, and (false
/// crises, rows) for the others, over [`CRISIS_DEV_SETS`].
fn crisis_kinds_found() -> (BTreeMap<String, (usize, usize)>, (usize, usize)) {
    let mut kinds: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut false_crises = (0, 0);
    for name in CRISIS_DEV_SETS {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split('\t').collect();
            let [label, lang, text, note] = fields[..] else {
                panic!("{name}: not four columns: {line}");
            };
            let found = assess(text).crisis;
            if is_crisis_label(label) {
                let entry = kinds.entry(format!("{note} ({lang})")).or_default();
                entry.1 += 1;
                if found.map(label_of) == Some(label) {
                    entry.0 += 1;
                } else {
                    println!("  missed {label}: {text}");
                }
            } else {
                false_crises.1 += 1;
                if found.is_some() {
                    false_crises.0 += 1;
                    println!("  false crisis: {text}");
                }
            }
        }
    }
    (kinds, false_crises)
}

#[test]
fn every_kind_of_crisis_is_found_in_the_development_sets_with_its_kind() {
    let (kinds, (false_crises, others)) = crisis_kinds_found();
    for (kind, (found, rows)) in &kinds {
        println!("{kind}: {found} / {rows}");
    }
    println!("false crises: {false_crises} / {others}");
    assert!(kinds.len() >= 8, "four kinds in two languages: {kinds:?}");
    for (kind, (found, rows)) in &kinds {
        assert!(found * 10 >= rows * 9, "{kind}: {found} / {rows}");
    }
    // 22 of 272 with the meaning reader (9 before it): these rows are
    // look-alikes written to be as close to a crisis as ordinary text gets.
    assert!(
        false_crises * 11 <= others,
        "{false_crises} false crises in {others}"
    );
}

/// Every labelled row of `tests/data/`, in folders too, in path order.
fn labelled_rows() -> Vec<crate::labelled_sets::Row> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let files = crate::labelled_sets::data_files(&dir).unwrap_or_else(|e| panic!("{e}"));
    crate::labelled_sets::rows_of(&files).unwrap_or_else(|e| panic!("{e}"))
}

/// The rows the crisis reader learns from: every labelled row whose label
/// describes its own text, that is all of them but the turns of a
/// conversation after the one that made it a crisis (they keep its label
/// whatever they say, and the reader reads one message).
fn training_rows() -> Vec<crate::labelled_sets::Row> {
    labelled_rows()
        .into_iter()
        .filter(|row| row.labels_its_own_text)
        .collect()
}

/// Whether a label is a crisis the protocol answers, of either kind.
fn is_crisis_label(label: &str) -> bool {
    label == "crisis" || label == "danger"
}

/// (features, is_crisis) for every row of the training sets, in file order.
fn training_examples() -> Vec<(Vec<String>, bool)> {
    training_rows()
        .iter()
        .map(|row| (classifier::features(&row.text), is_crisis_label(&row.label)))
        .collect()
}

/// Every set trains the reader, and none is held back under a name that
/// says it is held out or blind: a set that has been measured and studied
/// is training data, and the next blind set is written apart and checked
/// with `cargo run --example dedupe` before it is measured (the manual's
/// evaluation page tells the history).
#[test]
fn every_labelled_set_trains_the_reader_and_none_claims_to_be_held_out() {
    let rows = training_rows();
    let files: BTreeSet<String> = rows
        .iter()
        .map(|row| {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            let file = row.file.strip_prefix(root).unwrap_or(&row.file);
            file.to_string_lossy().replace('\\', "/")
        })
        .collect();
    for name in [
        "tests/data/dev14.tsv",
        "tests/data/everyday7.tsv",
        "tests/data/dev9.tsv",
        "tests/data/dev-2026-12/messages.tsv",
        "tests/data/dev-2026-12/ordinary.tsv",
        "tests/data/dev-2026-12/conversations.tsv",
        "tests/data/dev-2026-12b/messages.tsv",
        "tests/data/dev-2026-12b/conversations.tsv",
        "tests/data/dev-2026-12c/messages.tsv",
        "tests/data/dev-2026-12c/ordinary.tsv",
        "tests/data/dev-2026-12c/conversations.tsv",
        "tests/data/dev-2026-12d/messages.tsv",
        "tests/data/dev-2026-12d/ordinary.tsv",
        "tests/data/dev-2026-12d/conversations.tsv",
        "tests/data/dev-2026-12e/messages.tsv",
        "tests/data/dev-2026-12e/ordinary.tsv",
        "tests/data/dev-2026-12e/conversations.tsv",
        "tests/data/dev-2026-12f/messages.tsv",
        "tests/data/dev-2026-12f/ordinary.tsv",
        "tests/data/dev-2026-12f/conversations.tsv",
        "tests/data/dev-2026-12g/messages.tsv",
        "tests/data/dev-2026-12g/ordinary.tsv",
        "tests/data/dev-2026-12g/conversations.tsv",
        "tests/data/dev-2026-12i/messages.tsv",
        "tests/data/dev-2026-12i/ordinary.tsv",
        "tests/data/dev-2026-12i/conversations.tsv",
        "tests/data/dev-2026-12j/messages.tsv",
        "tests/data/dev-2026-12j/ordinary.tsv",
        "tests/data/dev-2026-12j/conversations.tsv",
        "tests/data/dev-2026-12k/messages.tsv",
        "tests/data/dev-2026-12k/ordinary.tsv",
        "tests/data/dev-2026-12k/conversations.tsv",
        "tests/data/train-2026-12h/young.tsv",
        "tests/data/train-2026-12h/adults.tsv",
        "tests/data/train-2026-12h/personas.tsv",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "{name} does not train the reader"
        );
    }
    for file in &files {
        let lower = file.to_lowercase();
        assert!(
            !["heldout", "held_out", "held-out", "blind"]
                .iter()
                .any(|claim| lower.contains(claim)),
            "{file} claims to be held out but trains the reader"
        );
    }
    // Of a conversation, only the turn that made it a crisis is a crisis
    // example; the turns after it are left out.
    let conversation_turns = labelled_rows()
        .iter()
        .filter(|row| row.file.ends_with("conversations.tsv"))
        .count();
    let trained_turns = rows
        .iter()
        .filter(|row| row.file.ends_with("conversations.tsv"))
        .count();
    assert!(trained_turns < conversation_turns && trained_turns >= 104);
}

/// A row repeated in two sets (or twice in one) counts twice in training
/// and, worse, lets a measurement score text the detector was tuned on.
/// Texts are compared as the detector reads them (case, accents,
/// punctuation and spaces do not count); 54 repeats were removed when this
/// test was written.
#[test]
fn no_two_labelled_rows_share_a_normalised_text() {
    let rows = labelled_rows();
    assert!(rows.len() > 6000, "{} rows", rows.len());
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut repeats = Vec::new();
    for row in &rows {
        let place = format!("{}:{}", row.file.display(), row.line);
        let text = crate::labelled_sets::normalised(&row.text);
        if let Some(earlier) = first.get(&text) {
            repeats.push(format!("{place} repeats {earlier}: {}", row.text));
        } else {
            first.insert(text, place);
        }
    }
    assert!(repeats.is_empty(), "{}", repeats.join("\n"));
}

/// The shipped weights are reproducible: retraining on the labelled sets
/// gives them again. `TROUPE_RETRAIN=1` rewrites them after the sets change.
#[test]
fn the_shipped_crisis_weights_are_what_the_labelled_sets_train() {
    let trained = Classifier::train(&training_examples());
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/safety/crisis_weights.tsv");
    if std::env::var_os("TROUPE_RETRAIN").is_some() {
        std::fs::write(&path, trained.to_tsv()).unwrap();
    }
    let shipped = Classifier::from_tsv(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let distance = trained.distance(&shipped);
    assert!(
        distance < 0.002,
        "the shipped weights differ from training by {distance}: run `TROUPE_RETRAIN=1 cargo test shipped_crisis_weights`"
    );
}

/// A crisis written in words no cue, frame or word weight holds is found
/// by what it means, with its kind, in both languages; ordinary requests
/// read the same way stay ordinary.
#[test]
fn a_crisis_in_words_no_list_holds_is_found_by_what_it_means() {
    for (text, kind) in [
        (
            "personne le sait encore. je veux juste que ma mère garde un beau souvenir de moi",
            CrisisKind::SelfHarm,
        ),
        (
            "there's a noise downstairs and the back door was locked, i'm upstairs alone with the baby",
            CrisisKind::Danger,
        ),
    ] {
        let features = classifier::features(text);
        assert_eq!(
            troupe::safety::detect::crisis_by_rules(text),
            None,
            "{text}"
        );
        assert!(!Classifier::shipped().says_crisis(&features), "{text}");
        assert_eq!(assess(text).crisis, Some(kind), "{text}");
        let reasons = troupe::safety::detect::crisis_reasons(text);
        assert!(
            reasons.len() == 1 && reasons[0].starts_with("meaning reader"),
            "{reasons:?}"
        );
    }
    for text in [
        "can you give me a recipe for a lemon tart",
        "je cherche une idée de cadeau pour ma mère",
        "we're moving to Lyon next month, any tips for packing plates?",
    ] {
        assert_eq!(assess(text).crisis, None, "{text}");
    }
}

/// The meaning reader's shipped weights are the optimum its training gives
/// on the labelled sets (every row with a word piece): the loss has no
/// gradient there, which no other weights can claim. `TROUPE_RETRAIN=1`
/// retrains and rewrites them after the sets change (`--release` makes
/// it quick).
#[test]
fn the_shipped_meaning_weights_are_the_optimum_of_the_labelled_sets() {
    let pieces = PieceVectors::embedded().expect("the embedded word pieces parse");
    let rows = training_rows();
    let examples: Vec<(Vec<f32>, &str)> = rows
        .iter()
        .filter_map(|row| Some((pieces.text_vector(&row.text)?, row.label.as_str())))
        .collect();
    assert!(
        examples.len() + 5 > rows.len(),
        "{} of {}",
        examples.len(),
        rows.len()
    );
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/safety/meaning_weights.tsv");
    if std::env::var_os("TROUPE_RETRAIN").is_some() {
        std::fs::write(&path, MeaningReader::train(&examples).to_tsv()).unwrap();
    }
    let shipped = MeaningReader::from_tsv(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(shipped.crisis.weights.len(), meaning::DIMENSIONS);
    let gradient = shipped.gradient_size(&examples);
    assert!(
        gradient < 1e-6,
        "the shipped meaning weights are not the optimum (gradient {gradient}): run `TROUPE_RETRAIN=1 cargo test --release shipped_meaning_weights`"
    );
}

/// Five-fold cross-validation of the whole crisis detector (cues, frames and
/// a reader trained without the fold): an estimate on text the reader did
/// not learn from, though the cues were written with these sets in view.
#[test]
fn crisis_detection_cross_validates_above_0_75() {
    let examples = training_examples();
    let texts: Vec<String> = training_rows().into_iter().map(|row| row.text).collect();
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for fold in 0..5 {
        let train: Vec<_> = examples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 5 != fold)
            .map(|(_, e)| e.clone())
            .collect();
        let reader = Classifier::train(&train);
        for (i, (features, crisis)) in examples.iter().enumerate() {
            if i % 5 != fold {
                continue;
            }
            let found = troupe::safety::detect::crisis_by_rules(&texts[i]).is_some()
                || reader.says_crisis(features);
            match (found, *crisis) {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fn_ += 1.0,
                (false, false) => {}
            }
        }
    }
    let (precision, recall) = (tp / (tp + fp), tp / (tp + fn_));
    println!("crisis, 5-fold: precision {precision:.3}, recall {recall:.3}");
    assert!(
        precision >= 0.9 && recall >= 0.75,
        "precision {precision:.3}, recall {recall:.3}"
    );
}

/// Floors for the regression guards below: just under the scores when they
/// were set, so that removing what finds these rows fails. The meaning
/// reader (round 15) took a few sensitive and look-alike rows of these
/// sets for crises, in exchange for crises on text nobody tuned the
/// detector to; the floors moved with it.
/// `dev14.tsv` scored 0.976 / 1.000, then 0.959 / 0.975 with the meaning
/// reader, and 0.951 / 0.967 once round 15's blind sets trained it.
const PRECISION_14: f64 = 0.95;
const RECALL_14: f64 = 0.96;
/// `dev-2026-12/messages.tsv` scored 0.859 / 0.719, then 0.885 / 0.842
/// after round 11, then 0.880 / 0.838 once round 11's blind set
/// (`dev-2026-12b/`) joined the training data.
const PRECISION_2026_12: f64 = 0.87;
const RECALL_2026_12: f64 = 0.83;
/// `dev-2026-12c/messages.tsv`, written for round 12 before any of its
/// changes, scored 0.955 / 0.885 with the round 11 detector and
/// 0.980 / 1.000 once round 12's cues and retrained reader were in, and
/// 0.990 / 0.990 with the meaning reader.
const PRECISION_2026_12C: f64 = 0.98;
const RECALL_2026_12C: f64 = 0.98;
/// `dev15.tsv` scored 0.918 / 0.957 when round 11 ended, and 0.908 / 0.981
/// with the meaning reader.
const PRECISION_15: f64 = 0.90;
const RECALL_15: f64 = 0.95;

/// `dev14.tsv` was written blind as round 9's held-out set (then named
/// `heldout.tsv`) and measured once: precision 0.939, recall 0.900, 53 of 60
/// crises. Cues were then added that match its rows, so it became
/// development data, and it trains the reader. This is a regression guard,
/// not a measurement: the floor sits just under what it scores now.
#[test]
fn dev14_keeps_its_training_score() {
    let (precision, recall) = five_way("dev14.tsv");
    assert!(
        precision >= PRECISION_14 && recall >= RECALL_14,
        "precision {precision:.3}, recall {recall:.3}"
    );
}

/// The five-class figures of the set written blind for round 10
/// (`dev-2026-12/messages.tsv`, then `blind-2026-12`): measured once at
/// commit 11aeb94 (crisis recall 0.68, precision 0.91, as the manual's
/// evaluation page keeps them), training data since. A regression guard with
/// floors just under its training score, not a measurement.
#[test]
fn the_2026_12_messages_keep_their_training_score() {
    let (precision, recall) = five_way("dev-2026-12/messages.tsv");
    assert!(
        precision >= PRECISION_2026_12 && recall >= RECALL_2026_12,
        "precision {precision:.3}, recall {recall:.3}"
    );
}

/// `dev15.tsv` was written for round 11 (danger now, method questions with
/// a giveaway, farewells, self-harm told in the past, and look-alikes of
/// each, in English and French), partly before the cues that find its rows
/// and partly after: a regression guard on training data with floors just
/// under its score, not a measurement.
#[test]
fn dev15_keeps_its_training_score() {
    let (precision, recall) = five_way("dev15.tsv");
    assert!(
        precision >= PRECISION_15 && recall >= RECALL_15,
        "precision {precision:.3}, recall {recall:.3}"
    );
}

/// `dev-2026-12c/` was written for round 12 before its changes (crisis of
/// every kind the issue lists, danger now, the three subjects by family of
/// words, look-alikes), measured before and after them (the manual's
/// evaluation page has both), and trains the reader since: a regression
/// guard with floors just under its score, not a measurement.
#[test]
fn the_2026_12c_messages_keep_their_development_score() {
    let (precision, recall) = five_way("dev-2026-12c/messages.tsv");
    assert!(
        precision >= PRECISION_2026_12C && recall >= RECALL_2026_12C,
        "precision {precision:.3}, recall {recall:.3}"
    );
    let (crises, _, rows) = false_alarms("dev-2026-12c/ordinary.tsv");
    assert!(rows >= 30);
    assert!(
        crises == 0,
        "dev-2026-12c/ordinary.tsv: {crises} false crises"
    );
}

/// False crises and false disclaimers in a set of ordinary chat.
fn false_alarms(name: &str) -> (usize, usize, usize) {
    let data = rows(name);
    let mut crises = 0;
    let mut subjects = 0;
    for (_, _, text) in &data {
        let found = assess(text);
        if found.is_crisis() {
            crises += 1;
            println!("  false crisis: {text}");
        } else if !found.subjects.is_empty() {
            subjects += 1;
            println!("  false {:?}: {text}", found.subjects);
        }
    }
    println!(
        "{name}: {crises} false crises and {subjects} false disclaimers in {} messages",
        data.len()
    );
    (crises, subjects, data.len())
}

/// Ordinary chat: a false crisis replaces the persona's answer with
/// helplines, so it must stay rare. `everyday7.tsv` (round 9's held-out
/// ordinary chat, then `everyday_heldout.tsv`: 3 false crises in 300 when
/// measured blind) and `dev-2026-12/ordinary.tsv` (0 in 300 when measured
/// blind at 11aeb94) both train the reader now, so these are regression
/// guards on training data, not measurements: neither raises a false
/// crisis now.
#[test]
fn ordinary_chat_rarely_raises_an_alarm() {
    let (crises, _, rows) = false_alarms("everyday7.tsv");
    assert!(rows >= 290);
    assert!(crises == 0, "everyday7.tsv: {crises} false crises");
    let (crises, _, rows) = false_alarms("dev-2026-12/ordinary.tsv");
    assert!(rows >= 290);
    assert!(
        crises == 0,
        "dev-2026-12/ordinary.tsv: {crises} false crises"
    );
}

/// The persona model's check, told from its reply by the check's instruction.
fn is_check(request: &Received) -> bool {
    request
        .messages()
        .first()
        .is_some_and(|(_, text)| text.contains("safety classifier"))
}

#[test]
fn with_model_check_on_the_model_gives_a_second_opinion_beside_its_reply() {
    // Each request gets its answer by what it is: the check and the reply
    // are sent at the same time, in no fixed order.
    let yes = |r: &Received| match is_check(r) {
        true => Reply::Slow(Duration::from_millis(300), Box::new(Reply::Text("YES"))),
        false => Reply::Text("Sure, here's a soup."),
    };
    let no = |r: &Received| {
        Reply::Text(if is_check(r) {
            "NO"
        } else {
            "Sure, here's a soup."
        })
    };
    let server = TestServer::start(vec![
        Reply::ByRequest(yes),
        Reply::ByRequest(yes),
        Reply::ByRequest(no),
    ]);
    let indirect_text = "I already feel like a ghost, might as well make it official";
    assert!(
        !assess(indirect_text).is_crisis(),
        "the test needs a message the cues and frames miss"
    );
    let troupe = Troupe::with_server(&server.base_url);
    troupe.write_config("[safety]\nmodel_check = true\n");
    let indirect = troupe.run(&["chat", "chef", "--message", indirect_text]);
    assert_eq!(indirect.code, 0, "{}", indirect.stderr);
    assert!(indirect.stdout.contains("988"), "{}", indirect.stdout);
    assert!(
        !indirect.stdout.contains("soup"),
        "the persona's reply is discarded: {}",
        indirect.stdout
    );
    let received = server.received();
    let check = received.iter().find(|r| is_check(r)).expect("a check");
    assert_eq!(check.messages()[1].1, indirect_text);
    assert_eq!(
        received.len(),
        2,
        "the reply was asked for at the same time as the check"
    );
    let history = troupe.history("chef");
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["kind"], "crisis");
    assert_eq!(history[1]["kind"], "safety");

    let ordinary = troupe.run(&["chat", "chef", "--message", "soup ideas?"]);
    assert_eq!(ordinary.code, 0, "{}", ordinary.stderr);
    assert_eq!(ordinary.stdout.trim(), "Sure, here's a soup.");
    assert_eq!(server.received().len(), 4, "one check, one reply");
}
