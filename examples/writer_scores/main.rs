//! What the crisis detector finds in each writer's labelled sets when its
//! learned readers never read that writer: for every writer's sets in
//! `tests/data/` (each `dev-2026-12*` folder and each file of
//! `train-2026-12h`), trains the word reader and the meaning reader on
//! every other row and prints, for each of that writer's rows, what each
//! layer says. `cargo run --release --example writer_scores > scores.tsv`.
//!
//! This is development data only: the cues and frames ran as they are,
//! written with many of these sets in view, and every row here trains the
//! shipped readers. Blind figures come from `measure_safety` on a set
//! nobody has read.
//!
//! Columns: `writer`, `file`, `line`, `own` (whether the label describes
//! the row's own text: false for the turns of a conversation after the
//! one that made it a crisis), `label`, `rules` (the kind the cues and
//! frames find, or `-`), `word` (the word reader's kind, or `-`),
//! `word_p` (its probability), `meaning_p` (the meaning reader's),
//! `together` (the kind both readers decide on together, or `-`),
//! `subjects` (the sensitive subjects the cues find, comma-separated, or
//! `-`), `text`. Rows of the other sets follow, with `-` as their writer
//! and in every column but the file, line, own, label and text ones, for
//! whoever trains on every row.

#[allow(dead_code)]
#[path = "../dedupe/sets.rs"]
mod sets;

use std::path::Path;

use troupe::safety::assess;
use troupe::safety::classifier::{Classifier, features};
use troupe::safety::detect::crisis_by_rules;
use troupe::safety::meaning::{MeaningReader, PieceVectors};

type BoxError = Box<dyn std::error::Error>;

/// The writer of a labelled file, if it is one of the writers' sets read
/// here.
fn writer_of(file: &Path) -> Option<String> {
    let path = file.to_string_lossy().replace('\\', "/");
    let inside = path.split("tests/data/").nth(1)?;
    if inside.starts_with("dev-2026-12") {
        inside.split('/').next().map(str::to_string)
    } else if inside.starts_with("train-2026-12h/") {
        Some(inside.to_string())
    } else {
        None
    }
}

fn is_crisis(label: &str) -> bool {
    label == "crisis" || label == "danger"
}

fn main() -> Result<(), BoxError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let rows = sets::rows_of(&sets::data_files(&dir)?)?;
    let pieces = PieceVectors::embedded().ok_or("the embedded word pieces do not parse")?;
    let writers: Vec<Option<String>> = rows.iter().map(|r| writer_of(&r.file)).collect();
    let features: Vec<Vec<String>> = rows.iter().map(|r| features(&r.text)).collect();
    let vectors: Vec<Option<Vec<f32>>> = rows.iter().map(|r| pieces.text_vector(&r.text)).collect();
    let mut names: Vec<&String> = writers.iter().flatten().collect();
    names.sort();
    names.dedup();

    println!(
        "writer\tfile\tline\town\tlabel\trules\tword\tword_p\tmeaning_p\ttogether\tsubjects\ttext"
    );
    for name in names {
        let others = |i: &usize| writers[*i].as_ref() != Some(name) && rows[*i].labels_its_own_text;
        let word_examples: Vec<(Vec<String>, bool)> = (0..rows.len())
            .filter(others)
            .map(|i| (features[i].clone(), is_crisis(&rows[i].label)))
            .collect();
        let meaning_examples: Vec<(Vec<f32>, &str)> = (0..rows.len())
            .filter(others)
            .filter_map(|i| Some((vectors[i].clone()?, rows[i].label.as_str())))
            .collect();
        let word = Classifier::train(&word_examples);
        let meaning = MeaningReader::train(&meaning_examples);
        eprintln!("read {name}");
        for i in (0..rows.len()).filter(|i| writers[*i].as_ref() == Some(name)) {
            let row = &rows[i];
            let kind = |k: Option<troupe::safety::CrisisKind>| k.map_or("-", |k| k.name());
            let word_p = word.probability(&features[i]);
            let found = assess(&row.text).subjects;
            let threshold = troupe::safety::meaning::threshold(&found);
            let (meaning_p, together) = match &vectors[i] {
                Some(v) => (
                    meaning.probability(v),
                    meaning.crisis_kind_of(v, word_p, threshold),
                ),
                None => (0.0, None),
            };
            let subjects: Vec<&str> = found.iter().map(|s| s.name()).collect();
            let subjects = if subjects.is_empty() {
                "-".to_string()
            } else {
                subjects.join(",")
            };
            println!(
                "{name}\t{}\t{}\t{}\t{}\t{}\t{}\t{word_p:.4}\t{meaning_p:.4}\t{}\t{subjects}\t{}",
                row.file.file_name().unwrap_or_default().to_string_lossy(),
                row.line,
                row.labels_its_own_text,
                row.label,
                kind(crisis_by_rules(&row.text)),
                kind(word.crisis_kind(&features[i])),
                kind(together),
                row.text
            );
        }
    }
    for (i, row) in rows
        .iter()
        .enumerate()
        .filter(|(i, _)| writers[*i].is_none())
    {
        println!(
            "-\t{}\t{}\t{}\t{}\t-\t-\t-\t-\t-\t-\t{}",
            row.file.file_name().unwrap_or_default().to_string_lossy(),
            row.line,
            row.labels_its_own_text,
            row.label,
            rows[i].text
        );
    }
    Ok(())
}
