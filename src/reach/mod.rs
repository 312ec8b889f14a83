//! How a command reaches a deployment's data: through the PostgreSQL
//! database when one is configured (any number of commands and servers
//! share it); else through the data dir's files, opened for each step of
//! work (see [`crate::store::StoreAccess`]), or, while `troupe serve` holds
//! the data dir, through the server's API. The lock file says which: a
//! server writes its address into it (see [`crate::store::server_holding`]).
//!
//! Every method answers in the library's own types either way, so the
//! command line prints the same text, the same JSON and exits with the same
//! code whichever way it went; the front ends never look at which.
//!
//! - this module: connecting, personas, and the reports and rights commands;
//! - `chat`: turns, the follow-up waiting for the user, who may talk to whom.

mod chat;

pub use chat::Notices;

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::chat::ChatService;
use crate::client::ApiClient;
use crate::error::Error;
use crate::followup::topics::{RankedTopic, ranked};
use crate::followup::{DueConversation, Eligibility};
use crate::persona::PersonaError;
use crate::report::{
    Export, Period, PersonaSummary, SafetyLine, SettingsChange, UsageLine, UserView,
    conversations_of, safety_lines, usage_lines,
};
use crate::store::StoreBackend;
use crate::store::{Backup, Erasure, PagedMessage, Store, server_holding};

/// Where a command's data is.
pub enum Reach<'a> {
    /// The store itself: the data dir's files, opened for each step of
    /// work, or the PostgreSQL database.
    Local {
        /// The runtime: personas, models, clock, config.
        app: &'a App,
        /// Chat turns over the store.
        chat: Box<ChatService>,
    },
    /// The server holding the data dir.
    Server {
        /// The runtime, for the data dir and the operator token's env var.
        app: &'a App,
        /// The server's API.
        client: ApiClient,
    },
}

impl<'a> Reach<'a> {
    /// The PostgreSQL database when one is configured (migrated first);
    /// else the server holding `app`'s data dir, if one does; else the
    /// files.
    pub async fn connect(app: &'a App) -> Result<Self, Error> {
        if app.database()?.is_some() {
            let store = app.command_store_access().await?;
            return Ok(Reach::Local {
                app,
                chat: Box::new(app.chat_service(store)),
            });
        }
        match server_holding(&app.data_dir) {
            Some(address) => {
                let client = ApiClient::new(&address, &app.data_dir, &app.config.server)?;
                tracing::info!(server = %client.address(), "the data dir is held by a server; going through it");
                Ok(Reach::Server { app, client })
            }
            None => Ok(Reach::Local {
                app,
                chat: Box::new(app.chat_service(app.store_access())),
            }),
        }
    }

    /// The address of the server this goes through, if it does.
    pub fn server_address(&self) -> Option<&str> {
        match self {
            Reach::Local { .. } => None,
            Reach::Server { client, .. } => Some(client.address()),
        }
    }

    /// The stored id of the user `typed` names, in any case (see
    /// [`crate::ids`]): resolved here against the store; through a server,
    /// only checked, since the server resolves it on every request.
    pub async fn user_id(&self, typed: &str) -> Result<String, Error> {
        crate::ids::check_id("user id", typed).map_err(Error::Usage)?;
        match self {
            Reach::Server { .. } => Ok(typed.to_string()),
            Reach::Local { chat, .. } => {
                let store = chat.store().step()?;
                Ok(crate::ids::resolve_user_in(&store, typed).await?)
            }
        }
    }

    /// Every persona on offer.
    pub async fn personas(&self) -> Result<Vec<PersonaSummary>, Error> {
        match self {
            Reach::Local { app, .. } => Ok(app
                .personas()
                .iter()
                .map(|p| PersonaSummary::new(p, None))
                .collect()),
            Reach::Server { client, .. } => Ok(client.personas().await?),
        }
    }

    /// The persona `id` names; an id that could never be one is a usage
    /// error, an unknown one is [`PersonaError::NotFound`], either way.
    pub async fn persona(&self, id: &str) -> Result<PersonaSummary, Error> {
        crate::ids::check_id("persona id", id).map_err(Error::Usage)?;
        match self {
            Reach::Local { app, .. } => Ok(PersonaSummary::new(app.persona(id)?.as_ref(), None)),
            Reach::Server { .. } => {
                let personas = self.personas().await?;
                let wanted = id.to_lowercase();
                let ids: Vec<&str> = personas.iter().map(|p| p.id.as_str()).collect();
                let available = ids.join(", ");
                personas
                    .iter()
                    .find(|p| p.id == wanted)
                    .cloned()
                    .ok_or_else(|| {
                        Error::Persona(PersonaError::NotFound {
                            id: id.to_string(),
                            available,
                        })
                    })
            }
        }
    }

    /// The persona `id` names, to chat with: with its backend's notice, and
    /// (here) its model built, so a model that cannot be built is reported
    /// before anything is sent.
    pub async fn chat_persona(&self, id: &str) -> Result<PersonaSummary, Error> {
        let mut summary = self.persona(id).await?;
        if let Reach::Local { app, .. } = self {
            let model = app.model_for(app.persona(id)?.as_ref())?;
            summary.backend_notice = model.session_notice(&summary.language);
        }
        Ok(summary)
    }

    /// Every message of `user`'s conversation with `persona`, oldest first,
    /// each with its sequence number (as the server pages them).
    pub async fn history(
        &self,
        user: &str,
        persona: &PersonaSummary,
    ) -> Result<Vec<PagedMessage>, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.history(user, &persona.id).await?),
            Reach::Local { chat, .. } => {
                let store = chat.store().step()?;
                Ok(match store.conversation(user, &persona.id).await? {
                    Some(conversation) => {
                        store.messages_page(&conversation, None, usize::MAX).await?
                    }
                    None => Vec::new(),
                })
            }
        }
    }

    /// What `user` talked about with `persona`, highest score first.
    pub async fn topics(
        &self,
        user: &str,
        persona: &PersonaSummary,
    ) -> Result<Vec<RankedTopic>, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.topics(user, &persona.id).await?),
            Reach::Local { app, chat } => {
                let store = chat.store().step()?;
                Ok(match store.conversation(user, &persona.id).await? {
                    Some(conversation) => {
                        ranked(&store.topics(&conversation).await?, app.clock.now())
                    }
                    None => Vec::new(),
                })
            }
        }
    }

    /// The conversations due for a follow-up now.
    pub async fn due(&self) -> Result<Vec<DueConversation>, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.due().await?),
            Reach::Local { app, chat } if chat.store().is_postgres() => {
                let store = chat.store().step()?;
                app.followups(chat.store()).due_on(&store).await
            }
            Reach::Local { app, chat } => app.followups(chat.store()).due(),
        }
    }

    /// Every rule's verdict for `user`'s conversation with `persona`.
    pub async fn explain(
        &self,
        user: &str,
        persona: &PersonaSummary,
    ) -> Result<Eligibility, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.explain(user, &persona.id).await?),
            Reach::Local { app, chat } => {
                let persona = app.persona(&persona.id)?;
                let followups = app.followups(chat.store());
                if chat.store().is_postgres() {
                    let store = chat.store().step()?;
                    return followups.explain_on(&store, user, &persona).await;
                }
                followups.explain(user, &persona)
            }
        }
    }

    /// A user's settings and conversations; `None` for a user who never wrote.
    pub async fn user(&self, user: &str) -> Result<Option<UserView>, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.user(user).await?),
            Reach::Local { app, chat } => {
                let store = chat.store().step()?;
                let Some(record) = store.user(user).await? else {
                    return Ok(None);
                };
                let conversations = conversations_of(&store, &app.personas(), user).await?;
                let default_tz = &app.config.followups.default_timezone;
                Ok(Some(UserView::new(record, conversations, default_tz)))
            }
        }
    }

    /// Applies `change` to `user`'s settings, creating the user if needed;
    /// a setting that cannot be applied is a usage error, checked here
    /// either way.
    pub async fn update_user(&self, user: &str, change: SettingsChange) -> Result<(), Error> {
        let update = change
            .clone()
            .into_update()
            .map_err(|e| Error::Usage(e.to_string().replacen("language ", "--language ", 1)))?;
        match self {
            Reach::Server { client, .. } => {
                client.update_user(user, &change).await?;
            }
            Reach::Local { app, chat } => {
                chat.store()
                    .step()?
                    .update_user(user, app.clock.now(), &update)
                    .await?;
            }
        }
        Ok(())
    }

    /// Everything stored about `user`; `None` for a user who never wrote.
    pub async fn export(&self, user: &str) -> Result<Option<Export>, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.export(user).await?),
            Reach::Local { app, chat } => {
                let data = chat.store().step()?.export_user(user).await?;
                Ok(data.map(|data| Export::new(data, app.clock.now())))
            }
        }
    }

    /// Erases everything stored about `user`, unrecoverably (the store is
    /// rewritten without them); `None` for a user who never wrote.
    /// `progress` hears how the rewrite advances (here only: a server
    /// reports none).
    pub async fn erase(
        &self,
        user: &str,
        progress: &mut dyn crate::progress::Progress,
    ) -> Result<Option<Erasure>, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.erase(user).await?),
            Reach::Local { chat, .. } if chat.store().is_postgres() => {
                let store = StoreBackend::clone(&*chat.store().step()?);
                if store.user(user).await?.is_none() {
                    return Ok(None);
                }
                let (_store, erasure) = store.erase_user(user, progress).await?;
                Ok(Some(erasure))
            }
            Reach::Local { app, .. } => {
                // A rewrite needs the store to itself: no step may hold it.
                let store = Store::open(&app.data_dir)?;
                if store.user(user)?.is_none() {
                    return Ok(None);
                }
                let (_store, erasure) = store.erase_user(user, progress)?;
                Ok(Some(erasure))
            }
        }
    }

    /// Usage per persona and model, from `since` on (everything when `None`).
    pub async fn usage(&self, since: Option<DateTime<Utc>>) -> Result<Vec<UsageLine>, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.usage(since).await?),
            Reach::Local { chat, .. } => {
                let since = since.unwrap_or(DateTime::<Utc>::MIN_UTC);
                Ok(usage_lines(&chat.store().step()?.usage_since(since).await?))
            }
        }
    }

    /// Writes a consistent backup of the store to `target` (a new or empty
    /// directory), as a data dir of its own: here, holding the data dir
    /// while it copies, or through the server, which holds its store to
    /// itself while it copies.
    pub async fn backup(&self, target: &std::path::Path) -> Result<Backup, Error> {
        let target = std::path::absolute(target).map_err(|e| {
            Error::Usage(format!(
                "{} cannot be a backup's directory: {e}",
                target.display()
            ))
        })?;
        match self {
            Reach::Server { client, .. } => Ok(client.backup(&target).await?),
            Reach::Local { chat, .. } if chat.store().is_postgres() => Err(Error::Usage(
                "the store is a PostgreSQL database ([store] url or TROUPE_DATABASE_URL): back it up with PostgreSQL's own tools (pg_dump, or your provider's snapshots); `troupe store backup` copies the sled store of a data dir".to_string(),
            )),
            Reach::Local { app, .. } => Ok(crate::store::backup_now(&app.data_dir, &target)?),
        }
    }

    /// Crisis referrals per period.
    pub async fn safety_report(&self, by: Period) -> Result<Vec<SafetyLine>, Error> {
        match self {
            Reach::Server { client, .. } => Ok(client.safety_report(by).await?),
            Reach::Local { chat, .. } => Ok(safety_lines(
                &chat.store().step()?.safety_counts().await?,
                by,
            )),
        }
    }
}
