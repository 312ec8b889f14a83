//! STOP and /start: a user turns a persona's follow-ups off or on again.
//!
//! A message that is only an unsubscribe word (English or French, any case,
//! trailing punctuation ignored) is a request, not chat: it is not sent to
//! the model, it is confirmed once, and the confirmation says how to undo it.

use crate::lang::Words;

/// What a control message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpSwitch {
    /// No more follow-ups from this persona.
    Stop,
    /// Follow-ups allowed again.
    Start,
}

/// Words that mean "stop messaging me", as carriers and apps use them
/// (`[followups] stop` in `lang/<language>/words.toml`).
static STOP_WORDS: Words = Words::named("followups.stop");

/// Words that turn follow-ups back on (`[followups] start`).
static START_WORDS: Words = Words::named("followups.start");

/// Reads a control message; `None` for ordinary chat.
pub fn parse(text: &str) -> Option<FollowUpSwitch> {
    let normalized = text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '/')
        .trim()
        .to_lowercase();
    if STOP_WORDS.contains(&normalized.as_str()) {
        Some(FollowUpSwitch::Stop)
    } else if START_WORDS.contains(&normalized.as_str()) {
        Some(FollowUpSwitch::Start)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsubscribe_words_in_both_languages_stop_followups() {
        for text in [
            "STOP",
            "stop.",
            "/stop",
            "Arrête !",
            "arrete",
            "Unsubscribe",
            "se désabonner",
        ] {
            assert_eq!(parse(text), Some(FollowUpSwitch::Stop), "{text}");
        }
        assert_eq!(parse("/start"), Some(FollowUpSwitch::Start));
        assert_eq!(parse("START"), Some(FollowUpSwitch::Start));
    }

    #[test]
    fn sentences_containing_the_words_are_chat() {
        for text in [
            "stop adding salt?",
            "Quand arrêter la cuisson ?",
            "the end of the recipe",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
