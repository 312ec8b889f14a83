//! The labelled sets of `tests/data/` as rows, and how alike two rows are.
//!
//! Shared by the `dedupe` example, which checks a new set against every
//! training row before it is measured, and by the tests, which train the
//! crisis reader on every set and keep the sets free of duplicates. Texts are
//! compared after the detector's own normalisation (lower case, accents
//! removed, punctuation and runs of spaces made one space), so two rows that
//! differ only there are the same row to the detector.

use std::path::{Path, PathBuf};

/// One labelled row of a set.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The file the row is in.
    pub file: PathBuf,
    /// Its line in the file (the header is line 1).
    pub line: usize,
    /// Its label: `crisis`, `danger`, `medical`, `psychological`, `legal`
    /// or `none`.
    pub label: String,
    /// The message.
    pub text: String,
    /// For a row of a conversation, whether its label describes this message
    /// too: false for the turns after the one that made the conversation a
    /// crisis, which keep the label whatever they say.
    pub labels_its_own_text: bool,
}

/// Every `.tsv` file under `dir`, in folders too, sorted by path so that
/// whatever reads them reads them in the same order on every machine.
pub fn data_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries =
            std::fs::read_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("{}: {e}", folder.display()))?
                .path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "tsv") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The rows of every file, in the order of [`data_files`] or of `files`.
pub fn rows_of(files: &[PathBuf]) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for file in files {
        rows.extend(read_rows(file)?);
    }
    Ok(rows)
}

/// The rows of one set. Its header names the columns: `label` and `text`
/// are needed; `conversation`, when there is one, marks a conversation whose
/// labels carry over from turn to turn.
pub fn read_rows(file: &Path) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let column = |name: &str| {
        header.iter().position(|c| *c == name).ok_or_else(|| {
            format!(
                "{}: the header has no `{name}` column (give it `label`, `lang` and `text`)",
                file.display()
            )
        })
    };
    let (label_at, text_at) = (column("label")?, column("text")?);
    let conversation_at = column("conversation").ok();
    let mut rows = Vec::new();
    let mut previous: Option<(String, String)> = None;
    for (number, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let field = |at: usize| {
            fields.get(at).map(|f| f.to_string()).ok_or_else(|| {
                format!(
                    "{}:{}: too few columns for the header",
                    file.display(),
                    number + 2
                )
            })
        };
        let (label, text) = (field(label_at)?, field(text_at)?);
        let labels_its_own_text = match conversation_at {
            None => true,
            Some(at) => {
                let conversation = field(at)?;
                let inherited = previous
                    .as_ref()
                    .is_some_and(|(c, l)| *c == conversation && *l == label && label != "none");
                previous = Some((conversation, label.clone()));
                !inherited
            }
        };
        rows.push(Row {
            file: file.to_path_buf(),
            line: number + 2,
            label,
            text,
            labels_its_own_text,
        });
    }
    Ok(rows)
}

/// A text as the detector reads it: lower case, without accents or
/// punctuation, one space between words.
pub fn normalised(text: &str) -> String {
    troupe::safety::detect::normalise(text).join(" ")
}

/// The distinct three-character runs of a normalised text, sorted.
pub fn trigrams(normalised: &str) -> Vec<[char; 3]> {
    let chars: Vec<char> = format!(" {normalised} ").chars().collect();
    let mut out: Vec<[char; 3]> = chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Shared trigrams over all trigrams of either text (1 for the same text,
/// 0 for nothing in common).
pub fn jaccard(a: &[[char; 3]], b: &[[char; 3]]) -> f64 {
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - shared;
    if union == 0 {
        1.0
    } else {
        shared as f64 / union as f64
    }
}

/// A row of a new set that is already in the known rows, or nearly.
#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    /// Index of the row in the new set.
    pub new: usize,
    /// Index of the row it repeats in the known rows.
    pub known: usize,
    /// Their trigram Jaccard similarity: 1 for the same normalised text.
    pub similarity: f64,
}

/// For each row of `new`, the known row most like it, when their normalised
/// texts are the same or their trigram similarity is at least `threshold`.
pub fn duplicates(new: &[Row], known: &[Row], threshold: f64) -> Vec<Duplicate> {
    let prepare = |rows: &[Row]| -> Vec<(String, Vec<[char; 3]>)> {
        rows.iter()
            .map(|r| {
                let text = normalised(&r.text);
                let grams = trigrams(&text);
                (text, grams)
            })
            .collect()
    };
    let (new_texts, known_texts) = (prepare(new), prepare(known));
    let mut found = Vec::new();
    for (n, (text, grams)) in new_texts.iter().enumerate() {
        let mut best: Option<Duplicate> = None;
        for (k, (known_text, known_grams)) in known_texts.iter().enumerate() {
            let similarity = if text == known_text {
                1.0
            } else {
                // Jaccard is at most the ratio of the two sizes: most pairs
                // are ruled out without comparing them.
                let (small, large) = (
                    grams.len().min(known_grams.len()),
                    grams.len().max(known_grams.len()),
                );
                if (small as f64) < threshold * large as f64 {
                    continue;
                }
                jaccard(grams, known_grams)
            };
            if similarity >= threshold && best.as_ref().is_none_or(|b| similarity > b.similarity) {
                best = Some(Duplicate {
                    new: n,
                    known: k,
                    similarity,
                });
            }
        }
        found.extend(best);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_accents_punctuation_and_spaces_do_not_count() {
        assert_eq!(
            normalised("  Ça va   PAS, j'suis épuisée!!"),
            normalised("ca va pas j suis epuisee")
        );
    }

    #[test]
    fn the_same_text_is_wholly_alike_and_unrelated_texts_hardly() {
        let a = trigrams(&normalised("what goes well with salmon"));
        let b = trigrams(&normalised("i want to repaint the kitchen"));
        assert_eq!(jaccard(&a, &a), 1.0);
        assert!(jaccard(&a, &b) < 0.2);
    }

    #[test]
    fn a_near_copy_is_found_and_a_different_message_is_not() {
        let row = |text: &str| Row {
            file: PathBuf::from("set.tsv"),
            line: 2,
            label: "none".to_string(),
            text: text.to_string(),
            labels_its_own_text: true,
        };
        let known = [
            row("what can i make with leftover rice and two eggs"),
            row("my basil plant is dying again"),
        ];
        let new = [
            row("What can I make with leftover rice and two eggs, please?"),
            row("Can you suggest a paint colour for a small bedroom?"),
        ];
        let found = duplicates(&new, &known, 0.8);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].new, found[0].known), (0, 0));
        assert!(found[0].similarity < 1.0);
    }
}
