//! The library's top-level error: one variant per module's error, so the
//! binary can print any of them as one actionable line.

use crate::chat::TurnError;
use crate::clock::ClockError;
use crate::config::ConfigError;
use crate::lang::LangError;
use crate::model::ModelError;
use crate::persona::PersonaError;
use crate::prompt::PromptError;
use crate::store::StoreError;

/// Anything that can stop a Troupe command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A persona problem.
    #[error(transparent)]
    Persona(#[from] PersonaError),
    /// A prompt template problem.
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// A config problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A language data problem (`lang/` files).
    #[error(transparent)]
    Lang(#[from] LangError),
    /// A store problem.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bad `--now`.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// A model problem outside a turn.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A chat turn failed.
    #[error(transparent)]
    Turn(#[from] TurnError),
    /// Input the user can correct (a bad id, a bad flag value); exit code 2.
    #[error("{0}")]
    Usage(String),
    /// Something asked for does not exist (a user, a conversation).
    #[error("{0}")]
    NotFound(String),
    /// Data read from stdin is unusable.
    #[error("{0}")]
    Input(String),
    /// `troupe store copy` could not copy or verify.
    #[error(transparent)]
    Copy(#[from] crate::store::copy::CopyError),
    /// A webhook could not be set up, or a delivery id not made.
    #[error(transparent)]
    Webhook(#[from] crate::webhook::WebhookError),
    /// The server could not start or stopped on an error.
    #[error(transparent)]
    Serve(crate::server::ServeError),
    /// A command that went through a server failed there.
    #[error(transparent)]
    Server(crate::client::ClientError),
    /// `troupe init` could not write a project file.
    #[error(transparent)]
    Init(#[from] crate::project::InitError),
    /// Reading from or writing to the terminal failed.
    #[error("terminal I/O failed: {0}")]
    Terminal(String),
}

impl From<crate::ids::UserIdError> for Error {
    /// A bad or ambiguous user id is input the user can correct.
    fn from(error: crate::ids::UserIdError) -> Self {
        match error {
            crate::ids::UserIdError::Store(e) => Error::Store(e),
            other => Error::Usage(other.to_string()),
        }
    }
}

impl From<crate::client::ClientError> for Error {
    /// What the server says is missing is missing, and input it refuses is
    /// input the user can correct, as when the command runs here.
    fn from(error: crate::client::ClientError) -> Self {
        match error {
            crate::client::ClientError::Api {
                status: 404,
                message,
                ..
            } => Error::NotFound(message),
            crate::client::ClientError::Api {
                status: 400 | 422,
                message,
                ..
            } => Error::Usage(message),
            other => Error::Server(other),
        }
    }
}
