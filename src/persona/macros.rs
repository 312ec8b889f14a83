//! Macros in persona texts: the placeholders Character Cards use
//! (`{{char}}`, `{{user}}`, `<BOT>`, `<USER>`, `{{time}}`, `{{date}}`,
//! `{{weekday}}`, `{{idle_duration}}`), replaced in every persona text
//! before it reaches a model.
//!
//! Macros are expanded in what the creator wrote (the persona file), never
//! in what users write: a user typing `{{char}}` sends exactly that. They
//! are not tera syntax either: expansion is a plain scan, so a persona text
//! never becomes template source. Names are matched in any case
//! (`{{Char}}`, `<bot>`); an unknown `{{name}}` is left as written.

use std::borrow::Cow;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::Persona;

/// What the user is called when they set no display name.
pub const DEFAULT_USER_NAME: &str = "User";

/// The values macros stand for in one turn (or one follow-up).
#[derive(Debug, Clone, PartialEq)]
pub struct MacroValues {
    /// `{{char}}` and `<BOT>`: the persona's nickname, or its name.
    pub character: String,
    /// `{{user}}` and `<USER>`: the user's display name.
    pub user: String,
    /// The moment of the turn, in the user's time zone, for `{{time}}`,
    /// `{{date}}` and `{{weekday}}`.
    pub now: DateTime<Tz>,
    /// How long since the conversation's previous message, for
    /// `{{idle_duration}}`; `None` when there is none.
    pub idle: Option<TimeDelta>,
}

impl MacroValues {
    /// The values for `persona` talking with a user called `user` (the
    /// default name when `None`) at `now` in `timezone`, the conversation's
    /// previous message having been at `previous`.
    pub fn new(
        persona: &Persona,
        user: Option<&str>,
        now: DateTime<Utc>,
        timezone: Tz,
        previous: Option<DateTime<Utc>>,
    ) -> Self {
        let user = user.map(str::trim).filter(|u| !u.is_empty());
        Self {
            character: character_name(persona).to_string(),
            user: user.unwrap_or(DEFAULT_USER_NAME).to_string(),
            now: now.with_timezone(&timezone),
            idle: previous.map(|at| now - at),
        }
    }

    /// The text a macro name (lower case, without braces) stands for;
    /// `None` for a name that is not a macro.
    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "char" | "bot" => self.character.clone(),
            "user" => self.user.clone(),
            "time" => self.now.format("%H:%M").to_string(),
            "date" => self.now.format("%B %-d, %Y").to_string(),
            "weekday" => self.now.format("%A").to_string(),
            "idle_duration" => match self.idle {
                Some(idle) if idle >= TimeDelta::minutes(1) => crate::followup::policy::human(idle),
                _ => "just now".to_string(),
            },
            _ => return None,
        })
    }
}

/// The name `{{char}}` stands for: the card's nickname when it has one.
pub fn character_name(persona: &Persona) -> &str {
    persona
        .card
        .as_ref()
        .and_then(|c| c.nickname.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&persona.name)
}

/// The longest `{{name}}` looked at: longer runs are not macros.
const MAX_NAME: usize = 32;

/// `text` with every macro replaced; borrowed when there is none.
pub fn expand<'a>(text: &'a str, values: &MacroValues) -> Cow<'a, str> {
    if !text.contains(['{', '<']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(['{', '<']) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        match macro_at(rest, values) {
            Some((value, used)) => {
                out.push_str(&value);
                rest = &rest[used..];
            }
            None => {
                // Both openers are one byte long.
                out.push_str(&rest[..1]);
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The macro `text` starts with, if any: its value and its length in bytes.
fn macro_at(text: &str, values: &MacroValues) -> Option<(String, usize)> {
    if let Some(inner) = text.strip_prefix("{{") {
        // Only a short window is searched, so a text full of `{` stays linear.
        let mut cut = inner.len().min(MAX_NAME + 2);
        while !inner.is_char_boundary(cut) {
            cut -= 1;
        }
        let end = inner[..cut].find("}}")?;
        let name = inner[..end].trim().to_ascii_lowercase();
        return values.value(&name).map(|v| (v, end + 4));
    }
    for (tag, name) in [("<bot>", "bot"), ("<char>", "char"), ("<user>", "user")] {
        if text
            .get(..tag.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(tag))
        {
            return values.value(name).map(|v| (v, tag.len()));
        }
    }
    None
}

/// The greeting `user` sees when their conversation with `persona` opens:
/// the one picked for them (see [`Persona::greeting_for`]), its macros
/// expanded with `values`, exactly as the model is told it opened.
pub fn greeting_seen(persona: &Persona, user: &str, values: &MacroValues) -> String {
    expand(persona.greeting_for(user), values).into_owned()
}

/// A copy of `persona` with macros expanded in every text sent to a model:
/// description, voice, greeting, examples, the card's scenario, system
/// prompt and post-history instructions, and the lore entries' contents.
pub fn expand_persona(persona: &Persona, values: &MacroValues) -> Persona {
    let text = |t: &str| expand(t, values).into_owned();
    let mut out = persona.clone();
    out.description = text(&persona.description);
    out.voice = text(&persona.voice);
    out.greeting = text(&persona.greeting);
    for greeting in &mut out.alternate_greetings {
        *greeting = text(greeting);
    }
    for example in &mut out.examples {
        example.user = text(&example.user);
        example.persona = text(&example.persona);
    }
    if let Some(card) = &mut out.card {
        for slot in [
            &mut card.scenario,
            &mut card.system_prompt,
            &mut card.post_history_instructions,
        ]
        .into_iter()
        .flatten()
        {
            *slot = text(slot);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::Personas;

    fn values() -> MacroValues {
        let chef = Personas::builtin().get("chef").expect("chef");
        let now = DateTime::parse_from_rfc3339("2026-12-04T18:30:00Z")
            .expect("an instant")
            .with_timezone(&Utc);
        let previous = now - TimeDelta::hours(50);
        MacroValues::new(
            &chef,
            Some("Ana"),
            now,
            chrono_tz::Europe::Paris,
            Some(previous),
        )
    }

    #[test]
    fn card_macros_are_replaced_in_any_case() {
        let text = "{{char}} greets {{USER}}; <BOT> and <user> too, {{ Char }}.";
        assert_eq!(
            expand(text, &values()),
            "Chef Marco greets Ana; Chef Marco and Ana too, Chef Marco."
        );
    }

    #[test]
    fn clock_macros_follow_the_user_time_zone() {
        let text = "{{time}} on {{weekday}}, {{date}}; away {{idle_duration}}";
        assert_eq!(
            expand(text, &values()),
            "19:30 on Friday, December 4, 2026; away 2 days"
        );
    }

    #[test]
    fn unknown_macros_and_lone_braces_stay_as_written() {
        let text = "{{random}} {{char} <b>{ < {{ é";
        assert_eq!(expand(text, &values()), text);
        assert!(matches!(expand("plain", &values()), Cow::Borrowed(_)));
    }

    #[test]
    fn the_nickname_stands_for_char_and_the_default_user_is_user() {
        let mut chef = (*Personas::builtin().get("chef").expect("chef")).clone();
        chef.card = Some(crate::persona::card::PersonaCard {
            nickname: Some("Marco".to_string()),
            ..Default::default()
        });
        let values = MacroValues::new(&chef, None, Utc::now(), Tz::UTC, None);
        assert_eq!(
            expand("{{char}}/{{user}}/{{idle_duration}}", &values),
            "Marco/User/just now"
        );
    }

    #[test]
    fn each_user_sees_their_own_greeting_with_macros_expanded() {
        let mut chef = (*Personas::builtin().get("chef").expect("chef")).clone();
        chef.greeting = "Hi {{user}}, I'm {{char}}.".to_string();
        chef.alternate_greetings = vec!["Welcome back, <USER>! <BOT> here.".to_string()];
        let now = Utc::now();
        let named = MacroValues::new(&chef, Some("Ana"), now, Tz::UTC, None);
        let users: Vec<String> = (0..40).map(|i| format!("user{i}")).collect();
        let seen: Vec<String> = users
            .iter()
            .map(|u| greeting_seen(&chef, u, &named))
            .collect();
        assert!(seen.contains(&"Hi Ana, I'm Chef Marco.".to_string()));
        assert!(seen.contains(&"Welcome back, Ana! Chef Marco here.".to_string()));
        for (user, greeting) in users.iter().zip(&seen) {
            let picked = expand(chef.greeting_for(user), &named);
            assert_eq!(
                greeting, &picked,
                "{user} sees the greeting picked for them"
            );
        }
        chef.alternate_greetings.clear();
        chef.card = Some(crate::persona::card::PersonaCard {
            nickname: Some("Marco".to_string()),
            ..Default::default()
        });
        let unnamed = MacroValues::new(&chef, None, now, Tz::UTC, None);
        assert_eq!(greeting_seen(&chef, "ana", &unnamed), "Hi User, I'm Marco.");
    }
}
