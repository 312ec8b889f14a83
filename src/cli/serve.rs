//! `troupe serve`: the HTTP API, the OpenAI-compatible endpoint, the web
//! console and the follow-up scheduler, in one process.

use clap::Args;

use crate::app::App;
use crate::error::Error;
use crate::server::{self, ServeError};

/// Arguments of `troupe serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen [default: $TROUPE_LISTEN, else [server] listen, else 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Runs `troupe serve` until Ctrl-C or SIGTERM.
pub async fn run(app: App, args: ServeArgs) -> Result<i32, Error> {
    let listen = server::listen_address(args.listen.as_deref(), &app.config.server)?;
    let data_dir = app.data_dir.clone();
    let on_ready = |address: std::net::SocketAddr, open: bool| {
        errln!("troupe: serving {} on http://{address}", data_dir.display());
        errln!(
            "troupe: web console at http://{address}/ ; API at http://{address}/v1 ; OpenAPI at http://{address}/openapi.json"
        );
        if open {
            errln!(
                "troupe: no operator token is set, so only this machine can connect and every caller is an operator; set TROUPE_OPERATOR_TOKEN to require tokens"
            );
        }
    };
    server::serve(app, listen, on_ready).await?;
    errln!("troupe: stopped");
    Ok(0)
}

impl From<ServeError> for Error {
    fn from(error: ServeError) -> Self {
        match error {
            ServeError::Store(e) => Error::Store(e),
            ServeError::BadAddress(_)
            | ServeError::BadTokenVar(_)
            | ServeError::Unprotected(..)
            | ServeError::Webhook(
                crate::webhook::WebhookError::MissingSecret { .. }
                | crate::webhook::WebhookError::BadUrl { .. },
            ) => Error::Usage(error.to_string()),
            other => Error::Serve(other),
        }
    }
}
