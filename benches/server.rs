//! The server under load: chat turns per second and latency through the
//! API (JSON and SSE) at 1, 16 and 256 concurrent clients, Troupe's own
//! cost per turn next to a bare axum handler that does nothing, and the
//! memory of 10,000 open idle event streams. Besides the clients that send
//! their turns back to back (the server at saturation), 256 users offer a
//! steady 500, 1,000 and 1,500 turns per second as JSON and 1,000 as SSE:
//! the latency a user sees at a given load.
//!
//! The real `troupe serve` (release build) runs on a temp data dir with the
//! offline backend, a stand-in model that answers at once, so every
//! millisecond measured is the server's: HTTP, the safety checks, the
//! prompt, and two durable (flushed) writes per turn. The load generator is
//! this process, on the same machine.
//!
//! Run with `cargo bench --bench server`. `TROUPE_BENCH_TURNS` scales the
//! turns per level (default 4,000); `TROUPE_BENCH_STREAMS` the idle streams
//! (default 10,000). `scripts/bench-figures` puts its figures in README.

#[path = "support/figures.rs"]
mod figures;
#[path = "support/load.rs"]
mod load;

use std::time::Duration;

use figures::{count, env_usize, figure};
use load::{BoxError, Sample, Server, gather, load, send_turn, start_bare, start_server};

use futures::StreamExt;

/// `clients` users, each sending a turn every `clients / rate` seconds, so
/// that together they offer `rate` turns per second for `turns` turns:
/// the latency a user sees at a given load, rather than at saturation.
/// Each turn's latency counts from when it was due, not from when it was
/// sent, so a turn held up behind a slow one is charged for the wait; a
/// streamed (`stream`) turn ends when its last event is read.
async fn paced(
    client: &reqwest::Client,
    url: &str,
    (clients, rate): (usize, f64),
    turns: usize,
    stream: bool,
) -> Result<Sample, BoxError> {
    let per_client = turns.div_ceil(clients);
    let period = Duration::from_secs_f64(clients as f64 / rate);
    let started = tokio::time::Instant::now();
    let tasks = (0..clients).map(|c| {
        let client = client.clone();
        let path = format!("{url}/v1/conversations/paced{c}/chef/messages");
        // Clients start spread over one period, so sends are evenly spaced.
        let offset = period.mul_f64(c as f64 / clients as f64);
        async move {
            let mut latencies = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let due = started + offset + period * i as u32;
                tokio::time::sleep_until(due).await;
                send_turn(&client, &path, i, stream).await?;
                latencies.push(due.elapsed());
            }
            Ok::<_, BoxError>(latencies)
        }
    });
    gather(futures::future::join_all(tasks).await, started.elapsed())
}

/// The server's resident memory, from /proc.
fn rss_mib(pid: u32) -> Result<f64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or("no VmRSS")?;
    Ok(kib / 1024.0)
}

/// Opens `count` event streams and keeps them open; the server's RSS before
/// and with them.
async fn idle_streams(server: &Server, count: usize) -> Result<(f64, f64), BoxError> {
    let before = rss_mib(server.child.id())?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let opened = futures::stream::iter(0..count)
        .map(|i| {
            let client = client.clone();
            let url = format!("{}/v1/users/idle{i}/events", server.url);
            async move { client.get(url).send().await }
        })
        .buffer_unordered(256)
        .collect::<Vec<_>>()
        .await;
    let mut held = Vec::with_capacity(count);
    for response in opened {
        let response = response?;
        if !response.status().is_success() {
            return Err(format!("stream refused: {}", response.status()).into());
        }
        held.push(response);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with = rss_mib(server.child.id())?;
    drop(held);
    Ok((before, with))
}

fn main() -> Result<(), BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let turns = env_usize("TROUPE_BENCH_TURNS", 4_000);
    let streams = env_usize("TROUPE_BENCH_STREAMS", 10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let server = start_server(&[])?;
    let bare = start_bare()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    runtime.block_on(async {
        // Warm up: the first turns build the persona's model and prompt.
        load(&client, std::slice::from_ref(&server.url), 4, 200, false).await?;
        load(&client, std::slice::from_ref(&bare), 4, 200, false).await?;
        for clients in [1, 16, 256] {
            let n = if clients == 1 { turns / 4 } else { turns };
            let json = load(
                &client,
                std::slice::from_ref(&server.url),
                clients,
                n,
                false,
            )
            .await?;
            json.figures(
                ["json_turns_per_s", "json_p50_ms", "json_p99_ms"],
                "troupe, JSON",
                clients,
            );
            let sse = load(&client, std::slice::from_ref(&server.url), clients, n, true).await?;
            sse.figures(
                ["sse_turns_per_s", "sse_p50_ms", "sse_p99_ms"],
                "troupe, SSE",
                clients,
            );
            let floor = load(&client, std::slice::from_ref(&bare), clients, n, false).await?;
            floor.figures(
                ["floor_turns_per_s", "floor_p50_ms", "floor_p99_ms"],
                "bare axum handler (floor)",
                clients,
            );
            if clients == 1 {
                let own = json.percentile(0.5).saturating_sub(floor.percentile(0.5));
                figure(
                    "own_cost_ms",
                    "troupe's own cost per turn at p50 (JSON, 1 client, minus the floor)",
                    "p50 ms",
                    &format!("{:.2}", own.as_secs_f64() * 1e3),
                );
            }
        }
        // 256 users together offering a steady rate; latency counted from
        // when each turn was due.
        let rates = [
            (
                500.0,
                ["paced500_turns_per_s", "paced500_p50_ms", "paced500_p99_ms"],
            ),
            (
                1_000.0,
                [
                    "paced1000_turns_per_s",
                    "paced1000_p50_ms",
                    "paced1000_p99_ms",
                ],
            ),
            (
                1_500.0,
                [
                    "paced1500_turns_per_s",
                    "paced1500_p50_ms",
                    "paced1500_p99_ms",
                ],
            ),
        ];
        for (rate, keys) in rates {
            let sample = paced(&client, &server.url, (256, rate), turns, false).await?;
            sample.figures(
                keys,
                &format!("troupe, JSON, {} turns/s offered", count(rate as usize)),
                256,
            );
        }
        let sse = paced(&client, &server.url, (256, 1_000.0), turns, true).await?;
        sse.figures(
            [
                "paced1000sse_turns_per_s",
                "paced1000sse_p50_ms",
                "paced1000sse_p99_ms",
            ],
            "troupe, SSE, 1,000 turns/s offered",
            256,
        );
        let (before, with) = idle_streams(&server, streams).await?;
        let with_row = format!("server RSS with {} idle event streams open", count(streams));
        let mib = |m: f64| format!("{m:.0} MiB");
        figure(
            "rss_before_mib",
            "server RSS before the idle event streams",
            "memory",
            &mib(before),
        );
        figure("rss_with_mib", &with_row, "memory", &mib(with));
        let per_stream = (with - before) * 1024.0 / streams.max(1) as f64;
        figure(
            "kib_per_stream",
            "memory per idle event stream",
            "memory",
            &format!("{per_stream:.0} KiB"),
        );
        Ok::<_, BoxError>(())
    })
}
