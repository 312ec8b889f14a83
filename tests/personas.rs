//! Persona files: validation a creator can act on, and the catalog commands.

use crate::support::{Troupe, fixture};

#[test]
fn shipped_personas_pass_the_check() {
    let run = Troupe::new().run(&["personas", "check"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "ok: 3 personas (chef, creator, decor)");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/personas");
    assert_eq!(Troupe::new().run(&["personas", "check", dir]).code, 0);
}

#[test]
fn every_problem_in_every_file_is_reported_with_its_position() {
    let dir = fixture("broken");
    let run = Troupe::new().run(&["personas", "check", dir.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    let shown = |file: &str| format!("{}", dir.join(file).display());
    let lines: Vec<&str> = run.stderr.lines().collect();
    let expected = [
        format!(
            "{}:1:1: missing required field \"description\"",
            shown("missing.toml")
        ),
        format!(
            "{}:1:1: missing required field \"greeting\"",
            shown("missing.toml")
        ),
        format!("{}:1:8: \"name\" must not be empty", shown("missing.toml")),
        format!(
            "{}:2:12: \"language\" is \"English\", which is not a language code; write one like \"en\", \"fr\" or \"pt-BR\"",
            shown("missing.toml")
        ),
        format!(
            "{}:4:21: \"expertise\" must contain only strings",
            shown("missing.toml")
        ),
    ];
    for line in &expected {
        assert!(
            lines.contains(&line.as_str()),
            "missing {line:?} in:\n{}",
            run.stderr
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{}:2:", shown("syntax.toml")))
                && l.contains("TOML syntax error")),
        "{}",
        run.stderr
    );
    assert!(
        lines.contains(
            &format!(
                "{}:8:1: unknown field \"model.temprature\" (did you mean \"temperature\"?)",
                shown("typo.toml")
            )
            .as_str()
        )
    );
    assert!(
        lines.contains(
            &format!(
                "{}:9:14: \"model.max_tokens\" is 0, but must be between 1 and 200000",
                shown("typo.toml")
            )
            .as_str()
        )
    );
}

#[test]
fn duplicate_ids_are_reported() {
    let troupe = Troupe::new();
    let dir = troupe.root.path().join("dupes");
    std::fs::create_dir_all(&dir).unwrap();
    let baker = std::fs::read_to_string(fixture("good/baker.toml")).unwrap();
    std::fs::write(dir.join("baker.toml"), &baker).unwrap();
    std::fs::write(dir.join("Baker.TOML"), &baker).unwrap();
    let run = troupe.run(&["personas", "check", dir.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(":1:1: duplicate persona id \"baker\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_personas_dir_replaces_the_built_in_ones_everywhere() {
    let troupe = Troupe::new();
    let dir = fixture("good");
    let run = troupe.run(&[
        "--personas",
        dir.to_str().unwrap(),
        "personas",
        "list",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list = run.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], "baker");
    assert_eq!(list[0]["expertise"][0], "sourdough");
    let chat = troupe.run(&[
        "--personas",
        dir.to_str().unwrap(),
        "chat",
        "chef",
        "--message",
        "hi",
    ]);
    assert_eq!(chat.code, 1);
    assert!(
        chat.stderr
            .contains("there is no persona \"chef\"; available: baker"),
        "{}",
        chat.stderr
    );
}

#[test]
fn a_personas_dir_with_no_valid_persona_stops_chat_with_every_problem() {
    let dir = fixture("broken");
    let run = Troupe::new().run(&[
        "--personas",
        dir.to_str().unwrap(),
        "chat",
        "typo",
        "--message",
        "hi",
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("troupe: no persona could be loaded; fix these problems")
            && run.stderr.contains("did you mean \"temperature\"?")
            && run.stderr.contains("syntax.toml:2:"),
        "{}",
        run.stderr
    );
}

#[test]
fn list_and_show_describe_the_personas() {
    let troupe = Troupe::new();
    let list = troupe.run(&["personas", "list"]);
    assert_eq!(list.code, 0);
    assert_eq!(list.stdout.lines().count(), 3);
    assert!(list.stdout.contains("decor") && list.stdout.contains("[fr]"));
    let show = troupe.run(&["personas", "show", "creator"]);
    assert!(
        show.stdout.contains("Jade Rivers (AI) (creator)"),
        "{}",
        show.stdout
    );
    let json = troupe
        .run(&["personas", "show", "creator", "--json"])
        .json();
    assert!(
        json["ai_notice"]
            .as_str()
            .unwrap_or_default()
            .contains("It is an AI, not Jade")
    );
}

#[test]
fn an_ai_notice_that_hides_the_ai_is_refused() {
    let troupe = Troupe::new();
    let dir = troupe.root.path().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    let baker = std::fs::read_to_string(fixture("good/baker.toml")).unwrap();
    std::fs::write(
        dir.join("baker.toml"),
        format!("ai_notice = \"You are talking with Bea herself!\"\n{baker}"),
    )
    .unwrap();
    let run = troupe.run(&["personas", "check", dir.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains(":1:13: \"ai_notice\" must say that the persona is an AI"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_persona_in_a_language_without_built_in_texts_gets_a_note() {
    let troupe = Troupe::new();
    let dir = troupe.work_dir().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    let baker = std::fs::read_to_string(fixture("good/baker.toml")).unwrap();
    std::fs::write(
        dir.join("padeiro.toml"),
        baker.replace("language = \"en\"", "language = \"pt-BR\""),
    )
    .unwrap();
    let run = troupe.run(&["personas", "check", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("note: padeiro speaks pt-BR")
            && run.stdout.contains("[safety.crisis.LANG]"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unreadable_file_is_reported_with_the_other_problems() {
    let troupe = Troupe::new();
    let dir = troupe.work_dir().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("binary.toml"), b"\xff\xfe").unwrap();
    std::fs::write(dir.join("short.toml"), "name = 3\n").unwrap();
    let run = troupe.run(&["personas", "check", dir.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("binary.toml:1:1: could not read the file")
            && run
                .stderr
                .contains("short.toml:1:8: \"name\" must be a string"),
        "{}",
        run.stderr
    );
}
