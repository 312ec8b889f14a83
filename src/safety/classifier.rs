//! A learned second reader for crisis messages.
//!
//! Cue phrases and frames ([`super::frames`]) catch what someone thought of
//! writing down; people in crisis phrase things in ways nobody listed. This
//! reader weighs many small signals together instead: words, their first
//! letters (so "réveiller" and "réveillerai" count alike), word pairs, and
//! which frame concepts appear. It is a logistic regression, trained on the
//! labelled sets in `tests/data/` (every one of them, in folders too), and its
//! weights ship in `crisis_weights.tsv`. A test retrains it and checks the
//! shipped weights are what the labelled sets give.
//!
//! It only ever adds crisis verdicts: a message the cues find stays found.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::detect::CrisisKind;
use super::frames;

/// How sure the reader must be before a message counts as a crisis.
pub const THRESHOLD: f64 = 0.5;

/// Weights over text features, and a bias.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classifier {
    bias: f64,
    weights: HashMap<String, f64>,
}

/// The weights shipped with Troupe.
static SHIPPED: LazyLock<Classifier> = LazyLock::new(|| {
    Classifier::from_tsv(include_str!("crisis_weights.tsv")).unwrap_or_else(|e| {
        tracing::warn!("the shipped crisis weights do not parse ({e}); the learned reader is off");
        Classifier::default()
    })
});

/// Training passes over the whole set.
const ITERATIONS: usize = 300;
/// Step size of each pass.
const LEARNING_RATE: f64 = 1.0;
/// L2 penalty, keeping any one word from deciding alone.
const L2: f64 = 0.002;
/// Weights smaller than this are left out of the shipped file.
const PRUNE_BELOW: f64 = 0.01;

impl Classifier {
    /// The reader shipped with Troupe.
    pub fn shipped() -> &'static Classifier {
        &SHIPPED
    }

    /// Trains on `(features, is_crisis)` examples, deterministically: the
    /// same examples in the same order give the same weights. Both classes
    /// weigh the same in total, however many examples each has.
    pub fn train(examples: &[(Vec<String>, bool)]) -> Classifier {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut names: Vec<&str> = Vec::new();
        let rows: Vec<(Vec<usize>, f64)> = examples
            .iter()
            .map(|(features, crisis)| {
                let ids = features
                    .iter()
                    .map(|f| {
                        *index.entry(f.as_str()).or_insert_with(|| {
                            names.push(f.as_str());
                            names.len() - 1
                        })
                    })
                    .collect();
                (ids, if *crisis { 1.0 } else { 0.0 })
            })
            .collect();
        let n = rows.len().max(1) as f64;
        let positives = rows.iter().filter(|r| r.1 > 0.5).count().max(1) as f64;
        let negatives = (rows.len() as f64 - positives).max(1.0);
        let (weight_pos, weight_neg) = (n / (2.0 * positives), n / (2.0 * negatives));

        let mut weights = vec![0.0; names.len()];
        let mut bias = 0.0;
        let mut gradient = vec![0.0; names.len()];
        for _ in 0..ITERATIONS {
            gradient.iter_mut().for_each(|g| *g = 0.0);
            let mut bias_gradient = 0.0;
            for (ids, label) in &rows {
                let score = bias + ids.iter().map(|&i| weights[i]).sum::<f64>();
                let class_weight = if *label > 0.5 { weight_pos } else { weight_neg };
                let error = class_weight * (sigmoid(score) - label) / n;
                bias_gradient += error;
                for &i in ids {
                    gradient[i] += error;
                }
            }
            bias -= LEARNING_RATE * bias_gradient;
            for (w, g) in weights.iter_mut().zip(&gradient) {
                *w -= LEARNING_RATE * (g + L2 * *w);
            }
        }
        Classifier {
            bias,
            weights: names
                .iter()
                .zip(weights)
                .filter(|(_, w)| w.abs() >= PRUNE_BELOW)
                .map(|(name, w)| (name.to_string(), w))
                .collect(),
        }
    }

    /// The probability that text with these features is a crisis message.
    pub fn probability(&self, features: &[String]) -> f64 {
        let score = self.bias
            + features
                .iter()
                .filter_map(|f| self.weights.get(f))
                .sum::<f64>();
        sigmoid(score)
    }

    /// Whether text with these features counts as a crisis message.
    /// The reader only tips the balance: at least one crisis concept (an
    /// ending, a means, a farewell, self-injury...) must be in the text, so
    /// that an ordinary first-person message never counts on word weights
    /// alone, and a story (a film, a game, a book) or a dying plant or battery
    /// is left to the cues.
    pub fn says_crisis(&self, features: &[String]) -> bool {
        !self.weights.is_empty()
            && opens_gate(features)
            && !features.iter().any(|f| f == "c:fiction" || f == "c:things")
            && self.probability(features) >= THRESHOLD
    }

    /// The kind of crisis the reader finds in text with these features, if
    /// any: danger when a danger concept (someone hitting, threatening or
    /// getting in) opened the gate, else suicide or self-harm.
    pub fn crisis_kind(&self, features: &[String]) -> Option<CrisisKind> {
        if !self.says_crisis(features) {
            return None;
        }
        let danger = gate_openers(features).any(|c| frames::DANGER_CONCEPTS.contains(&c));
        Some(if danger {
            CrisisKind::Danger
        } else {
            CrisisKind::SelfHarm
        })
    }

    /// The weights as text: a `bias` line, then one `feature<TAB>weight`
    /// line per feature, sorted, to four decimals.
    pub fn to_tsv(&self) -> String {
        let mut lines: Vec<(&String, &f64)> = self.weights.iter().collect();
        lines.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = format!("bias\t{:.4}\n", self.bias);
        for (name, weight) in lines {
            out.push_str(&format!("{name}\t{weight:.4}\n"));
        }
        out
    }

    /// Reads weights written by [`Classifier::to_tsv`].
    pub fn from_tsv(text: &str) -> Result<Classifier, String> {
        let mut classifier = Classifier::default();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (name, weight) = line
                .rsplit_once('\t')
                .ok_or_else(|| format!("line {}: no tab", number + 1))?;
            let weight: f64 = weight
                .parse()
                .map_err(|e| format!("line {}: {e}", number + 1))?;
            if name == "bias" {
                classifier.bias = weight;
            } else {
                classifier.weights.insert(name.to_string(), weight);
            }
        }
        Ok(classifier)
    }

    /// The largest difference between two readers' weights (a feature one
    /// lacks counts as 0).
    pub fn distance(&self, other: &Classifier) -> f64 {
        let one_way = |a: &Classifier, b: &Classifier| {
            a.weights
                .iter()
                .map(|(k, w)| (w - b.weights.get(k).copied().unwrap_or(0.0)).abs())
                .fold(0.0, f64::max)
        };
        one_way(self, other)
            .max(one_way(other, self))
            .max((self.bias - other.bias).abs())
    }
}

/// The features of a text, as the reader sees them.
pub fn features(text: &str) -> Vec<String> {
    features_of(&super::detect::words(text))
}

/// The features of already normalised words: each word, its first five
/// letters, each pair of neighbouring words, and each frame concept found.
pub(super) fn features_of(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let present: Vec<&String> = words.iter().filter(|w| !w.is_empty()).collect();
    for word in &present {
        out.push(format!("w:{word}"));
        if word.chars().count() > 5 {
            out.push(format!("p:{}", word.chars().take(5).collect::<String>()));
        }
    }
    for pair in words.windows(2) {
        if !pair[0].is_empty() && !pair[1].is_empty() {
            out.push(format!("b:{} {}", pair[0], pair[1]));
        }
    }
    out.extend(frames::concepts(words).map(|c| format!("c:{c}")));
    out.sort();
    out.dedup();
    out
}

/// Whether the features hold a crisis concept (not one that only sets
/// context, such as a wish or a trip) that the context does not explain away.
fn opens_gate(features: &[String]) -> bool {
    gate_openers(features).next().is_some()
}

/// The crisis concepts in the features that their context does not explain
/// away.
fn gate_openers(features: &[String]) -> impl Iterator<Item = &str> {
    let has = |concept: &str| {
        features
            .iter()
            .any(|f| f.strip_prefix("c:") == Some(concept))
    };
    features
        .iter()
        .filter_map(|f| f.strip_prefix("c:"))
        .filter(|concept| !frames::CONTEXT_ONLY.contains(concept))
        .filter(move |concept| {
            !frames::EXPLAINED_BY
                .iter()
                .any(|(signal, by)| signal == concept && by.iter().any(|c| has(c)))
        })
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(text: &str, crisis: bool) -> (Vec<String>, bool) {
        (features(text), crisis)
    }

    #[test]
    fn it_learns_words_that_go_with_each_class() {
        let examples = vec![
            example("I feel so hopeless and alone tonight", true),
            example("hopeless, nobody would care", true),
            example("what a lovely soup tonight", false),
            example("a lovely cake for my sister", false),
        ];
        let reader = Classifier::train(&examples);
        assert!(reader.probability(&features("so hopeless")) > 0.5);
        assert!(reader.probability(&features("a lovely soup")) < 0.5);
    }

    #[test]
    fn weights_survive_their_text_form() {
        let reader = Classifier::train(&[
            example("hopeless tonight", true),
            example("lovely soup", false),
        ]);
        let back = Classifier::from_tsv(&reader.to_tsv()).unwrap();
        assert!(reader.distance(&back) < 0.0001);
    }

    #[test]
    fn a_malformed_weights_file_is_an_error() {
        assert!(Classifier::from_tsv("bias\tzero\n").is_err());
        assert!(Classifier::from_tsv("no tab here\n").is_err());
    }

    #[test]
    fn features_include_prefixes_pairs_and_concepts() {
        let found = features("je voudrais ne plus me réveiller");
        assert!(found.contains(&"w:reveiller".to_string()));
        assert!(found.contains(&"p:revei".to_string()));
        assert!(found.contains(&"b:me reveiller".to_string()));
        assert!(found.contains(&"c:cease".to_string()));
    }
}
