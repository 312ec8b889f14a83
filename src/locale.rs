//! The few runtime strings Troupe itself says to users, in each persona's
//! language: texts of the language data (`lang/<language>/interface.toml`,
//! see [`crate::lang`]; English and French built in, other languages fall
//! back to English).

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

/// The interface text `key` in `language`, from the language data
/// (`lang/<language>/interface.toml`).
fn say(language: &str, key: &str) -> &'static str {
    crate::lang::active().text(language, &format!("interface.{key}"))
}

/// `text` with `{persona}` and `{topic}` filled in, in one pass (a name or
/// topic that itself holds `{topic}` stays as written).
fn fill(text: &str, persona_name: &str, topic: &str) -> String {
    let mut out = String::with_capacity(text.len() + persona_name.len() + topic.len());
    let mut rest = text;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("{persona}") {
            out.push_str(persona_name);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("{topic}") {
            out.push_str(topic);
            rest = after;
        } else {
            out.push('{');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The notice shown at the start of each session: the user is talking to an AI.
pub fn ai_notice(language: &str, persona_name: &str) -> String {
    fill(say(language, "ai_notice"), persona_name, "")
}

/// A follow-up for personas that define no `followups.fallback`.
pub fn template_followup(language: &str, persona_name: &str, topic: Option<&str>) -> String {
    match topic {
        Some(topic) => fill(say(language, "followup_about_topic"), persona_name, topic),
        None => fill(say(language, "followup"), persona_name, ""),
    }
}

/// "what we talked about", for follow-up templates when no topic is known.
pub fn earlier_chat(language: &str) -> &'static str {
    say(language, "earlier_chat")
}

/// The heading shown before a follow-up the user has not seen yet.
pub fn while_away(language: &str, persona_name: &str) -> String {
    fill(say(language, "while_away"), persona_name, "")
}

/// The reply to STOP.
pub fn opted_out(language: &str, persona_name: &str, already: bool) -> String {
    let key = if already {
        "already_opted_out"
    } else {
        "opted_out"
    };
    fill(say(language, key), persona_name, "")
}

/// The offline backend's notice: replies are scripted, and how to connect a model.
pub fn offline_notice(language: &str) -> &'static str {
    say(language, "offline_notice")
}

/// The break reminder for minors.
pub fn take_a_break(language: &str) -> &'static str {
    say(language, "take_a_break")
}

/// The reply to /start.
pub fn opted_in(language: &str, persona_name: &str) -> String {
    fill(say(language, "opted_in"), persona_name, "")
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

    #[test]
    fn placeholders_are_filled_once() {
        assert_eq!(
            fill("{persona} on {topic} {x}", "A {topic}", "b {persona}"),
            "A {topic} on b {persona} {x}"
        );
    }
}
