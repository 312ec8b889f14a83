//! The follow-up scheduler of a long-lived process: sleeps until the next
//! conversation falls due, a chat turn changes something, or the periodic
//! re-check comes round, then delivers what is due with the same
//! exactly-once guarantee as `troupe followups run` (it runs the same code),
//! and hands each delivered follow-up to the process to push to the user.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::Worker;
use super::{RunOptions, SentFollowUp};
use crate::app::App;
use crate::error::Error;
use crate::shutdown::Shutdown;
use crate::store::{StoreAccess, StoreBackend};

/// How long the scheduler lets wake-ups gather before a pass: under load
/// every chat turn wakes it, and on PostgreSQL a pass is a few round trips
/// to the database, so passes come at most about four times a second, a
/// follow-up at most this much later than it could.
const GATHER_WAKES: Duration = Duration::from_millis(250);

/// Hears each follow-up as it is delivered.
pub type OnSent = dyn Fn(&SentFollowUp) + Send + Sync;

/// Runs follow-ups in the background of a server.
pub struct Scheduler {
    /// The runtime: personas, prompts, policy, models.
    pub app: Arc<App>,
    /// The store, shared with the chat turns: sled's shared store, or a
    /// PostgreSQL database that other servers' schedulers share too.
    pub store: StoreAccess,
    /// This scheduler's identity and lease as a worker on PostgreSQL,
    /// where schedulers claim due conversations from each other.
    pub worker: Worker,
    /// Poked after every chat turn, and by whoever wants a run now.
    pub wake: Arc<Notify>,
    /// Hears each delivered follow-up.
    pub on_sent: Arc<OnSent>,
    /// The longest sleep between runs: due conversations waiting on a rule
    /// that time alone lifts (quiet hours) are looked at again this often.
    pub recheck: Duration,
}

impl Scheduler {
    /// Runs until `shutdown`. A failing run is logged and retried at the
    /// next wake-up: it must never take the server down.
    pub async fn run(self: Arc<Self>, mut shutdown: Shutdown) {
        loop {
            let looked = tokio::select! {
                looked = self.deliver_due() => looked,
                _ = shutdown.requested() => return,
            };
            if let Err(error) = looked {
                metrics::counter!("troupe_followup_runs_failed_total").increment(1);
                tracing::warn!(%error, "follow-up run failed; trying again later");
            }
            let sleep = self.until_next().await;
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {
                    // Many turns a second each wake the scheduler: the
                    // wake-ups of a short moment make one pass.
                    tokio::select! {
                        _ = tokio::time::sleep(GATHER_WAKES) => {}
                        _ = shutdown.requested() => return,
                    }
                }
                _ = shutdown.requested() => return,
            }
        }
    }

    /// Delivers what is due now (and intents an earlier run left); returns
    /// how many follow-ups were delivered.
    pub async fn deliver_due(&self) -> Result<usize, Error> {
        // Each step of the run holds the store; a model writing holds nothing.
        let followups = self.app.followups(&self.store);
        let model_for = |p: &crate::persona::Persona| self.app.model_for(p);
        let silent = &mut crate::progress::Silent;
        let sent = if self.store.is_postgres() {
            let store = StoreBackend::clone(&*self.store.step()?);
            let options = RunOptions::default();
            followups
                .run_worker(&store, &self.worker, options, &model_for, silent)
                .await?
        } else {
            followups
                .run(RunOptions::default(), &model_for, silent)
                .await?
        };
        metrics::counter!("troupe_followups_sent_total").increment(sent.len() as u64);
        for followup in &sent {
            (self.on_sent)(followup);
        }
        Ok(sent.len())
    }

    /// How long to sleep before the next conversation falls due, at most
    /// [`Scheduler::recheck`].
    async fn until_next(&self) -> Duration {
        let now = self.app.clock.now();
        let next = match self.store.step() {
            Ok(store) => store.next_due_after(now).await.ok().flatten(),
            Err(_) => None,
        };
        next.and_then(|at| (at - now).to_std().ok())
            .unwrap_or(self.recheck)
            .min(self.recheck)
    }
}
