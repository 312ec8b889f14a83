//! The `troupe` binary: parses the command line, runs the library, and maps
//! errors to one line on stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use troupe::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, troupe::cli::Command::Serve(_));
    init_logging(cli.verbose, serving);
    // reqwest and async-openai are built without a default TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match run(cli, serving) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("troupe: {}", troupe::terminal::printable(&one_line(&err)));
            // Input the user can correct is a usage error, like clap's own.
            let usage = matches!(
                err.downcast_ref::<troupe::Error>(),
                Some(troupe::Error::Usage(_))
            );
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// The error and its causes on one line, leaving out a cause the message
/// already quotes.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

fn run(cli: Cli, serving: bool) -> anyhow::Result<i32> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if serving {
        limit_malloc_arenas();
        builder.worker_threads(server_threads());
    }
    let runtime = builder.enable_all().build()?;
    Ok(runtime.block_on(cli.run())?)
}

/// How many arenas glibc's allocator may keep for a server that has not
/// set `MALLOC_ARENA_MAX` itself.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_ARENAS: i32 = 2;

/// Bounds the allocator's arenas before the server's threads start. By
/// default glibc gives threads up to eight arenas per core, and memory
/// freed in one stays there: every thread the runtime starts to wait on the
/// disk gets its own, and a connection's buffers end up spread over all of
/// them. Two arenas hold the same 10,000 idle event streams in about 45 MiB
/// less (`cargo bench --bench server`, docs/src/benchmarks.md).
/// `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called
        // before the runtime starts any thread.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// The server's worker threads: `TROUPE_WORKER_THREADS`, else the number
/// of cores.
fn server_threads() -> usize {
    std::env::var("TROUPE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// Logs go to stderr, each line made printable and without colours (a
/// colour is an escape sequence, and none may reach the terminal from a
/// log); `-v`/`-vv` or `RUST_LOG` raise the level. A server logs its
/// requests (at info) by default.
fn init_logging(verbose: u8, serving: bool) {
    let default = match verbose {
        0 if serving => "troupe=info,tower_http=info",
        0 => "warn",
        1 => "troupe=info,tower_http=info",
        _ => "troupe=debug,tower_http=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(troupe::terminal::LogWriter)
        .with_ansi(false)
        .with_target(false)
        .init();
}
