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

/// A follow-up for personas that define no `followups.fallback`.
pub fn template_followup(language: &str, persona_name: &str, topic: Option<&str>) -> String {
    match (primary(language), topic) {
        ("fr", Some(topic)) => format!(
            "Bonjour, c'est {persona_name} ! Je repensais à notre échange sur {topic}. Où en êtes-vous ?"
        ),
        ("fr", None) => format!(
            "Bonjour, c'est {persona_name} ! Cela fait un moment. Comment ça va de votre côté ?"
        ),
        (_, Some(topic)) => format!(
            "Hi, it's {persona_name}! I was thinking about our chat about {topic}. How did it go?"
        ),
        (_, None) => {
            format!("Hi, it's {persona_name}! It's been a little while. How are things going?")
        }
    }
}

/// "what we talked about", for follow-up templates when no topic is known.
pub fn earlier_chat(language: &str) -> &'static str {
    match primary(language) {
        "fr" => "ce dont nous avons parlé",
        _ => "what we talked about",
    }
}

/// The heading shown before a follow-up the user has not seen yet.
pub fn while_away(language: &str, persona_name: &str) -> String {
    match primary(language) {
        "fr" => format!("Pendant votre absence, {persona_name} vous a écrit :"),
        _ => format!("While you were away, {persona_name} wrote:"),
    }
}

/// The reply to STOP.
pub fn opted_out(language: &str, persona_name: &str, already: bool) -> String {
    match (primary(language), already) {
        ("fr", false) => format!(
            "C'est noté : {persona_name} ne vous relancera plus. Tapez /start si vous changez d'avis."
        ),
        ("fr", true) => format!(
            "{persona_name} ne vous relance déjà plus. Tapez /start pour réactiver les relances."
        ),
        (_, false) => format!(
            "Got it: {persona_name} won't check in with you anymore. Type /start if you change your mind."
        ),
        (_, true) => format!(
            "{persona_name} already won't check in with you. Type /start to turn check-ins back on."
        ),
    }
}

/// The offline backend's notice: replies are scripted, and how to connect a model.
pub fn offline_notice(language: &str) -> &'static str {
    match primary(language) {
        "fr" => {
            "Mode hors ligne : aucun modèle n'est configuré, les réponses sont donc écrites d'après la fiche du personnage. \
             Pour parler à un vrai modèle, définissez OPENAI_API_KEY (et OPENAI_BASE_URL pour Ollama, vLLM ou llama.cpp) \
             ou ajoutez une table [models] à troupe.toml (`troupe init` en écrit un commenté)."
        }
        _ => {
            "Offline mode: no model is configured, so replies are scripted from the persona file. \
             To talk to a real model, set OPENAI_API_KEY (plus OPENAI_BASE_URL for Ollama, vLLM or llama.cpp) \
             or add a [models] table to troupe.toml (`troupe init` writes a commented one)."
        }
    }
}

/// The break reminder for minors.
pub fn take_a_break(language: &str) -> &'static str {
    match primary(language) {
        "fr" => {
            "Cela fait un moment que nous discutons : c'est peut-être le bon moment pour faire une pause."
        }
        _ => "We've been chatting for a while: this might be a good moment to take a break.",
    }
}

/// The reply to /start.
pub fn opted_in(language: &str, persona_name: &str) -> String {
    match primary(language) {
        "fr" => format!(
            "C'est noté : {persona_name} pourra de nouveau prendre de vos nouvelles de temps en temps. Tapez STOP pour arrêter."
        ),
        _ => format!(
            "Got it: {persona_name} may check in with you now and then again. Type STOP to turn that off."
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
