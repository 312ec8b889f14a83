//! What refusing a 10 MB line costs the console (goal: under a second,
//! with memory bounded by the message limit, not by the line).
//!
//! The line is 10 MB of ordinary words. Two measures:
//! - in process: [`troupe::console::read_bounded_line`] reading a 10 MB
//!   line then a short one from memory, through an 8 KiB buffer like
//!   stdin's, with the console's bound (twice the default 4,000-character
//!   limit): median time over several rounds, and the most heap it held at
//!   once (a counting allocator);
//! - the real binary (release build): `troupe chat chef` (offline backend,
//!   temp data dir) with the 10 MB line then `hello` piped in; the time
//!   from the greeting (the console starts reading) to the refusal on
//!   stderr, and the process's peak resident memory (`VmHWM`) once it has
//!   answered `hello`, next to a run that only gets `hello`.
//!
//! Run with `cargo bench --bench huge_line`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use troupe::console::{BoundedLine, read_bounded_line};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The line: 10 MB of text without a newline.
const LINE_BYTES: usize = 10_000_000;

/// The console's bound with the default limit (see `chat::crisis_window`).
const BOUND: usize = 8_000;

const ROUNDS: usize = 9;

/// The system allocator, counting the bytes held now and at most.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let held = HELD.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(held, Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The input: the huge line (words, as a pasted document would be: what
/// reads words costs more than what skips bytes), then a short one.
fn input() -> Vec<u8> {
    let sentence = b"I have leftover rice and two eggs, what could I cook tonight? ";
    let mut input: Vec<u8> = sentence.iter().copied().cycle().take(LINE_BYTES).collect();
    input.extend_from_slice(b"\nhello\n");
    input
}

/// Reads the huge line and the next one; the time, and the most heap held
/// beyond what was held before (the input itself).
fn in_process(input: &[u8]) -> Result<(Duration, usize), BoxError> {
    let before = HELD.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let started = Instant::now();
    let mut reader = BufReader::with_capacity(8 * 1024, input);
    let first = read_bounded_line(&mut reader, BOUND)?;
    let second = read_bounded_line(&mut reader, BOUND)?;
    let elapsed = started.elapsed();
    let peak = PEAK.load(Ordering::SeqCst) - before;
    if first != Some(BoundedLine::TooLong) || second != Some(BoundedLine::Whole(b"hello".to_vec()))
    {
        return Err("the huge line was not refused, or the next one was lost".into());
    }
    Ok((elapsed, peak))
}

/// One console run of the real binary on `input`: the time from the
/// greeting to the refusal (if any) and the peak resident memory in KiB.
fn console_run(input: Vec<u8>, refused: bool) -> Result<(Option<Duration>, u64), BoxError> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(["chat", "chef", "--user", "bench"])
        .env("TROUPE_DATA_DIR", dir.path().join("data"))
        .env("OLLAMA_HOST", "127.0.0.1:1")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("TROUPE_CONFIG")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let refusal = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("longer than"))
            .map(|_| Instant::now())
    });
    let mut replies = BufReader::new(stdout).lines();
    // The greeting: the console now reads its input.
    replies
        .find(|l| l.as_ref().is_ok_and(|l| l.starts_with("Chef Marco:")))
        .ok_or("no greeting")??;
    let reading = Instant::now();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
        stdin
    });
    // The answer to `hello`.
    replies
        .find(|l| l.as_ref().is_ok_and(|l| l.starts_with("Chef Marco:")))
        .ok_or("no answer to hello")??;
    let peak = peak_kib(child.id())?;
    drop(writer.join().map_err(|_| "the writer panicked")?);
    for _ in replies {}
    child.wait()?;
    let refused_at = refusal.join().map_err(|_| "the reader panicked")?;
    if refused_at.is_some() != refused {
        return Err("the huge line was not refused as expected".into());
    }
    Ok((refused_at.map(|at| at - reading), peak))
}

/// A process's peak resident memory so far, from /proc, in KiB.
fn peak_kib(pid: u32) -> Result<u64, BoxError> {
    let mut status = String::new();
    std::fs::File::open(format!("/proc/{pid}/status"))?.read_to_string(&mut status)?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or("no VmHWM")?)
}

fn median<T: Ord + Copy>(mut samples: Vec<T>) -> T {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), BoxError> {
    let input = input();
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..ROUNDS {
        let (time, peak) = in_process(&input)?;
        times.push(time);
        peaks.push(peak);
    }
    println!(
        "in process: a 10 MB line refused in {:.2} ms (median of {ROUNDS}), at most {:.1} KiB of heap held",
        median(times).as_secs_f64() * 1e3,
        median(peaks) as f64 / 1024.0
    );

    let mut refusals = Vec::new();
    let mut peaks = Vec::new();
    let mut baselines = Vec::new();
    for _ in 0..5 {
        let (refused, peak) = console_run(input.clone(), true)?;
        refusals.push(refused.ok_or("no refusal")?);
        peaks.push(peak);
        baselines.push(console_run(b"hello\n".to_vec(), false)?.1);
    }
    println!(
        "troupe chat (release): refused {:.1} ms after it started reading (median of 5); peak RSS {:.1} MiB, against {:.1} MiB for a run without the line",
        median(refusals).as_secs_f64() * 1e3,
        median(peaks) as f64 / 1024.0,
        median(baselines) as f64 / 1024.0
    );
    Ok(())
}
