//! The creators' loop: `troupe personas new` scaffolds a persona that
//! checks and chats as written, and `troupe serve` serves a persona file's
//! saved edits on the next turn, keeps the last good version of a broken
//! file (logging where it is broken), and follows files added and removed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::Troupe;
use crate::support::serve::Served;
use crate::support::server::{Reply, TestServer};

#[test]
fn a_new_persona_checks_and_chats_offline_as_written_and_is_never_overwritten() {
    let troupe = Troupe::new();
    let run = troupe.run(&["personas", "new", "night-owl", "--language", "fr"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let file = troupe.work_dir().join("personas/night-owl.toml");
    assert!(
        run.stdout.contains("personas/night-owl.toml"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("troupe chat night-owl"),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("name = \"Night Owl\"") && text.contains("language = \"fr\""));

    let check = troupe.run(&["personas", "check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.contains("ok: 1 personas (night-owl)"),
        "{}",
        check.stdout
    );

    let chat = troupe.run(&[
        "chat",
        "night-owl",
        "--message",
        "The leaves of my pothos are turning yellow.",
        "--json",
    ]);
    assert_eq!(chat.code, 0, "{}", chat.stderr);
    let reply = chat.json()["reply"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reply.contains("Yellow leaves on a pothos"), "{reply}");
    assert_eq!(troupe.history("night-owl")[1]["model"], "offline");

    std::fs::write(&file, "# mine\n").unwrap();
    let again = troupe.run(&["personas", "new", "night-owl"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n");
}

#[test]
fn new_writes_into_the_folder_it_is_given_and_refuses_an_id_that_is_no_file_name() {
    let troupe = Troupe::new();
    let into = troupe.root.path().join("mine");
    let into_arg = into.display().to_string();
    let run = troupe.run(&["personas", "new", "ada", "--into", &into_arg]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(into.join("ada.toml").is_file());
    assert!(
        run.stdout
            .contains(&format!("--personas {into_arg} chat ada")),
        "{}",
        run.stdout
    );
    let bad = troupe.run(&["personas", "new", "../ada", "--into", &into_arg]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("persona id"), "{}", bad.stderr);
}

/// A personas folder holding the chef, served with a test model.
fn serve_chef(troupe: &Troupe) -> (PathBuf, Served) {
    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    let chef = Path::new(env!("CARGO_MANIFEST_DIR")).join("personas/chef.toml");
    std::fs::copy(chef, dir.join("chef.toml")).unwrap();
    let server = troupe.serve(&["--personas", &dir.display().to_string()]);
    (dir, server)
}

/// Waits (up to 20 s: the server looks once a second) until `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Rewrites `file` with `edit` applied to its text.
fn edit(file: &Path, edit: impl Fn(&str) -> String) {
    let text = std::fs::read_to_string(file).unwrap();
    std::fs::write(file, edit(&text)).unwrap();
}

#[test]
fn a_saved_edit_serves_on_the_next_turn_and_a_broken_save_keeps_the_last_good_version() {
    let model = TestServer::start(vec![Reply::Text("Toast the rice first.")]);
    let troupe = Troupe::with_server(&model.base_url);
    let (dir, server) = serve_chef(&troupe);
    let chef = dir.join("chef.toml");
    let name = || server.get("/v1/personas/chef").json["name"].clone();
    assert_eq!(name(), "Chef Marco");

    edit(&chef, |t| t.replace("Chef Marco", "Chef Mario"));
    eventually("the new name is served", || name() == "Chef Mario");
    let chat = "/v1/conversations/alice/chef/messages";
    let answer = server.post(chat, json!({"text": "What goes with rice?"}));
    assert_eq!(answer.status, 200, "{}", answer.text);
    let system = &model.last().messages()[0];
    assert_eq!(system.0, "system");
    assert!(
        system.1.contains("Chef Mario") && !system.1.contains("Chef Marco"),
        "{}",
        system.1
    );

    edit(&chef, |t| {
        t.replace("name = \"Chef Mario\"", "name = \"Chef Luigi\"\nname = 3")
    });
    eventually("the broken file is logged with its place", || {
        server.stderr().contains("chef.toml:")
            && server.stderr().contains("previous version keeps serving")
    });
    let log = server.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("previous version keeps serving"))
        .unwrap();
    let broken_line = std::fs::read_to_string(&chef)
        .unwrap()
        .lines()
        .position(|l| l == "name = 3")
        .unwrap()
        + 1;
    let place: Vec<&str> = line
        .split("chef.toml:")
        .nth(1)
        .unwrap()
        .splitn(3, ':')
        .collect();
    assert_eq!(place[0], broken_line.to_string(), "the line in {line}");
    assert!(place[1].parse::<u32>().is_ok(), "the column in {line}");
    println!("{line}");
    assert_eq!(name(), "Chef Mario", "the last good version keeps serving");
    let answer = server.post(chat, json!({"text": "And for dessert?"}));
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(model.last().messages()[0].1.contains("Chef Mario"));
}

#[test]
fn a_new_file_adds_a_persona_and_a_deleted_one_takes_it_away_with_a_404() {
    let troupe = Troupe::new();
    let (dir, server) = serve_chef(&troupe);
    std::fs::copy(dir.join("chef.toml"), dir.join("cook.toml")).unwrap();
    let ids = || {
        server
            .get("/v1/personas")
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    eventually("the new persona is listed", || ids() == ["chef", "cook"]);
    let chat = "/v1/conversations/alice/cook/messages";
    assert_eq!(server.post(chat, json!({"text": "Hello"})).status, 200);

    std::fs::remove_file(dir.join("cook.toml")).unwrap();
    eventually("the removed persona is gone", || ids() == ["chef"]);
    let answer = server.post(chat, json!({"text": "Still there?"}));
    assert_eq!(
        (answer.status, answer.error_code()),
        (404, "not_found"),
        "{}",
        answer.text
    );
    assert!(
        server.stderr().contains("persona removed"),
        "{}",
        server.stderr()
    );
}
