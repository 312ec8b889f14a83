//! A webhook receiver on 127.0.0.1: checks each request's signature with
//! the library's own helper, answers with the status a test chooses or is
//! down (cuts every connection before answering; it keeps its port, so no
//! other socket can take it meanwhile), and lets tests wait for requests
//! without sleeping.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use troupe::webhook::signature::{self, SignatureError};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Troupe-Delivery`.
    pub delivery: String,
    /// `X-Troupe-Event`.
    pub event: String,
    /// `Content-Type`.
    pub content_type: String,
    /// What checking the signature said.
    pub verified: Result<(), SignatureError>,
    /// The status it was answered with.
    pub status: u16,
    /// The body as JSON.
    pub body: Value,
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    /// With this status (401 whatever it is when the signature is wrong).
    Status(u16),
    /// Not at all: the connection is cut, as when the receiver is down.
    Cut,
}

/// What the receiver has seen, and how it answers.
#[derive(Debug)]
struct Log {
    /// Every request answered, in order.
    requests: Vec<Received>,
    /// Connections cut while down.
    cut: usize,
    /// How the next requests are answered.
    answer: Answer,
}

/// The log and a signal poked on every request.
type Shared = Arc<(Mutex<Log>, Condvar)>;

/// A running receiver; it stops when dropped.
pub struct Receiver {
    /// Its port.
    pub port: u16,
    shared: Shared,
    /// Tells the listening thread to end.
    stop: Arc<AtomicBool>,
    /// The listening thread.
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on a free port, answering 200, checking signatures with `secret`.
    pub fn start(secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        let port = listener.local_addr().expect("an address").port();
        let shared: Shared = Arc::new((
            Mutex::new(Log {
                requests: Vec::new(),
                cut: 0,
                answer: Answer::Status(200),
            }),
            Condvar::new(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, log, secret) = (
            Arc::clone(&stop),
            Arc::clone(&shared),
            secret.as_bytes().to_vec(),
        );
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    serve_one(stream, &secret, &log);
                }
            }
        });
        Self {
            port,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL to configure.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/troupe", self.port)
    }

    /// Answers the next requests with `status`.
    pub fn answer_with(&self, status: u16) {
        self.shared
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .answer = Answer::Status(status);
    }

    /// Goes down: cuts the next connections without answering.
    pub fn go_down(&self) {
        self.shared
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .answer = Answer::Cut;
    }

    /// Waits until `count` connections were cut while down.
    pub fn wait_for_cuts(&self, count: usize, within: Duration) {
        let (lock, signal) = &*self.shared;
        let log = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (log, timeout) = signal
            .wait_timeout_while(log, within, |log| log.cut < count)
            .unwrap_or_else(PoisonError::into_inner);
        let cut = log.cut;
        drop(log);
        assert!(
            !timeout.timed_out(),
            "waited {within:?} for {count} cut connections; got {cut}"
        );
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Received> {
        self.shared
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
            .clone()
    }

    /// The requests answered 2xx so far.
    pub fn accepted(&self) -> Vec<Received> {
        let requests = self.requests();
        requests
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// Waits up to `within` until `done` holds for the requests so far;
    /// panics with them if it does not.
    pub fn wait_until(&self, within: Duration, what: &str, done: impl Fn(&[Received]) -> bool) {
        let (lock, signal) = &*self.shared;
        let log = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (log, timeout) = signal
            .wait_timeout_while(log, within, |log| !done(&log.requests))
            .unwrap_or_else(PoisonError::into_inner);
        let requests = log.requests.clone();
        // Released before asserting, so a failure does not poison the log.
        drop(log);
        assert!(
            !timeout.timed_out(),
            "waited {within:?} for {what}; got {requests:#?}"
        );
    }

    /// Waits until `count` requests were answered 2xx.
    pub fn wait_for_accepted(&self, count: usize, within: Duration) -> Vec<Received> {
        self.wait_until(
            within,
            &format!("{count} accepted deliveries"),
            |requests| {
                requests
                    .iter()
                    .filter(|r| (200..300).contains(&r.status))
                    .count()
                    >= count
            },
        );
        self.accepted()
    }

    /// Waits until `count` requests arrived, whatever they were answered.
    pub fn wait_for_requests(&self, count: usize, within: Duration) {
        self.wait_until(within, &format!("{count} requests"), |requests| {
            requests.len() >= count
        });
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblocks the accept, so the thread sees the flag and closes the port.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            // A thread that panicked has nothing left to close.
            let _ = thread.join();
        }
    }
}

/// Reads one request, checks it, answers it and closes the connection; or,
/// while down, closes it at once.
fn serve_one(stream: TcpStream, secret: &[u8], shared: &Shared) {
    {
        let mut log = shared.0.lock().unwrap_or_else(PoisonError::into_inner);
        if log.answer == Answer::Cut {
            log.cut += 1;
            shared.1.notify_all();
            return;
        }
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return, // the stop poke, or a client that gave up
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {
                if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                }
            }
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let verified = signature::verify(
        secret,
        &header("x-troupe-timestamp"),
        &header("x-troupe-signature"),
        &body,
        now,
        signature::DEFAULT_TOLERANCE,
    );
    let (lock, signal) = &**shared;
    let mut log = lock.lock().unwrap_or_else(PoisonError::into_inner);
    let status = match (log.answer, verified.is_ok()) {
        (Answer::Status(status), true) => status,
        // Went down while reading: answer as down.
        (Answer::Cut, _) => return,
        (_, false) => 401,
    };
    let answer =
        format!("HTTP/1.1 {status} Status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = (&stream).write_all(answer.as_bytes());
    log.requests.push(Received {
        delivery: header("x-troupe-delivery"),
        event: header("x-troupe-event"),
        content_type: header("content-type"),
        verified,
        status,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    signal.notify_all();
}
