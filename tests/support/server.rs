//! An OpenAI-compatible test server on 127.0.0.1: real HTTP/1.1 over TCP,
//! scripted replies, and a record of every request it received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};

/// What the server answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with this text: SSE chunks if the request asked to stream,
    /// otherwise one JSON completion.
    Text(&'static str),
    /// A status code and a raw body.
    Status(u16, &'static str),
    /// These SSE `data:` payloads, then `[DONE]`.
    Sse(Vec<&'static str>),
    /// These SSE `data:` payloads, then the connection is cut.
    SseCut(Vec<&'static str>),
    /// A status and a JSON body built at run time.
    Json(u16, String),
    /// A status, extra headers and a raw body.
    WithHeaders(u16, Vec<(&'static str, &'static str)>, &'static str),
    /// Answer in the Anthropic Messages dialect: SSE events if the request
    /// asked to stream, otherwise one JSON message.
    Anthropic(&'static str),
    /// Wait, then answer.
    Slow(Duration, Box<Reply>),
    /// Stream this text word by word, waiting this long before each word.
    Trickle(&'static str, Duration),
    /// Answer with what this function chooses for the request: for two
    /// requests sent at once (a moderation check beside a reply), whose
    /// order of arrival is not fixed.
    ByRequest(fn(&Received) -> Reply),
}

impl Reply {
    /// A moderation endpoint's answer with `categories` flagged (and every
    /// other category of interest not), as `POST /moderations` gives it.
    pub fn moderation(flagged: &[&str]) -> Reply {
        let mut categories = serde_json::Map::new();
        let mut scores = serde_json::Map::new();
        for name in [
            "self-harm",
            "self-harm/intent",
            "self-harm/instructions",
            "violence",
            "harassment",
        ] {
            let on = flagged.contains(&name);
            categories.insert(name.to_string(), json!(on));
            scores.insert(name.to_string(), json!(if on { 0.93 } else { 0.01 }));
        }
        let body = json!({"id": "modr-test", "model": "omni-moderation-latest", "results": [
            {"flagged": !flagged.is_empty(), "categories": categories, "category_scores": scores}
        ]});
        Reply::Json(200, body.to_string())
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// e.g. `/v1/chat/completions`.
    pub path: String,
    /// Lower-cased header names with their values.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Value,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The chat messages sent, as (role, content) pairs.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|m| {
                        (
                            m["role"].as_str().unwrap_or_default().to_string(),
                            m["content"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A running test server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
    load: Arc<Load>,
}

/// Requests being answered now, and the most at once.
#[derive(Default)]
struct Load {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl TestServer {
    /// Starts a server answering with `script` in order; the last reply repeats.
    pub fn start(script: Vec<Reply>) -> Self {
        Self::start_slow(script, Duration::ZERO)
    }

    /// Like [`TestServer::start`], but each answer waits `delay` first.
    pub fn start_slow(script: Vec<Reply>, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let script = Arc::new(Mutex::new(script));
        let load = Arc::new(Load::default());
        let server_load = Arc::clone(&load);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                let script = Arc::clone(&script);
                let load = Arc::clone(&server_load);
                thread::spawn(move || serve(stream, &log, &script, &load, delay));
            }
        });
        Self {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            received,
            load,
        }
    }

    /// The most requests the server was answering at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.load.max.load(Ordering::SeqCst)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log lock").clone()
    }

    /// The last request.
    pub fn last(&self) -> Received {
        self.received()
            .pop()
            .expect("the server received a request")
    }
}

/// A base URL where nothing listens.
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

fn serve(
    stream: TcpStream,
    log: &Mutex<Vec<Received>>,
    script: &Mutex<Vec<Reply>>,
    load: &Load,
    delay: Duration,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    loop {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
        load.max.fetch_max(now, Ordering::SeqCst);
        thread::sleep(delay);
        load.now.fetch_sub(1, Ordering::SeqCst);
        let stream_wanted = request.body["stream"] == json!(true);
        let reply = {
            let mut script = script.lock().expect("script lock");
            if script.len() > 1 {
                script.remove(0)
            } else {
                script[0].clone()
            }
        };
        let reply = match reply {
            Reply::ByRequest(choose) => choose(&request),
            reply => reply,
        };
        log.lock().expect("log lock").push(request);
        let mut out = stream.try_clone().expect("clone stream");
        if !respond(&mut out, reply, stream_wanted) {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let path = first.split_whitespace().nth(1)?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Some(Received {
        path,
        headers,
        body,
    })
}

/// Writes the reply; returns whether the connection can be reused.
fn respond(out: &mut TcpStream, reply: Reply, stream_wanted: bool) -> bool {
    match reply {
        Reply::Text(text) if stream_wanted => {
            let mut chunks: Vec<String> = text
                .split_inclusive(' ')
                .map(|w| {
                    json!({"choices":[{"index":0,"delta":{"content":w},"finish_reason":null}]})
                        .to_string()
                })
                .collect();
            chunks.push(
                json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}).to_string(),
            );
            chunks.push(
                json!({"choices":[],"usage":{"prompt_tokens":42,"completion_tokens":7}})
                    .to_string(),
            );
            sse(out, &chunks, true)
        }
        Reply::Text(text) => {
            let body = json!({
                "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "test",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
            });
            plain(out, 200, &body.to_string(), &[])
        }
        Reply::Status(status, body) => plain(out, status, body, &[]),
        Reply::Json(status, body) => plain(out, status, &body, &[]),
        Reply::ByRequest(_) => plain(out, 500, "{\"error\":\"a choice of a choice\"}", &[]),
        Reply::WithHeaders(status, headers, body) => plain(out, status, body, &headers),
        Reply::Anthropic(text) if stream_wanted => {
            let mut events = vec![
                ("message_start".to_string(), json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","usage":{"input_tokens":31,"output_tokens":1}}}).to_string()),
                ("content_block_start".to_string(), json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}).to_string()),
                ("ping".to_string(), json!({"type":"ping"}).to_string()),
            ];
            for word in text.split_inclusive(' ') {
                events.push(("content_block_delta".to_string(), json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":word}}).to_string()));
            }
            events.push((
                "content_block_stop".to_string(),
                json!({"type":"content_block_stop","index":0}).to_string(),
            ));
            events.push(("message_delta".to_string(), json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}).to_string()));
            events.push((
                "message_stop".to_string(),
                json!({"type":"message_stop"}).to_string(),
            ));
            named_sse(out, &events)
        }
        Reply::Anthropic(text) => {
            let body = json!({
                "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn", "usage": {"input_tokens": 31, "output_tokens": 9}
            });
            plain(out, 200, &body.to_string(), &[])
        }
        Reply::Slow(delay, reply) => {
            thread::sleep(delay);
            respond(out, *reply, stream_wanted)
        }
        Reply::Trickle(text, pause) => trickle(out, text, pause),
        Reply::Sse(chunks) => sse(
            out,
            &chunks.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            true,
        ),
        Reply::SseCut(chunks) => sse(
            out,
            &chunks.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            false,
        ),
    }
}

fn plain(out: &mut TcpStream, status: u16, body: &str, headers: &[(&str, &str)]) -> bool {
    let content_type = if body.starts_with('<') {
        "text/html"
    } else {
        "application/json"
    };
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!(
        "HTTP/1.1 {status} Test\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra}\r\n",
        body.len()
    );
    out.write_all(head.as_bytes())
        .and_then(|_| out.write_all(body.as_bytes()))
        .is_ok()
}

fn sse(out: &mut TcpStream, chunks: &[String], finish: bool) -> bool {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    if out.write_all(head.as_bytes()).is_err() {
        return false;
    }
    for chunk in chunks {
        if out
            .write_all(format!("data: {chunk}\n\n").as_bytes())
            .is_err()
        {
            return false;
        }
        let _ = out.flush();
    }
    if finish {
        let _ = out.write_all(b"data: [DONE]\n\n");
    }
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
    false
}

/// Streams `text` word by word, `pause` before each word, then `[DONE]`;
/// stops at the first write that fails (the client went away).
fn trickle(out: &mut TcpStream, text: &str, pause: Duration) -> bool {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    if out.write_all(head.as_bytes()).is_err() {
        return false;
    }
    for word in text.split_inclusive(' ') {
        thread::sleep(pause);
        let chunk = json!({"choices":[{"index":0,"delta":{"content":word},"finish_reason":null}]});
        if out
            .write_all(format!("data: {chunk}\n\n").as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            return false;
        }
    }
    let done = json!({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]});
    let _ = out.write_all(format!("data: {done}\n\ndata: [DONE]\n\n").as_bytes());
    let _ = out.shutdown(std::net::Shutdown::Both);
    false
}

fn named_sse(out: &mut TcpStream, events: &[(String, String)]) -> bool {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    if out.write_all(head.as_bytes()).is_err() {
        return false;
    }
    for (name, data) in events {
        if out
            .write_all(format!("event: {name}\ndata: {data}\n\n").as_bytes())
            .is_err()
        {
            return false;
        }
        let _ = out.flush();
    }
    let _ = out.shutdown(std::net::Shutdown::Both);
    false
}
