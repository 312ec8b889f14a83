//! The runtime assembled from settings: personas, prompts, clock, config and
//! (opened on demand) the store. Commands receive an [`App`] and never read
//! flags or env vars themselves.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crate::backend::{self, BackendChoice, Environment, OllamaServer, process_env};
use crate::chat::ChatService;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::followup::FollowUps;
use crate::model::ChatModel;
use crate::moderation::Moderator;
use crate::persona::{
    LivePersonas, Persona, PersonaChanges, PersonaError, PersonaSource, Personas,
};
use crate::prompt::Prompts;
use crate::store::{Store, StoreAccess};

/// Where things are, as resolved from flags, env vars and defaults.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The data dir holding the store.
    pub data_dir: PathBuf,
    /// A personas directory replacing the built-in ones.
    pub personas_dir: Option<PathBuf>,
    /// A prompts directory overriding the built-in templates.
    pub prompts_dir: Option<PathBuf>,
    /// A language data directory over the built-in `lang/` files, when the
    /// config names none (`./lang`).
    pub language_dir: Option<PathBuf>,
    /// The config file, if one was named or `./troupe.toml` exists.
    pub config_path: Option<PathBuf>,
    /// The fixed instant from `--now`, unparsed.
    pub now: Option<String>,
    /// The backend named by `--model`.
    pub model: Option<String>,
}

impl Settings {
    /// The language data directory in use: the config's
    /// `[safety] language_dir`, else the one found beside it (`./lang`).
    pub fn language_dir_for(&self, config: &Config) -> Option<PathBuf> {
        config
            .safety
            .language_dir
            .clone()
            .or_else(|| self.language_dir.clone())
    }
}

/// The assembled runtime.
#[derive(Debug)]
pub struct App {
    /// Every persona on offer; `troupe serve` reloads it when its files
    /// change (see [`App::reload_personas`]).
    personas: LivePersonas,
    /// The directory the personas come from (`None`: the built-in ones).
    personas_dir: Option<PathBuf>,
    /// The prompt templates.
    pub prompts: Arc<Prompts>,
    /// The clock.
    pub clock: Clock,
    /// The deployment config.
    pub config: Config,
    /// The data dir.
    pub data_dir: PathBuf,
    /// The backend named by `--model`.
    model_flag: Option<String>,
    /// The result of looking for a local Ollama server, once per process.
    ollama: OnceLock<Option<OllamaServer>>,
    /// Each persona's model, built once per process and reused.
    models: ModelCache,
    /// The moderation check (`[safety.moderation]`), built once per process
    /// so every turn shares its connections.
    moderator: OnceLock<Option<Arc<Moderator>>>,
}

/// The personas of `dir`, else the built-in ones; a directory that cannot
/// be read makes an empty catalog that says why.
fn load_personas(dir: Option<&std::path::Path>) -> Personas {
    match dir {
        Some(dir) => Personas::load_dir(dir).unwrap_or_else(|error| {
            Personas::unavailable(PersonaSource::Dir(dir.to_path_buf()), &error)
        }),
        None => Personas::builtin(),
    }
}

/// Models by persona id.
#[derive(Default)]
struct ModelCache(std::sync::Mutex<std::collections::HashMap<String, Arc<dyn ChatModel>>>);

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelCache")
    }
}

impl App {
    /// The PostgreSQL database the store lives in (`[store] url` or
    /// `TROUPE_DATABASE_URL`, the password from the env), if one is
    /// configured; `None`: the sled store in the data dir.
    pub fn database(&self) -> Result<Option<crate::store::postgres::Database>, Error> {
        self.config
            .store
            .database(&process_env)
            .map_err(|e| Error::Store(e.into()))
    }

    /// Loads personas, prompts and config; checks `--now`.
    ///
    /// Broken persona files never stop the runtime: they are skipped (see
    /// [`Personas::warnings`]) and the valid personas are served, so chats
    /// with them and users' rights keep working.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        let mut personas = load_personas(settings.personas_dir.as_deref());
        let prompts = match &settings.prompts_dir {
            Some(dir) => Prompts::load_dir(dir)?,
            None => Prompts::builtin()?,
        };
        let clock = match &settings.now {
            Some(now) => Clock::parse_fixed(now)?,
            None => Clock::system(),
        };
        let config = match &settings.config_path {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        crate::lang::install(settings.language_dir_for(&config).as_deref())?;
        personas.skip_each(|p| config.persona_problems(p));
        crate::store::set_cache_mib(config.store.cache_mib);
        Ok(Self {
            personas: LivePersonas::new(personas),
            personas_dir: settings.personas_dir.clone(),
            prompts: Arc::new(prompts),
            clock,
            config,
            data_dir: settings.data_dir.clone(),
            model_flag: settings.model.clone(),
            ollama: OnceLock::new(),
            models: ModelCache::default(),
            moderator: OnceLock::new(),
        })
    }

    /// Every persona on offer now. The snapshot stays as it is for whoever
    /// holds it: a turn finishes with the persona it started with.
    pub fn personas(&self) -> Arc<Personas> {
        self.personas.snapshot()
    }

    /// The directory the personas are read from, if not the built-in ones.
    pub fn personas_dir(&self) -> Option<&std::path::Path> {
        self.personas_dir.as_deref()
    }

    /// Reads the personas directory again and serves what it holds now
    /// (see [`Personas::reloaded`]): valid files replace their personas at
    /// once, a file with problems keeps its persona's previous version, a
    /// deleted file's persona is gone. A directory that cannot be read or
    /// holds no persona file changes nothing and is the error. Models are
    /// built afresh, so a changed `[model]` table applies too.
    pub fn reload_personas(&self) -> Result<PersonaChanges, PersonaError> {
        let Some(dir) = &self.personas_dir else {
            return Ok(PersonaChanges::default());
        };
        let mut fresh = Personas::load_dir(dir)?;
        fresh.skip_each(|p| self.config.persona_problems(p));
        let (personas, changes) = fresh.reloaded(&self.personas());
        self.personas.replace(personas);
        if !changes.is_empty()
            && let Ok(mut models) = self.models.0.lock()
        {
            models.clear();
        }
        Ok(changes)
    }

    /// Opens the store in the data dir and holds it until dropped: for
    /// commands that work on the whole store at once (maintenance, bulk
    /// loading). Everything else reaches it through [`App::store_access`].
    pub fn open_store(&self) -> Result<Store, Error> {
        Ok(Store::open(&self.data_dir)?)
    }

    /// The store in the data dir, opened for each step of work and closed
    /// after it, so a command holds nothing while it waits.
    pub fn store_access(&self) -> StoreAccess {
        StoreAccess::on_demand(&self.data_dir)
    }

    /// A chat service over `store`.
    pub fn chat_service(&self, store: StoreAccess) -> ChatService {
        ChatService::new(
            store,
            Arc::clone(&self.prompts),
            self.clock,
            self.config.chat.clone(),
            self.config.followups.clone(),
            self.config.safety.clone(),
        )
        .with_moderator(self.moderator().clone())
    }

    /// The deployment's moderation check, if it has one.
    pub fn moderator(&self) -> &Option<Arc<Moderator>> {
        self.moderator
            .get_or_init(|| Moderator::from_config(&self.config.safety).map(Arc::new))
    }

    /// The backend named by `--model`, if one was.
    pub fn model_flag(&self) -> Option<&str> {
        self.model_flag.as_deref()
    }

    /// The process environment, with the Ollama probe made once per process.
    fn with_environment<T>(&self, use_it: impl FnOnce(&Environment<'_>) -> T) -> T {
        let ollama = || {
            self.ollama
                .get_or_init(|| backend::probe_ollama(&process_env))
                .clone()
        };
        use_it(&Environment {
            env: &process_env,
            ollama: &ollama,
        })
    }

    /// Which backend `persona` talks to, and why.
    pub fn backend_for(&self, persona: &Persona) -> Result<BackendChoice, Error> {
        Ok(self.with_environment(|environment| {
            backend::choose(
                &self.config,
                self.model_flag.as_deref(),
                persona.model.backend.as_deref(),
                environment,
            )
        })?)
    }

    /// Every backend this deployment can use, the default one first.
    pub fn backend_lineup(&self) -> Result<backend::Lineup, Error> {
        Ok(self.with_environment(|environment| {
            backend::lineup(&self.config, self.model_flag.as_deref(), environment)
        })?)
    }

    /// The model `persona` talks to: its backend with timeouts, retries and
    /// fallbacks, built on first use and reused (with its connection pool)
    /// for the life of the process.
    pub fn model_for(&self, persona: &Persona) -> Result<Arc<dyn ChatModel>, Error> {
        let cached = |models: &mut std::collections::HashMap<_, Arc<dyn ChatModel>>| {
            models.get(&persona.id).cloned()
        };
        if let Some(model) = self.models.0.lock().ok().and_then(|mut m| cached(&mut m)) {
            return Ok(model);
        }
        let model = self.build_model(persona)?;
        if let Ok(mut models) = self.models.0.lock() {
            models.insert(persona.id.clone(), Arc::clone(&model));
        }
        Ok(model)
    }

    /// Builds `persona`'s model (see [`App::model_for`]).
    fn build_model(&self, persona: &Persona) -> Result<Arc<dyn ChatModel>, Error> {
        let mut choice = self.backend_for(persona)?;
        if let Some(name) = self.persona_model_name(persona) {
            choice.backend.set_model(name);
        }
        tracing::debug!(backend = %choice.name, reason = %choice.reason, "model backend chosen");
        backend::build(&self.config, &choice)
    }

    /// The persona's `[model] name`, which is meant for the persona's own
    /// backend: it does not follow `--model` to another one (nor does it
    /// reach fallbacks, which keep their configured model).
    fn persona_model_name<'p>(&self, persona: &'p Persona) -> Option<&'p str> {
        let name = persona.model.name.as_deref()?;
        match &self.model_flag {
            Some(flag) if persona.model.backend.as_deref() != Some(flag.as_str()) => None,
            _ => Some(name),
        }
    }

    /// The follow-up service over `store`.
    pub fn followups<'a>(&'a self, store: &'a StoreAccess) -> FollowUps<'a> {
        FollowUps {
            store,
            personas: self.personas(),
            prompts: &self.prompts,
            policy: &self.config.followups,
            safety: &self.config.safety,
            clock: self.clock,
            webhooks: self.config.server.webhooks.keys().cloned().collect(),
        }
    }

    /// The persona `id` names; an id that could never be one (a path, too
    /// long) is a usage error.
    pub fn persona(&self, id: &str) -> Result<Arc<Persona>, Error> {
        crate::ids::check_id("persona id", id).map_err(Error::Usage)?;
        Ok(self.personas().get(id)?)
    }

    /// Messages stored before this instant are past the retention period
    /// (`[safety] retention_days`); `None` when retention is off.
    pub fn retention_cutoff(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let days = self.config.safety.retention_days;
        (days > 0).then(|| self.clock.now() - chrono::Duration::days(i64::from(days)))
    }

    /// Purges by the retention policy (`None` when retention is off); if
    /// anything is removed, the store is rewritten without it, so that the
    /// purged text cannot be recovered from its files either. Takes the
    /// store to itself: nothing else may write meanwhile.
    pub fn purge_by_retention(
        &self,
        store: crate::store::Store,
        progress: &mut dyn crate::progress::Progress,
    ) -> Result<(crate::store::Store, Option<crate::store::Purge>), crate::store::StoreError> {
        let Some(cutoff) = self.retention_cutoff() else {
            return Ok((store, None));
        };
        let (store, purge) = store.purge_before(cutoff, progress)?;
        Ok((store, Some(purge)))
    }

    /// [`App::purge_by_retention`] on either store.
    pub async fn purge_backend_by_retention(
        &self,
        store: crate::store::StoreBackend,
        progress: &mut dyn crate::progress::Progress,
    ) -> Result<(crate::store::StoreBackend, Option<crate::store::Purge>), crate::store::StoreError>
    {
        let Some(cutoff) = self.retention_cutoff() else {
            return Ok((store, None));
        };
        let (store, purge) = store.purge_before(cutoff, progress).await?;
        Ok((store, Some(purge)))
    }

    /// How a command reaches the store: the PostgreSQL database (migrated
    /// first) when one is configured, else the data dir's files, opened for
    /// each step of work ([`App::store_access`]).
    pub async fn command_store_access(&self) -> Result<StoreAccess, Error> {
        match self.database()? {
            Some(database) => {
                let store = crate::store::postgres::PgStore::open(database)
                    .await
                    .map_err(|e| Error::Store(e.into()))?;
                Ok(StoreAccess::postgres(store))
            }
            None => Ok(self.store_access()),
        }
    }

    /// Where the conversations are, for messages: the PostgreSQL
    /// database (by its password-free address) or the data dir.
    pub fn store_place(&self) -> String {
        match self.database() {
            Ok(Some(database)) => format!("the PostgreSQL database {}", database.target()),
            _ => self.data_dir.display().to_string(),
        }
    }

    /// The PostgreSQL store, migrated, when a database is configured.
    pub async fn open_database(&self) -> Result<Option<crate::store::StoreBackend>, Error> {
        match self.database()? {
            Some(database) => Ok(Some(
                crate::store::StoreBackend::open(&self.data_dir, Some(database)).await?,
            )),
            None => Ok(None),
        }
    }
}
