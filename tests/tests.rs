//! Integration tests: the real `troupe` binary against real sled stores in
//! temp dirs and an OpenAI-compatible test server on 127.0.0.1. One test
//! binary with modules, so the suite links once.

mod support;

/// The labelled sets as rows, and how alike two rows are (shared with the
/// `dedupe` example).
#[path = "../examples/dedupe/sets.rs"]
mod labelled_sets;

mod backends;
mod backups;
mod broken_personas;
mod card_prompts;
mod cards;
mod chat_openai;
mod cli_server;
mod commands_on_postgres;
mod console;
mod console_web;
mod crash;
mod creators;
mod damaged_store;
mod data_dir;
mod docs;
mod figures;
mod first_hour;
mod followup_queries;
mod followup_workers;
mod followups;
mod input_limits;
mod json_fields;
mod language_data;
mod lore;
mod moderation;
mod offline;
mod openai;
mod personas;
mod populate;
mod providers;
mod safety;
mod server;
mod servers_on_postgres;
mod settings;
mod shared_data_dir;
mod store;
mod store_conformance;
mod store_copy;
mod terminal;
mod user_ids;
mod webhooks;
