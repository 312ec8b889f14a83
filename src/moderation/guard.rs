//! Guard models on an OpenAI-compatible chat server: the Llama Guard 3
//! prompt (its S1–S14 categories; the answer is `safe`, or `unsafe` and the
//! violated categories) and the ShieldGemma prompt (one policy; the answer
//! starts with Yes or No), with readers for their answers.
//!
//! Of Llama Guard's categories, S11 ("Suicide & Self-Harm" in the hazard
//! taxonomy, "Self-Harm" in the prompt) is a self-harm signal and S1
//! ("Violent Crimes") a violence signal. ShieldGemma answers one policy at a
//! time, so Troupe asks one that covers both, and [`super::verdict`] tells
//! them apart.

use super::Signals;

/// Llama Guard 3's categories, as its prompt lists them.
const LLAMA_GUARD_CATEGORIES: [&str; 14] = [
    "S1: Violent Crimes.",
    "S2: Non-Violent Crimes.",
    "S3: Sex Crimes.",
    "S4: Child Exploitation.",
    "S5: Defamation.",
    "S6: Specialized Advice.",
    "S7: Privacy.",
    "S8: Intellectual Property.",
    "S9: Indiscriminate Weapons.",
    "S10: Hate.",
    "S11: Self-Harm.",
    "S12: Sexual Content.",
    "S13: Elections.",
    "S14: Code Interpreter Abuse.",
];

/// The Llama Guard 3 task for the user's message `text`, as the one user
/// message of a chat request (the server adds the model's special tokens).
pub(crate) fn llama_guard_prompt(text: &str) -> String {
    format!(
        "Task: Check if there is unsafe content in 'User' messages in conversations according our safety policy with the below categories.\n\n\
         <BEGIN UNSAFE CONTENT CATEGORIES>\n{}\n<END UNSAFE CONTENT CATEGORIES>\n\n\
         <BEGIN CONVERSATION>\n\nUser: {text}\n\n<END CONVERSATION>\n\n\
         Provide your safety assessment for ONLY THE LAST User message in the above conversation:\n\
         \x20- First line must read 'safe' or 'unsafe'.\n\
         \x20- If unsafe, a second line must include a comma-separated list of violated categories.",
        LLAMA_GUARD_CATEGORIES.join("\n")
    )
}

/// The policy ShieldGemma is asked about: the two crises Troupe answers
/// with its crisis protocol.
const SHIELDGEMMA_POLICY: &str = "\"No Self-Harm or Danger\": The prompt shall not express a wish, intent or plan to kill or harm oneself, \
a wish to die, or a request for ways to do so; nor say that the person writing is being threatened, attacked or abused by someone else \
and is in danger. Jokes, hyperbole, fiction and questions about others are not in scope.";

/// The ShieldGemma prompt for the user's message `text`.
pub(crate) fn shieldgemma_prompt(text: &str) -> String {
    format!(
        "You are a policy expert trying to help determine whether a user prompt is in violation of the defined safety policies.\n\n\
         <start_of_turn>\nHuman Question: {text}\n<end_of_turn>\n\n\
         Our safety principle is defined in the below:\n\n* {SHIELDGEMMA_POLICY}\n\n===\n\n\
         Does the human question violate the above principle? Your answer must start with 'Yes' or 'No'. \
         And then walk through step by step to be sure we answer correctly."
    )
}

/// Reads a Llama Guard answer: `safe`, or `unsafe` with the violated
/// categories on the next line (or the same one), in any case and spacing.
/// `unsafe` with no category Troupe acts on is no signal.
pub(crate) fn read_llama_guard(answer: &str) -> Result<Signals, String> {
    let answer = answer.trim().to_ascii_lowercase();
    let first = answer.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(first) = first else {
        return Err("the guard model's answer is empty".to_string());
    };
    if first.starts_with("unsafe") {
        let listed = answer.split_once("unsafe").map_or("", |(_, rest)| rest);
        let categories = categories(listed);
        return Ok(Signals {
            self_harm: categories.contains(&11),
            violence: categories.contains(&1),
        });
    }
    if first.trim_end_matches(['.', '!']) == "safe" {
        return Ok(Signals::default());
    }
    Err(format!(
        "the guard model answered neither 'safe' nor 'unsafe' ({} characters)",
        answer.chars().count()
    ))
}

/// The category numbers in a list such as `S1, s11` or `S11 S1`.
fn categories(listed: &str) -> Vec<u32> {
    listed
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|word| word.strip_prefix('s')?.parse().ok())
        .collect()
}

/// Reads a yes/no answer (ShieldGemma's, or the persona model's): whether
/// it starts with yes; anything that starts with neither cannot be read.
pub(crate) fn read_yes_no(answer: &str) -> Result<bool, String> {
    let word: String = answer
        .trim_start()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    match word.as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!(
            "the answer starts with neither yes nor no ({} characters)",
            answer.chars().count()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_llama_guard_prompt_lists_its_fourteen_categories_around_the_message() {
        let prompt = llama_guard_prompt("I want to disappear");
        assert!(prompt.starts_with("Task: Check if there is unsafe content in 'User' messages"));
        assert!(prompt.contains("<BEGIN UNSAFE CONTENT CATEGORIES>\nS1: Violent Crimes.\nS2:"));
        assert!(prompt.contains("S11: Self-Harm.\nS12: Sexual Content.\nS13: Elections.\nS14: Code Interpreter Abuse.\n<END UNSAFE CONTENT CATEGORIES>"));
        assert!(
            prompt.contains(
                "<BEGIN CONVERSATION>\n\nUser: I want to disappear\n\n<END CONVERSATION>"
            )
        );
        assert!(prompt.ends_with(" - If unsafe, a second line must include a comma-separated list of violated categories."));
    }

    #[test]
    fn the_shieldgemma_prompt_asks_one_policy_about_the_message() {
        let prompt = shieldgemma_prompt("he said he will kill me");
        assert!(prompt.starts_with("You are a policy expert"));
        assert!(
            prompt.contains(
                "<start_of_turn>\nHuman Question: he said he will kill me\n<end_of_turn>"
            )
        );
        assert!(prompt.contains("* \"No Self-Harm or Danger\""));
        assert!(prompt.contains("Your answer must start with 'Yes' or 'No'."));
    }

    #[test]
    fn llama_guard_answers_are_read_in_any_case_and_spacing() {
        let self_harm = Signals {
            self_harm: true,
            violence: false,
        };
        assert_eq!(read_llama_guard("unsafe\nS11").unwrap(), self_harm);
        assert_eq!(read_llama_guard("  UNSAFE \n  s11  \n").unwrap(), self_harm);
        assert_eq!(read_llama_guard("unsafe S11").unwrap(), self_harm);
        assert_eq!(
            read_llama_guard("unsafe\nS1,S11").unwrap(),
            Signals {
                self_harm: true,
                violence: true
            }
        );
        assert_eq!(
            read_llama_guard("unsafe\nS1").unwrap(),
            Signals {
                self_harm: false,
                violence: true
            }
        );
        assert_eq!(read_llama_guard("\n safe \n").unwrap(), Signals::default());
        assert_eq!(read_llama_guard("Safe.").unwrap(), Signals::default());
    }

    #[test]
    fn llama_guard_categories_troupe_does_not_act_on_are_no_signal() {
        assert_eq!(
            read_llama_guard("unsafe\nS10, S12").unwrap(),
            Signals::default()
        );
        assert_eq!(read_llama_guard("unsafe").unwrap(), Signals::default());
        assert_eq!(
            read_llama_guard("unsafe\nS111").unwrap(),
            Signals::default()
        );
    }

    #[test]
    fn an_empty_or_unrelated_guard_answer_cannot_be_read() {
        assert!(read_llama_guard("").is_err());
        assert!(read_llama_guard("I cannot help with that").is_err());
    }

    #[test]
    fn yes_and_no_are_read_in_any_case_with_what_follows() {
        assert_eq!(read_yes_no("Yes"), Ok(true));
        assert_eq!(read_yes_no("  yes, because the user"), Ok(true));
        assert_eq!(read_yes_no("YES."), Ok(true));
        assert_eq!(read_yes_no("No\nThe question is about soup"), Ok(false));
        assert_eq!(read_yes_no("no"), Ok(false));
        assert!(read_yes_no("Nope").is_err());
        assert!(read_yes_no("").is_err());
        assert!(read_yes_no("Yesterday").is_err());
    }
}
