//! The real `troupe serve` on a random loopback port, and a small blocking
//! HTTP client for it: JSON requests, whole SSE responses, and event
//! streams read in the background.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::Troupe;

/// A running server; killed when dropped.
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server process.
    child: Child,
    /// What it printed on stderr so far.
    stderr: Arc<Mutex<Vec<String>>>,
    /// The client.
    client: reqwest::blocking::Client,
    /// The bearer token sent with every request, if any.
    token: Option<String>,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub json: Value,
    /// The raw body.
    pub text: String,
    /// The Content-Type.
    pub content_type: String,
    /// The raw body's bytes (an image, a download).
    pub bytes: Vec<u8>,
    /// The Content-Disposition, if any.
    pub disposition: Option<String>,
}

impl Answer {
    /// The error code of an error answer.
    pub fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// The `event:` name (`message` when absent).
    pub event: String,
    /// The `data:` lines joined.
    pub data: String,
}

impl SseEvent {
    /// The data as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// Installs the TLS provider reqwest needs, once.
fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

impl Troupe {
    /// Starts `troupe serve` on a free loopback port with `args` added.
    pub fn serve(&self, args: &[&str]) -> Served {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut child = self
            .command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start troupe serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (found, address) = channel();
        let log = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line
                    .split(" on ")
                    .nth(1)
                    .filter(|_| line.starts_with("troupe: serving"))
                {
                    let _ = found.send(url.trim().to_string());
                }
                log.lock().expect("log lock").push(line);
            }
        });
        let url = match address.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not start: {:?}",
                    lines.lock().expect("log lock")
                );
            }
        };
        Served {
            url,
            child,
            stderr: lines,
            client: client(),
            token: None,
        }
    }
}

impl Served {
    /// The same server, sending `token` as the bearer token.
    pub fn as_token(&self, token: &str) -> Client {
        Client {
            url: self.url.clone(),
            client: self.client.clone(),
            token: Some(token.to_string()),
        }
    }

    /// A client of this server without a token.
    pub fn client(&self) -> Client {
        Client {
            url: self.url.clone(),
            client: self.client.clone(),
            token: self.token.clone(),
        }
    }

    /// Everything the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("log lock").join("\n")
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> i32 {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let code = self.child.wait().expect("wait for the server");
        code.code().unwrap_or(-1)
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Answer {
        self.client().get(path)
    }

    /// POST `body` as JSON to `path`.
    pub fn post(&self, path: &str, body: Value) -> Answer {
        self.client().post(path, body)
    }

    /// A request with any method and an optional JSON body.
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.client().request(method, path, body)
    }

    /// POST `body` asking for SSE; every event until the stream ends.
    pub fn post_sse(&self, path: &str, body: Value) -> (u16, Vec<SseEvent>) {
        self.client().post_sse(path, body)
    }

    /// POST `bytes` as they are (an uploaded file) to `path`.
    pub fn post_bytes(&self, path: &str, bytes: Vec<u8>) -> Answer {
        self.client().post_bytes(path, bytes)
    }

    /// Opens an event stream (GET `path`) read in the background.
    pub fn open_events(&self, path: &str) -> EventStream {
        self.client().open_events(path)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of a running server, with or without a token.
#[derive(Clone)]
pub struct Client {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    client: reqwest::blocking::Client,
    token: Option<String>,
}

impl Client {
    fn builder(&self, method: &str, path: &str) -> reqwest::blocking::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    /// A request with any method and an optional JSON body.
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.builder(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request)
    }

    /// POST `bytes` as they are (an uploaded file) to `path`.
    pub fn post_bytes(&self, path: &str, bytes: Vec<u8>) -> Answer {
        let request = self
            .builder("POST", path)
            .header("content-type", "application/octet-stream")
            .body(bytes);
        answer(request)
    }

    /// GET `path`.
    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, None)
    }

    /// A CORS preflight from `origin`: the allowed origin the server answers, if any.
    pub fn preflight(&self, path: &str, origin: &str) -> Option<String> {
        let response = self
            .builder("OPTIONS", path)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
            .expect("the server answers");
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// POST `body` as JSON to `path`.
    pub fn post(&self, path: &str, body: Value) -> Answer {
        self.request("POST", path, Some(body))
    }

    /// POST `body` asking for SSE; every event until the stream ends.
    pub fn post_sse(&self, path: &str, body: Value) -> (u16, Vec<SseEvent>) {
        let response = self
            .builder("POST", path)
            .header("accept", "text/event-stream")
            .json(&body)
            .send()
            .expect("the server answers");
        let status = response.status().as_u16();
        let mut events = Vec::new();
        let (sender, receiver) = channel();
        read_events(BufReader::new(response), &sender);
        while let Ok(event) = receiver.try_recv() {
            events.push(event);
        }
        (status, events)
    }

    /// Opens an event stream (GET `path`) read in the background.
    pub fn open_events(&self, path: &str) -> EventStream {
        let response = self
            .builder("GET", path)
            .header("accept", "text/event-stream")
            .send()
            .expect("the server answers");
        let status = response.status().as_u16();
        let (sender, receiver) = channel();
        std::thread::spawn(move || read_events(BufReader::new(response), &sender));
        EventStream { status, receiver }
    }
}

/// Sends `request` and reads the whole answer.
fn answer(request: reqwest::blocking::RequestBuilder) -> Answer {
    let response = request.send().expect("the server answers");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type").unwrap_or_default();
    let disposition = header("content-disposition");
    let bytes = response.bytes().expect("a body").to_vec();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Answer {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        content_type,
        bytes,
        disposition,
    }
}

/// Parses SSE frames from `reader` into `sender` until the stream ends.
fn read_events(reader: impl BufRead, sender: &std::sync::mpsc::Sender<SseEvent>) {
    let (mut event, mut data) = (String::new(), Vec::<String>::new());
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if line.is_empty() {
            if !data.is_empty() || !event.is_empty() {
                let name = if event.is_empty() {
                    "message".to_string()
                } else {
                    std::mem::take(&mut event)
                };
                if sender
                    .send(SseEvent {
                        event: name,
                        data: data.join("\n"),
                    })
                    .is_err()
                {
                    return;
                }
                data.clear();
            }
            continue;
        }
        if let Some(value) = line.strip_prefix("event:") {
            event = value.trim().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value).to_string());
        }
    }
}

/// An open event stream.
pub struct EventStream {
    /// The HTTP status it opened with.
    pub status: u16,
    receiver: Receiver<SseEvent>,
}

impl EventStream {
    /// Whether the server ends the stream within `wait` (events sent
    /// before the end are skipped).
    pub fn ends_within(&self, wait: Duration) -> bool {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(_) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return true,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => return false,
            }
        }
    }

    /// The next event within `wait`, if one comes.
    pub fn next_within(&self, wait: Duration) -> Option<SseEvent> {
        self.receiver.recv_timeout(wait).ok()
    }
}
