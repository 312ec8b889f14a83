//! A broken persona file next to valid ones: the runtime serves the valid
//! ones and says what it skipped, users' rights never depend on personas,
//! and `personas check` stays strict.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Run, Troupe, finish, fixture};

/// A personas dir in `troupe`'s temp dir: the baker, a file with typos,
/// and a persona whose backend the deployment does not define.
fn mixed_dir(troupe: &Troupe) -> PathBuf {
    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    let baker = std::fs::read_to_string(fixture("good/baker.toml")).unwrap();
    std::fs::write(dir.join("baker.toml"), &baker).unwrap();
    std::fs::copy(fixture("broken/typo.toml"), dir.join("typo.toml")).unwrap();
    std::fs::write(
        dir.join("nowhere.toml"),
        format!("{baker}\n[model]\nbackend = \"nowhere\"\n"),
    )
    .unwrap();
    dir
}

/// Runs `troupe` with `--personas dir` and `args`.
fn run_in(troupe: &Troupe, dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--personas", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    troupe.run(&all)
}

/// The warning for the typo file, as a command prints it.
fn typo_warning(dir: &Path) -> String {
    format!(
        "troupe: skipping {}:8:1: unknown field \"model.temprature\" (did you mean \"temperature\"?) (1 of 2 problems; run `troupe personas check` for all of them)",
        dir.join("typo.toml").display()
    )
}

#[test]
fn chat_with_a_valid_persona_works_next_to_broken_ones_and_says_what_it_skipped() {
    let troupe = Troupe::new();
    let dir = mixed_dir(&troupe);
    let run = run_in(&troupe, &dir, &["chat", "baker", "--message", "hi"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "Flour's out, let's bake.");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines.contains(&typo_warning(&dir).as_str()),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "troupe: skipping {}:9:1: \"model.backend\" is \"nowhere\", which the deployment config does not define",
            dir.join("nowhere.toml").display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn personas_list_shows_the_valid_personas_and_warns_about_each_broken_file() {
    let troupe = Troupe::new();
    let dir = mixed_dir(&troupe);
    let run = run_in(&troupe, &dir, &["personas", "list", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ids: Vec<String> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].to_string())
        .collect();
    assert_eq!(ids, ["\"baker\""]);
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("troupe: skipping "))
            .count(),
        2,
        "{}",
        run.stderr
    );
}

#[test]
fn chat_with_a_broken_persona_names_its_file_and_every_problem() {
    let troupe = Troupe::new();
    let dir = mixed_dir(&troupe);
    let run = run_in(&troupe, &dir, &["chat", "typo", "--message", "hi"]);
    assert_eq!(run.code, 1);
    let file = dir.join("typo.toml").display().to_string();
    assert!(
        run.stderr
            .contains("troupe: the persona \"typo\" is not available: its file has problems")
            && run
                .stderr
                .contains(&format!("\n{file}:8:1: unknown field \"model.temprature\""))
            && run
                .stderr
                .contains(&format!("\n{file}:9:14: \"model.max_tokens\" is 0")),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("there is no persona"),
        "{}",
        run.stderr
    );
}

#[test]
fn personas_check_still_fails_on_any_broken_file() {
    let troupe = Troupe::new();
    let dir = mixed_dir(&troupe);
    let run = troupe.run(&["personas", "check", dir.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stderr);
    assert!(lines[0].contains("nowhere.toml:9:1: \"model.backend\" is \"nowhere\""));
    assert!(lines[1].contains("typo.toml:8:1: unknown field"));
    assert!(lines[2].contains("typo.toml:9:14: \"model.max_tokens\" is 0"));
}

#[test]
fn export_erase_and_user_settings_work_next_to_broken_personas() {
    let troupe = Troupe::new();
    let dir = mixed_dir(&troupe);
    let chat = run_in(
        &troupe,
        &dir,
        &["chat", "baker", "--message", "rye or spelt?"],
    );
    assert_eq!(chat.code, 0, "{}", chat.stderr);
    let export = run_in(&troupe, &dir, &["export", "--user", "tester"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert!(export.stdout.contains("rye or spelt?"), "{}", export.stdout);
    assert!(!export.stderr.contains("skipping"), "{}", export.stderr);
    let set = run_in(
        &troupe,
        &dir,
        &["user", "set", "tester", "--timezone", "Europe/Paris"],
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    let show = run_in(&troupe, &dir, &["user", "show", "tester", "--json"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let erase = run_in(&troupe, &dir, &["erase", "--user", "tester", "--yes"]);
    assert_eq!(erase.code, 0, "{}", erase.stderr);
    assert!(
        erase.stdout.starts_with("erased tester: 1 conversation(s)"),
        "{}",
        erase.stdout
    );
}

#[test]
fn rights_commands_work_when_no_persona_loads_at_all() {
    let troupe = Troupe::new();
    assert_eq!(troupe.run(&["chat", "chef", "--message", "hi"]).code, 0);
    let broken = fixture("broken");
    let missing = troupe.root.path().join("no-such-dir");
    for dir in [broken.as_path(), missing.as_path()] {
        let export = run_in(&troupe, dir, &["export", "--user", "tester"]);
        assert_eq!(export.code, 0, "{}", export.stderr);
        assert!(export.stdout.contains("\"chef\""), "{}", export.stdout);
        let chat = run_in(&troupe, dir, &["chat", "chef", "--message", "hi"]);
        assert_eq!(chat.code, 1);
        assert!(
            chat.stderr
                .starts_with("troupe: no persona could be loaded"),
            "{}",
            chat.stderr
        );
    }
    let erase = run_in(&troupe, &broken, &["erase", "--user", "tester", "--yes"]);
    assert_eq!(erase.code, 0, "{}", erase.stderr);
}

#[test]
fn the_server_serves_the_valid_personas_and_logs_the_broken_ones() {
    let mut troupe = Troupe::new();
    let dir = mixed_dir(&troupe);
    troupe.env("TROUPE_PERSONAS", dir.to_str().unwrap());
    let server = troupe.serve(&[]);
    let list = server.get("/v1/personas");
    assert_eq!(list.status, 200, "{}", list.text);
    let ids: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["baker"]);
    let broken = server.get("/v1/personas/typo");
    assert_eq!(broken.status, 503, "{}", broken.text);
    assert_eq!(broken.error_code(), "persona_unavailable");
    assert!(
        !broken.text.contains(dir.to_str().unwrap()),
        "no server paths for callers: {}",
        broken.text
    );
    let log = server.stderr();
    let warned = log.lines().any(|l| {
        l.contains("WARN")
            && l.contains(&format!(
                "skipping {}:8:1:",
                dir.join("typo.toml").display()
            ))
    });
    assert!(warned, "{log}");
}

#[test]
fn the_server_starts_without_any_valid_persona_and_still_answers_for_users_rights() {
    let mut troupe = Troupe::new();
    assert_eq!(troupe.run(&["chat", "chef", "--message", "hi"]).code, 0);
    troupe.env("TROUPE_PERSONAS", fixture("broken").to_str().unwrap());
    let server = troupe.serve(&[]);
    assert_eq!(server.get("/v1/personas").json, serde_json::json!([]));
    let chef = server.get("/v1/personas/chef");
    assert_eq!(chef.status, 503, "{}", chef.text);
    let export = server.get("/v1/users/tester/export");
    assert_eq!(export.status, 200, "{}", export.text);
    assert!(export.text.contains("\"chef\""), "{}", export.text);
    assert!(
        server.stderr().contains("no persona is available"),
        "{}",
        server.stderr()
    );
    let erased = server.request("DELETE", "/v1/users/tester", None);
    assert_eq!(erased.status, 200, "{}", erased.text);
}

/// Runs `troupe` and fails the test, instead of hanging it, if the run
/// takes more than 20 seconds.
fn run_within_20s(troupe: &Troupe, args: &[&str]) -> Run {
    let mut child = troupe
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("`troupe {}` hung", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    finish(child.wait_with_output().unwrap())
}

#[cfg(unix)]
#[test]
fn a_fifo_named_toml_is_never_opened_and_is_reported() {
    let troupe = Troupe::new();
    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("good/baker.toml"), dir.join("baker.toml")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("x.toml"))
        .status()
        .unwrap();
    assert!(made.success());
    let personas = dir.to_str().unwrap();
    let list = run_within_20s(&troupe, &["--personas", personas, "personas", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.starts_with("baker "), "{}", list.stdout);
    assert!(
        list.stderr
            .contains("x.toml:1:1: is a FIFO (named pipe), not a regular file"),
        "{}",
        list.stderr
    );
    let check = run_within_20s(&troupe, &["personas", "check", personas]);
    assert_eq!(check.code, 1);
    assert_eq!(
        check.stderr.trim(),
        format!(
            "{}:1:1: is a FIFO (named pipe), not a regular file; only regular files are read as personas, so remove it or rename it",
            dir.join("x.toml").display()
        )
    );
}
