//! The first run on a machine with no key and no network.

use crate::support::Troupe;

#[test]
fn first_run_without_any_model_replies_from_the_persona_and_says_so() {
    let troupe = Troupe::new();
    let run = troupe.run_with_input(&["chat", "chef"], b"I have leftover rice and eggs\nhi\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.matches("Offline mode").count(),
        1,
        "said once per session"
    );
    assert!(run.stdout.contains("set OPENAI_API_KEY"));
    assert!(
        run.stdout
            .contains("Chef Marco: Fried rice, the classic rescue!"),
        "{}",
        run.stdout
    );
    let history = troupe.history("chef");
    assert_eq!(history.len(), 4);
    assert_eq!(history[1]["model"], "offline");
}

#[test]
fn offline_replies_follow_the_persona_language() {
    let troupe = Troupe::new();
    let run = troupe.run(&[
        "chat",
        "decor",
        "--message",
        "Mon salon est sombre, que faire ?",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reply = run.json()["reply"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reply.starts_with("Pour un petit salon sombre"), "{reply}");
}
