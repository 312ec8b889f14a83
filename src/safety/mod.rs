//! Safety: disclaimers on sensitive subjects, the crisis protocol, and the
//! anonymous safety log's records.
//!
//! - [`detect`]: finds medical, psychological and legal subjects, and the
//!   two kinds of crisis (suicidal ideation or self-harm; immediate danger
//!   from someone else, read by `danger`), in English and French;
//! - [`conversation`]: reads a message with the user's few before it, so
//!   warning signs spread over messages add up;
//! - [`disclosure`]: when to repeat the AI notice and remind minors to take
//!   a break.
//!
//! Every text here is localised (English and French built in), and can be
//! replaced per deployment (`[safety]` in `troupe.toml`) and per persona
//! (its `[safety]` table).

pub mod classifier;
mod concepts;
pub mod conversation;
mod cues;
mod danger;
pub mod detect;
pub mod disclosure;
mod frames;
mod matcher;
pub mod meaning;
mod method;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use conversation::{assess_in_conversation, reads_earlier};
pub use detect::{Assessment, CrisisKind, Subject, assess};

use crate::persona::Persona;

/// The deployment's safety settings (`[safety]` in `troupe.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SafetyConfig {
    /// Repeat the AI notice after this many hours of continued chatting.
    pub notice_every_hours: u32,
    /// Repeat the AI notice when the user comes back after this many minutes.
    pub notice_after_gap_minutes: u32,
    /// Remind minors to take a break after this many hours of chatting.
    pub break_reminder_hours: u32,
    /// Days without proactive messages after a crisis referral.
    pub crisis_hold_days: u32,
    /// Messages older than this many days are purged (0 keeps them forever).
    pub retention_days: u32,
    /// Ask the persona's model for a second opinion on messages the crisis
    /// cue list lets through (real models only); the same as
    /// `[safety.moderation] kind = "persona"`.
    pub model_check: bool,
    /// The moderation check run beside the offline detector, concurrently
    /// with the reply (`[safety.moderation]`; see [`crate::moderation`]).
    pub moderation: Option<Box<crate::moderation::ModerationConfig>>,
    /// How long a reply waits for the moderation check before the offline
    /// layers decide alone, in milliseconds.
    pub moderation_timeout_ms: u64,
    /// Disclaimer texts by language (`[safety.disclaimers.fr]`).
    pub disclaimers: BTreeMap<String, DisclaimerTexts>,
    /// The crisis replies by language (`[safety.crisis.fr] message = …`,
    /// `danger = …`).
    pub crisis: BTreeMap<String, CrisisText>,
    /// A directory of language data (cue lists, texts) over the built-in
    /// `lang/` files (see [`crate::lang`]); `./lang` when unset and present.
    pub language_dir: Option<std::path::PathBuf>,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            notice_every_hours: 3,
            notice_after_gap_minutes: 60,
            break_reminder_hours: 3,
            crisis_hold_days: 30,
            retention_days: 365,
            model_check: false,
            moderation: None,
            moderation_timeout_ms: crate::moderation::DEFAULT_TIMEOUT_MS,
            disclaimers: BTreeMap::new(),
            crisis: BTreeMap::new(),
            language_dir: None,
        }
    }
}

/// Disclaimer texts for one language, or one persona; unset ones fall back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DisclaimerTexts {
    /// Shown with every follow-up.
    pub general: Option<String>,
    /// Shown when a message touches health.
    pub medical: Option<String>,
    /// Shown when a message touches mental health.
    pub psychological: Option<String>,
    /// Shown when a message touches the law.
    pub legal: Option<String>,
}

impl DisclaimerTexts {
    fn get(&self, kind: DisclaimerKind) -> Option<&String> {
        match kind {
            DisclaimerKind::General => self.general.as_ref(),
            DisclaimerKind::Subject(Subject::Medical) => self.medical.as_ref(),
            DisclaimerKind::Subject(Subject::Psychological) => self.psychological.as_ref(),
            DisclaimerKind::Subject(Subject::Legal) => self.legal.as_ref(),
        }
    }
}

/// The crisis replies for one language; an unset one falls back to the
/// built-in reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrisisText {
    /// The reply to suicidal ideation or self-harm, with the crisis lines
    /// that fit the deployment.
    pub message: Option<String>,
    /// The reply to immediate danger from someone else, with the emergency
    /// number and the domestic-violence line that fit the deployment.
    pub danger: Option<String>,
}

impl CrisisText {
    fn get(&self, kind: CrisisKind) -> Option<&String> {
        match kind {
            CrisisKind::SelfHarm => self.message.as_ref(),
            CrisisKind::Danger => self.danger.as_ref(),
        }
    }
}

/// Which disclaimer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisclaimerKind {
    /// The general one, for every follow-up.
    General,
    /// The one for a sensitive subject.
    Subject(Subject),
}

/// The primary subtag of a language code (`fr-CA` → `fr`).
fn primary(language: &str) -> &str {
    language.split('-').next().unwrap_or(language)
}

impl SafetyConfig {
    /// A disclaimer in `persona`'s language: the persona's own text, else
    /// the deployment's, else the built-in one.
    pub fn disclaimer(&self, persona: &Persona, kind: DisclaimerKind) -> String {
        persona
            .safety
            .get(kind)
            .or_else(|| {
                self.disclaimers
                    .get(&persona.language)
                    .or_else(|| self.disclaimers.get(primary(&persona.language)))
                    .and_then(|texts| texts.get(kind))
            })
            .cloned()
            .unwrap_or_else(|| builtin_disclaimer(&persona.language, kind).to_string())
    }

    /// The disclaimers for the subjects a turn touched, in a fixed order.
    pub fn subject_disclaimers(
        &self,
        persona: &Persona,
        subjects: &std::collections::BTreeSet<Subject>,
    ) -> Vec<String> {
        subjects
            .iter()
            .map(|s| self.disclaimer(persona, DisclaimerKind::Subject(*s)))
            .collect()
    }

    /// The reply to a crisis of `kind` in `language` (the user's, else the
    /// persona's): the deployment's, else the built-in one.
    pub fn crisis_message(&self, language: &str, kind: CrisisKind) -> String {
        [language, primary(language)]
            .iter()
            .find_map(|l| self.crisis.get(*l).and_then(|c| c.get(kind)))
            .cloned()
            .unwrap_or_else(|| builtin_crisis_message(language, kind).to_string())
    }
}

/// The built-in disclaimers, from the language data's `[disclaimer]` texts
/// (`lang/<language>/safety.toml`; the French ones follow the wording of
/// Meta's own warnings).
pub fn builtin_disclaimer(language: &str, kind: DisclaimerKind) -> &'static str {
    let key = match kind {
        DisclaimerKind::General => "disclaimer.general",
        DisclaimerKind::Subject(Subject::Medical) => "disclaimer.medical",
        DisclaimerKind::Subject(Subject::Psychological) => "disclaimer.psychological",
        DisclaimerKind::Subject(Subject::Legal) => "disclaimer.legal",
    };
    crate::lang::active().text(language, key)
}

/// The built-in crisis replies, from the language data's `[crisis]` texts
/// (`lang/<language>/safety.toml`), with the resources of the language's
/// main countries: crisis lines for suicide or self-harm; emergency numbers
/// and domestic-violence lines for danger from someone else.
pub fn builtin_crisis_message(language: &str, kind: CrisisKind) -> &'static str {
    let key = match kind {
        CrisisKind::SelfHarm => "crisis.self_harm",
        CrisisKind::Danger => "crisis.danger",
    };
    crate::lang::active().text(language, key)
}

/// A safety event about to be counted: what happened, when and in which
/// language, never who or what they wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// What: `crisis_referral` (suicide or self-harm) or `danger_referral`
    /// (immediate danger from someone else).
    pub kind: String,
    /// The language the referral was made in.
    pub language: String,
}

/// One counter of the safety log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetyCount {
    /// The day (UTC), `2026-11-26`.
    pub day: String,
    /// What: `crisis_referral` or `danger_referral`.
    pub kind: String,
    /// The language of the referrals.
    pub language: String,
    /// How many.
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persona::Personas;

    #[test]
    fn disclaimers_come_from_the_persona_then_the_deployment_then_the_defaults() {
        let personas = Personas::builtin();
        let decor = personas.get("decor").unwrap();
        let mut config = SafetyConfig::default();
        let medical = DisclaimerKind::Subject(Subject::Medical);
        assert!(
            config
                .disclaimer(&decor, medical)
                .starts_with("Ces échanges ne remplacent en aucun cas un avis médical")
        );
        config.disclaimers.insert(
            "fr".into(),
            DisclaimerTexts {
                medical: Some("Voyez un médecin.".into()),
                ..Default::default()
            },
        );
        assert_eq!(config.disclaimer(&decor, medical), "Voyez un médecin.");
        let mut own = (*decor).clone();
        own.safety.medical = Some("Élise n'est pas médecin.".into());
        assert_eq!(config.disclaimer(&own, medical), "Élise n'est pas médecin.");
    }

    #[test]
    fn crisis_replies_carry_local_helplines() {
        let personas = Personas::builtin();
        let config = SafetyConfig::default();
        let self_harm = CrisisKind::SelfHarm;
        assert!(
            config
                .crisis_message(&personas.get("decor").unwrap().language, self_harm)
                .contains("3114")
        );
        assert!(
            config
                .crisis_message(&personas.get("chef").unwrap().language, self_harm)
                .contains("988")
        );
        assert!(
            config
                .crisis_message("fr-BE", self_harm)
                .contains("0800 32 123")
        );
    }

    #[test]
    fn danger_replies_carry_emergency_numbers_and_domestic_violence_lines() {
        let config = SafetyConfig::default();
        let french = config.crisis_message("fr-FR", CrisisKind::Danger);
        for resource in ["17", "112", "114", "3919", "0800 30 030", "1 800 363-9010"] {
            assert!(french.contains(resource), "{resource} in {french}");
        }
        let english = config.crisis_message("en-US", CrisisKind::Danger);
        for resource in ["911", "999", "112", "1-800-799-7233", "START to 88788"] {
            assert!(english.contains(resource), "{resource} in {english}");
        }
        assert!(!english.contains("988"), "not the suicide line: {english}");
    }

    #[test]
    fn each_kind_of_crisis_reply_can_be_replaced_on_its_own() {
        let mut config = SafetyConfig::default();
        config.crisis.insert(
            "fr".into(),
            CrisisText {
                danger: Some("Appelez le 17.".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            config.crisis_message("fr-CA", CrisisKind::Danger),
            "Appelez le 17."
        );
        assert!(
            config
                .crisis_message("fr-CA", CrisisKind::SelfHarm)
                .contains("3114"),
            "the other kind keeps the built-in reply"
        );
    }
}
