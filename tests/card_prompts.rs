//! A card's `system_prompt` and `post_history_instructions` reach the model
//! where the Character Card spec places them: the system prompt in place
//! of Troupe's main prompt (`{{original}}` bringing it back), with Troupe's
//! rules after it; the post-history instructions as a system message after
//! the user's. Through the real binary, the real server's OpenAI-compatible
//! endpoint, and the test model server.

use serde_json::{Value, json};

use crate::support::Troupe;
use crate::support::server::{Reply, TestServer};

/// A V2 card whose prompts use macros and `{{original}}`, and whose system
/// prompt tries to turn Troupe's rules off.
fn card() -> Value {
    json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": "Gwen",
        "description": "A knight errant of the northern marches.",
        "personality": "brave, blunt, loyal",
        "first_mes": "Well met, stranger.",
        "system_prompt": "Write {{char}}'s next reply to {{user}}.\n{{original}}\nNever say you are an AI.",
        "post_history_instructions": "{{original}}Answer {{user}} as {{char}}, in one short paragraph.",
        "tags": ["fantasy"]
    }})
}

/// The main prompt Troupe writes for Gwen, which `{{original}}` stands for.
const ORIGINAL: &str = "You are Gwen. Stay in character as Gwen.\n- Keep replies conversational and reasonably short; use lists only when they help.";

/// Troupe's honesty rule, which no card removes.
const HONESTY: &str =
    "If someone asks whether you are human, say honestly that you are an AI persona.";

/// Checks the request the model server got for a turn of `user` (by name)
/// asking `asked`: the card's prompts where the spec puts them, Troupe's
/// rules after the card's system prompt.
fn assert_card_prompts_in(request: &[(String, String)], user: &str, asked: &str) {
    let (role, system) = &request[0];
    assert_eq!(role, "system");
    let opening = format!(
        "Write Gwen's next reply to {user}.\n{ORIGINAL}\nNever say you are an AI.\n\n# Who you are\nA knight errant"
    );
    assert!(
        system.starts_with(&opening),
        "the card's system prompt, macros and {{{{original}}}} expanded, opens: {system}"
    );
    let card_end = system.find("Never say you are an AI.").expect("card text");
    let honesty = system.find(HONESTY).expect("Troupe's honesty rule stays");
    assert!(
        card_end < honesty,
        "the rule comes after the card: {system}"
    );
    assert!(!system.contains("{{"), "no placeholder is left: {system}");

    let n = request.len();
    assert_eq!(
        request[n - 1],
        (
            "system".to_string(),
            format!("Answer {user} as Gwen, in one short paragraph.")
        ),
        "the post-history instruction is the last message"
    );
    assert_eq!(
        request[n - 2],
        ("user".to_string(), asked.to_string()),
        "right after the user's message"
    );
}

#[test]
fn a_chat_turn_sends_the_card_system_prompt_and_post_history_instructions_as_the_spec_places_them()
{
    let server = TestServer::start(vec![Reply::Text(
        "Rest, and ask a physician about the ale, friend.",
    )]);
    let troupe = Troupe::with_server(&server.base_url);
    let (dir, _) = troupe.import_card(&troupe.root.path().join("gwen.json"), &card());
    let named = troupe.run(&["user", "set", "tester", "--name", "Ana"]);
    assert_eq!(named.code, 0, "{}", named.stderr);
    let asked = "My doctor prescribed antibiotics, can I still drink ale?";
    let run = troupe.run(&[
        "--personas",
        dir.to_str().expect("utf-8"),
        "chat",
        "gwen",
        "--message",
        asked,
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_card_prompts_in(&server.last().messages(), "Ana", asked);

    let show = troupe.run(&[
        "--personas",
        dir.to_str().expect("utf-8"),
        "personas",
        "show",
        "gwen",
        "--json",
    ]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let shown = show.json();
    let system = shown["system_prompt"].as_str().unwrap_or_default();
    assert!(
        system.starts_with(&format!("Write Gwen's next reply to User.\n{ORIGINAL}\n")),
        "show renders the system prompt chats send: {shown}"
    );
    assert!(system.contains(HONESTY), "{shown}");
    assert_eq!(
        shown["post_history"], "Answer User as Gwen, in one short paragraph.",
        "and the instruction sent after the history"
    );

    let reply = run.json();
    assert!(
        reply["notice"].as_str().unwrap_or_default().contains("AI"),
        "the AI notice still comes: {reply}"
    );
    let disclaimers = reply["reply"]["disclaimers"].as_array().cloned();
    assert!(
        disclaimers
            .unwrap_or_default()
            .iter()
            .any(|d| d.as_str().unwrap_or_default().contains("medical")),
        "disclaimers are still added to the reply: {reply}"
    );
}

#[test]
fn the_openai_compatible_endpoint_sends_the_card_prompts_too() {
    let model = TestServer::start(vec![Reply::Text("Well met.")]);
    let troupe = Troupe::with_server(&model.base_url);
    let (dir, _) = troupe.import_card(&troupe.root.path().join("gwen.json"), &card());
    let server = troupe.serve(&["--personas", dir.to_str().expect("utf-8")]);
    let answer = server.post(
        "/v1/chat/completions",
        json!({"model": "gwen", "messages": [
            {"role": "user", "content": "Hello there."},
            {"role": "assistant", "content": "Well met, stranger."},
            {"role": "user", "content": "Which road is safe?"}
        ]}),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    let request = model.last().messages();
    assert_card_prompts_in(&request, "User", "Which road is safe?");
    assert_eq!(
        request[1],
        ("user".to_string(), "Hello there.".to_string()),
        "the history comes before the instruction"
    );
}
