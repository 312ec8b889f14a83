//! An OpenAI-compatible moderation endpoint: `POST {base_url}/moderations`
//! with `{"model", "input"}`, answered with `results[0].categories` (true or
//! false per category) and `results[0].category_scores` (0–1).
//!
//! Of its categories, `self-harm`, `self-harm/intent` and
//! `self-harm/instructions` are read as a self-harm signal, and `violence`
//! as a violence signal (which [`super::verdict`] turns into immediate
//! danger only when the user is the one threatened). The reading is
//! tolerant: names in any case, with `_` or `-`, booleans or `"true"`, and a
//! missing category is a category not flagged.

use serde_json::{Value, json};

use super::Signals;

/// The request body for `text`.
pub(crate) fn request_body(model: &str, text: &str) -> Value {
    json!({ "model": model, "input": text })
}

/// The signals in a moderation response, or why it cannot be read. With
/// `threshold`, a category also counts when its score reaches it; a
/// response with no booleans is read by its scores alone (at 0.5 when no
/// threshold is set).
pub(crate) fn read_response(body: &Value, threshold: Option<f64>) -> Result<Signals, String> {
    let result = body
        .get("results")
        .and_then(|r| r.get(0))
        .ok_or("it has no results[0]")?;
    let categories = result.get("categories").and_then(Value::as_object);
    let scores = result.get("category_scores").and_then(Value::as_object);
    if categories.is_none() && scores.is_none() {
        return Err("results[0] has neither categories nor category_scores".to_string());
    }
    let threshold = match categories {
        Some(_) => threshold,
        None => Some(threshold.unwrap_or(0.5)),
    };
    let flagged = |names: &[&str]| {
        names.iter().any(|name| {
            let said = categories.and_then(|c| find(c, name)).is_some_and(is_true);
            let scored = match (threshold, scores.and_then(|s| find(s, name))) {
                (Some(threshold), Some(score)) => score.as_f64().is_some_and(|s| s >= threshold),
                _ => false,
            };
            said || scored
        })
    };
    Ok(Signals {
        self_harm: flagged(&["self-harm", "self-harm/intent", "self-harm/instructions"]),
        violence: flagged(&["violence"]),
    })
}

/// The value of category `name` in `map`, whatever the spelling of its key.
fn find<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    let wanted = squeeze(name);
    map.iter()
        .find(|(key, _)| squeeze(key) == wanted)
        .map(|(_, value)| value)
}

/// A category name without case, spaces or separators: `Self_Harm/Intent`
/// and `self-harm/intent` are one category.
fn squeeze(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => *flag,
        Value::String(text) => text.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(categories: Value, scores: Value) -> Value {
        json!({"id": "modr-1", "model": "omni-moderation-latest", "results": [
            {"flagged": true, "categories": categories, "category_scores": scores}
        ]})
    }

    #[test]
    fn the_request_names_the_model_and_the_input() {
        assert_eq!(
            request_body("omni-moderation-latest", "hello"),
            json!({"model": "omni-moderation-latest", "input": "hello"})
        );
    }

    #[test]
    fn any_self_harm_category_is_a_self_harm_signal() {
        for name in ["self-harm", "self-harm/intent", "self-harm/instructions"] {
            let body = response(json!({ name: true, "violence": false }), json!({}));
            let signals = read_response(&body, None).unwrap();
            assert_eq!(
                signals,
                Signals {
                    self_harm: true,
                    violence: false
                },
                "{name}"
            );
        }
        let body = response(
            json!({"violence": true, "violence/graphic": true}),
            json!({}),
        );
        assert_eq!(
            read_response(&body, None).unwrap(),
            Signals {
                self_harm: false,
                violence: true
            }
        );
    }

    #[test]
    fn other_categories_and_graphic_violence_are_not_signals() {
        let body = response(
            json!({"harassment": true, "sexual": true, "violence/graphic": true, "self-harm": false}),
            json!({"self-harm": 0.2}),
        );
        assert_eq!(read_response(&body, None).unwrap(), Signals::default());
    }

    #[test]
    fn names_are_read_in_any_case_and_spelling_and_missing_ones_are_not_flagged() {
        let body = response(json!({"Self_Harm_Intent": "TRUE "}), json!({}));
        assert!(read_response(&body, None).unwrap().self_harm);
        let body = response(json!({}), json!({}));
        assert_eq!(read_response(&body, None).unwrap(), Signals::default());
    }

    #[test]
    fn scores_count_from_the_threshold_and_alone_when_there_are_no_booleans() {
        let body = response(
            json!({"self-harm": false}),
            json!({"self-harm/intent": 0.41}),
        );
        assert!(!read_response(&body, None).unwrap().self_harm);
        assert!(read_response(&body, Some(0.4)).unwrap().self_harm);
        let scores_only =
            json!({"results": [{"category_scores": {"violence": 0.7, "self-harm": 0.1}}]});
        assert_eq!(
            read_response(&scores_only, None).unwrap(),
            Signals {
                self_harm: false,
                violence: true
            }
        );
    }

    #[test]
    fn a_response_without_results_or_categories_cannot_be_read() {
        assert!(read_response(&json!({"error": "nope"}), None).is_err());
        assert!(read_response(&json!({"results": []}), None).is_err());
        assert!(read_response(&json!({"results": [{"flagged": true}]}), None).is_err());
    }
}
