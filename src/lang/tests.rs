use std::fs;
use std::path::Path;

use super::*;

/// A deployment directory holding `files` (path below it, text).
fn deployment(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("below the dir")).expect("a subdirectory");
        fs::write(path, text).expect("a file");
    }
    dir
}

/// The error loading `files` as a deployment gives, as shown to the user.
fn load_error(files: &[(&str, &str)]) -> (String, tempfile::TempDir) {
    let dir = deployment(files);
    let error = LangData::load(Some(dir.path())).expect_err("the files are broken");
    (error.to_string(), dir)
}

#[test]
fn every_embedded_file_parses_and_every_list_the_detector_names_is_there() {
    for (name, _) in crate::builtin::LANG {
        let only = crate::builtin::LANG
            .iter()
            .filter(|(n, _)| n == name)
            .copied()
            .collect::<Vec<_>>();
        let only: &'static [(&str, &str)] = Vec::leak(only);
        assert!(load::merge(only, None).is_ok(), "lang/{name} parses");
    }
    let data = LangData::builtin().expect("the built-in data parses");
    for list in [
        "crisis",
        "medical",
        "wish",
        "cease",
        "assailant",
        "how",
        "long_ago",
    ] {
        assert!(!data.list(list).is_empty(), "list {list}");
    }
    assert!(
        data.shorthand()
            .iter()
            .any(|(s, l)| *s == "idk" && *l == "i don t know")
    );
    for language in ["en", "fr"] {
        for key in [
            "disclaimer.general",
            "disclaimer.medical",
            "disclaimer.psychological",
            "disclaimer.legal",
            "crisis.self_harm",
            "crisis.danger",
        ] {
            assert!(
                data.texts
                    .get(language)
                    .is_some_and(|t| t.contains_key(key)),
                "{language} {key}"
            );
        }
    }
}

#[test]
fn texts_fall_back_to_the_primary_language_then_to_english() {
    let data = LangData::builtin().expect("the built-in data parses");
    let french = data.text("fr", "crisis.self_harm");
    assert!(french.contains("3114"), "{french}");
    assert_eq!(data.text("fr-CA", "crisis.self_harm"), french);
    assert_eq!(
        data.text("de", "crisis.self_harm"),
        data.text("en", "crisis.self_harm")
    );
}

#[test]
fn a_deployment_file_extends_a_list_and_the_shorthand() {
    let dir = deployment(&[(
        "words/ours.toml",
        "crisis = [\"walk into the quarry\"]\n[shorthand]\nwitq = \"walk into the quarry\"\n",
    )]);
    let data = LangData::load(Some(dir.path())).expect("the files are right");
    let builtin = LangData::builtin().expect("the built-in data parses");
    assert_eq!(data.list("crisis").len(), builtin.list("crisis").len() + 1);
    assert!(data.list("crisis").contains(&"walk into the quarry"));
    assert!(data.list("crisis").contains(&"kill myself"));
    assert!(data.shorthand().contains(&("witq", "walk into the quarry")));
}

#[test]
fn a_deployment_file_of_the_same_name_replaces_the_built_in_one() {
    let builtin = include_str!("../../lang/en/safety.toml");
    let ours = builtin.replace("call your local emergency number", "call 000");
    let dir = deployment(&[("en/safety.toml", &ours), ("de/safety.toml", GERMAN)]);
    let data = LangData::load(Some(dir.path())).expect("the files are right");
    assert!(data.text("en-AU", "crisis.self_harm").contains("call 000"));
    assert_eq!(data.text("de", "disclaimer.legal"), "Keine Rechtsberatung.");
    assert!(data.text("de", "crisis.danger").contains("911"), "English");
}

const GERMAN: &str = "[disclaimer]\nlegal = \"Keine Rechtsberatung.\"\n";

#[test]
fn a_cue_that_can_never_match_is_reported_at_its_line() {
    let (error, dir) = load_error(&[(
        "words/ours.toml",
        "# ours\ncrisis = [\n    \"Je veux mourir\",\n]\n",
    )]);
    let file = dir.path().join("words/ours.toml");
    assert!(
        error.starts_with(&format!("{}:3: ", file.display())),
        "{error}"
    );
    assert!(error.contains("write \"je veux mourir\""), "{error}");
}

#[test]
fn a_syntax_error_is_reported_at_its_line() {
    let (error, dir) = load_error(&[("fr/safety.toml", "[crisis]\n\ndanger = \"Appelez le 17.\n")]);
    let file = dir.path().join("fr/safety.toml");
    assert!(
        error.starts_with(&format!("{}:3: ", file.display())),
        "{error}"
    );
}

#[test]
fn a_list_or_text_troupe_does_not_read_is_a_typo() {
    let (error, _dir) = load_error(&[("words/ours.toml", "\ncrisiss = [\"x\"]\n")]);
    assert!(error.contains(":2: "), "{error}");
    assert!(error.contains("did you mean \"crisis\"?"), "{error}");
    let (error, _dir) = load_error(&[("fr/ours.toml", "[crisis]\nself_harms = \"x\"\n")]);
    assert!(
        error.contains("did you mean \"crisis.self_harm\"?"),
        "{error}"
    );
}

#[test]
fn a_text_with_a_placeholder_troupe_does_not_fill_is_refused() {
    let (error, _dir) = load_error(&[(
        "fr/ours.toml",
        "[interface]\nwhile_away = \"{nom} a écrit\"\n",
    )]);
    assert!(error.contains(":2: "), "{error}");
    assert!(error.contains("{nom}"), "{error}");
}

#[test]
fn an_english_file_that_leaves_out_a_text_is_refused() {
    let (error, _dir) = load_error(&[("en/safety.toml", "[crisis]\ndanger = \"Call 911.\"\n")]);
    assert!(error.contains("\"crisis.self_harm\""), "{error}");
}

#[test]
fn a_missing_directory_says_which() {
    let error = LangData::load(Some(Path::new("/nonexistent/lang"))).expect_err("no such dir");
    assert!(error.to_string().contains("/nonexistent/lang"), "{error}");
}

#[test]
fn a_language_word_list_is_extended_and_read_with_every_language() {
    let dir = deployment(&[("it/words.toml", "[followups]\nstop = [\"basta\"]\n")]);
    let data = LangData::load(Some(dir.path())).expect("the files are right");
    let stop = data.list("followups.stop");
    for word in ["basta", "stop", "arrête"] {
        assert!(stop.contains(&word), "{word} in {stop:?}");
    }
    let (error, _dir) = load_error(&[("it/words.toml", "[followups]\nstop = [\"Basta\"]\n")]);
    assert!(
        error.contains(":2: ") && error.contains("write \"basta\""),
        "{error}"
    );
}
