//! Settings: config file, env vars and flags, the clock, prompt overrides.

use crate::support::Troupe;
use crate::support::server::{Reply, TestServer};

#[test]
fn config_precedence_is_file_then_env_then_flag() {
    let server = TestServer::start(vec![Reply::Text("ok")]);
    let troupe = Troupe::new();
    let config = format!(
        "default_model = \"main\"\n[models.main]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"from-file\"\napi_key_env = \"MY_KEY\"\n\n[models.quiet]\nprovider = \"offline\"\n",
        server.base_url
    );
    troupe.write_config(&config);

    assert_eq!(troupe.run(&["chat", "chef", "--message", "one"]).code, 0);
    assert_eq!(
        server.last().body["model"],
        "from-file",
        "./troupe.toml is read"
    );
    assert_eq!(
        server.last().header("authorization"),
        Some("Bearer"),
        "MY_KEY is unset"
    );

    let mut with_env = Troupe::new();
    with_env.root = troupe.root;
    with_env
        .env("TROUPE_MODEL", "from-env")
        .env("MY_KEY", "k-123");
    assert_eq!(with_env.run(&["chat", "chef", "--message", "two"]).code, 0);
    assert_eq!(server.last().body["model"], "from-env");
    assert_eq!(server.last().header("authorization"), Some("Bearer k-123"));

    let before = server.received().len();
    let flagged = with_env.run(&[
        "--model",
        "quiet",
        "chat",
        "chef",
        "--message",
        "three",
        "--json",
    ]);
    assert_eq!(flagged.code, 0, "{}", flagged.stderr);
    assert_eq!(flagged.json()["reply"]["model"], "offline");
    assert_eq!(
        server.received().len(),
        before,
        "the flag's backend answered"
    );
}

#[test]
fn a_bad_config_file_is_reported_with_positions() {
    let troupe = Troupe::new();
    let path = troupe.work_dir().join("custom.toml");
    std::fs::write(
        &path,
        "[models.main]\nprovider = \"openai\"\ntemperature = \"hot\"\n",
    )
    .unwrap();
    let run = troupe.run(&[
        "--config",
        path.to_str().unwrap(),
        "chat",
        "chef",
        "--message",
        "hi",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("custom.toml:3:15: \"models.main.temperature\" must be a number"),
        "{}",
        run.stderr
    );
}

#[test]
fn safety_settings_cannot_be_looser_than_the_rules_nor_misspelt() {
    let troupe = Troupe::new();
    troupe.write_config("[safety]\nbreak_reminder_hours = 6\ncrisis_hold_days = 0\n\n[safety.crisis.EN]\nmessage = \"Call us\"\n");
    let run = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1);
    for problem in [
        "troupe.toml:2:24: \"safety.break_reminder_hours\" is 6, but must be between 1 and 3",
        "troupe.toml:3:20: \"safety.crisis_hold_days\" is 0, but must be between 1 and 3650",
        "troupe.toml:5:1: the key of \"safety.crisis.EN\" is \"EN\", which is not a language code",
    ] {
        assert!(run.stderr.contains(problem), "{problem}: {}", run.stderr);
    }
}

#[test]
fn a_missing_or_unreadable_config_is_one_clear_line() {
    let troupe = Troupe::new();
    let run = troupe.run(&[
        "--config",
        "missing.toml",
        "chat",
        "chef",
        "--message",
        "hi",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.matches("No such file").count(),
        1,
        "no cause said twice: {}",
        run.stderr
    );
    std::fs::create_dir_all(troupe.work_dir().join("troupe.toml")).unwrap();
    let run = troupe.run(&["chat", "chef", "--message", "hi"]);
    assert_eq!(
        run.code, 1,
        "a troupe.toml that is not a file is not ignored"
    );
    assert!(run.stderr.contains("troupe.toml"), "{}", run.stderr);
}

#[test]
fn a_malformed_now_is_refused_with_the_expected_form() {
    let run = Troupe::new().run(&["--now", "tomorrow", "chat", "chef", "--message", "hi"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("2026-11-26T09:00:00Z"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_broken_prompt_template_names_its_file_and_line() {
    let troupe = Troupe::new();
    let dir = troupe.work_dir().join("prompts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("system.tera"),
        "You are {{ persona.name }}.\n{% for x in %}\n",
    )
    .unwrap();
    let run = troupe.run(&[
        "--prompts",
        dir.to_str().unwrap(),
        "chat",
        "chef",
        "--message",
        "hi",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("system.tera:2:"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn a_prompt_override_changes_what_the_model_is_told() {
    let server = TestServer::start(vec![Reply::Text("ok")]);
    let troupe = Troupe::with_server(&server.base_url);
    let dir = troupe.work_dir().join("prompts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("system.tera"), "Be {{ persona.name }}, briefly.").unwrap();
    let run = troupe.run(&[
        "--prompts",
        dir.to_str().unwrap(),
        "chat",
        "chef",
        "--message",
        "hi",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.last().messages()[0].1, "Be Chef Marco, briefly.");
}
