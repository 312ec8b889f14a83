//! The `personas/` and `prompts/` directories, embedded at build time so the
//! installed binary works from any directory. `--personas DIR` and
//! `--prompts DIR` replace them at run time.

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
