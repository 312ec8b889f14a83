//! A deployment's language data: cue lists and texts over the built-in
//! `lang/` files, from `./lang` or `[safety] language_dir`, and its
//! mistakes reported at `file:line`.

use std::path::Path;

use crate::support::Troupe;

/// Writes `text` at `name` below `dir`.
fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("below the dir")).expect("a directory");
    std::fs::write(path, text).expect("a file");
}

/// The one-shot reply to `message` from the chef.
fn reply(troupe: &Troupe, message: &str) -> String {
    let run = troupe.run(&["chat", "chef", "--message", message, "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.json()["reply"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const MESSAGE: &str = "Tonight I am going to the blue quarry, for the long swim.";

#[test]
fn a_cue_added_in_the_local_lang_directory_brings_the_crisis_reply() {
    let troupe = Troupe::new();
    assert!(
        !reply(&troupe, MESSAGE).contains("988"),
        "ordinary without it"
    );
    write(
        &troupe.work_dir(),
        "lang/words/local.toml",
        "# Local ways of saying it.\ncrisis = [\"the long swim\"]\n",
    );
    let answer = reply(&troupe, MESSAGE);
    assert!(answer.contains("988"), "{answer}");
}

#[test]
fn the_configured_language_directory_replaces_the_crisis_reply() {
    let troupe = Troupe::new();
    let ours = include_str!("../lang/en/safety.toml").replace(
        "call your local emergency number",
        "call the campus line on 4444",
    );
    write(&troupe.root.path().join("ours"), "en/safety.toml", &ours);
    let dir = troupe.root.path().join("ours");
    troupe.write_config(&format!(
        "[safety]\nlanguage_dir = {:?}\n",
        dir.display().to_string()
    ));
    let answer = reply(&troupe, "I want to kill myself");
    assert!(answer.contains("4444"), "{answer}");
}

#[test]
fn a_broken_language_file_stops_chat_and_doctor_names_its_line() {
    let troupe = Troupe::new();
    write(
        &troupe.work_dir(),
        "lang/words/local.toml",
        "crisis = [\n    \"the long swim\",\n    \"Le Grand Plongeon\",\n]\n",
    );
    let run = troupe.run(&["chat", "chef", "--message", "hello"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("lang/words/local.toml:3: "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("le grand plongeon"), "{}", run.stderr);

    let doctor = troupe.run(&["doctor", "--json"]);
    let report = doctor.json();
    let language: Vec<_> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["check"] == "language")
        .collect();
    assert_eq!(language.len(), 1, "{report:#}");
    assert_eq!(language[0]["status"], "problem", "{report:#}");
    let message = language[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("lang/words/local.toml:3: "), "{message}");
}
