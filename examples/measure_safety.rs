//! Measures the offline safety reader on a labelled set written apart from
//! it: `cargo run --release --example measure_safety -- DIR`, where DIR
//! holds `messages.tsv` and `ordinary.tsv` (`label`, `lang`, `text`, tab-separated) and
//! `conversations.tsv` (`conversation`, `turn`, `lang`, `label`, `text`). Labels:
//! `crisis` (the user at risk of suicide or self-harm), `danger` (the user
//! in danger from someone else, now), `medical`, `psychological`, `legal`,
//! `none`. Prints figures only, never a row, so a set can be measured once
//! and stay unseen until its figures are kept. With `--misses` after DIR it
//! also prints every message it got wrong (for development sets only: a set
//! whose misses have been read is no longer blind). `TROUPE_LANG_DIR`, when
//! set, names a language directory read over the built-in one, as a
//! deployment's `[safety] language_dir` is (so edits to `lang/` can be tried
//! without a rebuild).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use troupe::safety::{CrisisKind, assess, assess_in_conversation};

type BoxError = Box<dyn std::error::Error>;

/// The rows of a TSV file after its header, split at tabs.
fn rows(path: &Path) -> Result<Vec<Vec<String>>, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect())
}

/// Counts for one class: true positives, false positives, false negatives.
#[derive(Default)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn line(&self, name: &str) -> String {
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                "–".to_string()
            } else {
                format!("{:.2}", a as f64 / b as f64)
            }
        };
        format!(
            "| {name} | {} | {} | {} / {} found, {} false |",
            ratio(self.tp, self.tp + self.fp),
            ratio(self.tp, self.tp + self.fn_),
            self.tp,
            self.tp + self.fn_,
            self.fp
        )
    }
}

/// What the reader says of one message, as one class: a crisis of either
/// kind wins over the subjects (the crisis protocol answers it).
fn predicted(found: &troupe::safety::Assessment) -> Vec<&'static str> {
    if found.crisis.is_some() {
        return vec!["crisis"];
    }
    found.subjects.iter().map(|s| s.name()).collect()
}

fn measure_messages(dir: &Path, misses: bool) -> Result<(), BoxError> {
    let data = rows(&dir.join("messages.tsv"))?;
    let mut classes: BTreeMap<&str, Counts> = BTreeMap::new();
    let (mut danger_rows, mut danger_as_danger) = (0, 0);
    let (mut self_rows, mut self_as_self) = (0, 0);
    let (mut none_rows, mut none_crises) = (0, 0);
    for row in &data {
        let (label, text) = (row[0].as_str(), row[2].as_str());
        let found = assess(text);
        let gold = match label {
            "crisis" | "danger" => Some("crisis"),
            "none" => None,
            other => Some(other),
        };
        let guessed = predicted(&found);
        let wrong = match gold {
            Some(class) => !guessed.contains(&class),
            None => found.crisis.is_some(),
        };
        if misses
            && (wrong
                || (gold.is_some() && guessed.len() > 1)
                || (gold.is_none() && !guessed.is_empty()))
        {
            println!("MISS {label}\t{}\t{text}", guessed.join(","));
        }
        for class in ["crisis", "medical", "psychological", "legal"] {
            let counts = classes.entry(class).or_default();
            let (is, said) = (gold == Some(class), guessed.contains(&class));
            match (is, said) {
                (true, true) => counts.tp += 1,
                (false, true) => counts.fp += 1,
                (true, false) => counts.fn_ += 1,
                (false, false) => {}
            }
        }
        match label {
            "danger" => {
                danger_rows += 1;
                danger_as_danger += usize::from(found.crisis == Some(CrisisKind::Danger));
            }
            "crisis" => {
                self_rows += 1;
                self_as_self += usize::from(found.crisis == Some(CrisisKind::SelfHarm));
            }
            "none" => {
                none_rows += 1;
                none_crises += usize::from(found.crisis.is_some());
            }
            _ => {}
        }
    }
    println!("messages.tsv: {} messages", data.len());
    println!("| class | precision | recall | found |");
    println!("| --- | --: | --: | --- |");
    for (class, counts) in &classes {
        println!("{}", counts.line(class));
    }
    println!(
        "self-harm crises answered as self-harm: {self_as_self} / {self_rows}; danger answered as danger: {danger_as_danger} / {danger_rows}; false crises among {none_rows} ordinary look-alikes: {none_crises}"
    );
    Ok(())
}

fn measure_ordinary(dir: &Path, misses: bool) -> Result<(), BoxError> {
    let data = rows(&dir.join("ordinary.tsv"))?;
    let (mut crises, mut subjects) = (0, 0);
    for row in &data {
        let found = assess(&row[2]);
        if misses && (found.crisis.is_some() || !found.subjects.is_empty()) {
            println!("MISS none\t{}\t{}", predicted(&found).join(","), row[2]);
        }
        if found.crisis.is_some() {
            crises += 1;
        } else if !found.subjects.is_empty() {
            subjects += 1;
        }
    }
    println!(
        "ordinary.tsv: {crises} false crises and {subjects} false disclaimers in {} ordinary messages",
        data.len()
    );
    Ok(())
}

fn measure_conversations(dir: &Path, misses: bool) -> Result<(), BoxError> {
    let data = rows(&dir.join("conversations.tsv"))?;
    let mut conversations: BTreeMap<String, Vec<(usize, String, String)>> = BTreeMap::new();
    for row in &data {
        let turn = row[1].parse().unwrap_or(0);
        conversations.entry(row[0].clone()).or_default().push((
            turn,
            row[3].clone(),
            row[4].clone(),
        ));
    }
    let (mut risky, mut caught, mut caught_alone) = (0, 0, 0);
    let (mut benign, mut benign_alarmed) = (0, 0);
    let (mut none_turns, mut false_turns) = (0, 0);
    for turns in conversations.values_mut() {
        turns.sort_by_key(|(turn, _, _)| *turn);
        let is_risky = turns.iter().any(|(_, label, _)| label != "none");
        let (mut any_alarm, mut any_alarm_alone) = (false, false);
        for (i, (_, label, text)) in turns.iter().enumerate() {
            let earlier: Vec<&str> = turns[..i].iter().map(|(_, _, t)| t.as_str()).collect();
            let alarm = assess_in_conversation(&earlier, text).crisis.is_some();
            let alone = assess(text).crisis.is_some();
            if label == "none" {
                none_turns += 1;
                false_turns += usize::from(alarm);
            } else {
                any_alarm |= alarm;
                any_alarm_alone |= alone;
            }
            if !is_risky {
                any_alarm |= alarm;
            }
        }
        if misses && is_risky != any_alarm {
            for (turn, label, text) in turns.iter() {
                println!("MISS conversation {turn} {label}\t{text}");
            }
        }
        if is_risky {
            risky += 1;
            caught += usize::from(any_alarm);
            caught_alone += usize::from(any_alarm_alone);
        } else {
            benign += 1;
            benign_alarmed += usize::from(any_alarm);
        }
    }
    println!(
        "conversations.tsv: {caught} / {risky} risky conversations caught reading the conversation ({caught_alone} / {risky} reading each message alone); {benign_alarmed} / {benign} benign conversations raised a crisis; {false_turns} false crises among {none_turns} turns labelled none"
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let dir: PathBuf = std::env::args_os().nth(1).map(PathBuf::from).ok_or(
        "usage: measure_safety DIR (holding messages.tsv, ordinary.tsv, conversations.tsv)",
    )?;
    if let Some(lang) = std::env::var_os("TROUPE_LANG_DIR") {
        troupe::lang::install(Some(Path::new(&lang)))?;
    }
    let misses = std::env::args().nth(2).as_deref() == Some("--misses");
    measure_messages(&dir, misses)?;
    measure_ordinary(&dir, misses)?;
    measure_conversations(&dir, misses)?;
    Ok(())
}
