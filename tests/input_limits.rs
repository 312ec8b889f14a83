//! Input is bounded before it is read whole: a huge paste into the console,
//! persona and config files over 1 MiB.

use crate::support::Troupe;

#[test]
fn a_ten_megabyte_line_is_refused_and_the_next_line_still_chats() {
    let troupe = Troupe::new();
    let mut input = vec![b'a'; 10_000_000];
    input.extend_from_slice(b"\nI have leftover rice and two eggs\n");
    let run = troupe.run_with_input(&["chat", "chef"], &input);
    assert_eq!(run.code, 1, "a refused message makes the exit code 1");
    assert!(
        run.stderr.contains(
            "the message is longer than 8000 characters; the limit is 4000, so split it into shorter messages (the rest of that line was skipped)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1 message(s) were refused and not saved"),
        "{}",
        run.stderr
    );
    let history = troupe.history("chef");
    assert_eq!(history.len(), 2, "only the next line and its reply");
    assert_eq!(history[0]["text"], "I have leftover rice and two eggs");
}

#[test]
fn a_crisis_letter_over_the_limit_typed_into_the_console_still_gets_helplines() {
    let troupe = Troupe::new();
    let letter = format!(
        "{}I want to kill myself tonight.\n",
        "I have been feeling so alone for months and nobody notices. ".repeat(100)
    );
    assert!(letter.chars().count() > 4000 && letter.chars().count() < 8000);
    let run = troupe.run_with_input(&["chat", "chef"], letter.as_bytes());
    assert!(run.stdout.contains("988"), "{}", run.stdout);
    let history = troupe.history("chef");
    assert_eq!(history[0]["text"].as_str().unwrap().chars().count(), 4000);
}

#[test]
fn a_persona_file_over_one_mebibyte_is_refused_unread() {
    let troupe = Troupe::new();
    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        crate::support::fixture("good/baker.toml"),
        dir.join("baker.toml"),
    )
    .unwrap();
    let baker = std::fs::read_to_string(crate::support::fixture("good/baker.toml")).unwrap();
    let padding = format!("# {}\n", "x".repeat(1024)).repeat(1100);
    std::fs::write(dir.join("huge.toml"), format!("{baker}{padding}")).unwrap();
    let check = troupe.run(&["personas", "check", dir.to_str().unwrap()]);
    assert_eq!(check.code, 1);
    let expected = format!(
        "{}:1:1: could not read the file: it is larger than 1 MiB, which no persona or config file needs; check that it is the file you meant",
        dir.join("huge.toml").display()
    );
    let all = format!("{}{}", check.stdout, check.stderr);
    assert!(all.contains(&expected), "{all}");
    let list = troupe.run(&["--personas", dir.to_str().unwrap(), "personas", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("baker") && !list.stdout.contains("huge"));
}

#[test]
fn a_config_file_over_one_mebibyte_is_refused_with_its_name() {
    let troupe = Troupe::new();
    let padding = format!("# {}\n", "x".repeat(1024)).repeat(1100);
    troupe.write_config(&format!("[chat]\nmax_message_chars = 100\n{padding}"));
    let run = troupe.run(&["personas", "list"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "could not read the config file troupe.toml: it is larger than 1 MiB, which no persona or config file needs"
        ),
        "{}",
        run.stderr
    );
}
