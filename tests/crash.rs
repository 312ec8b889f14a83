//! Crashes during every store rewrite (erasure, retention purge) and during
//! the store's creation. The real binary is made to die at each of its
//! crash points in turn (`TROUPE_CRASH_AT`, honoured by debug builds only)
//! and at random moments; after each death the store must open, hold either
//! the old records or the new ones, whole, with nothing of anyone else
//! lost, and once the operation is run again to its end the removed text
//! must be in no file of the data dir.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{Run, Troupe, finish};

/// Every record of a store but its `meta` tree (whose id floor a rewrite
/// moves on): tree name, key → value.
type Records = BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>;

/// Runs Troupe's own open on `data_dir` (which finishes or undoes an
/// interrupted rewrite), then reads every record of the store from a copy
/// of its files: sled writes to the files it opens (a new snapshot, older
/// ones deleted), and Troupe rightly refuses files that changed after it
/// closed them, so the store itself is left as Troupe closed it.
fn records(data_dir: &Path) -> Records {
    let store = troupe::store::Store::open(data_dir)
        .unwrap_or_else(|e| panic!("the store no longer opens: {e}"));
    // Dropped only once sled has closed its files (Troupe records them
    // then), so the copy is of a closed store.
    drop(store);
    let copy = tempfile::tempdir().expect("temp dir");
    copy_dir(&data_dir.join("store"), copy.path());
    let db = sled::Config::new()
        .path(copy.path())
        .open()
        .unwrap_or_else(|e| panic!("open a copy of the store with sled: {e}"));
    let mut all = Records::new();
    for name in db.tree_names().into_iter().filter(|n| &n[..] != b"meta") {
        let tree = db.open_tree(&name).expect("open a tree");
        for item in tree.iter() {
            let (key, value) = item.expect("read a record");
            all.insert((name.to_vec(), key.to_vec()), value.to_vec());
        }
    }
    all
}

/// Copies directory `from` into `to`, file by file.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a dir");
    for entry in std::fs::read_dir(from).expect("read a dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Whether any file under `dir` contains `needle`.
fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| {
            let path = entry.path();
            if path.is_dir() {
                files_contain(&path, needle)
            } else {
                std::fs::read(&path)
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            }
        })
}

/// One store operation to crash: the data dir it starts from, the command,
/// and what must be gone from every file once it is done.
struct Scenario {
    /// The data dir (and config) before the operation.
    before: Troupe,
    /// The config every copy gets.
    config: &'static str,
    /// The operation's command line.
    args: &'static [&'static str],
    /// Text the operation removes.
    removed: &'static [&'static str],
    /// Text that must stay.
    kept: &'static [&'static str],
}

impl Scenario {
    /// A fresh copy of the data dir before the operation.
    fn copy(&self) -> Troupe {
        let troupe = Troupe::new();
        troupe.write_config(self.config);
        if self.before.data_dir().exists() {
            copy_dir(&self.before.data_dir(), &troupe.data_dir());
        }
        troupe
    }

    /// The records after the operation ran undisturbed, checking on the way
    /// that the removed text was in the files before it and is gone after.
    fn records_after(&self) -> Records {
        let troupe = self.copy();
        for text in self.removed {
            assert!(
                files_contain(&troupe.data_dir(), text.as_bytes()),
                "{text:?} is in the files before the operation"
            );
        }
        let run = troupe.run(self.args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        self.assert_clean(&troupe, "an undisturbed run");
        records(&troupe.data_dir())
    }

    /// The removed text is in no file, the kept text still is.
    fn assert_clean(&self, troupe: &Troupe, when: &str) {
        for text in self.removed {
            assert!(
                !files_contain(&troupe.data_dir(), text.as_bytes()),
                "{when}: {text:?} is still in a file of the data dir"
            );
        }
        for text in self.kept {
            assert!(
                files_contain(&troupe.data_dir(), text.as_bytes()),
                "{when}: {text:?} was lost"
            );
        }
    }

    /// After a crash: the store opens and holds `old` or `new`, whole; the
    /// operation run again completes, and leaves `new` with the removed
    /// text in no file. Returns whether the crash left the new store.
    fn check_after_crash(&self, troupe: &Troupe, old: &Records, new: &Records, when: &str) -> bool {
        let found = records(&troupe.data_dir());
        assert!(
            found == *old || found == *new,
            "{when}: the store is neither the old one nor the new one, whole \
             ({} records; old {}, new {})",
            found.len(),
            old.len(),
            new.len()
        );
        for text in self.kept {
            assert!(
                files_contain(&troupe.data_dir(), text.as_bytes()),
                "{when}: {text:?} was lost"
            );
        }
        let again = troupe.run(self.args);
        assert!(
            again.code == 0 || (found == *new && again.code == 1),
            "{when}: running the operation again failed: {}",
            again.stderr
        );
        self.assert_clean(troupe, &format!("{when}, then run again"));
        assert!(
            records(&troupe.data_dir()) == *new,
            "{when}, then run again: not the new store"
        );
        found == *new
    }

    /// Crashes the operation at each of its crash points in turn, until a
    /// run goes through them all; returns the points, in order.
    fn crash_at_every_step(&self) -> Vec<String> {
        let old = records(&self.copy().data_dir());
        let new = self.records_after();
        let mut left_new = 0;
        let mut points = Vec::new();
        for step in 1.. {
            let troupe = self.copy();
            let run = crash_at(&troupe, self.args, step);
            if run.code == 0 {
                assert!(
                    left_new > 0,
                    "no crash left the new store: the last steps were missed"
                );
                self.assert_clean(&troupe, "a run past every crash point");
                return points;
            }
            assert!(
                run.stderr.contains(&format!("crashing at step {step} (")),
                "the run ended at step {step} without the crash: {}",
                run.stderr
            );
            let point = run.stderr.lines().last().unwrap_or_default().to_string();
            if self.check_after_crash(&troupe, &old, &new, &point) {
                left_new += 1;
            }
            points.push(point);
        }
        unreachable!("the loop returns once a run passes every step")
    }

    /// Kills the operation `runs` times after a random delay within the
    /// time an undisturbed run takes, checking the store after each kill.
    fn kill_at_random_moments(&self, runs: u32) {
        let old = records(&self.copy().data_dir());
        let new = self.records_after();
        let timed = self.copy();
        let started = Instant::now();
        assert_eq!(timed.run(self.args).code, 0);
        let span = started.elapsed().as_micros().max(1) as u64;
        let mut seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        for run in 0..runs {
            // xorshift: enough to spread the kills over the run.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = Duration::from_micros(seed % span);
            let troupe = self.copy();
            let mut child = troupe
                .command(self.args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start troupe");
            std::thread::sleep(delay);
            // Killing a process that already ended is harmless.
            let _ = child.kill();
            child.wait().expect("wait for troupe");
            let when = format!("killed after {delay:?} (run {run}, seed {seed})");
            self.check_after_crash(&troupe, &old, &new, &when);
        }
    }
}

impl Scenario {
    /// The same operation on a store a kill left behind (its files not
    /// recorded at a clean close), so the operation's own open first keeps
    /// a copy of them, removed text included, in `store-preserved/`.
    fn after_a_kill(self) -> Self {
        troupe::store::integrity::forget(&self.before.data_dir().join("store"))
            .expect("forget the clean close");
        self
    }

    /// Runs the operation undisturbed on a fresh copy, checking that its
    /// open kept a copy of the store and that the copy is gone after;
    /// returns the run.
    fn run_removing_the_kept_copy(&self) -> Run {
        let troupe = self.copy();
        let run = troupe.run(self.args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stderr.contains("was not closed cleanly"),
            "the operation's open kept a copy of the store: {}",
            run.stderr
        );
        let preserved = troupe.data_dir().join("store-preserved");
        let left: Vec<_> = std::fs::read_dir(&preserved)
            .expect("the copies' directory stays")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "copies left: {left:?}");
        self.assert_clean(&troupe, "after the operation");
        run
    }
}

/// Whether one of `points` is the removal of a preserved copy.
fn removes_a_copy(points: &[String]) -> bool {
    points
        .iter()
        .any(|p| p.contains("a preserved copy of the old store removed"))
}

/// Runs `args` with the process set to die at crash point `step`.
fn crash_at(troupe: &Troupe, args: &[&str], step: u64) -> Run {
    let output = troupe
        .command(args)
        .env("TROUPE_CRASH_AT", step.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run troupe");
    finish(output)
}

/// Sends `text` as `user` to the chef at `now`.
fn say(troupe: &Troupe, now: &str, user: &str, text: &str) {
    let run = troupe.run(&[
        "--now",
        now,
        "chat",
        "chef",
        "--user",
        user,
        "--message",
        text,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// Three users with three messages each; erasing `bob`.
fn erasure() -> Scenario {
    let before = Troupe::new();
    for user in ["ana", "bob", "cyd"] {
        for i in 0..3 {
            let now = format!("2026-11-02T10:0{i}:00Z");
            say(
                &before,
                &now,
                user,
                &format!("{user}-quince-{i} for my aunt"),
            );
        }
    }
    Scenario {
        before,
        config: "",
        args: &["erase", "--user", "bob", "--yes"],
        removed: &["bob-quince-"],
        kept: &["ana-quince-0", "cyd-quince-2"],
    }
}

/// Retention of 30 days: ana and bob each have an old and a recent
/// message, cyd only a recent one; purging on 2026-11-26.
fn retention() -> Scenario {
    let config = "[safety]\nretention_days = 30\n";
    let before = Troupe::new();
    before.write_config(config);
    say(&before, "2026-09-01T10:00:00Z", "ana", "ana-old-paella");
    say(&before, "2026-09-02T10:00:00Z", "bob", "bob-old-paella");
    for user in ["ana", "bob", "cyd"] {
        say(
            &before,
            "2026-11-20T10:00:00Z",
            user,
            &format!("{user}-new-ramen"),
        );
    }
    Scenario {
        before,
        config,
        args: &[
            "--now",
            "2026-11-26T10:00:00Z",
            "maintenance",
            "purge",
            "--json",
        ],
        removed: &["ana-old-paella", "bob-old-paella"],
        kept: &["ana-new-ramen", "bob-new-ramen", "cyd-new-ramen"],
    }
}

#[test]
fn an_erasure_killed_at_any_step_leaves_one_whole_store_and_finishes_when_run_again() {
    let steps = erasure().crash_at_every_step().len();
    assert!(steps >= 15, "every tree copy is a crash point: {steps}");
}

#[test]
fn a_retention_purge_killed_at_any_step_is_finished_by_the_next_purge() {
    let steps = retention().crash_at_every_step().len();
    assert!(steps >= 15, "every tree copy is a crash point: {steps}");
}

#[test]
fn an_erasure_after_a_kill_removes_the_copy_kept_of_the_store_even_when_killed_at_any_step() {
    let scenario = erasure().after_a_kill();
    let run = scenario.run_removing_the_kept_copy();
    assert!(
        run.stdout.contains(
            "also removed 1 copy kept after a crash or damage, which still held the erased text"
        ),
        "{}",
        run.stdout
    );
    let points = scenario.crash_at_every_step();
    assert!(removes_a_copy(&points), "{points:?}");
}

#[test]
fn a_purge_after_a_kill_removes_the_copy_kept_of_the_store_even_when_killed_at_any_step() {
    let scenario = retention().after_a_kill();
    let run = scenario.run_removing_the_kept_copy();
    assert_eq!(run.json()["preserved_copies_removed"], 1, "{}", run.stdout);
    let points = scenario.crash_at_every_step();
    assert!(removes_a_copy(&points), "{points:?}");
}

#[test]
fn an_erasure_and_a_purge_killed_at_random_moments_leave_one_whole_store() {
    erasure().kill_at_random_moments(12);
    retention().kill_at_random_moments(12);
}

#[test]
fn a_store_killed_while_being_created_is_created_whole_by_the_next_run() {
    let empty = Records::new();
    for step in 1.. {
        let troupe = Troupe::new();
        let first = crash_at(&troupe, &["chat", "chef", "--message", "first hello"], step);
        if first.code == 0 {
            assert!(step > 3, "creation has four crash points, passed at {step}");
            return;
        }
        let point = first.stderr.lines().last().unwrap_or_default().to_string();
        assert!(point.contains("create:"), "{point}");
        assert!(
            records(&troupe.data_dir()) == empty,
            "{point}: the store opens empty"
        );
        assert!(!troupe.data_dir().join("store.init").exists(), "{point}");
        let again = troupe.run(&["chat", "chef", "--message", "second hello"]);
        assert_eq!(again.code, 0, "{point}: {}", again.stderr);
        let texts: Vec<_> = troupe
            .history("chef")
            .iter()
            .filter(|m| m["role"] == "user")
            .map(|m| m["text"].clone())
            .collect();
        assert_eq!(texts, ["second hello"], "{point}");
    }
}

#[test]
fn an_erasure_over_the_api_removes_the_copies_kept_after_a_crash_and_says_so() {
    let troupe = Troupe::new();
    say(
        &troupe,
        "2026-11-02T10:00:00Z",
        "alice",
        "alice-fig-jam for two",
    );
    say(
        &troupe,
        "2026-11-02T10:01:00Z",
        "bob",
        "bob-fig-jam for three",
    );
    troupe::store::integrity::forget(&troupe.data_dir().join("store"))
        .expect("forget the clean close");
    let server = troupe.serve(&[]);
    assert!(
        files_contain(&troupe.data_dir().join("store-preserved"), b"alice-fig-jam"),
        "the server's open kept a copy of the store"
    );
    let erased = server.request("DELETE", "/v1/users/alice", None);
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert_eq!(
        erased.json["preserved_copies_removed"], 1,
        "{}",
        erased.text
    );
    drop(server);
    assert!(!files_contain(&troupe.data_dir(), b"alice-fig-jam"));
    assert!(files_contain(&troupe.data_dir(), b"bob-fig-jam"));
}
