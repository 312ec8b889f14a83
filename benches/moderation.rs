//! What a moderation check adds to a chat turn's latency, as a user of
//! `troupe serve` waits for it: the same JSON turns with moderation off,
//! and on with a moderation endpoint answering faster, as fast as, and
//! slower than the persona's model.
//!
//! The real `troupe serve` (release build) runs on a temp data dir; the
//! persona's model and the moderation endpoint are stand-ins on 127.0.0.1
//! (the test suite's `TestServer`) that answer after a fixed delay: the
//! model after `TROUPE_BENCH_REPLY_MS` (default 200), the moderation
//! endpoint after each delay in the table. Turns are sent one at a time by
//! one user, so the numbers are latency, not throughput.
//!
//! Run with `cargo bench --bench moderation`. `TROUPE_BENCH_TURNS` sets
//! the turns per row (default 40).

#[allow(dead_code)]
#[path = "../tests/support/server.rs"]
mod stand_in;

#[path = "support/figures.rs"]
mod figures;
#[allow(dead_code)]
#[path = "support/load.rs"]
mod load;

use std::time::{Duration, Instant};

use load::{BoxError, Server};
use stand_in::{Reply, TestServer};

/// Starts `troupe serve` with the persona's model at `model` and, when
/// given, the moderation endpoint at `moderation`.
fn start_server(model: &TestServer, moderation: Option<&TestServer>) -> Result<Server, BoxError> {
    let mut config = format!(
        "default_model = \"main\"\n[models.main]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"bench\"\napi_key_env = \"BENCH_MODEL_KEY\"\nmax_retries = 0\n[server]\nuser_turns_per_minute = 100000\n",
        model.base_url
    );
    if let Some(moderation) = moderation {
        config.push_str(&format!(
            "[safety]\nmoderation_timeout_ms = 5000\n[safety.moderation]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key_env = \"BENCH_MODERATION_KEY\"\n",
            moderation.base_url
        ));
    }
    load::start_server_with(
        &config,
        &[
            ("BENCH_MODEL_KEY", "bench-model-key-0000".to_string()),
            (
                "BENCH_MODERATION_KEY",
                "bench-moderation-key-0000".to_string(),
            ),
        ],
    )
}

/// `turns` JSON turns in a row; each one's latency, after one untimed
/// turn that opens the connections.
fn turns(server: &Server, turns: usize) -> Result<Vec<Duration>, BoxError> {
    let client = reqwest::blocking::Client::new();
    let path = format!("{}/v1/conversations/bench/chef/messages", server.url);
    let mut latencies = Vec::with_capacity(turns);
    for i in 0..=turns {
        let began = Instant::now();
        let body =
            serde_json::json!({"text": format!("What can I cook with rice and eggs? ({i})")});
        let answer: serde_json::Value = client.post(&path).json(&body).send()?.json()?;
        if answer["reply"]["kind"] != "persona" {
            return Err(format!("not the persona's reply: {answer}").into());
        }
        if i > 0 {
            latencies.push(began.elapsed());
        }
    }
    latencies.sort();
    Ok(latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default().as_secs_f64() * 1e3
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let reply_ms = env_number("TROUPE_BENCH_REPLY_MS", 200);
    let count = env_number("TROUPE_BENCH_TURNS", 40) as usize;
    let model = TestServer::start_slow(
        vec![Reply::Text("Fried rice: rice, eggs, a hot pan.")],
        Duration::from_millis(reply_ms),
    );
    println!("persona's model answers after {reply_ms} ms; {count} turns per row, one at a time\n");
    println!("| moderation                      | p50 ms | p90 ms | max ms |");
    println!("|---------------------------------|-------:|-------:|-------:|");
    let off = start_server(&model, None)?;
    let latencies = turns(&off, count)?;
    drop(off);
    print_row("off", &latencies);
    for check_ms in [0, reply_ms / 2, reply_ms + 200] {
        let moderation = TestServer::start_slow(
            vec![Reply::moderation(&[])],
            Duration::from_millis(check_ms),
        );
        let on = start_server(&model, Some(&moderation))?;
        let latencies = turns(&on, count)?;
        drop(on);
        print_row(
            &format!("on, endpoint answers in {check_ms} ms"),
            &latencies,
        );
    }
    Ok(())
}

fn print_row(label: &str, latencies: &[Duration]) {
    println!(
        "| {label:<31} | {:>6.1} | {:>6.1} | {:>6.1} |",
        percentile(latencies, 0.5),
        percentile(latencies, 0.9),
        percentile(latencies, 1.0),
    );
}
