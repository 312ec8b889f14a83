//! A newcomer's first hour: `troupe init`, then checking, chatting, and
//! `troupe doctor` naming what was broken and how to fix it; shell
//! completions and man pages; progress bars on a terminal only.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::server::{Reply, TestServer};
use crate::support::{Run, Troupe, finish};

/// Runs the binary from `dir`.
fn run_in(troupe: &Troupe, dir: &Path, args: &[&str]) -> Run {
    let output = troupe
        .command(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run troupe");
    finish(output)
}

/// `troupe init proj` in the working directory; the project's path.
fn new_project(troupe: &Troupe) -> PathBuf {
    let run = troupe.run(&["init", "proj"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    troupe.work_dir().join("proj")
}

/// `troupe doctor --json` from `dir`: the exit code and the report.
fn doctor(troupe: &Troupe, dir: &Path) -> (i32, Value) {
    let run = run_in(troupe, dir, &["doctor", "--json"]);
    (run.code, run.json())
}

/// The findings of `check` in a doctor report.
fn findings<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["check"] == check)
        .collect()
}

/// The one finding of `check`, which must be a problem.
fn problem<'a>(report: &'a Value, check: &str) -> &'a Value {
    let found = findings(report, check);
    assert_eq!(found.len(), 1, "{report:#}");
    assert_eq!(found[0]["status"], "problem", "{report:#}");
    found[0]
}

#[test]
fn a_new_project_checks_out_and_chats_with_its_starter_persona_without_a_network() {
    let troupe = Troupe::new();
    let init = troupe.run(&["init", "proj"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    for file in [
        "proj/troupe.toml",
        "proj/personas/starter.toml",
        "proj/prompts/system.tera",
        "proj/prompts/main.tera",
        "proj/prompts/followup.tera",
    ] {
        assert!(
            init.stdout.contains(&format!("created {file}")),
            "{}",
            init.stdout
        );
    }
    for next in [
        "cd proj && troupe personas check",
        "troupe doctor",
        "troupe chat starter",
    ] {
        assert!(init.stdout.contains(next), "{}", init.stdout);
    }
    let project = troupe.work_dir().join("proj");

    let check = run_in(&troupe, &project, &["personas", "check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.contains("ok: 1 personas (starter)"),
        "{}",
        check.stdout
    );

    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["ok"], true);
    for check in [
        "config",
        "personas",
        "prompts",
        "backend",
        "data_dir",
        "store",
        "time_zones",
        "clock",
    ] {
        let found = findings(&report, check);
        assert!(!found.is_empty(), "no {check} check: {report:#}");
        assert!(found.iter().all(|f| f["status"] == "ok"), "{report:#}");
    }
    assert_eq!(findings(&report, "config")[0]["name"], "troupe.toml");
    assert_eq!(findings(&report, "backend")[0]["name"], "offline");

    let chat = run_in(
        &troupe,
        &project,
        &[
            "chat",
            "starter",
            "--message",
            "My pothos has yellow leaves",
            "--json",
        ],
    );
    assert_eq!(chat.code, 0, "{}", chat.stderr);
    let reply = chat.json();
    assert_eq!(reply["persona"], "starter");
    assert!(
        reply["reply"]["text"]
            .as_str()
            .is_some_and(|text| text.contains("too much water")),
        "{reply:#}"
    );
    // The persona came from the project's folder, not the built-in set.
    let list = run_in(&troupe, &project, &["personas", "list", "--json"]);
    assert_eq!(
        list.json().as_array().map(Vec::len),
        Some(1),
        "{}",
        list.stdout
    );
}

#[test]
fn init_never_overwrites_a_file_and_says_which_it_kept() {
    let troupe = Troupe::new();
    let project = troupe.work_dir().join("proj");
    std::fs::create_dir_all(project.join("personas")).unwrap();
    std::fs::write(project.join("troupe.toml"), "# my own\n").unwrap();
    std::fs::write(project.join("personas/starter.toml"), "name = \"Mine\"\n").unwrap();
    let run = troupe.run(&["init", "proj"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("kept    proj/troupe.toml"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("kept    proj/personas/starter.toml"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("created proj/prompts/system.tera"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(project.join("troupe.toml")).unwrap(),
        "# my own\n"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("personas/starter.toml")).unwrap(),
        "name = \"Mine\"\n"
    );
}

#[test]
fn doctor_names_each_broken_thing_and_how_to_fix_it() {
    let troupe = Troupe::new();
    let project = new_project(&troupe);
    let config = project.join("troupe.toml");
    let persona = project.join("personas/starter.toml");
    let good_config = std::fs::read_to_string(&config).unwrap();
    let good_persona = std::fs::read_to_string(&persona).unwrap();

    // A misspelt key in the config.
    std::fs::write(&config, "default_modle = \"main\"\n").unwrap();
    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 1);
    let config_problem = problem(&report, "config");
    assert_eq!(
        config_problem["problems"][0],
        "troupe.toml:1:1: unknown field \"default_modle\" (did you mean \"default_model\"?)"
    );
    assert!(
        config_problem["fix"]
            .as_str()
            .unwrap()
            .contains("edit troupe.toml")
    );
    std::fs::write(&config, &good_config).unwrap();

    // A misspelt key in the persona.
    std::fs::write(&persona, good_persona.replace("\nname = ", "\nnme = ")).unwrap();
    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 1);
    let persona_problem = problem(&report, "personas");
    let lines = persona_problem["problems"].to_string();
    assert!(
        lines.contains("personas/starter.toml:") && lines.contains("did you mean \\\"name\\\""),
        "{lines}"
    );
    assert!(
        persona_problem["fix"]
            .as_str()
            .unwrap()
            .contains("troupe personas check")
    );
    std::fs::write(&persona, &good_persona).unwrap();

    // A backend nothing listens on.
    std::fs::write(
        &config,
        "[models.main]\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n",
    )
    .unwrap();
    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 1);
    let unreachable = problem(&report, "backend");
    assert_eq!(unreachable["name"], "main");
    assert!(
        unreachable["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{unreachable:#}"
    );
    assert_eq!(
        unreachable["fix"],
        "start the model server, or correct base_url in [models.main] of the config file"
    );

    // A backend that wants a key nobody set.
    let server = TestServer::start(vec![Reply::Status(
        401,
        r#"{"error":{"message":"no key"}}"#,
    )]);
    std::fs::write(
        &config,
        format!(
            "[models.main]\nprovider = \"openai\"\nbase_url = \"{}\"\napi_key_env = \"PIP_API_KEY\"\n",
            server.base_url
        ),
    )
    .unwrap();
    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 1);
    let keyless = problem(&report, "backend");
    assert!(
        keyless["fix"]
            .as_str()
            .unwrap()
            .starts_with("set PIP_API_KEY to your API key"),
        "{keyless:#}"
    );
    std::fs::write(&config, &good_config).unwrap();

    // Another command holding the data dir (this test, here), once a chat
    // has made the store.
    let chat = run_in(&troupe, &project, &["chat", "starter", "--message", "hi"]);
    assert_eq!(chat.code, 0, "{}", chat.stderr);
    let lock = std::fs::File::options()
        .write(true)
        .open(troupe.data_dir().join("troupe.lock"))
        .unwrap();
    lock.lock().unwrap();
    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 1);
    let held = problem(&report, "data_dir");
    assert!(
        held["message"]
            .as_str()
            .unwrap()
            .contains("in use by another troupe command"),
        "{held:#}"
    );
    assert!(held["fix"].as_str().unwrap().contains("--data-dir"));
    drop(lock);

    // A clock left fixed in the environment.
    let run = troupe
        .command(&["doctor"])
        .current_dir(&project)
        .env("TROUPE_NOW", "2026-01-01T00:00:00Z")
        .output()
        .map(finish)
        .unwrap();
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("PROBLEM  clock") && run.stdout.contains("fix: unset TROUPE_NOW"),
        "{}",
        run.stdout
    );

    // Everything fixed again.
    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn doctor_names_a_broken_prompt_template_with_its_file_and_line() {
    let troupe = Troupe::new();
    let project = new_project(&troupe);
    let template = project.join("prompts/followup.tera");
    let good = std::fs::read_to_string(&template).unwrap();
    // Renders for a conversation without an excerpt, fails with one: only
    // rendering with sample data finds it.
    let broken = good.replace("{{ line.who }}", "{{ line.speaker }}");
    assert_ne!(broken, good, "the template still names line.who");
    std::fs::write(&template, &broken).unwrap();
    let line = broken
        .lines()
        .position(|l| l.contains("line.speaker"))
        .unwrap()
        + 1;
    let place = format!("prompts/followup.tera:{line}:");

    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 1, "{report:#}");
    let prompts = problem(&report, "prompts");
    let problems = prompts["problems"].to_string();
    assert!(
        problems.contains(&place) && problems.contains("rendering followup.tera for starter"),
        "{prompts:#}"
    );
    assert!(
        prompts["fix"]
            .as_str()
            .unwrap()
            .contains("fix the template at the line shown"),
        "{prompts:#}"
    );

    let text = run_in(&troupe, &project, &["doctor"]);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.contains("PROBLEM  prompts") && text.stdout.contains(&place),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("fix: fix the template"),
        "{}",
        text.stdout
    );

    // The system prompt too, for each persona.
    std::fs::write(&template, &good).unwrap();
    let system = project.join("prompts/system.tera");
    let good_system = std::fs::read_to_string(&system).unwrap();
    std::fs::write(
        &system,
        format!("{good_system}\n{{{{ persona.hometown }}}}\n"),
    )
    .unwrap();
    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 1, "{report:#}");
    let problems = problem(&report, "prompts")["problems"].to_string();
    assert!(
        problems.contains("prompts/system.tera:")
            && problems.contains("rendering system.tera for starter"),
        "{problems}"
    );
}

#[test]
fn doctor_says_a_data_dir_held_by_a_running_server_is_fine() {
    let troupe = Troupe::new();
    let project = new_project(&troupe);
    let server = troupe.serve(&[]);
    let (code, report) = doctor(&troupe, &project);
    assert_eq!(code, 0, "{report:#}");
    let data = &findings(&report, "data_dir")[0];
    assert_eq!(data["status"], "ok");
    let message = data["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "held by the running troupe server at {}",
            server.url
        )),
        "{message}"
    );
}

#[test]
fn completions_are_printed_for_every_shell() {
    let troupe = Troupe::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = troupe.run(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(
            run.stdout.contains("doctor") && run.stdout.contains("personas"),
            "{shell}: {}",
            run.stdout
        );
    }
    let bash = troupe.run(&["completions", "bash"]);
    assert!(bash.stdout.contains("complete -F"), "{}", bash.stdout);
    let unknown = troupe.run(&["completions", "tcsh"]);
    assert_eq!(unknown.code, 2);
}

#[test]
fn man_pages_are_printed_or_written_one_per_command() {
    let troupe = Troupe::new();
    let page = troupe.run(&["man"]);
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(
        page.stdout.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        page.stdout
    );
    assert!(page.stdout.contains(".TH troupe 1"), "{}", page.stdout);
    let dir = troupe.root.path().join("man");
    let run = troupe.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for name in ["troupe.1", "troupe-init.1", "troupe-followups-run.1"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(text.contains("Example: troupe"), "{name}: {text}");
    }
}

#[test]
fn every_help_shows_an_example() {
    let troupe = Troupe::new();
    for args in [
        &["doctor", "--help"][..],
        &["personas", "check", "--help"],
        &["--help"],
    ] {
        let run = troupe.run(args);
        assert_eq!(run.code, 0);
        assert!(run.stdout.contains("\nExample: troupe"), "{}", run.stdout);
    }
}

/// Runs `args` on a terminal (a pseudo-terminal made by `script`), with
/// `env` set; returns everything the terminal showed.
fn on_a_terminal(troupe: &Troupe, args: &[&str], env: &[(&str, &str)]) -> Run {
    let inner = troupe.command(args);
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(&inner.get_program().to_string_lossy());
    for arg in inner.get_args() {
        line.push(' ');
        line.push_str(&quote(&arg.to_string_lossy()));
    }
    let mut script = Command::new("script");
    script.args(["-qec", &line, "/dev/null"]);
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    if let Some(dir) = inner.get_current_dir() {
        script.current_dir(dir);
    }
    script.env("TERM", "xterm").env_remove("NO_COLOR");
    for (key, value) in env {
        script.env(key, value);
    }
    finish(
        script
            .stdin(Stdio::null())
            .output()
            .expect("run script (util-linux)"),
    )
}

const POPULATE: [&str; 5] = [
    "dev",
    "populate",
    "--conversations",
    "20000",
    "--no-messages",
];

#[test]
fn long_commands_draw_a_progress_bar_on_a_terminal_only() {
    let troupe = Troupe::new();
    let piped = troupe.run(&POPULATE);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(
        piped.stderr, "",
        "nothing on stderr when it is not a terminal"
    );
    assert!(piped.stdout.starts_with("created 20000 conversations"));

    let shown = on_a_terminal(&troupe, &POPULATE, &[]);
    assert_eq!(shown.code, 0, "{}", shown.stdout);
    assert!(
        shown.stdout.contains("creating conversations [") && shown.stdout.contains("/20000"),
        "{:?}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("\u{1b}[36m"),
        "colour on a terminal: {:?}",
        shown.stdout
    );

    let plain = on_a_terminal(&troupe, &POPULATE, &[("NO_COLOR", "1")]);
    assert!(
        plain.stdout.contains("creating conversations ["),
        "{:?}",
        plain.stdout
    );
    assert!(
        !plain.stdout.contains("\u{1b}[36m"),
        "NO_COLOR: {:?}",
        plain.stdout
    );

    let mut quiet_args = POPULATE.to_vec();
    quiet_args.push("--quiet");
    let quiet = on_a_terminal(&troupe, &quiet_args, &[]);
    assert_eq!(quiet.code, 0, "{}", quiet.stdout);
    assert!(
        !quiet.stdout.contains("creating conversations"),
        "{:?}",
        quiet.stdout
    );
    assert!(quiet.stdout.contains("created 20000 conversations"));
}

#[test]
fn a_purge_and_an_erasure_show_their_progress_on_a_terminal() {
    let troupe = Troupe::new();
    troupe.write_config("[safety]\nretention_days = 1\n");
    let populate = troupe.run(&["dev", "populate", "--conversations", "300"]);
    assert_eq!(populate.code, 0, "{}", populate.stderr);
    let purge = on_a_terminal(&troupe, &["maintenance", "purge"], &[]);
    assert_eq!(purge.code, 0, "{}", purge.stdout);
    // The bar redraws at most 20 times a second, so a short second stage
    // may never be drawn: the first one and the summary always are.
    assert!(
        purge.stdout.contains("purging old messages") && purge.stdout.contains("purged "),
        "{:?}",
        purge.stdout
    );
    let erase = on_a_terminal(&troupe, &["erase", "--user", "user0000001", "--yes"], &[]);
    assert_eq!(erase.code, 0, "{}", erase.stdout);
    assert!(
        erase.stdout.contains("rewriting the store"),
        "{:?}",
        erase.stdout
    );
    let piped = troupe.run(&["erase", "--user", "user0000002", "--yes"]);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stderr, "");
}

#[test]
fn a_follow_up_run_shows_its_progress_on_a_terminal_unless_quiet() {
    let troupe = Troupe::new();
    troupe.five_messages("ana", &[]);
    troupe.five_messages("bob", &[]);
    let at = ["--now", "2026-11-04T12:00:00Z"];
    let dry = [&at[..], &["followups", "run", "--dry-run"]].concat();
    let shown = on_a_terminal(&troupe, &dry, &[]);
    assert_eq!(shown.code, 0, "{}", shown.stdout);
    assert!(
        shown.stdout.contains("writing follow-ups [") && shown.stdout.contains("/2"),
        "{:?}",
        shown.stdout
    );
    let quiet = [&dry[..], &["--quiet"]].concat();
    let hidden = on_a_terminal(&troupe, &quiet, &[]);
    assert!(
        hidden.stdout.contains("would send 2 follow-up(s)"),
        "{:?}",
        hidden.stdout
    );
    assert!(
        !hidden.stdout.contains("writing follow-ups"),
        "{:?}",
        hidden.stdout
    );
}

#[test]
fn a_card_import_shows_its_progress_on_a_terminal_only() {
    let troupe = Troupe::new();
    let cards = troupe.work_dir().join("cards");
    std::fs::create_dir_all(&cards).unwrap();
    let mut files = Vec::new();
    for id in ["chef", "decor"] {
        let file = cards.join(format!("{id}.json"));
        let path = file.display().to_string();
        let export = troupe.run(&["personas", "export", id, "-o", &path]);
        assert_eq!(export.code, 0, "{}", export.stderr);
        files.push(path);
    }
    let import = |into: &str, terminal: bool| {
        let mut args = vec!["personas", "import", "--into", into];
        args.extend(files.iter().map(String::as_str));
        if terminal {
            on_a_terminal(&troupe, &args, &[])
        } else {
            troupe.run(&args)
        }
    };
    let shown = import("shown", true);
    assert_eq!(shown.code, 0, "{}", shown.stdout);
    assert!(
        shown.stdout.contains("importing cards [") && shown.stdout.contains("/2"),
        "{:?}",
        shown.stdout
    );
    let piped = import("piped", false);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(
        piped.stderr, "",
        "nothing on stderr when it is not a terminal"
    );
    assert!(piped.stdout.contains("imported "), "{}", piped.stdout);
}

#[test]
fn personas_check_prints_its_findings_as_json_in_doctor_s_field_names() {
    let troupe = Troupe::new();
    let project = new_project(&troupe);
    let good = run_in(&troupe, &project, &["personas", "check", "--json"]);
    assert_eq!(good.code, 0, "{}", good.stderr);
    let report = good.json();
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["personas"], serde_json::json!(["starter"]));
    assert_eq!(report["problems"], serde_json::json!([]));

    let persona = project.join("personas/starter.toml");
    let text = std::fs::read_to_string(&persona).unwrap();
    std::fs::write(&persona, text.replace("\nname = ", "\nnme = ")).unwrap();
    let broken = run_in(&troupe, &project, &["personas", "check", "--json"]);
    assert_eq!(broken.code, 1, "{}", broken.stderr);
    assert_eq!(broken.stderr, "", "the problems are in the JSON");
    let report = broken.json();
    assert_eq!(report["ok"], false, "{report:#}");
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("personas/starter.toml:") && problems.contains("did you mean"),
        "{report:#}"
    );
}
