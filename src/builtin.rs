//! The `personas/`, `prompts/` and `lang/` directories, embedded at build
//! time so the installed binary works from any directory. `--personas DIR`,
//! `--prompts DIR` and a language directory (see [`crate::lang`]) override
//! them at run time.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
