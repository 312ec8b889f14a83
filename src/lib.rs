//! Troupe: a runtime for AI personas.
//!
//! Creators define personas as TOML files; end users chat with them in a
//! console; every conversation is kept in sled. The map:
//!
//! - [`persona`]: the persona file format, loading and validation; its
//!   macros, lorebooks (compiled once per load) and Character Cards;
//! - [`schema`]: checks TOML files against a declared shape, reporting every
//!   problem as `file:line:column`;
//! - [`prompt`]: the tera templates that turn a persona into instructions;
//! - [`lang`]: language data (the detector's words, each language's
//!   disclaimers, crisis replies and helplines) read from `lang/` files,
//!   embedded and overridable per deployment;
//! - [`store`]: users, conversations and messages in sled; the files'
//!   manifest and the copies kept before sled's recovery, backups, checks;
//!   the conversation path behind [`store::StoreBackend`], over sled or
//!   PostgreSQL ([`store::postgres`], in progress);
//! - [`model`]: the [`model::ChatModel`] trait and its backends
//!   (OpenAI-compatible, offline);
//! - [`config`]: the deployment config (`troupe.toml`);
//! - [`backend`]: choosing and building model backends from config and env;
//! - [`chat`]: one chat turn, from the user's message to the stored reply;
//! - [`moderation`]: a moderation endpoint, a guard model or the persona's
//!   own model as a second reader of each user message, run beside the reply;
//! - [`followup`]: the follow-up generator: policy, topics, generation and
//!   exactly-once delivery;
//! - [`console`]: the interactive (or scripted) chat console;
//! - [`report`]: usage, the safety report and user settings, shown alike
//!   by every front end;
//! - [`populate`]: synthetic conversations for demos and benchmarks;
//! - [`project`]: `troupe init`: a project folder with a commented config,
//!   a starter persona and the prompt templates;
//! - [`doctor`]: `troupe doctor`: checks of the config, personas, backends,
//!   data dir and clock, each with its fix;
//! - [`progress`]: how long operations report progress to a front end;
//! - [`app`]: the runtime assembled from settings;
//! - [`reach`]: how a command reaches a data dir's data: its files, opened
//!   for each step of work, or the server holding them;
//! - [`client`]: the client of a running server's API that [`reach`] uses;
//! - [`server`]: `troupe serve`: the HTTP API, personas as an
//!   OpenAI-compatible model, the web console, pushed follow-ups;
//! - [`webhook`]: outgoing webhooks for follow-ups: the signed payload, its
//!   verification, and the courier that drains the store's outbox;
//! - [`cli`]: the command line;
//! - [`secrets`]: keys and tokens redacted from every text from a server;
//! - [`terminal`]: the one sanitiser every text passes on its way to a
//!   terminal (no escape sequences, no bidi overrides);
//! - [`clock`], [`ids`], [`locale`], [`error`], [`shutdown`]: the small
//!   pieces they share.

/// Prints a line on stdout, made printable (see [`terminal`]); a closed
/// pipe (`troupe … | head`) is not an error worth a panic, so write
/// failures are ignored.
macro_rules! outln {
    () => {{
        crate::terminal::out_line("");
    }};
    ($($arg:tt)*) => {{
        crate::terminal::out_line(&format!($($arg)*));
    }};
}

/// Prints a line on stderr, made printable, ignoring write failures (see
/// `outln!`).
macro_rules! errln {
    () => {{
        crate::terminal::err_line("");
    }};
    ($($arg:tt)*) => {{
        crate::terminal::err_line(&format!($($arg)*));
    }};
}

pub mod app;
pub mod backend;
pub mod chat;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod console;
pub mod doctor;
pub mod error;
pub mod followup;
pub mod ids;
pub mod lang;
pub mod locale;
pub mod model;
pub mod moderation;
pub mod persona;
pub mod populate;
pub mod progress;
pub mod project;
pub mod prompt;
pub mod reach;
pub mod report;
pub mod safety;
pub mod schema;
pub mod secrets;
pub mod server;
pub mod shutdown;
pub mod store;
pub mod terminal;
pub mod webhook;

mod builtin;

pub use error::Error;
