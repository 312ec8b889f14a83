//! Shared test support: the test model server, a webhook receiver, and a
//! runner for the real `troupe` binary with its own data dir and a clean
//! environment.

pub mod browser;
pub mod postgres;
pub mod receiver;
pub mod serve;
pub mod server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The fake key tests give the binary; it must never be printed.
pub const TEST_KEY: &str = "sk-test-secret-0123456789";

/// The binary, a temp data dir and a temp working directory.
pub struct Troupe {
    /// Holds the data dir and working dir until the test ends.
    pub root: tempfile::TempDir,
    /// Extra env vars for every run.
    env: Vec<(String, String)>,
}

/// What a run of the binary produced.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Standard output parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl Troupe {
    /// A fresh data dir, no model configured.
    pub fn new() -> Self {
        Self {
            root: tempfile::tempdir().expect("temp dir"),
            env: Vec::new(),
        }
    }

    /// Points the default backend at `base_url` with model `test-model` and the test key.
    pub fn with_server(base_url: &str) -> Self {
        let mut troupe = Self::new();
        troupe.env("OPENAI_BASE_URL", base_url);
        troupe.env("OPENAI_API_KEY", TEST_KEY);
        troupe.env("TROUPE_MODEL", "test-model");
        troupe
    }

    /// Sets an env var for every run.
    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Writes `text` as the `troupe.toml` of the working directory, which
    /// every run reads.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.work_dir().join("troupe.toml"), text).expect("write troupe.toml");
    }

    /// A personas directory holding `sommelier`, an adults-only persona
    /// (the baker fixture marked `adults_only`), and, when `with_baker`,
    /// the baker itself; pass it with `--personas`.
    pub fn adults_only_personas(&self, with_baker: bool) -> PathBuf {
        let dir = self.root.path().join("personas");
        std::fs::create_dir_all(&dir).expect("personas dir");
        let baker = std::fs::read_to_string(fixture("good/baker.toml")).expect("baker fixture");
        std::fs::write(
            dir.join("sommelier.toml"),
            format!("{baker}adults_only = true\n"),
        )
        .expect("write sommelier.toml");
        if with_baker {
            std::fs::write(dir.join("baker.toml"), &baker).expect("write baker.toml");
        }
        dir
    }

    /// The working directory runs start in.
    pub fn work_dir(&self) -> PathBuf {
        let dir = self.root.path().join("work");
        std::fs::create_dir_all(&dir).expect("work dir");
        dir
    }

    /// The binary as a command, with the data dir and a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_troupe"));
        for var in [
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "ANTHROPIC_API_KEY",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("TROUPE_")) {
            cmd.env_remove(var);
        }
        // Port 1 refuses at once: no local Ollama is ever picked up by accident.
        cmd.env("OLLAMA_HOST", "127.0.0.1:1");
        cmd.env("TROUPE_DATA_DIR", self.data_dir())
            .env("TROUPE_USER", "tester")
            .current_dir(self.work_dir())
            .args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts a verbose follow-up run with `args` and kills it (SIGKILL) as
    /// soon as its log says it delivered `after` follow-ups; returns how
    /// many it logged (fewer when the run ended first).
    pub fn kill_followup_run_after(&self, args: &[&str], after: usize) -> usize {
        use std::io::BufRead;
        let mut child = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a run");
        let stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let mut delivered = 0;
        for line in stderr.lines().map_while(Result::ok) {
            delivered += usize::from(line.contains("follow-up delivered"));
            if delivered == after {
                break;
            }
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        delivered
    }

    /// Runs the binary with `stdin` as its input.
    pub fn run_with_input(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start troupe");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin).expect("write stdin");
        }
        finish(child.wait_with_output().expect("wait for troupe"))
    }

    /// Runs the binary with empty input.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_input(args, b"")
    }

    /// Writes `json` as the card file `card`, imports it into a fresh
    /// `imported` folder, and gives the folder and what the import printed.
    pub fn import_card(&self, card: &Path, json: &Value) -> (PathBuf, String) {
        std::fs::write(card, json.to_string()).expect("write the card");
        let dir = self.root.path().join("imported");
        let run = self.run(&[
            "personas",
            "import",
            "--into",
            dir.to_str().expect("utf-8"),
            card.to_str().expect("utf-8"),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        (dir, run.stdout)
    }

    /// The stored conversation of `tester` with `persona`, via `troupe history --json`.
    pub fn history(&self, persona: &str) -> Vec<Value> {
        self.history_of("tester", persona)
    }

    /// The stored conversation of `user` with `persona`.
    pub fn history_of(&self, user: &str, persona: &str) -> Vec<Value> {
        let run = self.run(&["history", "--user", user, "--persona", persona, "--json"]);
        assert_eq!(run.code, 0, "history failed: {}", run.stderr);
        run.json()["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Converts a process output.
pub fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The path of a fixture under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The five messages about a saffron risotto that make a conversation with
/// the chef due for a follow-up two days later.
pub const RISOTTO_CHAT: [&str; 5] = [
    "I want to make a saffron risotto",
    "Which rice is best for saffron risotto?",
    "Can I use vegetable stock?",
    "How long should it rest?",
    "Great, I'll cook it for friends",
];

impl Troupe {
    /// Sends [`RISOTTO_CHAT`] as `user` to the chef on 2026-11-02 between
    /// 10:00 and 10:40 UTC, through the CLI, with `extra` global flags: on
    /// 2026-11-04 a follow-up is due.
    pub fn five_messages(&self, user: &str, extra: &[&str]) {
        for (i, text) in RISOTTO_CHAT.iter().enumerate() {
            let now = format!("2026-11-02T10:{i}0:00Z");
            let mut args = vec!["--now", now.as_str()];
            args.extend_from_slice(extra);
            args.extend_from_slice(&["chat", "chef", "--user", user, "--message", text]);
            let run = self.run(&args);
            assert_eq!(run.code, 0, "{}", run.stderr);
        }
    }
}

/// Copies directory `from` to `to`, file by file (as `cp -r` does).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// The path that follows `prefix` in `text`, up to the next space or `;`
/// (how messages quote a path), if `prefix` occurs.
pub fn path_after(text: &str, prefix: &str) -> Option<PathBuf> {
    let start = text.find(prefix)?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == ')')
        .unwrap_or(rest.len());
    Some(PathBuf::from(rest[..end].trim_end_matches('.')))
}
