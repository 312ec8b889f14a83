//! The few runtime strings Troupe itself says to users, in each persona's
//! language (English and French built in; other languages fall back to English).

/// The name of a language, in English, for the system prompt.
pub fn language_name(code: &str) -> &'static str {
    match primary(code) {
        "en" => "English",
        "fr" => "French",
        "es" => "Spanish",
        "de" => "German",
        "it" => "Italian",
        "pt" => "Portuguese",
        "nl" => "Dutch",
        _ => "the language of the user's messages",
    }
}

/// The primary subtag of a language code (`pt-BR` → `pt`).
fn primary(code: &str) -> &str {
    code.split('-').next().unwrap_or(code)
}

/// The notice shown at the start of each session: the user is talking to an AI.
pub fn ai_notice(language: &str, persona_name: &str) -> String {
    match primary(language) {
        "fr" => format!(
            "Vous discutez avec {persona_name}, une IA et non une personne. Les réponses d'une IA peuvent être inexactes ou inappropriées."
        ),
        _ => format!(
            "You are chatting with {persona_name}, an AI, not a person. AI responses may be inaccurate or inappropriate."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_follows_the_persona_language() {
        assert!(ai_notice("fr", "Élise").starts_with("Vous discutez avec Élise, une IA"));
        assert!(ai_notice("en-GB", "Marco").contains("an AI, not a person"));
        assert!(ai_notice("xx", "Marco").contains("an AI"));
    }
}
