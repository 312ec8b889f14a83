//! `troupe usage`: tokens and latency per persona and model.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use serde::Serialize;

use super::print_json;
use crate::app::App;
use crate::error::Error;
use crate::store::CallOutcome;

/// Arguments of `troupe usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only calls from this day (YYYY-MM-DD, UTC) or instant (RFC 3339) on.
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Print [{"persona","model","calls","failed","interrupted","prompt_tokens","completion_tokens","total_tokens","avg_latency_ms"}].
    #[arg(long)]
    pub json: bool,
}

/// One line of the report.
#[derive(Debug, Default, Serialize)]
struct Line {
    persona: String,
    model: String,
    calls: u64,
    /// Calls that brought no reply.
    failed: u64,
    /// Streamed replies that broke off.
    interrupted: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    /// Over completed calls only: a failure's time says little about speed.
    avg_latency_ms: u64,
    #[serde(skip)]
    latency_total: u64,
}

/// Reads `2026-11-01` or an RFC 3339 instant.
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("\"{text}\" is not a day"));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("\"{text}\" is not a date; write 2026-11-01 or 2026-11-01T09:00:00Z"))
}

/// Runs `troupe usage`.
pub fn run(app: &App, args: UsageArgs) -> Result<i32, Error> {
    let store = app.open_store()?;
    let since = args.since.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut lines: BTreeMap<(String, String), Line> = BTreeMap::new();
    for record in store.usage_since(since)? {
        let line = lines
            .entry((record.persona.clone(), record.model.clone()))
            .or_insert_with(|| Line {
                persona: record.persona.clone(),
                model: record.model.clone(),
                ..Line::default()
            });
        line.calls += 1;
        match record.outcome {
            CallOutcome::Completed => {
                line.latency_total += record.latency_ms;
                let completed = line.calls - line.failed - line.interrupted;
                line.avg_latency_ms = line.latency_total / completed;
            }
            CallOutcome::Interrupted => line.interrupted += 1,
            CallOutcome::Failed => line.failed += 1,
        }
        line.prompt_tokens += record.prompt_tokens;
        line.completion_tokens += record.completion_tokens;
        line.total_tokens += record.prompt_tokens + record.completion_tokens;
    }
    let lines: Vec<Line> = lines.into_values().collect();
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
