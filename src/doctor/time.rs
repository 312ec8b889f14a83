//! Time: the time zone database and the zones in use, and the clock (the
//! system's, or one fixed by `--now` or `TROUPE_NOW`, which is meant for
//! tests and demos and easy to leave set by mistake).

use chrono::{DateTime, Utc};

use super::{Check, Finding, Status};
use crate::app::Settings;
use crate::backend::EnvLookup;
use crate::clock::Clock;
use crate::config::Config;
use crate::store::StoreFacts;

/// How far the newest stored activity may be ahead of the system clock
/// before the clock is called behind (clocks of two machines differ a
/// little).
const CLOCK_SLACK: chrono::Duration = chrono::Duration::minutes(5);

/// The clock's finding, and the clock to use for the other checks.
pub(super) fn check_clock(settings: &Settings, env: EnvLookup<'_>) -> (Finding, Clock) {
    let Some(text) = &settings.now else {
        let message = format!(
            "the system clock: {}",
            Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        return (Finding::ok(Check::Clock, message), Clock::system());
    };
    let from_env = env("TROUPE_NOW").as_deref() == Some(text.as_str());
    let source = if from_env { "TROUPE_NOW" } else { "--now" };
    let unset = if from_env {
        "unset TROUPE_NOW (it is meant for tests and demos)"
    } else {
        "leave out --now to use the system clock"
    };
    match Clock::parse_fixed(text) {
        Err(e) => (
            Finding::problem(Check::Clock, format!("{e} (from {source})"), unset),
            Clock::system(),
        ),
        Ok(clock) => {
            let message = format!(
                "the clock is fixed at {} by {source}: every message is stored at that instant, and follow-ups never fall due",
                clock.now().to_rfc3339()
            );
            // Set in the environment, it applies to every command, which is
            // rarely meant; on the command line, it was asked for.
            let finding = if from_env {
                Finding::problem(Check::Clock, message, unset)
            } else {
                Finding::warning(Check::Clock, message, unset)
            };
            (finding, clock)
        }
    }
}

/// `clock`'s finding, made a problem when the system clock is behind the
/// newest activity the store recorded.
pub(super) fn behind_stored_activity(
    finding: Finding,
    clock: &Clock,
    facts: Option<&StoreFacts>,
) -> Finding {
    let newest = facts.and_then(|f| f.newest_activity);
    match newest {
        Some(newest) if finding.status == Status::Ok && !clock.is_fixed() => {
            behind(finding, Utc::now(), newest)
        }
        _ => finding,
    }
}

fn behind(finding: Finding, now: DateTime<Utc>, newest: DateTime<Utc>) -> Finding {
    if newest - now <= CLOCK_SLACK {
        return finding;
    }
    Finding::problem(
        Check::Clock,
        format!(
            "the system clock ({}) is behind the newest activity in the store ({}): new messages would sort before old ones",
            now.format("%Y-%m-%d %H:%M UTC"),
            newest.format("%Y-%m-%d %H:%M UTC")
        ),
        "set the system clock right (enable NTP time sync)",
    )
}

/// The built-in time zone database, the default zone, and zones stored for
/// users that the database does not know.
pub(super) fn check_time_zones(config: &Config, facts: Option<&StoreFacts>) -> Finding {
    let default = &config.followups.default_timezone;
    let message = format!(
        "IANA time zone database {} built in; users who set no time zone get {default} (followups.default_timezone)",
        chrono_tz::IANA_TZDB_VERSION
    );
    let unknown = facts
        .map(|f| f.unknown_timezones.clone())
        .unwrap_or_default();
    if unknown.is_empty() {
        return Finding::ok(Check::TimeZones, message);
    }
    Finding::warning(
        Check::TimeZones,
        format!(
            "{message}; some users have a time zone this database does not know, so {default} is used for them"
        ),
        "set those users' zones again with `troupe user set USER --timezone Area/City`",
    )
    .with_problems(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(now: Option<&str>) -> Settings {
        Settings {
            now: now.map(str::to_string),
            ..Settings::default()
        }
    }

    #[test]
    fn a_clock_fixed_by_the_environment_is_a_problem_and_by_the_flag_a_warning() {
        let at = "2026-11-26T09:00:00Z";
        let env_set = |name: &str| (name == "TROUPE_NOW").then(|| at.to_string());
        let (finding, clock) = check_clock(&settings(Some(at)), &env_set);
        assert_eq!(finding.status, Status::Problem);
        assert!(finding.fix.unwrap().contains("unset TROUPE_NOW"));
        assert!(clock.is_fixed());
        let (finding, _) = check_clock(&settings(Some(at)), &|_| None);
        assert_eq!(finding.status, Status::Warning);
        let (finding, clock) = check_clock(&settings(None), &|_| None);
        assert_eq!(finding.status, Status::Ok);
        assert!(!clock.is_fixed());
    }

    #[test]
    fn a_system_clock_behind_the_store_is_a_problem() {
        let now = Utc::now();
        let ok = Finding::ok(Check::Clock, "system clock");
        assert_eq!(behind(ok.clone(), now, now).status, Status::Ok);
        let late = behind(ok, now, now + chrono::Duration::hours(2));
        assert_eq!(late.status, Status::Problem);
        assert!(late.fix.unwrap().contains("clock"));
    }
}
