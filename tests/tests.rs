//! Integration tests: the real `troupe` binary against real sled stores in
//! temp dirs and an OpenAI-compatible test server on 127.0.0.1. One test
//! binary with modules, so the suite links once.

mod support;

mod backends;
mod broken_personas;
mod chat_openai;
mod cli_server;
mod console;
mod console_web;
mod followups;
mod input_limits;
mod offline;
mod openai;
mod personas;
mod safety;
mod server;
mod settings;
mod shared_data_dir;
mod store;
mod terminal;
mod user_ids;
mod webhooks;
