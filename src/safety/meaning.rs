//! A third reader for crisis messages, one that goes by what words mean.
//!
//! The cues, the frames and the word reader ([`super::classifier`]) know
//! the words someone listed or that the labelled sets hold; a person who
//! writes "the windows are sealed and the tape is on the door" may use none
//! of them. This reader cuts a message into word pieces, looks up a vector
//! for each piece that a multilingual sentence encoder learned from a very
//! large amount of text (pieces of words that mean alike have vectors that
//! point alike, in English and French alike), averages them, and weighs the
//! average with a logistic regression trained on the labelled sets in
//! `tests/data/`. Pieces it never saw in training still count, through what
//! they mean.
//!
//! The vectors come from the multilingual Universal Sentence Encoder
//! (Apache-2.0), kept for the pieces of Latin script; `meaning/README.md`
//! says where from and how `scripts/export-piece-vectors` writes them. The
//! weights ship in `meaning_weights.tsv`; a test checks they are the
//! optimum the labelled sets give, and `TROUPE_RETRAIN=1` rewrites them.
//!
//! It decides together with the word reader: the two readers'
//! probabilities, weighed [`WEIGHT`] to this one, must reach [`THRESHOLD`]
//! ([`THRESHOLD_ABOUT_THE_MIND`] for a message the subject cues find is
//! about the mind).
//! Either alone raises more false alarms than the two together (a message
//! that merely sounds dark, or merely shares words with crises). Like the
//! word reader, it only ever adds crisis verdicts.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::detect::{CrisisKind, Subject, plain_form};
use super::matcher::FastMap;

/// How sure the two readers together must be before a message counts as a
/// crisis: high, because they read every message, ordinary chat included,
/// and a false crisis there answers someone with helplines they did not
/// need. Chosen with [`WEIGHT`] by training without each writer's sets in
/// turn and reading that writer's (the manual's evaluation page).
pub const THRESHOLD: f64 = 0.7;

/// How sure the two readers together must be when the subject cues find
/// the message is about the mind (low mood, anxiety, grief, an eating
/// problem): such messages sound closest to a crisis without being one,
/// and a false crisis answers them with helplines in place of the help
/// they asked for. Chosen like [`THRESHOLD`]: it took 15 of 315
/// psychological messages for crises instead of 34, and no crisis fewer.
pub const THRESHOLD_ABOUT_THE_MIND: f64 = 0.85;

/// The threshold for a message, given the sensitive subjects the cues
/// found in it: [`THRESHOLD_ABOUT_THE_MIND`] when one is psychological.
pub fn threshold(subjects: &BTreeSet<Subject>) -> f64 {
    if subjects.contains(&Subject::Psychological) {
        THRESHOLD_ABOUT_THE_MIND
    } else {
        THRESHOLD
    }
}

/// How much this reader's probability weighs beside the word reader's:
/// more than half, since it carries over to new writers better, but not
/// all, since the word reader knows the labelled sets' own phrasings and
/// keeps the meaning reader from firing on a message that merely sounds
/// dark (chosen with [`THRESHOLD`]).
pub const WEIGHT: f64 = 0.6;

/// How many numbers each piece's vector has.
pub const DIMENSIONS: usize = 512;

/// The mark a piece starts with when it starts a word.
const WORD_START: char = '\u{2581}';

/// What a character no piece covers costs a cut: far more than any piece,
/// so that such characters are only skipped when nothing else fits.
const UNKNOWN_COST: f32 = 30.0;

/// How much of a message the reader reads, in bytes: an average over more
/// says little of any part of it, and the cues, the frames and the word
/// reader read the whole message anyway.
pub const READ_AT_MOST: usize = 16 * 1024;

/// The word pieces and their vectors, read once from the embedded files.
static PIECES: LazyLock<Option<PieceVectors>> = LazyLock::new(|| {
    PieceVectors::parse(
        include_str!("meaning/pieces.tsv"),
        include_bytes!("meaning/vectors.bin"),
    )
    .map_err(|e| {
        tracing::warn!("the embedded word pieces do not parse ({e}); the meaning reader is off")
    })
    .ok()
});

/// The reader's weights shipped with Troupe.
static SHIPPED: LazyLock<MeaningReader> = LazyLock::new(|| {
    MeaningReader::from_tsv(include_str!("meaning_weights.tsv")).unwrap_or_else(|e| {
        tracing::warn!(
            "the shipped meaning weights do not parse ({e}); the meaning reader is off: retrain with `TROUPE_RETRAIN=1 cargo test --release shipped_meaning_weights`"
        );
        MeaningReader::default()
    })
});

/// A vocabulary of word pieces, each with its score as a unigram language
/// model gives it (a log-probability) and its vector.
pub struct PieceVectors {
    /// Piece text to row, and every beginning of a piece to `None` when it
    /// is not a piece itself, so that a cut stops trying longer pieces at
    /// the first text no piece begins with.
    index: FastMap<Box<str>, Option<u32>>,
    /// Each row's log-probability.
    scores: Vec<f32>,
    /// The longest piece, in characters.
    longest: usize,
    /// One scale per dimension: a stored value times its dimension's scale
    /// is the vector's number.
    scales: Vec<f32>,
    /// Rows × [`DIMENSIONS`] stored values, each a signed byte.
    values: &'static [u8],
}

impl PieceVectors {
    /// The pieces embedded in Troupe, if they parsed.
    pub fn embedded() -> Option<&'static PieceVectors> {
        PIECES.as_ref()
    }

    /// Reads the pieces (`piece<TAB>score` lines) and the vectors file
    /// (`TRPV`, rows and dimensions as little-endian u32, the f32 scales,
    /// then one signed byte per number), which must agree.
    pub fn parse(pieces: &str, vectors: &'static [u8]) -> Result<PieceVectors, String> {
        let mut index: FastMap<Box<str>, Option<u32>> = FastMap::default();
        let mut scores = Vec::new();
        let mut longest = 0;
        for (number, line) in pieces.lines().enumerate() {
            let (piece, score) = line
                .rsplit_once('\t')
                .ok_or_else(|| format!("pieces line {}: no tab", number + 1))?;
            let score: f32 = score
                .parse()
                .map_err(|e| format!("pieces line {}: {e}", number + 1))?;
            if !score.is_finite() {
                return Err(format!(
                    "pieces line {}: the score is not a number",
                    number + 1
                ));
            }
            longest = longest.max(piece.chars().count());
            for (end, _) in piece.char_indices().skip(1) {
                index.entry(piece[..end].into()).or_insert(None);
            }
            index.insert(piece.into(), Some(scores.len() as u32));
            scores.push(score);
        }
        let header = |at: usize| -> Result<u32, String> {
            let bytes = vectors
                .get(at..at + 4)
                .ok_or("the vectors file is cut short")?;
            Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
        };
        if vectors.get(..4) != Some(b"TRPV".as_slice()) {
            return Err("the vectors file does not start with TRPV".into());
        }
        let (rows, dimensions) = (header(4)? as usize, header(8)? as usize);
        if rows != scores.len() || dimensions != DIMENSIONS {
            return Err(format!(
                "{rows} vectors of {dimensions} numbers for {} pieces of {DIMENSIONS}",
                scores.len()
            ));
        }
        let values_at = 12 + 4 * DIMENSIONS;
        let scales: Vec<f32> = vectors
            .get(12..values_at)
            .ok_or("the vectors file is cut short")?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if scales.iter().any(|s| !s.is_finite()) {
            return Err("a scale in the vectors file is not a number".into());
        }
        let values = vectors
            .get(values_at..)
            .filter(|v| v.len() == rows * DIMENSIONS)
            .ok_or("the vectors file's size does not match its header")?;
        Ok(PieceVectors {
            index,
            scores,
            longest,
            scales,
            values,
        })
    }

    /// The rows of the pieces a text is cut into: the cut whose pieces are
    /// likeliest together (a unigram model's best path), words marked at
    /// their start as the encoder learned them. The text is read as every
    /// detector reads it (invisible characters dropped, full-width and
    /// look-alike letters read as the letters they imitate; case kept), up
    /// to [`READ_AT_MOST`]. Characters no piece covers are left out.
    pub fn piece_rows(&self, text: &str) -> Vec<u32> {
        let read = if text.len() <= READ_AT_MOST {
            text
        } else {
            let end = (0..=READ_AT_MOST)
                .rev()
                .find(|&at| text.is_char_boundary(at))
                .unwrap_or(0);
            &text[..end]
        };
        let mut marked = String::with_capacity(read.len() + 8);
        let mut in_word = false;
        for c in read.chars().filter_map(plain_form) {
            if c.is_whitespace() {
                in_word = false;
                continue;
            }
            if !in_word {
                marked.push(WORD_START);
                in_word = true;
            }
            marked.push(c);
        }
        let bounds: Vec<usize> = marked
            .char_indices()
            .map(|(at, _)| at)
            .chain([marked.len()])
            .collect();
        let positions = bounds.len() - 1;
        // best[j]: the best score of a cut of the first j characters, and
        // how it ends: where its last piece starts and which piece it is.
        let mut best = vec![(f32::NEG_INFINITY, 0usize, None::<u32>); positions + 1];
        best[0].0 = 0.0;
        for start in 0..positions {
            let base = best[start].0;
            for end in start + 1..=positions.min(start + self.longest) {
                let Some(&found) = self.index.get(&marked[bounds[start]..bounds[end]]) else {
                    break;
                };
                if let Some(row) = found {
                    let score = base + self.scores[row as usize];
                    if score > best[end].0 {
                        best[end] = (score, start, Some(row));
                    }
                }
            }
            let skipped = base - UNKNOWN_COST;
            if skipped > best[start + 1].0 {
                best[start + 1] = (skipped, start, None);
            }
        }
        let mut rows = Vec::new();
        let mut at = positions;
        while at > 0 {
            let (_, start, row) = best[at];
            rows.extend(row);
            at = start;
        }
        rows.reverse();
        rows
    }

    /// The direction of a text's meaning: the average of its pieces'
    /// vectors, scaled to length 1. `None` for a text with no piece.
    pub fn text_vector(&self, text: &str) -> Option<Vec<f32>> {
        let rows = self.piece_rows(text);
        if rows.is_empty() {
            return None;
        }
        let mut sum = [0i64; DIMENSIONS];
        for row in rows {
            let at = row as usize * DIMENSIONS;
            for (total, &value) in sum.iter_mut().zip(&self.values[at..at + DIMENSIONS]) {
                *total += i64::from(value as i8);
            }
        }
        let mut vector: Vec<f32> = sum
            .iter()
            .zip(&self.scales)
            .map(|(&total, &scale)| total as f32 * scale)
            .collect();
        let length = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if length == 0.0 {
            return None;
        }
        vector.iter_mut().for_each(|x| *x /= length);
        Some(vector)
    }
}

/// Two logistic regressions over a text's vector: whether it is a crisis,
/// and, for a crisis, whether it is danger from someone else rather than
/// suicide or self-harm.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeaningReader {
    /// Crisis or not.
    pub crisis: Regression,
    /// Among crises: danger or not.
    pub danger: Regression,
}

/// One logistic regression over [`DIMENSIONS`] numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Regression {
    /// The score of the zero vector.
    pub bias: f64,
    /// One weight per dimension; empty for a reader that never says yes.
    pub weights: Vec<f64>,
}

/// How much the regressions are held back from fitting any one example:
/// the penalty on the squared weights, against the whole set's loss.
pub const L2: f64 = 1.0;

impl Regression {
    /// The probability the regression gives a vector: 0 when the vector
    /// does not have one number per weight (a regression without weights
    /// never says yes).
    pub fn probability(&self, vector: &[f32]) -> f64 {
        if self.weights.len() != vector.len() {
            return 0.0;
        }
        sigmoid(self.score(vector))
    }

    fn score(&self, vector: &[f32]) -> f64 {
        self.bias
            + self
                .weights
                .iter()
                .zip(vector)
                .map(|(w, &x)| w * f64::from(x))
                .sum::<f64>()
    }

    /// Trains on `(vector, yes)` examples by Newton's method to the
    /// optimum of the loss (both classes weighing the same in total, plus
    /// [`L2`] on the weights), which is unique: the same examples give the
    /// same weights whatever their order.
    pub fn train(examples: &[(&[f32], bool)]) -> Regression {
        let mut regression = Regression {
            bias: 0.0,
            weights: vec![0.0; DIMENSIONS],
        };
        for _ in 0..30 {
            let (gradient, hessian) = regression.derivatives(examples, true);
            let step = solve(hessian, &gradient);
            regression.bias -= step[0];
            for (w, s) in regression.weights.iter_mut().zip(&step[1..]) {
                *w -= s;
            }
            if largest(&step) < 1e-9 {
                break;
            }
        }
        regression
    }

    /// The largest component of the loss's gradient at these weights: near
    /// zero only at the optimum [`Regression::train`] finds.
    pub fn gradient_size(&self, examples: &[(&[f32], bool)]) -> f64 {
        let (gradient, _) = self.derivatives(examples, false);
        largest(&gradient)
    }

    /// The loss's gradient over (bias, weights) and, when asked, its
    /// Hessian (row-major, (1 + DIMENSIONS)²).
    fn derivatives(&self, examples: &[(&[f32], bool)], hessian: bool) -> (Vec<f64>, Vec<f64>) {
        let size = DIMENSIONS + 1;
        let positives = examples.iter().filter(|e| e.1).count().max(1) as f64;
        let negatives = (examples.len() as f64 - positives).max(1.0);
        let n = examples.len() as f64;
        let (weight_yes, weight_no) = (n / (2.0 * positives), n / (2.0 * negatives));
        let mut gradient = vec![0.0; size];
        let mut second = if hessian {
            vec![0.0; size * size]
        } else {
            Vec::new()
        };
        let mut x = vec![1.0; size];
        for (vector, yes) in examples {
            for (slot, &v) in x[1..].iter_mut().zip(vector.iter()) {
                *slot = f64::from(v);
            }
            let p = sigmoid(self.score(vector));
            let class = if *yes { weight_yes } else { weight_no };
            let error = class * (p - if *yes { 1.0 } else { 0.0 });
            for (g, xi) in gradient.iter_mut().zip(&x) {
                *g += error * xi;
            }
            if hessian {
                let curvature = class * p * (1.0 - p);
                for i in 0..size {
                    let row = curvature * x[i];
                    for j in i..size {
                        second[i * size + j] += row * x[j];
                    }
                }
            }
        }
        for (g, w) in gradient[1..].iter_mut().zip(&self.weights) {
            *g += L2 * w;
        }
        if hessian {
            for i in 0..size {
                if i > 0 {
                    second[i * size + i] += L2;
                }
                for j in 0..i {
                    second[i * size + j] = second[j * size + i];
                }
            }
        }
        (gradient, second)
    }
}

/// The largest magnitude among numbers, infinite when one is not a number,
/// so that a check against it never passes on NaN.
fn largest(numbers: &[f64]) -> f64 {
    numbers
        .iter()
        .map(|n| if n.is_nan() { f64::INFINITY } else { n.abs() })
        .fold(0.0, f64::max)
}

/// Solves `matrix · x = vector` for a symmetric positive definite matrix
/// (row-major), by Cholesky.
fn solve(mut matrix: Vec<f64>, vector: &[f64]) -> Vec<f64> {
    let n = vector.len();
    for j in 0..n {
        let mut diagonal = matrix[j * n + j];
        for k in 0..j {
            diagonal -= matrix[j * n + k] * matrix[j * n + k];
        }
        let diagonal = diagonal.max(1e-12).sqrt();
        matrix[j * n + j] = diagonal;
        for i in j + 1..n {
            let mut value = matrix[i * n + j];
            for k in 0..j {
                value -= matrix[i * n + k] * matrix[j * n + k];
            }
            matrix[i * n + j] = value / diagonal;
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut value = vector[i];
        for k in 0..i {
            value -= matrix[i * n + k] * y[k];
        }
        y[i] = value / matrix[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut value = y[i];
        for k in i + 1..n {
            value -= matrix[k * n + i] * x[k];
        }
        x[i] = value / matrix[i * n + i];
    }
    x
}

impl MeaningReader {
    /// The reader shipped with Troupe.
    pub fn shipped() -> &'static MeaningReader {
        &SHIPPED
    }

    /// Trains both regressions on `(vector, label)` examples, where the
    /// label is `crisis`, `danger` or anything else.
    pub fn train(examples: &[(Vec<f32>, &str)]) -> MeaningReader {
        let (crisis, danger) = questions(examples);
        MeaningReader {
            crisis: Regression::train(&crisis),
            danger: Regression::train(&danger),
        }
    }

    /// The larger of the two regressions' gradient sizes on these
    /// examples: near zero only for the weights [`MeaningReader::train`]
    /// gives them.
    pub fn gradient_size(&self, examples: &[(Vec<f32>, &str)]) -> f64 {
        let (crisis, danger) = questions(examples);
        self.crisis
            .gradient_size(&crisis)
            .max(self.danger.gradient_size(&danger))
    }

    /// The probability that a text with this vector is a crisis message.
    pub fn probability(&self, vector: &[f32]) -> f64 {
        self.crisis.probability(vector)
    }

    /// How sure this reader and the word reader are together that a text
    /// is a crisis, given the word reader's probability for it.
    pub fn together(&self, vector: &[f32], word_probability: f64) -> f64 {
        WEIGHT * self.probability(vector) + (1.0 - WEIGHT) * word_probability
    }

    /// The crisis this reader and the word reader (its probability given)
    /// are sure of together in a text, at a [`threshold`], and of which
    /// kind.
    pub fn crisis_kind(
        &self,
        text: &str,
        word_probability: f64,
        threshold: f64,
    ) -> Option<CrisisKind> {
        let vector = PieceVectors::embedded()?.text_vector(text)?;
        self.crisis_kind_of(&vector, word_probability, threshold)
    }

    /// [`MeaningReader::crisis_kind`] for a vector already computed. The
    /// kind is danger when the danger regression says so, else suicide or
    /// self-harm.
    pub fn crisis_kind_of(
        &self,
        vector: &[f32],
        word_probability: f64,
        threshold: f64,
    ) -> Option<CrisisKind> {
        // Written so that a probability that is not a number says no.
        let sure = self.together(vector, word_probability) >= threshold;
        if self.crisis.weights.is_empty() || !sure {
            return None;
        }
        Some(if self.danger.probability(vector) >= 0.5 {
            CrisisKind::Danger
        } else {
            CrisisKind::SelfHarm
        })
    }

    /// The weights as text: for each regression, a `name bias` line and a
    /// `name weights` line, every number written so it reads back exactly.
    pub fn to_tsv(&self) -> String {
        let mut out = String::new();
        for (name, regression) in [("crisis", &self.crisis), ("danger", &self.danger)] {
            out.push_str(&format!(
                "{name}\tbias\t{}\n{name}\tweights",
                regression.bias
            ));
            for w in &regression.weights {
                out.push_str(&format!("\t{w}"));
            }
            out.push('\n');
        }
        out
    }

    /// Reads weights written by [`MeaningReader::to_tsv`].
    pub fn from_tsv(text: &str) -> Result<MeaningReader, String> {
        let mut reader = MeaningReader::default();
        for (number, line) in text.lines().enumerate() {
            let mut fields = line.split('\t');
            let regression = match fields.next() {
                Some("crisis") => &mut reader.crisis,
                Some("danger") => &mut reader.danger,
                Some("") | None => continue,
                Some(other) => {
                    return Err(format!("line {}: unknown reader {other:?}", number + 1));
                }
            };
            let numbers = |fields: std::str::Split<'_, char>| -> Result<Vec<f64>, String> {
                fields
                    .map(|f| match f.parse::<f64>() {
                        Ok(n) if n.is_finite() => Ok(n),
                        Ok(_) => Err(format!("line {}: {f} is not a finite number", number + 1)),
                        Err(e) => Err(format!("line {}: {e}", number + 1)),
                    })
                    .collect()
            };
            match fields.next() {
                Some("bias") => {
                    regression.bias = *numbers(fields)?
                        .first()
                        .ok_or_else(|| format!("line {}: no bias", number + 1))?
                }
                Some("weights") => regression.weights = numbers(fields)?,
                _ => return Err(format!("line {}: expected bias or weights", number + 1)),
            }
            if !regression.weights.is_empty() && regression.weights.len() != DIMENSIONS {
                return Err(format!(
                    "line {}: {} weights, not {DIMENSIONS}",
                    number + 1,
                    regression.weights.len()
                ));
            }
        }
        Ok(reader)
    }
}

/// The two questions the regressions answer, as yes-or-no examples:
/// crisis or not, over every example; danger or not, over the crises.
type Questions<'a> = (Vec<(&'a [f32], bool)>, Vec<(&'a [f32], bool)>);

/// Turns labelled vectors into [`Questions`].
fn questions<'a>(examples: &'a [(Vec<f32>, &str)]) -> Questions<'a> {
    let is_crisis = |label: &str| label == "crisis" || label == "danger";
    let crisis = examples
        .iter()
        .map(|(v, label)| (v.as_slice(), is_crisis(label)))
        .collect();
    let danger = examples
        .iter()
        .filter(|(_, label)| is_crisis(label))
        .map(|(v, label)| (v.as_slice(), *label == "danger"))
        .collect();
    (crisis, danger)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces() -> &'static PieceVectors {
        PieceVectors::embedded().expect("the embedded pieces parse")
    }

    fn cut(text: &str) -> Vec<String> {
        let by_row: std::collections::HashMap<u32, &str> = pieces()
            .index
            .iter()
            .filter_map(|(piece, &row)| Some((row?, &**piece)))
            .collect();
        pieces()
            .piece_rows(text)
            .iter()
            .map(|row| by_row[row].to_string())
            .collect()
    }

    #[test]
    fn a_text_is_cut_into_likely_pieces_marked_at_word_starts() {
        let found = cut("the windows");
        assert_eq!(found.concat(), "\u{2581}the\u{2581}windows", "{found:?}");
        assert!(found.len() <= 3, "{found:?}");
        let french = cut("je ne me réveillerai pas");
        assert_eq!(
            french.concat().replace(WORD_START, " "),
            " je ne me réveillerai pas"
        );
    }

    #[test]
    fn invisible_and_look_alike_characters_are_read_as_the_letters_they_hide() {
        assert_eq!(cut("k\u{200B}ill"), cut("kill"));
        assert_eq!(cut("ｈｅｌｌｏ"), cut("hello"));
        assert_eq!(cut("sоrry"), cut("sorry"), "a Cyrillic o");
    }

    #[test]
    fn long_and_odd_texts_are_cut_without_trouble_and_read_in_part() {
        let long_word = "a".repeat(100_000);
        assert!(!pieces().piece_rows(&long_word).is_empty());
        let dots = ".".repeat(100_000);
        assert!(pieces().text_vector(&dots).is_some());
        let read = pieces().piece_rows(&"word ".repeat(50_000));
        assert!(read.len() <= READ_AT_MOST, "{} pieces", read.len());
        assert!(pieces().text_vector(&"word ".repeat(50_000)).is_some());
    }

    #[test]
    fn numbers_that_are_not_numbers_are_refused_and_never_say_crisis() {
        assert!(MeaningReader::from_tsv("crisis\tbias\tNaN\n").is_err());
        assert!(MeaningReader::from_tsv("crisis\tbias\tinf\n").is_err());
        let broken = MeaningReader {
            crisis: Regression {
                bias: f64::NAN,
                weights: vec![0.0; DIMENSIONS],
            },
            danger: Regression::default(),
        };
        let vector = pieces().text_vector("goodbye").unwrap();
        assert_eq!(broken.crisis_kind_of(&vector, 1.0, THRESHOLD), None);
        let examples = [(vector.as_slice(), true)];
        assert!(broken.crisis.gradient_size(&examples).is_infinite());
    }

    #[test]
    fn characters_no_piece_covers_are_left_out() {
        assert_eq!(cut("ok \u{4e00}").concat(), "\u{2581}ok\u{2581}");
        assert!(pieces().text_vector("").is_none());
        assert!(pieces().text_vector("   \n").is_none());
    }

    #[test]
    fn texts_that_mean_alike_point_alike_across_languages() {
        let vector = |t: &str| pieces().text_vector(t).expect("a vector");
        let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let goodbye = vector("I want to say goodbye to everyone");
        let adieu = vector("je veux dire adieu à tout le monde");
        let recipe = vector("what flour for a sourdough bread");
        assert!(cosine(&goodbye, &adieu) > cosine(&goodbye, &recipe));
        let length: f32 = goodbye.iter().map(|x| x * x).sum();
        assert!((length - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_regression_learns_a_direction_and_its_optimum_has_no_gradient() {
        let mut examples: Vec<(Vec<f32>, bool)> = Vec::new();
        for i in 0..40 {
            let mut v = vec![0.0f32; DIMENSIONS];
            v[i % 7] = 1.0;
            v[100] = if i % 2 == 0 { 1.0 } else { -1.0 };
            examples.push((v, i % 2 == 0));
        }
        let borrowed: Vec<(&[f32], bool)> =
            examples.iter().map(|(v, y)| (v.as_slice(), *y)).collect();
        let regression = Regression::train(&borrowed);
        assert!(regression.probability(&examples[0].0) > 0.5);
        assert!(regression.probability(&examples[1].0) < 0.5);
        assert!(regression.gradient_size(&borrowed) < 1e-6);
        let off = Regression {
            bias: regression.bias + 0.5,
            ..regression.clone()
        };
        assert!(off.gradient_size(&borrowed) > 1e-3);
    }

    #[test]
    fn weights_survive_their_text_form_and_bad_files_are_errors() {
        let reader = MeaningReader {
            crisis: Regression {
                bias: -1.5,
                weights: (0..DIMENSIONS).map(|i| i as f64 / 1000.0).collect(),
            },
            danger: Regression::default(),
        };
        let back = MeaningReader::from_tsv(&reader.to_tsv()).unwrap();
        assert_eq!(reader, back);
        assert!(MeaningReader::from_tsv("crisis\tbias\tzero\n").is_err());
        assert!(MeaningReader::from_tsv("crisis\tweights\t1\t2\n").is_err());
        assert!(MeaningReader::from_tsv("other\tbias\t1\n").is_err());
    }

    #[test]
    fn a_reader_without_weights_never_says_crisis() {
        let vector = pieces().text_vector("goodbye").unwrap();
        assert_eq!(
            MeaningReader::default().crisis_kind_of(&vector, 1.0, THRESHOLD),
            None
        );
    }
}
