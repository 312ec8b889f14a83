//! Finding a local Ollama server: a tiny HTTP/1.0 request to `/api/tags`,
//! bounded to 300 ms so a machine without Ollama is not slowed down.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::Serialize;

use super::EnvLookup;

/// Where Ollama listens unless `OLLAMA_HOST` says otherwise.
pub const OLLAMA_DEFAULT_HOST: &str = "127.0.0.1:11434";

/// A running Ollama server found by [`probe_ollama`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OllamaServer {
    /// Its OpenAI-compatible base URL.
    pub base_url: String,
    /// The first model it has pulled.
    pub first_model: Option<String>,
}

/// Asks `OLLAMA_HOST` (or `127.0.0.1:11434`) for its models, waiting at most
/// 300 ms, so an idle machine is not slowed down.
pub fn probe_ollama(env: EnvLookup<'_>) -> Option<OllamaServer> {
    let host = env("OLLAMA_HOST").unwrap_or_else(|| OLLAMA_DEFAULT_HOST.to_string());
    let host = host
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    // OLLAMA_HOST may name a host without its port; 0.0.0.0 means "here".
    let host = if host
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        host
    } else {
        format!("{host}:11434")
    };
    let host = host.replacen("0.0.0.0", "127.0.0.1", 1);
    let address = host.to_socket_addrs().ok()?.next()?;
    let limit = Duration::from_millis(300);
    let mut stream = TcpStream::connect_timeout(&address, limit).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    stream.set_write_timeout(Some(limit)).ok()?;
    let request =
        format!("GET /api/tags HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let (head, body) = read_response(&mut stream)?;
    let status = head.split_whitespace().nth(1);
    if !head.starts_with("HTTP/1.") || status != Some("200") {
        return None;
    }
    let tags: serde_json::Value = serde_json::from_str(&body).ok()?;
    let first_model = tags["models"]
        .as_array()
        .and_then(|models| models.first())
        .and_then(|m| m["name"].as_str().or(m["model"].as_str()))
        .map(str::to_string);
    Some(OllamaServer {
        base_url: format!("http://{host}/v1"),
        first_model,
    })
}

/// Reads one HTTP response: until `Content-Length` bytes of body arrived,
/// or the server closed the connection. At most 1 MiB.
fn read_response(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let read = stream.read(&mut buffer).ok()?;
        bytes.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&bytes);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if read == 0 || length.is_some_and(|n| body.len() >= n) {
                return Some((head.to_string(), body.to_string()));
            }
        }
        if read == 0 || bytes.len() > 1 << 20 {
            return None;
        }
    }
}
