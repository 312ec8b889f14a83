//! Finding cues in a message's words, fast.
//!
//! A cue is a phrase in the syntax of [`super::detect`]: words, `word*` for
//! every word it starts, `*ending` for every word it ends, `?` for any one
//! word, `#` for a number of 10 or more. The detector holds thousands of
//! them in a few hundred lists and asks, for each list, where its cues match
//! in a message of a few dozen words. Comparing every cue with every word
//! made detection cost most of a chat turn's own time, so each list gets an
//! index, built the first time it is read: its cues by their first word
//! (exact, by stem, by ending), so a word only meets the few cues that can
//! start at it.
//!
//! Lists are the language data's (loaded once and kept for the process) or
//! written in the rules, so they are `'static`; the indexes are kept for the
//! process too, one per list, found by the list's address.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{OnceLock, RwLock};

/// FNV-1a: the keys here are short words and list addresses, hashed
/// millions of times a second, never chosen by an attacker to collide (they
/// come from the language data), where SipHash's protection costs a fifth
/// of detection.
#[derive(Default)]
pub(super) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// A map hashed with [`Fnv`].
pub(super) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// A list's cues grouped by what their first word can match.
#[derive(Default)]
struct CueIndex {
    /// Each cue's words, in the list's order.
    parts: Vec<Box<[&'static str]>>,
    /// Cues whose first word is a plain word, by that word.
    exact: FastMap<&'static str, Vec<usize>>,
    /// Cues whose first word is a stem (`word*`), by the stem.
    stems: FastMap<&'static str, Vec<usize>>,
    /// The distinct stem lengths, in bytes.
    stem_lengths: Vec<usize>,
    /// Cues whose first word is an ending (`*ending`), by the ending.
    endings: FastMap<&'static str, Vec<usize>>,
    /// The distinct ending lengths, in bytes.
    ending_lengths: Vec<usize>,
    /// Cues whose first word is `?` or `#`: tried at every word.
    anywhere: Vec<usize>,
}

impl CueIndex {
    fn of(cues: &'static [&'static str]) -> Self {
        let mut index = Self::default();
        for (at, cue) in cues.iter().enumerate() {
            let parts: Box<[&'static str]> = cue.split_whitespace().collect();
            let first = parts.first().copied();
            index.parts.push(parts);
            let Some(first) = first else {
                continue;
            };
            if first == "?" || first == "#" {
                index.anywhere.push(at);
            } else if let Some(ending) = first.strip_prefix('*') {
                index.endings.entry(ending).or_default().push(at);
            } else if let Some(stem) = first.strip_suffix('*') {
                index.stems.entry(stem).or_default().push(at);
            } else {
                index.exact.entry(first).or_default().push(at);
            }
        }
        index.stem_lengths = distinct_lengths(index.stems.keys());
        index.ending_lengths = distinct_lengths(index.endings.keys());
        index
    }

    /// Calls `found` with each cue (by position in the list) whose first
    /// word can match `word`; the rest of the cue is still to be checked.
    fn candidates(&self, word: &str, mut found: impl FnMut(usize)) {
        if word.is_empty() {
            return;
        }
        let mut all =
            |cues: Option<&Vec<usize>>| cues.into_iter().flatten().for_each(|&c| found(c));
        all(self.exact.get(word));
        for &length in &self.stem_lengths {
            if let Some(stem) = word.get(..length) {
                all(self.stems.get(stem));
            }
        }
        for &length in &self.ending_lengths {
            if length < word.len()
                && let Some(ending) = word.get(word.len() - length..)
            {
                all(self.endings.get(ending));
            }
        }
        self.anywhere.iter().for_each(|&c| found(c));
    }
}

fn distinct_lengths<'a>(keys: impl Iterator<Item = &'a &'static str>) -> Vec<usize> {
    let mut lengths: Vec<usize> = keys.map(|k| k.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

/// The index of `cues`, built on first use.
fn index(cues: &'static [&'static str]) -> &'static CueIndex {
    static INDEXES: OnceLock<RwLock<FastMap<(usize, usize), &'static CueIndex>>> = OnceLock::new();
    let indexes = INDEXES.get_or_init(Default::default);
    let key = (cues.as_ptr() as usize, cues.len());
    if let Ok(known) = indexes.read()
        && let Some(index) = known.get(&key)
    {
        return index;
    }
    // A poisoned lock only means another thread panicked while inserting;
    // the map itself is still whole.
    let mut known = indexes
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    known
        .entry(key)
        .or_insert_with(|| Box::leak(Box::new(CueIndex::of(cues))))
}

/// Calls `found` with every match of `cues` in `words`: the cue's position
/// in the list, and its span (first word, one past the last word).
fn each_match(
    words: &[String],
    cues: &'static [&'static str],
    mut found: impl FnMut(usize, (usize, usize)) -> bool,
) {
    let index = index(cues);
    let mut stop = false;
    for (start, word) in words.iter().enumerate() {
        index.candidates(word, |at| {
            if stop {
                return;
            }
            let parts = &index.parts[at];
            if has_parts_at(words, parts, start) {
                stop = !found(at, (start, start + parts.len()));
            }
        });
        if stop {
            return;
        }
    }
}

/// Where each of `cues` matches in `words`: (first word, one past the last
/// word), in the order of the words.
pub(super) fn spans(words: &[String], cues: &'static [&'static str]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    each_match(words, cues, |_, span| {
        out.push(span);
        true
    });
    out
}

/// Whether any of `cues` matches somewhere in `words`.
pub(super) fn any_cue(words: &[String], cues: &'static [&'static str]) -> bool {
    let mut any = false;
    each_match(words, cues, |_, _| {
        any = true;
        false
    });
    any
}

/// The cues of `cues` that match in `words`, in the list's order.
pub(super) fn matching_cues(words: &[String], cues: &'static [&'static str]) -> Vec<&'static str> {
    let mut found = vec![false; cues.len()];
    each_match(words, cues, |at, _| {
        found[at] = true;
        true
    });
    cues.iter()
        .zip(found)
        .filter(|(_, found)| *found)
        .map(|(cue, _)| *cue)
        .collect()
}

/// Whether one word matches one word of a cue (`*` ends a prefix or starts
/// an ending, `?` is any word, `#` a number of 10 or more).
pub(super) fn word_matches(word: &str, pattern: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    if pattern == "?" {
        return true;
    }
    if pattern == "#" {
        // A count large enough to be a dose, not a serving: 10 or more.
        return word.parse::<u32>().is_ok_and(|n| n >= 10);
    }
    if let Some(ending) = pattern.strip_prefix('*') {
        // "*rai" is any word ending so: a French future ("répondrai").
        return word.len() > ending.len() && word.ends_with(ending);
    }
    match pattern.strip_suffix('*') {
        Some(stem) => word.starts_with(stem),
        None => word == pattern,
    }
}

/// The cues of `cues` that could match somewhere in `words` (their first
/// word matches a word), by position in the list, in order: what blanking
/// idioms one after the other needs to try, as blanking a word never lets a
/// cue match where it could not before.
pub(super) fn candidates(words: &[String], cues: &'static [&'static str]) -> Vec<usize> {
    let index = index(cues);
    let mut out = Vec::new();
    for word in words {
        index.candidates(word, |at| out.push(at));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether the cue of these words matches the words starting at `start`.
fn has_parts_at(words: &[String], parts: &[&str], start: usize) -> bool {
    !parts.is_empty()
        && words.len() >= start + parts.len()
        && parts
            .iter()
            .zip(&words[start..])
            .all(|(pattern, word)| word_matches(word, pattern))
}

/// What `short` stands for in the language data's shorthand (the first
/// entry for it, in file order), looked up in a map built once.
pub(super) fn shorthand(short: &str) -> Option<&'static str> {
    static MAP: OnceLock<FastMap<&'static str, &'static str>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let mut map = FastMap::default();
        for (short, long) in crate::lang::active().shorthand() {
            map.entry(*short).or_insert(*long);
        }
        map
    });
    map.get(short).copied()
}

/// Whether `cue` matches the words starting at `start`.
pub(super) fn has_cue_at(words: &[String], cue: &str, start: usize) -> bool {
    let mut pattern = cue.split_whitespace();
    let mut at = start;
    loop {
        match (pattern.next(), words.get(at)) {
            (None, _) => return at > start,
            (Some(p), Some(word)) if word_matches(word, p) => at += 1,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    /// The plain reading the index must agree with: every cue at every word.
    fn spans_by_brute_force(words: &[String], cues: &[&str]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (start, _) in words.iter().enumerate() {
            for cue in cues {
                if has_cue_at(words, cue, start) {
                    out.push((start, start + cue.split_whitespace().count()));
                }
            }
        }
        out.sort_unstable();
        out
    }

    static CUES: &[&str] = &[
        "end it all",
        "end*",
        "*rai plus",
        "? pills",
        "# pills",
        "rope",
        "ropes tied",
        "",
    ];

    #[test]
    fn the_index_finds_what_comparing_every_cue_with_every_word_finds() {
        for text in [
            "i want to end it all tonight",
            "endless ropes tied with 20 pills",
            "je ne repondrai plus jamais",
            "rai plus",
            "3 pills or 30 pills",
            "",
            "rope",
        ] {
            let w = words(text);
            let mut found = spans(&w, CUES);
            found.sort_unstable();
            assert_eq!(found, spans_by_brute_force(&w, CUES), "{text}");
            assert_eq!(any_cue(&w, CUES), !found.is_empty(), "{text}");
        }
    }

    #[test]
    fn matching_cues_keep_the_lists_order() {
        let w = words("rope and ropes tied to end it all");
        assert_eq!(
            matching_cues(&w, CUES),
            ["end it all", "end*", "rope", "ropes tied"]
        );
    }

    #[test]
    fn an_empty_word_matches_nothing() {
        let w = vec![String::new(), "rope".to_string()];
        assert_eq!(spans(&w, &["?"]), [(1, 2)]);
    }
}
