//! A real Chromium, headless, driven through chromedriver's WebDriver HTTP
//! protocol with the blocking reqwest client: just what the web console's
//! tests need (navigate, find, click, type, read, run a script, take a
//! screenshot, read the browser's console log).
//!
//! Browser tests are on when `TROUPE_TEST_CHROMEDRIVER` or
//! `TROUPE_TEST_CHROMIUM` is set (each defaults to the Debian path when
//! only the other is); with neither, [`Browser::launch`] says why it skips
//! and returns `None`. Once they are on, anything missing is a failure.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key WebDriver names an element reference by.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's code for the Enter key, for [`Browser::type_into`].
pub const ENTER: &str = "\u{E007}";

/// How long [`Browser::wait_for`] waits before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A headless Chromium session; the browser and its driver stop on drop.
pub struct Browser {
    /// `http://127.0.0.1:PORT`, where chromedriver listens.
    base: String,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    /// The chromedriver process.
    driver: Child,
    /// The HTTP client that talks to chromedriver.
    http: reqwest::blocking::Client,
    /// A fresh profile, so no earlier run's storage leaks in.
    profile: tempfile::TempDir,
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

/// The HTTP client tests use, with the TLS provider reqwest needs installed.
pub fn http_client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

/// The chromedriver and Chromium the environment names, or why browser
/// tests are skipped.
fn configured() -> Result<(PathBuf, PathBuf), String> {
    let driver = std::env::var_os("TROUPE_TEST_CHROMEDRIVER").map(PathBuf::from);
    let chromium = std::env::var_os("TROUPE_TEST_CHROMIUM").map(PathBuf::from);
    if driver.is_none() && chromium.is_none() {
        return Err(
            "TROUPE_TEST_CHROMEDRIVER and TROUPE_TEST_CHROMIUM are not set \
             (e.g. /usr/bin/chromedriver and /usr/bin/chromium from Debian's \
             chromium-driver and chromium packages)"
                .into(),
        );
    }
    let driver = driver.unwrap_or_else(|| "/usr/bin/chromedriver".into());
    let chromium = chromium.unwrap_or_else(|| "/usr/bin/chromium".into());
    for path in [&driver, &chromium] {
        assert!(
            path.is_file(),
            "browser tests are on but {} does not exist; install chromium and chromium-driver or fix TROUPE_TEST_CHROMEDRIVER / TROUPE_TEST_CHROMIUM",
            path.display()
        );
    }
    Ok((driver, chromium))
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile
    /// that downloads into `downloads`; `None` (after saying why on
    /// stderr) when browser tests are off.
    pub fn launch(test: &str, downloads: &Path) -> Option<Browser> {
        let (driver_path, chromium) = match configured() {
            Ok(paths) => paths,
            Err(why) => {
                // Straight to stderr, not eprintln!: the test harness keeps
                // a passing test's eprintln! output to itself, and a skip
                // should be seen.
                let _ = writeln!(std::io::stderr(), "skipped the browser test {test}: {why}");
                return None;
            }
        };
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", driver_path.display()));
        let http = http_client();
        let base = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir().expect("a profile dir");
        let mut browser = Browser {
            base: base.clone(),
            session: String::new(),
            driver,
            http,
            profile,
        };
        browser.wait_for_driver(&base);
        browser.session = browser.new_session(&base, &chromium, downloads);
        Some(browser)
    }

    fn wait_for_driver(&self, base: &str) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            let ready = self
                .http
                .get(format!("{base}/status"))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chromedriver did not answer on {base} within {PATIENCE:?}");
    }

    fn new_session(&self, base: &str, chromium: &Path, downloads: &Path) -> String {
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            },
        }}});
        let answer = self.call("POST", &format!("{base}/session"), Some(capabilities));
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver gave no session: {answer}"));
        format!("{base}/session/{id}")
    }

    /// One WebDriver command; its `value`, or a panic with WebDriver's error.
    fn call(&self, method: &str, url: &str, body: Option<Value>) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .unwrap_or_else(|e| panic!("chromedriver did not answer {url}: {e}"));
        let status = response.status();
        let json: Value = response.json().unwrap_or(Value::Null);
        assert!(status.is_success(), "WebDriver {url} failed: {json}");
        json["value"].clone()
    }

    /// A command on this session, at `path` below it.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("{}{path}", self.session), body)
    }

    /// Opens `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    /// The elements matching a CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.command(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str())
                    .map(|id| Element(id.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, waiting for it to appear.
    pub fn find(&self, css: &str) -> Element {
        self.wait_for(&format!("an element matching {css}"), || {
            self.find_all(css).into_iter().next()
        })
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        );
    }

    /// Types `text` into the first element matching `css` (see [`ENTER`]).
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        );
    }

    /// Clears the field matching `css`.
    pub fn clear(&self, css: &str) {
        let element = self.find(css);
        self.command(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        );
    }

    /// The rendered text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.command("GET", &format!("/element/{}/text", element.0), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and
    /// returns what it returns.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Waits until `script` returns something truthy; returns it.
    pub fn wait_until(&self, what: &str, script: &str, args: Value) -> Value {
        self.wait_for(what, || {
            let value = self.run(script, args.clone());
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            truthy.then_some(value)
        })
    }

    /// Polls `probe` until it answers, failing the test after [`PATIENCE`]
    /// with `what` it was waiting for and the text the page shows.
    pub fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = probe() {
                return found;
            }
            if Instant::now() > deadline {
                let body = self.run("return document.body.innerText", json!([]));
                panic!("waited {PATIENCE:?} for {what}; the page shows:\n{body}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A PNG screenshot of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.command("GET", "/screenshot", None);
        decode_base64(encoded.as_str().expect("a base64 screenshot"))
    }

    /// The browser console's messages since the last call, as
    /// `LEVEL message` lines.
    pub fn console_log(&self) -> Vec<String> {
        let entries = self.command("POST", "/se/log", Some(json!({"type": "browser"})));
        entries
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| format!("{} {}", e["level"].as_str().unwrap_or(""), e["message"]))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    /// Ends the session, then asks chromedriver to quit, which also quits
    /// any browser it still runs: killing chromedriver alone would leave
    /// Chromium running without it.
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.http.delete(&self.session).send();
        }
        let _ = self.http.get(format!("{}/shutdown", self.base)).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Decodes standard base64 (WebDriver's screenshots); panics on anything else.
pub fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {:?}", char::from(c)),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | value(c) << (18 - 6 * i));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The width and height of a PNG, if `bytes` is a whole PNG: the signature,
/// an `IHDR` chunk first and an `IEND` chunk last.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let ends_well = bytes.len() > 45 && bytes[bytes.len() - 8..bytes.len() - 4] == *b"IEND";
    if !ends_well || !bytes.starts_with(SIGNATURE) || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((word(16), word(20)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("aGVsbG8="), b"hello");
        assert_eq!(decode_base64("aGk="), b"hi");
        assert_eq!(decode_base64("YWJj"), b"abc");
    }

    #[test]
    fn a_truncated_png_is_not_a_png() {
        assert_eq!(png_size(b"\x89PNG\r\n\x1a\n"), None);
    }
}
