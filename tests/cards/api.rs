//! Cards through the server: `POST /v1/personas/import` and `GET
//! /v1/personas/{persona}/export` on the real `troupe serve`, checked
//! against what `troupe personas import|export` does with the same files.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{base64_of, export, full_v2, import, png_with_text_after_image, write_json};
use crate::support::serve::Served;
use crate::support::{Troupe, fixture};

const IMPORT: &str = "/v1/personas/import";

/// A server on a personas directory holding the baker fixture.
fn serve_personas(troupe: &Troupe) -> (Served, PathBuf) {
    let dir = troupe.root.path().join("personas");
    std::fs::create_dir_all(&dir).expect("personas dir");
    std::fs::copy(fixture("good/baker.toml"), dir.join("baker.toml")).expect("copy baker");
    let server = troupe.serve(&["--personas", dir.to_str().expect("utf-8 path")]);
    (server, dir)
}

fn card_bytes(card: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(card).expect("json")
}

fn listed_ids(server: &Served) -> Vec<String> {
    let listed = server.get("/v1/personas");
    assert_eq!(listed.status, 200, "{}", listed.text);
    listed
        .json
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_json_card_dry_run_writes_nothing_then_the_import_is_served_without_a_restart() {
    let troupe = Troupe::new();
    let (server, dir) = serve_personas(&troupe);
    let path = format!("{IMPORT}?dry_run=true&filename=gwen.json");
    let dry = server.post_bytes(&path, card_bytes(&full_v2()));
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!(dry.json["id"], "gwen");
    assert_eq!(dry.json["format"], "Character Card V2");
    assert_eq!(
        (dry.json["dry_run"].clone(), dry.json["written"].clone()),
        (json!(true), json!(false))
    );
    let mapped: Vec<&str> = dry.json["mapped"]
        .as_array()
        .expect("mapped")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(mapped.contains(&"personality → voice"), "{mapped:?}");
    assert!(
        dry.json["kept"]
            .as_array()
            .expect("kept")
            .contains(&json!("system_prompt"))
    );
    assert_eq!(dry.json["language_defaulted"], true);
    assert!(!dir.join("gwen.toml").exists(), "a dry run writes nothing");
    assert!(!listed_ids(&server).contains(&"gwen".to_string()));

    let written = server.post_bytes(
        &format!("{IMPORT}?filename=gwen.json"),
        card_bytes(&full_v2()),
    );
    assert_eq!(written.status, 201, "{}", written.text);
    assert_eq!(
        (
            written.json["written"].clone(),
            written.json["live"].clone()
        ),
        (json!(true), json!(true))
    );
    let file = std::fs::read_to_string(dir.join("gwen.toml")).expect("gwen.toml written");
    assert_eq!(
        file,
        dry.json["toml"].as_str().expect("toml"),
        "the dry run showed what was written"
    );
    assert!(
        listed_ids(&server).contains(&"gwen".to_string()),
        "served without a restart"
    );
    let shown = server.get("/v1/personas/gwen");
    assert_eq!(shown.json["voice"], "brave, blunt, loyal");

    // The file is the one `troupe personas import` writes for the same card.
    let card = write_json(&troupe, "gwen.json", &full_v2());
    let cli_dir = troupe.root.path().join("cli");
    assert_eq!(import(&troupe, &cli_dir, &[&card], &[]).code, 0);
    let cli_file = std::fs::read_to_string(cli_dir.join("gwen.toml")).expect("cli file");
    assert_eq!(file, cli_file);
}

#[test]
fn a_png_card_and_a_persona_file_import_through_the_server() {
    let troupe = Troupe::new();
    let (server, dir) = serve_personas(&troupe);
    let png = png_with_text_after_image(&[("chara", &base64_of(&full_v2()))]);
    let answer = server.post_bytes(IMPORT, png);
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(
        (answer.json["id"].as_str(), answer.json["format"].as_str()),
        (Some("gwen"), Some("Character Card V2"))
    );
    assert!(dir.join("gwen.toml").is_file());

    let baker = std::fs::read_to_string(fixture("good/baker.toml")).expect("baker");
    let answer = server.post_bytes(
        &format!("{IMPORT}?filename=pastry.toml"),
        baker.clone().into_bytes(),
    );
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.json["id"], "pastry");
    assert_eq!(answer.json["format"], "Troupe persona file (TOML)");
    assert_eq!(
        std::fs::read_to_string(dir.join("pastry.toml")).expect("pastry.toml"),
        baker
    );
    let ids = listed_ids(&server);
    assert!(
        ids.contains(&"gwen".to_string()) && ids.contains(&"pastry".to_string()),
        "{ids:?}"
    );
}

#[test]
fn an_existing_persona_is_a_conflict_until_replace_is_asked() {
    let troupe = Troupe::new();
    let (server, dir) = serve_personas(&troupe);
    assert_eq!(
        server.post_bytes(IMPORT, card_bytes(&full_v2())).status,
        201
    );
    let mut changed = full_v2();
    changed["data"]["description"] = json!("A knight who has retired to keep bees.");
    let again = server.post_bytes(IMPORT, card_bytes(&changed));
    assert_eq!(
        (again.status, again.error_code()),
        (409, "conflict"),
        "{}",
        again.text
    );
    assert!(
        again.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("replace=true")
    );
    let dry = server.post_bytes(&format!("{IMPORT}?dry_run=true"), card_bytes(&changed));
    assert_eq!((dry.status, dry.json["exists"].clone()), (200, json!(true)));
    let unchanged = std::fs::read_to_string(dir.join("gwen.toml")).expect("gwen.toml");
    assert!(!unchanged.contains("keep bees"));

    let replaced = server.post_bytes(&format!("{IMPORT}?replace=true"), card_bytes(&changed));
    assert_eq!(replaced.status, 201, "{}", replaced.text);
    assert!(
        std::fs::read_to_string(dir.join("gwen.toml"))
            .expect("gwen.toml")
            .contains("keep bees")
    );
    assert_eq!(
        server.get("/v1/personas/gwen").json["description"],
        "A knight who has retired to keep bees."
    );
}

#[test]
fn what_is_not_a_card_is_a_400_and_a_body_over_the_limit_a_413() {
    let troupe = Troupe::new();
    troupe.write_config("[server]\nmax_body_bytes = 4096\n");
    let (server, dir) = serve_personas(&troupe);
    let garbage = server.post_bytes(
        &format!("{IMPORT}?filename=notes.txt"),
        b"hello, this is not a card".to_vec(),
    );
    assert_eq!(
        (garbage.status, garbage.error_code()),
        (400, "bad_request"),
        "{}",
        garbage.text
    );
    let message = garbage.json["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.starts_with("notes.txt: this is neither a character card"),
        "{message}"
    );
    let broken = server.post_bytes(IMPORT, br#"{"spec": "chara_card_v2", "data": "#.to_vec());
    assert_eq!(broken.status, 400, "{}", broken.text);
    assert!(broken.text.contains("not valid JSON"), "{}", broken.text);
    let language = server.post_bytes(&format!("{IMPORT}?language=%21%21"), card_bytes(&full_v2()));
    assert_eq!(language.status, 400, "{}", language.text);
    assert!(
        language.json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("language=!!: ")
    );
    let big = server.post_bytes(IMPORT, vec![b' '; 8192]);
    assert_eq!(
        (big.status, big.error_code()),
        (413, "too_large"),
        "{}",
        big.text
    );
    let files: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
    assert_eq!(files.len(), 1, "only the baker is there");
}

#[test]
fn end_user_tokens_may_neither_import_nor_export() {
    let mut troupe = Troupe::new();
    troupe.env("TROUPE_OPERATOR_TOKEN", "operator-secret-token");
    let (server, dir) = serve_personas(&troupe);
    let operator = server.as_token("operator-secret-token");
    let minted = operator.post("/v1/users/alice/tokens", json!({}));
    let alice = server.as_token(minted.json["token"].as_str().expect("a token"));
    let refused = alice.post_bytes(IMPORT, card_bytes(&full_v2()));
    assert_eq!(
        (refused.status, refused.error_code()),
        (403, "forbidden"),
        "{}",
        refused.text
    );
    assert!(!dir.join("gwen.toml").exists());
    let export = alice.get("/v1/personas/baker/export?format=card-v2");
    assert_eq!((export.status, export.error_code()), (403, "forbidden"));
    assert_eq!(
        operator.post_bytes(IMPORT, card_bytes(&full_v2())).status,
        201
    );
    assert_eq!(operator.get("/v1/personas/baker/export").status, 200);
}

#[test]
fn exported_cards_are_the_cli_export_and_a_png_imports_back_the_same() {
    let troupe = Troupe::new();
    let (server, dir) = serve_personas(&troupe);
    assert_eq!(
        server.post_bytes(IMPORT, card_bytes(&full_v2())).status,
        201
    );
    for format in ["card-v2", "card-v3"] {
        let answer = server.get(&format!("/v1/personas/gwen/export?format={format}"));
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(
            answer.disposition.as_deref(),
            Some(format!("attachment; filename=\"gwen.{format}.json\"").as_str())
        );
        let cli = export(&troupe, &dir, "gwen", &["--format", format]);
        assert_eq!(cli.code, 0, "{}", cli.stderr);
        assert_eq!(
            answer.bytes,
            cli.stdout.as_bytes(),
            "{format}: the CLI's bytes"
        );
    }

    let png = server.get("/v1/personas/gwen/export?format=png");
    assert_eq!((png.status, png.content_type.as_str()), (200, "image/png"));
    assert_eq!(
        png.disposition.as_deref(),
        Some("attachment; filename=\"gwen.png\"")
    );
    let again = server.post_bytes(&format!("{IMPORT}?replace=true"), png.bytes);
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(
        (again.json["id"].as_str(), again.json["format"].as_str()),
        (Some("gwen"), Some("Character Card V3"))
    );
    let back = server.get("/v1/personas/gwen/export?format=card-v2");
    let mut expected = full_v2()["data"].clone();
    // V3 requires group_only_greetings, so the ccv3 chunk has it.
    expected["group_only_greetings"] = json!([]);
    assert_eq!(back.json["data"], expected);

    let unknown = server.get("/v1/personas/gwen/export?format=yaml");
    assert_eq!((unknown.status, unknown.error_code()), (400, "bad_request"));
    let missing = server.get("/v1/personas/nobody/export");
    assert_eq!((missing.status, missing.error_code()), (404, "not_found"));
}

#[test]
fn both_routes_are_in_the_openapi_document() {
    let troupe = Troupe::new();
    let (server, _) = serve_personas(&troupe);
    let document = server.get("/openapi.json").json;
    let import = &document["paths"]["/v1/personas/import"]["post"];
    let body = &import["requestBody"]["content"]["application/octet-stream"]["schema"];
    assert_eq!(body["$ref"], "#/components/schemas/FileBytes");
    assert_eq!(
        document["components"]["schemas"]["FileBytes"]["format"],
        "binary"
    );
    let params: Vec<(&str, &str)> = import["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default(),
                p["in"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        params,
        [
            ("filename", "query"),
            ("dry_run", "query"),
            ("replace", "query"),
            ("language", "query")
        ]
    );
    let export = &document["paths"]["/v1/personas/{persona}/export"]["get"];
    assert!(export["responses"]["200"]["content"]["image/png"].is_object());
    assert!(export["responses"]["404"].is_object());
}

#[test]
fn a_server_on_the_built_in_personas_reports_but_does_not_import() {
    let troupe = Troupe::new();
    let server = troupe.serve(&[]);
    let dry = server.post_bytes(&format!("{IMPORT}?dry_run=true"), card_bytes(&full_v2()));
    assert_eq!(
        (dry.status, dry.json["id"].as_str()),
        (200, Some("gwen")),
        "{}",
        dry.text
    );
    let refused = server.post_bytes(IMPORT, card_bytes(&full_v2()));
    assert_eq!(
        (refused.status, refused.error_code()),
        (409, "no_personas_dir"),
        "{}",
        refused.text
    );
    assert!(refused.text.contains("--personas DIR"));
}
