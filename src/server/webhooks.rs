//! The server's webhook couriers ([`crate::webhook::courier`]): one per
//! `[server.webhooks.NAME]`, started with the server, woken by each
//! delivered follow-up, stopped on shutdown.

use tokio::task::JoinHandle;

use crate::shutdown::Shutdown;
use crate::store::{StoreAccess, StoreBackend, StoreError};
use crate::webhook::{Courier, Wake, Webhook, WebhookError};

/// The running couriers.
pub struct Couriers {
    /// Wakes every courier.
    pub wake: Wake,
    /// Their tasks, aborted if they outlive the shutdown.
    tasks: Vec<JoinHandle<()>>,
}

/// Starts a courier for each of `webhooks`; each reads its queue at once,
/// so entries a stopped server left are sent now.
pub fn start(
    webhooks: Vec<Webhook>,
    store: &StoreAccess,
    shutdown: &Shutdown,
) -> Result<Couriers, WebhookError> {
    let couriers = webhooks
        .into_iter()
        .map(|webhook| Courier::new(webhook, store.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let wake = Wake::new(&couriers);
    let tasks = couriers
        .into_iter()
        .map(|courier| {
            tracing::info!(webhook = %courier.name(), "webhook courier started");
            tokio::spawn(courier.run(shutdown.clone()))
        })
        .collect();
    Ok(Couriers { wake, tasks })
}

impl Couriers {
    /// Stops any courier still running (each stops on its own at shutdown).
    pub fn abort(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Warns about follow-ups queued for webhooks no longer in the config: they
/// are kept (and erased with their users), and sent if the webhook is
/// configured again under the same name.
pub async fn report_unconfigured(
    store: &StoreBackend,
    webhooks: &[Webhook],
) -> Result<(), StoreError> {
    for (name, pending) in store.outbox_counts().await? {
        if !webhooks.iter().any(|w| w.name == name) {
            tracing::warn!(
                webhook = %name,
                pending,
                "follow-ups wait in the outbox for a webhook that is not configured; they are kept, and sent once [server.webhooks.{name}] is configured again"
            );
        }
    }
    Ok(())
}
