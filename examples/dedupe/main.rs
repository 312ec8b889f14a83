//! Checks a new labelled set against every training row before it is
//! measured: `cargo run --example dedupe -- NEW [--threshold 0.8]
//! [--against DIR]`, where NEW is a `.tsv` file or a folder of them (`label`
//! and `text` columns, as in `tests/data/`) and DIR the training sets
//! (`tests/data/` unless given).
//!
//! A row of the new set is flagged when its normalised text (lower case, no
//! accents, no punctuation, one space between words) is a row of
//! `tests/data/`, or when the two share at least the threshold of their
//! character trigrams (Jaccard similarity). A set that repeats its training
//! data measures what the detector has already seen, so flagged rows are
//! dropped before the set is measured. Rows of the new set are named by file
//! and line, never printed, so the set stays unseen; the training row it
//! repeats is printed. Exits with 1 when any row is flagged.

mod sets;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sets::{Row, data_files, duplicates, rows_of};

/// The command line: the new set and the similarity from which two rows
/// count as the same.
struct Settings {
    new: PathBuf,
    threshold: f64,
    against: PathBuf,
}

const USAGE: &str = "usage: cargo run --example dedupe -- NEW_SET_FILE_OR_DIR [--threshold 0.8] [--against TRAINING_DIR]";

fn settings() -> Result<Settings, String> {
    let mut args = std::env::args_os().skip(1);
    let mut new = None;
    let mut threshold = 0.8;
    let mut against = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    while let Some(arg) = args.next() {
        if arg == "--threshold" {
            let value = args.next().ok_or(USAGE)?;
            threshold = value
                .to_string_lossy()
                .parse()
                .ok()
                .filter(|t: &f64| (0.0..=1.0).contains(t))
                .ok_or_else(|| format!("--threshold takes a number from 0 to 1; {USAGE}"))?;
        } else if arg == "--against" {
            against = PathBuf::from(args.next().ok_or(USAGE)?);
        } else if new.is_none() {
            new = Some(PathBuf::from(arg));
        } else {
            return Err(USAGE.to_string());
        }
    }
    Ok(Settings {
        new: new.ok_or(USAGE)?,
        threshold,
        against,
    })
}

/// The files of the new set: the file itself, or every `.tsv` in the folder.
fn new_files(new: &Path) -> Result<Vec<PathBuf>, String> {
    if new.is_dir() {
        data_files(new)
    } else if new.is_file() {
        Ok(vec![new.to_path_buf()])
    } else {
        Err(format!(
            "{}: no such file or folder; {USAGE}",
            new.display()
        ))
    }
}

/// Where a row is, for the report.
fn place(row: &Row) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = row.file.strip_prefix(root).unwrap_or(&row.file);
    format!("{}:{}", file.display(), row.line)
}

fn run() -> Result<bool, String> {
    let settings = settings()?;
    let files = new_files(&settings.new)?;
    let new = rows_of(&files)?;
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let new_paths: Vec<PathBuf> = files.iter().map(|f| canonical(f)).collect();
    // A set already in tests/data is checked against the others, not itself.
    let training: Vec<PathBuf> = data_files(&settings.against)?
        .into_iter()
        .filter(|f| !new_paths.contains(&canonical(f)))
        .collect();
    let known = rows_of(&training)?;
    let mut flagged = duplicates(&new, &known, settings.threshold);
    println!(
        "{} new rows from {} files checked against {} training rows from {} files",
        new.len(),
        files.len(),
        known.len(),
        training.len()
    );
    let repeats_within = within_set(&new, settings.threshold);
    flagged.sort_by_key(|d| d.new);
    let exact = flagged.iter().filter(|d| d.similarity >= 1.0).count();
    for duplicate in &flagged {
        let (row, known) = (&new[duplicate.new], &known[duplicate.known]);
        println!(
            "{} repeats {} ({:.2}, labelled {} there, {} here): {}",
            place(row),
            place(known),
            duplicate.similarity,
            known.label,
            row.label,
            known.text
        );
    }
    for (later, earlier, similarity) in &repeats_within {
        println!(
            "{} repeats {} of the same set ({similarity:.2})",
            place(&new[*later]),
            place(&new[*earlier])
        );
    }
    println!(
        "{} rows repeat training rows ({exact} exactly, {} nearly, trigram Jaccard >= {}); {} repeat an earlier row of the new set",
        flagged.len(),
        flagged.len() - exact,
        settings.threshold,
        repeats_within.len()
    );
    Ok(flagged.is_empty() && repeats_within.is_empty())
}

/// (later, earlier, similarity) for each row of the set that repeats an
/// earlier row of the same set.
fn within_set(rows: &[Row], threshold: f64) -> Vec<(usize, usize, f64)> {
    (1..rows.len())
        .filter_map(|later| {
            duplicates(&rows[later..=later], &rows[..later], threshold)
                .first()
                .map(|d| (later, d.known, d.similarity))
        })
        .collect()
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("dedupe: {message}");
            ExitCode::from(2)
        }
    }
}
