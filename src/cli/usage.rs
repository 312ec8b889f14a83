//! `troupe usage`: tokens and latency per persona and model.

use chrono::{DateTime, Utc};
use clap::Args;

use super::print_json;
use crate::app::App;
use crate::error::Error;

/// Arguments of `troupe usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only calls from this day (YYYY-MM-DD, UTC) or instant (RFC 3339) on.
    #[arg(long, value_name = "DATE", value_parser = crate::report::parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Print [{"persona","model","calls","failed","interrupted","prompt_tokens","completion_tokens","total_tokens","avg_latency_ms"}].
    #[arg(long)]
    pub json: bool,
}

/// Runs `troupe usage`.
pub async fn run(app: &App, args: UsageArgs) -> Result<i32, Error> {
    let lines = super::reach(app).await?.usage(args.since).await?;
    if args.json {
        print_json(&lines)?;
    } else if lines.is_empty() {
        outln!("No model calls recorded.");
    } else {
        outln!(
            "{:<10} {:<28} {:>6} {:>6} {:>11} {:>10} {:>10} {:>9}",
            "persona",
            "model",
            "calls",
            "failed",
            "interrupted",
            "prompt",
            "completion",
            "avg ms"
        );
        for l in &lines {
            outln!(
                "{:<10} {:<28} {:>6} {:>6} {:>11} {:>10} {:>10} {:>9}",
                l.persona,
                l.model,
                l.calls,
                l.failed,
                l.interrupted,
                l.prompt_tokens,
                l.completion_tokens,
                l.avg_latency_ms
            );
        }
    }
    Ok(0)
}
