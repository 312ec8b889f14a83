//! Lorebooks: `[[lore]]` entries of a persona, each a piece of knowledge
//! that goes into the prompt only on the turns whose recent messages
//! mention one of its keys (a Character Card's `character_book`, or
//! SillyTavern's World Info).
//!
//! A book is compiled once per persona load ([`Lorebook::compile`]): the
//! plain keys into two Aho-Corasick automatons (one for keys matched in any
//! case, one for the case-sensitive ones), the regex keys into regexes.
//! Scanning a turn ([`Lorebook::scan`]) is then one pass over the recent
//! messages per automaton, whatever the number of entries.

use aho_corasick::AhoCorasick;
use regex_automata::meta::Regex;
use serde::{Deserialize, Serialize};

use crate::schema::{Field, Shape};

/// The messages scanned when the book does not say.
pub const DEFAULT_SCAN_DEPTH: u32 = 2;

/// The characters of lore a turn gets when the book does not say.
pub const DEFAULT_BUDGET_CHARS: u32 = 8_000;

/// How many times activated entries' contents are scanned again when
/// recursive scanning is on, so two entries naming each other stop.
pub const MAX_RECURSION: usize = 3;

/// One `[[lore]]` entry, as a creator writes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoreEntry {
    /// A name for the creator (a card entry's `comment` or `name`); never
    /// sent to a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Words (or regexes, with `regex`) that call the entry up; any one is enough.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Further keys, combined with the primary ones by `logic`; ignored
    /// when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_keys: Vec<String>,
    /// How the secondary keys combine with a primary match.
    #[serde(default)]
    pub logic: SelectiveLogic,
    /// What goes into the prompt; macros are expanded in it.
    pub content: String,
    /// Keys match only in the case written.
    #[serde(default)]
    pub case_sensitive: bool,
    /// Keys match only as whole words ("cat" not in "catalog").
    #[serde(default)]
    pub whole_words: bool,
    /// The keys are regular expressions (`/pattern/i` form accepted).
    #[serde(default)]
    pub regex: bool,
    /// The entry goes into every turn, keys or not.
    #[serde(default)]
    pub constant: bool,
    /// A disabled entry is kept but never used.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Where among the activated entries it goes: lower first.
    #[serde(default)]
    pub order: i64,
    /// When the budget is short, entries of lower priority are left out first.
    #[serde(default)]
    pub priority: i64,
    /// Before or after the character definition.
    #[serde(default)]
    pub position: LorePosition,
}

fn yes() -> bool {
    true
}

/// How an entry's secondary keys combine with a primary match.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SelectiveLogic {
    /// At least one secondary key matches too.
    #[default]
    AndAny,
    /// Every secondary key matches too.
    AndAll,
    /// No secondary key matches.
    NotAny,
    /// Not every secondary key matches.
    NotAll,
}

/// Where an activated entry goes in the system prompt.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LorePosition {
    /// Before the character's definition (world facts it builds on).
    BeforeCharacter,
    /// After the character's definition and scenario.
    #[default]
    AfterCharacter,
}

/// The `[lorebook]` table: how the whole book is scanned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoreSettings {
    /// How many of the newest messages are scanned for keys.
    #[serde(default = "default_scan_depth")]
    pub scan_depth: u32,
    /// The most characters of lore one turn gets; entries past it are left
    /// out, lowest priority first.
    #[serde(default = "default_budget")]
    pub budget_chars: u32,
    /// Activated entries' contents are scanned too, so an entry can call
    /// up another.
    #[serde(default)]
    pub recursive: bool,
}

fn default_scan_depth() -> u32 {
    DEFAULT_SCAN_DEPTH
}

fn default_budget() -> u32 {
    DEFAULT_BUDGET_CHARS
}

impl Default for LoreSettings {
    fn default() -> Self {
        Self {
            scan_depth: DEFAULT_SCAN_DEPTH,
            budget_chars: DEFAULT_BUDGET_CHARS,
            recursive: false,
        }
    }
}

/// A key that could not be compiled: which entry, which key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoreProblem {
    /// The entry's index among the `[[lore]]` entries.
    pub entry: usize,
    /// Whether the key is a secondary one.
    pub secondary: bool,
    /// The key's index in its list.
    pub key: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// How a compiled key must match.
#[derive(Debug, Clone)]
struct KeyRef {
    /// Whether only whole-word occurrences count.
    whole_words: bool,
}

/// A book compiled for scanning; built once per persona load.
#[derive(Debug, Clone, Default)]
pub struct Lorebook {
    /// The entries, as written.
    entries: Vec<LoreEntry>,
    /// The book's settings.
    settings: LoreSettings,
    /// Every key, by id; the automatons' pattern ids and the regexes refer to them.
    keys: Vec<KeyRef>,
    /// Plain keys matched in any case (lower-cased), and their key ids.
    any_case: Option<(AhoCorasick, Vec<usize>)>,
    /// Plain case-sensitive keys, and their key ids.
    exact_case: Option<(AhoCorasick, Vec<usize>)>,
    /// Regex keys and their key ids.
    regexes: Vec<(Regex, usize)>,
    /// The ids of each entry's primary and secondary keys.
    entry_keys: Vec<(Vec<usize>, Vec<usize>)>,
}

impl PartialEq for Lorebook {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries && self.settings == other.settings
    }
}

/// Keys gathered for one automaton.
#[derive(Default)]
struct PlainKeys {
    /// The texts to find.
    patterns: Vec<String>,
    /// The key id of each.
    ids: Vec<usize>,
}

impl PlainKeys {
    fn build(self) -> Result<Option<(AhoCorasick, Vec<usize>)>, String> {
        if self.patterns.is_empty() {
            return Ok(None);
        }
        AhoCorasick::new(&self.patterns)
            .map(|ac| Some((ac, self.ids)))
            .map_err(|e| e.to_string())
    }
}

impl Lorebook {
    /// Compiles `entries` with `settings`; every key that cannot be
    /// compiled (an invalid regex) is a problem, all reported at once.
    pub fn compile(
        entries: &[LoreEntry],
        settings: &LoreSettings,
    ) -> Result<Self, Vec<LoreProblem>> {
        let mut book = Lorebook {
            entries: entries.to_vec(),
            settings: settings.clone(),
            ..Lorebook::default()
        };
        let (mut any_case, mut exact_case) = (PlainKeys::default(), PlainKeys::default());
        let mut problems = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let mut ids = (Vec::new(), Vec::new());
            if !entry.enabled {
                // Never scanned, so never compiled: a disabled entry may
                // keep a regex being worked on.
                book.entry_keys.push(ids);
                continue;
            }
            let lists = [(false, &entry.keys), (true, &entry.secondary_keys)];
            for (secondary, list) in lists {
                for (n, key) in list.iter().enumerate() {
                    if key.trim().is_empty() {
                        continue;
                    }
                    let id = book.keys.len();
                    book.keys.push(KeyRef {
                        whole_words: entry.whole_words,
                    });
                    if secondary { &mut ids.1 } else { &mut ids.0 }.push(id);
                    if entry.regex {
                        match compile_regex(key, entry.case_sensitive) {
                            Ok(regex) => book.regexes.push((regex, id)),
                            Err(message) => problems.push(LoreProblem {
                                entry: index,
                                secondary,
                                key: n,
                                message,
                            }),
                        }
                    } else if entry.case_sensitive {
                        exact_case.patterns.push(key.clone());
                        exact_case.ids.push(id);
                    } else {
                        any_case.patterns.push(key.to_lowercase());
                        any_case.ids.push(id);
                    }
                }
            }
            book.entry_keys.push(ids);
        }
        let automaton_problem = |message: String| LoreProblem {
            entry: 0,
            secondary: false,
            key: 0,
            message: format!("the lore keys could not be compiled: {message}"),
        };
        match (any_case.build(), exact_case.build()) {
            (Ok(any), Ok(exact)) => {
                book.any_case = any;
                book.exact_case = exact;
            }
            (Err(e), _) | (_, Err(e)) => problems.push(automaton_problem(e)),
        }
        if problems.is_empty() {
            Ok(book)
        } else {
            Err(problems)
        }
    }

    /// Whether the book has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, as written.
    pub fn entries(&self) -> &[LoreEntry] {
        &self.entries
    }

    /// The entries `recent` (the conversation's messages, oldest first)
    /// calls up, within the budget, in their order: constant entries, and
    /// enabled entries whose keys appear in the last `scan_depth` messages
    /// (and, with recursive scanning, in activated entries' contents).
    pub fn scan(&self, recent: &[&str]) -> Vec<&LoreEntry> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let depth = self.settings.scan_depth as usize;
        let scanned = &recent[recent.len().saturating_sub(depth)..];
        let mut matched = vec![false; self.keys.len()];
        let mut active = vec![false; self.entries.len()];
        for text in scanned {
            self.mark_keys(text, &mut matched);
        }
        let mut fresh = self.activate(&matched, &mut active);
        let rounds = if self.settings.recursive {
            MAX_RECURSION
        } else {
            0
        };
        for _ in 0..rounds {
            if fresh.is_empty() {
                break;
            }
            for index in &fresh {
                self.mark_keys(&self.entries[*index].content, &mut matched);
            }
            fresh = self.activate(&matched, &mut active);
        }
        self.within_budget(&active)
    }

    /// Marks every key found in `text`.
    fn mark_keys(&self, text: &str, matched: &mut [bool]) {
        if let Some((automaton, ids)) = &self.any_case {
            let lower = text.to_lowercase();
            self.mark_plain(automaton, ids, &lower, matched);
        }
        if let Some((automaton, ids)) = &self.exact_case {
            self.mark_plain(automaton, ids, text, matched);
        }
        for (regex, id) in &self.regexes {
            if !matched[*id] && regex.is_match(text) {
                matched[*id] = true;
            }
        }
    }

    /// Marks the plain keys of one automaton found in `text`.
    fn mark_plain(&self, automaton: &AhoCorasick, ids: &[usize], text: &str, matched: &mut [bool]) {
        for found in automaton.find_overlapping_iter(text) {
            let id = ids[found.pattern().as_usize()];
            if matched[id] {
                continue;
            }
            if !self.keys[id].whole_words || is_whole_word(text, found.start(), found.end()) {
                matched[id] = true;
            }
        }
    }

    /// Activates every entry `matched` now calls up; returns the new ones.
    fn activate(&self, matched: &[bool], active: &mut [bool]) -> Vec<usize> {
        let mut fresh = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            if active[index] || !entry.enabled {
                continue;
            }
            let (primary, secondary) = &self.entry_keys[index];
            let hit = |ids: &[usize]| ids.iter().filter(|id| matched[**id]).count();
            let on = entry.constant
                || (hit(primary) > 0
                    && secondary_allows(entry.logic, hit(secondary), secondary.len()));
            if on {
                active[index] = true;
                fresh.push(index);
            }
        }
        fresh
    }

    /// The active entries that fit the budget (constant ones first, then
    /// by priority, then order), placed by order.
    fn within_budget(&self, active: &[bool]) -> Vec<&LoreEntry> {
        let mut chosen: Vec<usize> = (0..self.entries.len()).filter(|i| active[*i]).collect();
        chosen.sort_by_key(|i| {
            let e = &self.entries[*i];
            (!e.constant, std::cmp::Reverse(e.priority), e.order, *i)
        });
        let mut left = self.settings.budget_chars as usize;
        chosen.retain(|i| {
            let size = self.entries[*i].content.chars().count();
            let fits = size <= left;
            if fits {
                left -= size;
            }
            fits
        });
        chosen.sort_by_key(|i| (self.entries[*i].order, *i));
        chosen.into_iter().map(|i| &self.entries[i]).collect()
    }
}

/// Whether the secondary keys (`hits` of `total` matched) let a primary
/// match through.
fn secondary_allows(logic: SelectiveLogic, hits: usize, total: usize) -> bool {
    if total == 0 {
        return true;
    }
    match logic {
        SelectiveLogic::AndAny => hits > 0,
        SelectiveLogic::AndAll => hits == total,
        SelectiveLogic::NotAny => hits == 0,
        SelectiveLogic::NotAll => hits < total,
    }
}

/// Whether `text[start..end]` stands as a word: no letter, digit or `_`
/// right before or after it.
fn is_whole_word(text: &str, start: usize, end: usize) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let before = text[..start].chars().next_back().is_none_or(|c| !word(c));
    let after = text[end..].chars().next().is_none_or(|c| !word(c));
    before && after
}

/// Why one of `entry`'s regex keys cannot be compiled, if one cannot.
pub fn regex_problem(entry: &LoreEntry) -> Option<String> {
    if !entry.regex {
        return None;
    }
    entry
        .keys
        .iter()
        .chain(&entry.secondary_keys)
        .find_map(|key| compile_regex(key, entry.case_sensitive).err())
}

/// Compiles a regex key: `pattern`, or `/pattern/flags` as SillyTavern
/// writes them (`i` matches in any case).
fn compile_regex(key: &str, case_sensitive: bool) -> Result<Regex, String> {
    let (pattern, any_case) = match key.strip_prefix('/').and_then(|k| k.rsplit_once('/')) {
        Some((pattern, flags)) if flags.chars().all(|c| "gimsuy".contains(c)) => {
            (pattern, flags.contains('i') || !case_sensitive)
        }
        _ => (key, !case_sensitive),
    };
    let syntax = regex_automata::util::syntax::Config::new().case_insensitive(any_case);
    Regex::builder()
        .syntax(syntax)
        .build(pattern)
        .map_err(|e| {
            let detail = e
                .syntax_error()
                .map_or_else(|| e.to_string(), |s| s.to_string().lines().last().unwrap_or_default().to_string());
            format!("the regex key {key:?} is not a valid regular expression ({detail}); fix it, or set regex = false to match it as text")
        })
}

/// Checks a `position` value.
fn position_name(text: &str) -> Result<(), String> {
    match text {
        "before_character" | "after_character" => Ok(()),
        other => Err(format!(
            "is {other:?}; write \"before_character\" or \"after_character\""
        )),
    }
}

/// Checks a `logic` value.
fn logic_name(text: &str) -> Result<(), String> {
    match text {
        "and_any" | "and_all" | "not_any" | "not_all" => Ok(()),
        other => Err(format!(
            "is {other:?}; write \"and_any\", \"and_all\", \"not_any\" or \"not_all\""
        )),
    }
}

/// Every key a `[[lore]]` entry may hold.
pub const LORE_FIELDS: &[Field] = &[
    Field::optional("name", Shape::Text(None)),
    Field::optional("keys", Shape::TextList),
    Field::optional("secondary_keys", Shape::TextList),
    Field::optional("logic", Shape::Text(Some(logic_name))),
    Field::required("content", Shape::Text(None)),
    Field::optional("case_sensitive", Shape::Bool),
    Field::optional("whole_words", Shape::Bool),
    Field::optional("regex", Shape::Bool),
    Field::optional("constant", Shape::Bool),
    Field::optional("enabled", Shape::Bool),
    Field::optional("order", Shape::Integer(-1_000_000, 1_000_000)),
    Field::optional("priority", Shape::Integer(-1_000_000, 1_000_000)),
    Field::optional("position", Shape::Text(Some(position_name))),
];

/// Every key the `[lorebook]` table may hold.
pub const LOREBOOK_FIELDS: &[Field] = &[
    Field::optional("scan_depth", Shape::Integer(1, 1_000)),
    Field::optional("budget_chars", Shape::Integer(1, 1_000_000)),
    Field::optional("recursive", Shape::Bool),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(keys: &[&str], content: &str) -> LoreEntry {
        LoreEntry {
            name: None,
            keys: keys.iter().map(ToString::to_string).collect(),
            secondary_keys: Vec::new(),
            logic: SelectiveLogic::AndAny,
            content: content.to_string(),
            case_sensitive: false,
            whole_words: false,
            regex: false,
            constant: false,
            enabled: true,
            order: 0,
            priority: 0,
            position: LorePosition::AfterCharacter,
        }
    }

    fn scan<'a>(book: &'a Lorebook, recent: &[&str]) -> Vec<&'a str> {
        book.scan(recent)
            .into_iter()
            .map(|e| e.content.as_str())
            .collect()
    }

    fn book(entries: Vec<LoreEntry>) -> Lorebook {
        Lorebook::compile(&entries, &LoreSettings::default()).expect("a valid book")
    }

    #[test]
    fn an_entry_is_called_up_by_any_of_its_keys_in_any_case() {
        let book = book(vec![entry(&["dragon", "wyrm"], "Dragons hoard gold.")]);
        assert_eq!(
            scan(&book, &["Tell me of the WYRM"]),
            ["Dragons hoard gold."]
        );
        assert!(scan(&book, &["Tell me of the sea"]).is_empty());
    }

    #[test]
    fn only_the_newest_messages_within_the_scan_depth_are_scanned() {
        let book = book(vec![entry(&["dragon"], "lore")]);
        assert!(scan(&book, &["a dragon!", "hm", "and then?"]).is_empty());
        assert_eq!(scan(&book, &["hm", "a dragon!", "and then?"]), ["lore"]);
    }

    #[test]
    fn case_sensitive_and_whole_word_keys_match_only_as_written() {
        let mut exact = entry(&["Rose"], "the inn");
        exact.case_sensitive = true;
        let mut word = entry(&["cat"], "the cat");
        word.whole_words = true;
        let book = book(vec![exact, word]);
        assert!(scan(&book, &["a rose and a catalog"]).is_empty());
        assert_eq!(scan(&book, &["Rose's cat."]), ["the inn", "the cat"]);
    }

    #[test]
    fn secondary_keys_follow_their_logic() {
        let with = |logic| {
            let mut e = entry(&["king"], "x");
            e.secondary_keys = vec!["crown".to_string(), "throne".to_string()];
            e.logic = logic;
            book(vec![e])
        };
        let cases = [
            (
                SelectiveLogic::AndAny,
                ["king crown", "king", "king crown throne"],
                [true, false, true],
            ),
            (
                SelectiveLogic::AndAll,
                ["king crown", "king", "king crown throne"],
                [false, false, true],
            ),
            (
                SelectiveLogic::NotAny,
                ["king crown", "king", "king crown throne"],
                [false, true, false],
            ),
            (
                SelectiveLogic::NotAll,
                ["king crown", "king", "king crown throne"],
                [true, true, false],
            ),
        ];
        for (logic, texts, expected) in cases {
            let book = with(logic);
            for (text, on) in texts.iter().zip(expected) {
                assert_eq!(!scan(&book, &[text]).is_empty(), on, "{logic:?} {text}");
            }
        }
    }

    #[test]
    fn regex_constant_and_disabled_entries() {
        let mut pattern = entry(&["/drag(on|ons)\\b/i"], "regex");
        pattern.regex = true;
        let mut always = entry(&[], "constant");
        always.constant = true;
        let mut off = entry(&["dragon"], "disabled");
        off.enabled = false;
        let book = book(vec![pattern, always, off]);
        assert_eq!(scan(&book, &["DRAGONS!"]), ["regex", "constant"]);
        assert_eq!(scan(&book, &["nothing"]), ["constant"]);
    }

    #[test]
    fn an_invalid_regex_names_its_entry_and_key() {
        let mut bad = entry(&["fine", "(unclosed"], "x");
        bad.regex = true;
        let problems = Lorebook::compile(&[entry(&["a"], "a"), bad], &LoreSettings::default())
            .expect_err("an invalid regex");
        assert_eq!((problems[0].entry, problems[0].key), (1, 1));
        assert!(
            problems[0].message.contains("\"(unclosed\""),
            "{problems:?}"
        );
    }

    #[test]
    fn recursive_scanning_follows_entries_that_name_each_other() {
        let entries = vec![
            entry(&["castle"], "The castle belongs to the baron."),
            entry(&["baron"], "The baron is cruel."),
        ];
        let flat = book(entries.clone());
        assert_eq!(scan(&flat, &["the castle"]).len(), 1);
        let settings = LoreSettings {
            recursive: true,
            ..LoreSettings::default()
        };
        let deep = Lorebook::compile(&entries, &settings).expect("valid");
        assert_eq!(scan(&deep, &["the castle"]).len(), 2);
    }

    #[test]
    fn the_budget_keeps_higher_priority_entries_and_order_places_them() {
        let mut low = entry(&["a"], "0123456789");
        low.order = 1;
        let mut high = entry(&["a"], "abcdefghij");
        high.priority = 5;
        high.order = 2;
        let mut first = entry(&["a"], "xy");
        first.order = 0;
        let settings = LoreSettings {
            budget_chars: 12,
            ..LoreSettings::default()
        };
        let book = Lorebook::compile(&[low, high, first], &settings).expect("valid");
        assert_eq!(scan(&book, &["a"]), ["xy", "abcdefghij"]);
    }
}
