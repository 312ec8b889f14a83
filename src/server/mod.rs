//! `troupe serve`: one long-lived process that owns the data dir and serves
//! every user at once.
//!
//! - [`config`]: `[server]` in `troupe.toml`;
//! - `auth`: operator and end-user bearer tokens;
//! - `state`: what handlers share (store, limits, turns in flight);
//! - `personas`, `conversations`, `users`, `followups`, `ops`: the `/v1`
//!   routes, one file per resource;
//! - `cards`: Character Cards and persona files imported into the
//!   personas directory, personas exported as cards;
//! - `events`: each user's event stream, where follow-ups are pushed;
//! - `retention`: the daily purge of messages past the retention period;
//! - `backups`: backups on request and on a schedule (`[store]`);
//! - `reload`: the personas directory watched, edits served live;
//! - `openai`: the personas as an OpenAI-compatible model
//!   (`/v1/models`, `/v1/chat/completions`);
//! - `webhooks`: the couriers that POST delivered follow-ups to the
//!   configured webhooks;
//! - `error`, `body`: one error shape for every client mistake;
//! - `console`: the web console at `/`, static files built into the binary.
//!
//! Handlers only parse requests and render what the library's services
//! (chat turns, follow-ups, reports) return.

mod auth;
mod backups;
mod body;
mod cards;
pub mod config;
mod connections;
mod console;
mod conversations;
mod error;
mod events;
mod followups;
mod openai;
mod ops;
mod personas;
mod reload;
mod retention;
mod state;
mod store;
mod users;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use config::ServerConfig;
pub use error::ApiError;

use crate::app::App;
use crate::followup::scheduler::Scheduler;
use crate::shutdown::{self, Shutdown};
use crate::store::{SharedStore, Store, StoreBackend, StoreError};
use crate::webhook::Webhook;
use state::{InFlight, RateLimits, ServerState, SharedState};
use store::ServerStore;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address does not parse.
    #[error(
        "\"{0}\" is not an address to listen on; write one such as 127.0.0.1:8080 or 0.0.0.0:8080"
    )]
    BadAddress(String),
    /// A public address with no token to protect it.
    #[error(
        "refusing to listen on {0} without access tokens: set {1} to a long random token (or listen on 127.0.0.1)"
    )]
    Unprotected(SocketAddr, String),
    /// An operator token variable named in the config is not a variable name.
    #[error("[server] operator_token_envs: {0}")]
    BadTokenVar(String),
    /// The port is taken or not ours to bind.
    #[error("could not listen on {addr}: {source}; choose another with --listen")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The store could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A webhook cannot be used (its secret is missing, or its URL names no
    /// host).
    #[error(transparent)]
    Webhook(#[from] crate::webhook::WebhookError),
    /// Signal handlers could not be installed.
    #[error("could not listen for Ctrl-C and SIGTERM: {0}")]
    Signals(std::io::Error),
    /// The server failed while running.
    #[error("the server stopped: {0}")]
    Io(std::io::Error),
}

/// The OpenAPI document's header; paths come from the routes themselves.
#[derive(OpenApi)]
#[openapi(
    info(title = "Troupe", description = "Chat with AI personas, follow-ups, user rights."),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Declares bearer-token security on the document.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The `/v1` API and its OpenAPI document.
fn api() -> (Router<SharedState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(personas::list))
        .routes(routes!(personas::show))
        .routes(routes!(cards::import))
        .routes(routes!(cards::export))
        .routes(routes!(conversations::send, conversations::history))
        .routes(routes!(conversations::greeting))
        .routes(routes!(conversations::topics))
        .routes(routes!(conversations::stop))
        .routes(routes!(users::show, users::update, users::erase))
        .routes(routes!(users::export))
        .routes(routes!(users::mint))
        .routes(routes!(events::events))
        .routes(routes!(events::take_unseen))
        .routes(routes!(followups::due))
        .routes(routes!(followups::explain))
        .routes(routes!(followups::run))
        .routes(routes!(ops::usage))
        .routes(routes!(ops::safety_report))
        .routes(routes!(backups::backup))
        .routes(routes!(openai::models))
        .routes(routes!(openai::model))
        .routes(routes!(openai::completions))
        .split_for_parts()
}

/// The whole router over `state`.
fn router(state: SharedState) -> Router {
    let (api, document) = api();
    let document = Arc::new(document);
    let config = state.config().clone();
    let mut router = api
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = Arc::clone(&document);
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .merge(console::routes())
        .route("/healthz", axum::routing::get(ops::healthz))
        .route("/readyz", axum::routing::get(ops::readyz))
        .route("/metrics", axum::routing::get(ops::metrics))
        .fallback(|| async { ApiError::not_found("there is no such route; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), id = %id)
                },
            )
            .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            tower_http::request_id::MakeRequestUuid,
        ));
    if let Some(cors) = cors(&config) {
        router = router.layer(cors);
    }
    router.with_state(state)
}

/// CORS for the configured origins; none configured, no CORS headers.
fn cors(config: &ServerConfig) -> Option<CorsLayer> {
    if config.cors_origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = config
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
                axum::http::header::ACCEPT,
            ]),
    )
}

/// Where to listen: `--listen`, else `TROUPE_LISTEN`, else `[server]
/// listen`, else [`config::DEFAULT_LISTEN`].
pub fn listen_address(flag: Option<&str>, config: &ServerConfig) -> Result<SocketAddr, ServeError> {
    let env = std::env::var("TROUPE_LISTEN")
        .ok()
        .filter(|v| !v.is_empty());
    let text = flag
        .map(str::to_string)
        .or(env)
        .or_else(|| config.listen.clone())
        .unwrap_or_else(|| config::DEFAULT_LISTEN.to_string());
    text.parse().map_err(|_| ServeError::BadAddress(text))
}

/// The operator tokens from the env vars the config names.
fn operator_tokens(config: &ServerConfig) -> Result<Vec<String>, ServeError> {
    let mut tokens = Vec::new();
    for var in config.operator_token_vars() {
        crate::config::env_var_name(&var).map_err(ServeError::BadTokenVar)?;
        if let Some(token) = std::env::var(&var).ok().filter(|t| !t.trim().is_empty()) {
            crate::secrets::remember(&token);
            tokens.push(token.trim().to_string());
        }
    }
    Ok(tokens)
}

/// The Prometheus recorder, installed once per process.
fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|_| handle)
        })
        .clone()
}

/// Logs each persona file left out for its problems: the server serves the
/// others, and starts even with none, since users' rights do not depend on
/// personas.
fn log_skipped_personas(personas: &crate::persona::Personas) {
    for line in personas.warnings() {
        tracing::warn!("{line}");
    }
    if personas.is_empty() {
        tracing::error!(
            "no persona is available: chats will fail until the persona files are fixed (run `troupe personas check`)"
        );
    }
}

/// Runs the server on `app`'s data dir until Ctrl-C or SIGTERM; `on_ready`
/// hears the address once it listens.
pub async fn serve(
    app: App,
    listen: SocketAddr,
    on_ready: impl FnOnce(SocketAddr, bool),
) -> Result<(), ServeError> {
    let tokens = operator_tokens(&app.config.server)?;
    log_skipped_personas(&app.personas());
    if tokens.is_empty() && !listen.ip().is_loopback() {
        let var = app.config.server.operator_token_vars().join(" or ");
        return Err(ServeError::Unprotected(listen, var));
    }
    let webhooks = crate::webhook::configured(&app.config.server, &|var| std::env::var(var).ok())?;
    let signals = shutdown::signals().map_err(ServeError::Signals)?;
    let store = open_store(&app, &webhooks).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: listen,
            source,
        })?;
    let address = listener.local_addr().map_err(ServeError::Io)?;
    let (trigger, shutdown) = shutdown::channel();
    let store = match store {
        // Other commands on the data dir go through this server.
        StoreBackend::Sled(store) => {
            store.announce_server(Some(&format!("http://{address}")))?;
            ServerStore::Sled(SharedStore::new(store))
        }
        StoreBackend::Postgres(store) => ServerStore::Postgres(store),
    };
    let couriers = webhooks::start(webhooks, &store.access(), &shutdown)?;
    let state = build_state(app, store, &tokens, shutdown.clone(), couriers.wake.clone());
    let listen_task = start_followup_listener(&state, &couriers.wake, &shutdown).await?;
    retention::purge_now(&state).await;
    let scheduler_task = start_scheduler(&state, &shutdown);
    let retention_task = tokio::spawn(retention::keep(Arc::clone(&state), shutdown.clone()));
    let backup_task = tokio::spawn(backups::keep(Arc::clone(&state), shutdown.clone()));
    let reload_task = reload::start(Arc::clone(&state.app), shutdown.clone());
    on_ready(address, tokens.is_empty());
    let grace = Duration::from_secs(state.config().shutdown_grace_secs);
    // One router for every connection: serving the `Router` through a
    // make-service would rebuild every route for each new connection (tens
    // of KiB apiece, which 10,000 idle event streams would pay 10,000 times).
    let header_timeout = Duration::from_secs(state.config().header_timeout_secs);
    let server = connections::serve(
        listener,
        router(Arc::clone(&state)),
        header_timeout,
        shutdown.clone(),
    );
    let mut server = std::pin::pin!(server);
    tokio::select! {
        () = &mut server => {}
        _ = signals => {
            tracing::info!("stopping: no new requests; waiting for turns in flight");
            trigger.fire();
            let drained = async {
                let _ = (&mut server).await;
                state.in_flight.idle().await;
            };
            if tokio::time::timeout(grace, drained).await.is_err() {
                tracing::warn!(turns = state.in_flight.count(), "turns still in flight at the shutdown deadline");
            }
        }
    }
    if let Some(task) = scheduler_task {
        task.abort();
    }
    retention_task.abort();
    backup_task.abort();
    if let Some(task) = reload_task {
        task.abort();
    }
    if let Some(task) = listen_task {
        task.abort();
    }
    couriers.abort();
    close_store(&state.store, grace).await
}

/// Opens the store the server keeps its conversations in: the PostgreSQL
/// database when one is configured (migrated first), else sled in the data
/// dir; webhook queues without a configured webhook are reported.
async fn open_store(app: &App, webhooks: &[Webhook]) -> Result<StoreBackend, ServeError> {
    let database = app
        .config
        .store
        .database(&crate::backend::process_env)
        .map_err(StoreError::from)?;
    let store = match database {
        None => StoreBackend::Sled(Store::open(&app.data_dir)?),
        Some(database) => {
            let store = crate::store::postgres::PgStore::open(database)
                .await
                .map_err(StoreError::from)?;
            tracing::info!(database = %store.target(), "serving from PostgreSQL");
            StoreBackend::Postgres(store)
        }
    };
    webhooks::report_unconfigured(&store, webhooks).await?;
    Ok(store)
}

/// Lets go of the store at exit. sled: flushes, takes the server's address
/// out of the lock file, and closes, which records the store's files so the
/// next open finds them as they were left (a turn still holding the store
/// past `grace` leaves it to be checked as after a crash). PostgreSQL:
/// closes the connections once the statements in progress end.
async fn close_store(store: &ServerStore, grace: Duration) -> Result<(), ServeError> {
    let shared = match store {
        ServerStore::Sled(shared) => shared,
        ServerStore::Postgres(store) => {
            let _ = tokio::time::timeout(grace.max(Duration::from_secs(1)), store.close()).await;
            return Ok(());
        }
    };
    {
        let store = shared.get().await?;
        store.flush()?;
        store.announce_server(None)?;
    }
    if tokio::time::timeout(grace.max(Duration::from_secs(1)), shared.close())
        .await
        .is_err()
    {
        tracing::warn!(
            "the store was still in use at exit; the next start keeps a copy of its files before opening them"
        );
    }
    Ok(())
}

/// On PostgreSQL, pushes the follow-ups any server delivers (this one
/// included) to the streams open here, and wakes this server's webhook
/// couriers, as the database announces them; on sled the scheduler does
/// both for what it delivers itself.
async fn start_followup_listener(
    state: &SharedState,
    couriers: &crate::webhook::Wake,
    shutdown: &Shutdown,
) -> Result<Option<tokio::task::JoinHandle<()>>, ServeError> {
    let ServerStore::Postgres(store) = &state.store else {
        return Ok(None);
    };
    let listener = store.followup_listener().await.map_err(StoreError::from)?;
    Ok(Some(tokio::spawn(events::relay(
        Arc::clone(state),
        listener,
        couriers.clone(),
        shutdown.clone(),
    ))))
}

/// Starts the follow-up scheduler, unless `[server] followups = false`
/// leaves delivery to `POST /v1/followups/run`.
fn start_scheduler(
    state: &SharedState,
    shutdown: &Shutdown,
) -> Option<tokio::task::JoinHandle<()>> {
    if !state.config().followups {
        tracing::info!(
            "follow-ups are not delivered on their own ([server] followups = false); POST /v1/followups/run delivers what is due"
        );
        return None;
    }
    Some(tokio::spawn(
        Arc::clone(&state.scheduler).run(shutdown.clone()),
    ))
}

/// The shared state, with the follow-up scheduler pushing to the hub and
/// waking the webhook couriers.
fn build_state(
    app: App,
    store: ServerStore,
    tokens: &[String],
    shutdown: Shutdown,
    couriers: crate::webhook::Wake,
) -> SharedState {
    let app = Arc::new(app);
    let hub = Arc::new(events::Hub::default());
    let wake = Arc::new(tokio::sync::Notify::new());
    // On PostgreSQL every delivery reaches the streams through the
    // database's announcement (see `start_followup_listener`), this
    // server's own included, so none is pushed twice.
    let push = match &store {
        ServerStore::Sled(_) => Some(Arc::clone(&hub)),
        ServerStore::Postgres(_) => None,
    };
    let lease = chrono::Duration::seconds(crate::followup::DEFAULT_LEASE_SECONDS);
    let scheduler = Arc::new(Scheduler {
        app: Arc::clone(&app),
        store: store.access(),
        worker: crate::followup::Worker::new(lease),
        wake: Arc::clone(&wake),
        on_sent: push_to(push, Arc::clone(&app), couriers),
        recheck: Duration::from_secs(app.config.server.followup_check_secs.max(1)),
    });
    Arc::new(ServerState {
        streams: Arc::new(tokio::sync::Semaphore::new(app.config.server.max_streams)),
        access: auth::Access::new(tokens),
        rates: RateLimits::default(),
        in_flight: InFlight::default(),
        turns: state::ConversationLocks::default(),
        stops: Arc::default(),
        metrics: metrics_handle(),
        app,
        store,
        hub,
        wake,
        scheduler,
        shutdown,
    })
}

/// Pushes each delivered follow-up to its user's open streams, and wakes
/// the webhook couriers (its webhook entries were queued with it).
fn push_to(
    hub: Option<Arc<events::Hub>>,
    app: Arc<App>,
    couriers: crate::webhook::Wake,
) -> Arc<crate::followup::scheduler::OnSent> {
    Arc::new(move |sent| {
        couriers.notify();
        let Some(hub) = &hub else {
            return;
        };
        let name = app
            .personas()
            .get(&sent.persona)
            .map(|p| p.name.clone())
            .unwrap_or_else(|_| sent.persona.clone());
        let streams = hub.publish(&sent.user, events::FollowUpEvent::new(sent, &name));
        tracing::info!(persona = %sent.persona, streams, "follow-up pushed");
    })
}
