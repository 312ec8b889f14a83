//! What the server benches share: the real `troupe serve` started on a
//! temp data dir, clients sending chat turns through the API, the bare
//! axum handler they are compared with, and the figures of a run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::figures::{count, figure};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Latencies of one run, and how long it took.
pub struct Sample {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl Sample {
    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// Prints this run's figures: keys `{kind}_turns_per_s`, `{kind}_p50_ms`
    /// and `{kind}_p99_ms` (`kind`: `json`, `sse` or `floor`).
    pub fn figures(&self, keys: [&str; 3], label: &str, clients: usize) {
        let row = match clients {
            1 => format!("{label}, 1 client"),
            n => format!("{label}, {n} clients"),
        };
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
        figure(keys[0], &row, "turns/s", &count(self.per_second() as usize));
        figure(keys[1], &row, "p50 ms", &ms(self.percentile(0.50)));
        figure(keys[2], &row, "p99 ms", &ms(self.percentile(0.99)));
    }
}

/// The real server, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_server(env: &[(&str, String)]) -> Result<Server, BoxError> {
    start_server_with(
        "[server]\nuser_turns_per_minute = 100000\nmax_streams = 100000\n",
        env,
    )
}

/// Starts `troupe serve` with `config` as its `troupe.toml` and `env` set.
pub fn start_server_with(config: &str, env: &[(&str, String)]) -> Result<Server, BoxError> {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir()?;
    let text = config;
    let config = dir.path().join("troupe.toml");
    std::fs::write(&config, text)?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_troupe"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TROUPE_DATA_DIR", dir.path().join("data"))
        .env("TROUPE_CONFIG", &config)
        .env("OLLAMA_HOST", "127.0.0.1:1")
        .env_remove("TROUPE_DATABASE_URL")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("TROUPE_OPERATOR_TOKEN")
        .envs(
            std::env::var("TROUPE_WORKER_THREADS")
                .ok()
                .map(|n| ("TROUPE_WORKER_THREADS", n)),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().ok_or("the server exited")??;
        if let Some(url) = line
            .strip_prefix("troupe: serving ")
            .and_then(|l| l.split(" on ").nth(1))
        {
            break url.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        url,
        _dir: dir,
    })
}

/// `clients` tasks sending `turns` requests in all, each as its own user,
/// client `c` to server `urls[c % urls.len()]`.
pub async fn load(
    client: &reqwest::Client,
    urls: &[String],
    clients: usize,
    turns: usize,
    stream: bool,
) -> Result<Sample, BoxError> {
    let per_client = turns.div_ceil(clients);
    let started = Instant::now();
    let tasks = (0..clients).map(|c| {
        let client = client.clone();
        let url = urls[c % urls.len()].clone();
        async move {
            let mut latencies = Vec::with_capacity(per_client);
            let path = format!("{url}/v1/conversations/bench{c}/chef/messages");
            for i in 0..per_client {
                let began = Instant::now();
                send_turn(&client, &path, i, stream).await?;
                latencies.push(began.elapsed());
            }
            Ok::<_, BoxError>(latencies)
        }
    });
    gather(futures::future::join_all(tasks).await, started.elapsed())
}

/// Sends turn `i` of one client to `path` and reads its whole answer,
/// streamed or not; an error status or an empty body is an error.
pub async fn send_turn(
    client: &reqwest::Client,
    path: &str,
    i: usize,
    stream: bool,
) -> Result<(), BoxError> {
    let mut request = client
        .post(path)
        .json(&serde_json::json!({"text": format!("What can I cook with rice and eggs? ({i})")}));
    if stream {
        request = request.header("accept", "text/event-stream");
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()).into());
    }
    if response.bytes().await?.is_empty() {
        return Err("empty body".into());
    }
    Ok(())
}

/// The clients' latencies together, the run having taken `elapsed`.
pub fn gather(
    results: Vec<Result<Vec<Duration>, BoxError>>,
    elapsed: Duration,
) -> Result<Sample, BoxError> {
    let mut latencies = Vec::new();
    for result in results {
        latencies.extend(result?);
    }
    Ok(Sample { latencies, elapsed })
}

/// A bare axum server answering a small JSON to every POST, on its own
/// runtime: the floor any HTTP turn pays here.
pub fn start_bare() -> Result<String, BoxError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let app = axum::Router::new().route(
                "/v1/conversations/{user}/{persona}/messages",
                axum::routing::post(|| async {
                    axum::Json(serde_json::json!({"reply": {"text": "ok"}}))
                }),
            );
            let _ = axum::serve(listener, app).await;
        });
    });
    Ok(format!("http://{address}"))
}
