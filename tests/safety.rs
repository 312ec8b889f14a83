//! Safety: the labelled sets measure the detectors; precision and recall
//! below 0.9 on either set fails.

use std::collections::BTreeSet;

use troupe::safety::{Subject, assess};

/// (label, lang, text) rows of a labelled set.
fn rows(name: &str) -> Vec<(String, String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.splitn(3, '\t');
            let mut next = || fields.next().unwrap_or_default().to_string();
            (next(), next(), next())
        })
        .collect()
}

/// Precision and recall over (row, label) pairs, with the misses for the report.
fn score(pairs: &[(BTreeSet<String>, BTreeSet<String>, String)]) -> (f64, f64, Vec<String>) {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    let mut misses = Vec::new();
    for (gold, predicted, text) in pairs {
        tp += gold.intersection(predicted).count() as f64;
        fp += predicted.difference(gold).count() as f64;
        fn_ += gold.difference(predicted).count() as f64;
        if gold != predicted {
            misses.push(format!("expected {gold:?}, got {predicted:?}: {text}"));
        }
    }
    (tp / (tp + fp), tp / (tp + fn_), misses)
}

#[test]
fn sensitive_subjects_are_found_with_precision_and_recall_above_0_9() {
    let data = rows("sensitive.tsv");
    assert!(
        data.len() >= 150,
        "the labelled set has {} rows",
        data.len()
    );
    let pairs: Vec<_> = data
        .iter()
        .map(|(label, _, text)| {
            let gold: BTreeSet<String> = (label != "none")
                .then(|| label.clone())
                .into_iter()
                .collect();
            let predicted = assess(text)
                .subjects
                .iter()
                .map(|s: &Subject| s.name().to_string())
                .collect();
            (gold, predicted, text.clone())
        })
        .collect();
    let (precision, recall, misses) = score(&pairs);
    println!(
        "sensitive subjects: precision {precision:.3}, recall {recall:.3} on {} sentences",
        data.len()
    );
    for miss in &misses {
        println!("  {miss}");
    }
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "precision {precision:.3}, recall {recall:.3}"
    );
}

#[test]
fn crisis_messages_are_found_with_precision_and_recall_above_0_9() {
    let data = rows("crisis.tsv");
    assert!(
        data.len() >= 100,
        "the labelled set has {} rows",
        data.len()
    );
    let pairs: Vec<_> = data
        .iter()
        .map(|(label, _, text)| {
            let gold: BTreeSet<String> = (label == "crisis")
                .then(|| "crisis".to_string())
                .into_iter()
                .collect();
            let predicted = assess(text)
                .crisis
                .then(|| "crisis".to_string())
                .into_iter()
                .collect();
            (gold, predicted, text.clone())
        })
        .collect();
    let (precision, recall, misses) = score(&pairs);
    println!(
        "crisis: precision {precision:.3}, recall {recall:.3} on {} sentences",
        data.len()
    );
    for miss in &misses {
        println!("  {miss}");
    }
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "precision {precision:.3}, recall {recall:.3}"
    );
}
