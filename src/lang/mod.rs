//! Language data: the crisis and subject detector's words, and the texts
//! people read in each language, kept in data files rather than in code so a
//! linguist or a safety reviewer can read and extend them.
//!
//! The files live in `lang/` and are embedded in the binary:
//!
//! - `lang/words/*.toml`: the detector's named cue lists (bilingual: every
//!   message is read against English and French at once) and the chat
//!   shorthand it writes out first;
//! - `lang/<language>/*.toml` (`en`, `fr`): the texts of one language —
//!   disclaimers, crisis replies with their helplines, interface strings —
//!   and its word lists outside the detector (topic stop words, charged
//!   words, STOP and /start words), which are read for every language at
//!   once under their dotted names (`topics.stop_words`).
//!
//! A deployment's language directory (`[safety] language_dir`, else `./lang`)
//! has the same layout: a file with a built-in file's name replaces it, any
//! other file extends it (more cues for a list, more shorthand, texts of
//! another language). Everything is parsed once, at start, into the
//! structures the detector reads ([`Words`] resolves a list once, then costs
//! an atomic load), so detection is as fast as with lists in code. Problems
//! are reported as `file:line`.

mod load;

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use load::LangError;

/// The language every text falls back to.
pub const FALLBACK_LANGUAGE: &str = "en";

/// Every list, shorthand and text, merged from the built-in files and a
/// deployment's directory.
#[derive(Debug, Default)]
pub struct LangData {
    /// Cue lists by name.
    lists: HashMap<&'static str, &'static [&'static str]>,
    /// Shorthand and what it stands for, in file order.
    shorthand: &'static [(&'static str, &'static str)],
    /// Texts by language, then by key (`crisis.danger`).
    texts: HashMap<&'static str, HashMap<&'static str, &'static str>>,
    /// The deployment directory merged in, if any.
    source: Option<PathBuf>,
}

/// The data in use, set once per process.
static ACTIVE: OnceLock<LangData> = OnceLock::new();

/// The language data in use: what [`install`] loaded, else the built-in
/// files.
pub fn active() -> &'static LangData {
    ACTIVE.get_or_init(|| {
        LangData::builtin().expect("the embedded language data parses (a test checks every file)")
    })
}

/// Loads the built-in data with `dir`'s files merged in and makes it the
/// data every detection reads. Call it at start, before anything is
/// assessed: lists are resolved once. Calling it again with the same
/// directory does nothing.
pub fn install(dir: Option<&Path>) -> Result<(), LangError> {
    let Some(dir) = dir else {
        active();
        return Ok(());
    };
    if let Some(loaded) = ACTIVE.get() {
        return check_same(loaded, dir);
    }
    let data = LangData::load(Some(dir))?;
    match ACTIVE.set(data) {
        Ok(()) => Ok(()),
        Err(_) => check_same(active(), dir),
    }
}

/// Whether the data already in use came from `dir`.
fn check_same(loaded: &LangData, dir: &Path) -> Result<(), LangError> {
    if loaded.source.as_deref() == Some(dir) {
        Ok(())
    } else {
        Err(LangError::AlreadyLoaded {
            wanted: dir.to_path_buf(),
            loaded: loaded.source.clone(),
        })
    }
}

impl LangData {
    /// The built-in files alone.
    pub fn builtin() -> Result<Self, LangError> {
        Self::load(None)
    }

    /// The built-in files with `dir`'s merged in (see the module docs).
    pub fn load(dir: Option<&Path>) -> Result<Self, LangError> {
        let mut data = load::merge(crate::builtin::LANG, dir)?;
        data.source = dir.map(Path::to_path_buf);
        Ok(data)
    }

    /// The cues of the list `name`; a list no file defines is empty.
    pub fn list(&self, name: &str) -> &'static [&'static str] {
        self.lists.get(name).copied().unwrap_or(&[])
    }

    /// Whether a list of that name is defined.
    pub fn has_list(&self, name: &str) -> bool {
        self.lists.contains_key(name)
    }

    /// The shorthand the detector writes out, in file order.
    pub fn shorthand(&self) -> &'static [(&'static str, &'static str)] {
        self.shorthand
    }

    /// The text `key` in `language` (`fr-CA`), else in its primary language
    /// (`fr`), else in English; empty if no file has it.
    pub fn text(&self, language: &str, key: &str) -> &'static str {
        let primary = language.split('-').next().unwrap_or(language);
        [language, primary, FALLBACK_LANGUAGE]
            .iter()
            .find_map(|l| self.texts.get(l).and_then(|texts| texts.get(key)))
            .copied()
            .unwrap_or("")
    }

    /// The languages that have texts.
    pub fn languages(&self) -> Vec<&'static str> {
        let mut languages: Vec<_> = self.texts.keys().copied().collect();
        languages.sort_unstable();
        languages
    }

    /// How many lists and texts there are, for `troupe doctor`.
    pub fn summary(&self) -> String {
        let texts: usize = self.texts.values().map(HashMap::len).sum();
        format!(
            "{} cue lists, {} shorthand forms, {texts} texts in {}",
            self.lists.len(),
            self.shorthand.len(),
            self.languages().join(", ")
        )
    }
}

/// A named list of cues from the language data, for the detector's rules to
/// hold in statics: it resolves its list on first use and then derefs to it
/// at the cost of an atomic load. `Fixed` holds cues that are part of a
/// rule's grammar rather than of a language.
#[derive(Debug)]
pub enum Words {
    /// Cues written in the rule itself.
    Fixed(&'static [&'static str]),
    /// The list of this name in the language data, once looked up.
    Named(&'static str, OnceLock<&'static [&'static str]>),
}

impl Words {
    /// The list `name` of the language data.
    pub const fn named(name: &'static str) -> Self {
        Self::Named(name, OnceLock::new())
    }
}

impl Deref for Words {
    type Target = [&'static str];

    fn deref(&self) -> &[&'static str] {
        match self {
            Self::Fixed(cues) => cues,
            Self::Named(name, cues) => cues.get_or_init(|| {
                let data = active();
                debug_assert!(
                    data.has_list(name) || data.source.is_some(),
                    "the built-in language data has no list \"{name}\""
                );
                data.list(name)
            }),
        }
    }
}

/// A `&'static` [`Words::named`] list for a rule written in a static: each
/// use holds its own static handle, so the list is looked up once.
macro_rules! words {
    ($name:literal) => {{
        static WORDS: $crate::lang::Words = $crate::lang::Words::named($name);
        &WORDS
    }};
}
pub(crate) use words;

#[cfg(test)]
mod tests;
