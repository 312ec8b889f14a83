//! Accepting connections and serving HTTP/1.1 on each, with one router for
//! all of them.
//!
//! Troupe serves HTTP/1.1 only, so a connection goes straight to hyper's
//! HTTP/1 server. Sniffing each connection for HTTP/2 first (what a server
//! accepting both does) hands hyper the request's first bytes apart from
//! the rest, and its read buffer then grows from 8 to 16 KiB on the second
//! read; an idle event stream keeps that buffer for as long as it stays
//! open, so 10,000 of them would hold about 80 MiB more.

use std::io;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};

use crate::shutdown::Shutdown;

/// How long to wait before accepting again after the process ran out of
/// file descriptors or memory for a new connection.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` on every connection `listener` accepts until `stop`,
/// then stops accepting, lets each connection finish the request it is
/// serving (an idle keep-alive connection is closed at once), and returns
/// once every connection has ended. A client that takes longer than
/// `header_timeout` to send a request's head (a connection opened and
/// left silent, or kept alive and unused) is disconnected.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    mut stop: Shutdown,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.requested() => break,
        };
        match accepted {
            Ok((tcp, _)) => serve_one(tcp, router.clone(), header_timeout, &graceful),
            Err(error) => pause_after(error).await,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Serves one connection in a task of its own.
fn serve_one(
    tcp: TcpStream,
    router: Router,
    header_timeout: Duration,
    graceful: &GracefulShutdown,
) {
    // Replies stream in small pieces: send each at once.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "could not set TCP_NODELAY");
    }
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(router));
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "a connection ended with an error");
        }
    });
}

/// Waits a moment after an accept that failed for want of resources, so
/// the loop does not spin while none are free; a connection reset before
/// it was accepted needs no wait.
async fn pause_after(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed; trying again shortly");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}
