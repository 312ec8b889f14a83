//! What a persona's `[card] system_prompt` and `post_history_instructions`
//! (a Character Card's, or written in the persona file) make of a request,
//! as the Character Card V2 and V3 specs place them.
//!
//! - `system_prompt` stands in for Troupe's main prompt (`main.tera`, the
//!   frontend's default "system prompt" in the spec's words), and
//!   `{{original}}` in it stands for that main prompt. The persona's
//!   definition (description, voice, scenario, lore, greeting, examples)
//!   stays, as in every frontend, and so do Troupe's rules, which the
//!   system template places after everything a card says.
//! - `post_history_instructions` are sent after the chat history, as the
//!   last instruction the model reads; `{{original}}` in them stands for
//!   nothing, since Troupe has no default post-history instruction.
//!
//! Both texts have their macros expanded before `{{original}}` is replaced,
//! so the main prompt it brings in is never read for macros again.

use crate::persona::Persona;
use crate::persona::macros::{self, MacroValues};

/// The placeholder the specs give a card's prompts for the text they
/// replace (matched in any case, as `{{Original}}`).
pub const ORIGINAL: &str = "{{original}}";

/// The main prompt for `persona` (its texts' macros already expanded):
/// its `[card] system_prompt` with `{{original}}` standing for `default`
/// when it has one that is not blank, else `default`.
pub fn main_prompt(persona: &Persona, default: &str) -> String {
    match card_text(persona, |card| card.system_prompt.as_deref()) {
        Some(text) => with_original(text, default.trim()),
        None => default.to_string(),
    }
}

/// The instruction sent after the history for `persona` with the macros
/// of `values` expanded and `{{original}}` standing for nothing; `None`
/// when the persona has none, or only blank text.
pub fn post_history(persona: &Persona, values: &MacroValues) -> Option<String> {
    let text = card_text(persona, |card| card.post_history_instructions.as_deref())?;
    let expanded = macros::expand(text, values);
    let text = with_original(&expanded, "");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// A text of the persona's `[card]` table, when it holds more than blanks.
fn card_text<'a>(
    persona: &'a Persona,
    field: impl Fn(&'a crate::persona::card::PersonaCard) -> Option<&'a str>,
) -> Option<&'a str> {
    persona
        .card
        .as_ref()
        .and_then(field)
        .filter(|text| !text.trim().is_empty())
}

/// `text` with its first `{{original}}` (in any case) replaced by
/// `original` and any later ones removed, as SillyTavern does, so a card
/// that repeats the placeholder does not repeat the prompt.
pub fn with_original(text: &str, original: &str) -> String {
    let mut out = String::with_capacity(text.len() + original.len());
    let mut rest = text;
    let mut used = false;
    while let Some(start) = find_original(rest) {
        out.push_str(&rest[..start]);
        if !used {
            out.push_str(original);
            used = true;
        }
        rest = &rest[start + ORIGINAL.len()..];
    }
    out.push_str(rest);
    out
}

/// Where the first `{{original}}` in any case starts in `text`.
fn find_original(text: &str) -> Option<usize> {
    // ASCII lower-casing keeps every byte offset where it was.
    text.to_ascii_lowercase().find(ORIGINAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::Personas;
    use crate::persona::card::PersonaCard;

    fn chef_with(card: PersonaCard) -> Persona {
        let mut chef = (*Personas::builtin().get("chef").expect("chef")).clone();
        chef.card = Some(card);
        chef
    }

    #[test]
    fn the_first_original_stands_for_the_default_and_later_ones_vanish() {
        assert_eq!(
            with_original("Before. {{original}} After {{ORIGINAL}}.", "Default"),
            "Before. Default After ."
        );
        assert_eq!(with_original("No placeholder", "Default"), "No placeholder");
        assert_eq!(with_original("Érable {{Original}}", "x"), "Érable x");
    }

    #[test]
    fn a_card_system_prompt_stands_in_for_the_main_prompt_unless_blank() {
        let card = PersonaCard {
            system_prompt: Some("Write {{char}}'s next reply. {{original}}".to_string()),
            ..PersonaCard::default()
        };
        assert_eq!(
            main_prompt(&chef_with(card), "You are Chef Marco.\n"),
            "Write {{char}}'s next reply. You are Chef Marco."
        );
        let blank = PersonaCard {
            system_prompt: Some("  \n".to_string()),
            ..PersonaCard::default()
        };
        assert_eq!(main_prompt(&chef_with(blank), "Default"), "Default");
        assert_eq!(
            main_prompt(&chef_with(PersonaCard::default()), "Default"),
            "Default"
        );
    }

    #[test]
    fn post_history_instructions_have_macros_expanded_and_no_original() {
        let card = PersonaCard {
            post_history_instructions: Some(
                "{{original}} Stay in character as {{char}}; {{user}} is listening.".to_string(),
            ),
            ..PersonaCard::default()
        };
        let chef = chef_with(card);
        let values = MacroValues::new(
            &chef,
            Some("Ana"),
            chrono::Utc::now(),
            chrono_tz::Tz::UTC,
            None,
        );
        assert_eq!(
            post_history(&chef, &values).as_deref(),
            Some("Stay in character as Chef Marco; Ana is listening.")
        );
        let only_original = PersonaCard {
            post_history_instructions: Some(" {{original}} ".to_string()),
            ..PersonaCard::default()
        };
        assert_eq!(post_history(&chef_with(only_original), &values), None);
        assert_eq!(
            post_history(&chef_with(PersonaCard::default()), &values),
            None
        );
    }
}
