//! One method per route of the server's API, each answering in the
//! library's own types.

use reqwest::Method;

use super::{ApiClient, ClientError, turn};
use crate::chat::TurnError;
use crate::chat::view::{GreetingView, HistoryPage, TurnReply, UnseenFollowUp};
use crate::followup::topics::RankedTopic;
use crate::followup::{DueConversation, Eligibility};
use crate::report::{
    Export, Period, PersonaSummary, SafetyLine, SettingsChange, UsageLine, UserView,
};
use crate::store::{Backup, Erasure, Message, PagedMessage};

/// The most messages asked for per page of history (the server's limit).
const HISTORY_PAGE: usize = 500;

impl ApiClient {
    /// Every persona on offer.
    pub async fn personas(&self) -> Result<Vec<PersonaSummary>, ClientError> {
        self.get(self.url("/v1/personas")).await
    }

    /// Every message of `user`'s conversation with `persona`, oldest first,
    /// read page by page.
    pub async fn history(
        &self,
        user: &str,
        persona: &str,
    ) -> Result<Vec<PagedMessage>, ClientError> {
        let mut pages = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let mut url = self.url(&format!("/v1/conversations/{user}/{persona}/messages"));
            url.query_pairs_mut()
                .append_pair("limit", &HISTORY_PAGE.to_string());
            if let Some(before) = before {
                url.query_pairs_mut()
                    .append_pair("before", &before.to_string());
            }
            let page: HistoryPage = self.get(url).await?;
            before = page.before;
            pages.push(page.messages);
            if before.is_none() {
                break;
            }
        }
        Ok(pages.into_iter().rev().flatten().collect())
    }

    /// The greeting `user` sees when their conversation with `persona`
    /// opens, macros expanded.
    pub async fn greeting(&self, user: &str, persona: &str) -> Result<String, ClientError> {
        let url = self.url(&format!("/v1/conversations/{user}/{persona}/greeting"));
        let view: GreetingView = self.get(url).await?;
        Ok(view.greeting)
    }

    /// The topics of `user`'s conversation with `persona`, highest first.
    pub async fn topics(&self, user: &str, persona: &str) -> Result<Vec<RankedTopic>, ClientError> {
        let url = self.url(&format!("/v1/conversations/{user}/{persona}/topics"));
        self.get(url).await
    }

    /// The follow-up `user` has not seen from `persona`, marked seen.
    pub async fn take_unseen_followup(
        &self,
        user: &str,
        persona: &str,
    ) -> Result<Option<Message>, ClientError> {
        let url = self.url(&format!("/v1/conversations/{user}/{persona}/followup/seen"));
        let unseen: UnseenFollowUp = self.read(self.request(Method::POST, url)).await?;
        Ok(unseen.followup)
    }

    /// Sends `text` and waits for the whole reply; a message the server
    /// refuses (empty, too long) is [`TurnError::Input`], as in a turn run
    /// here.
    pub async fn turn(
        &self,
        user: &str,
        persona: &str,
        text: &str,
    ) -> Result<TurnReply, TurnError> {
        let request = self
            .request(Method::POST, self.turn_url(user, persona))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&serde_json::json!({ "text": text }));
        self.read(request).await.map_err(turn::refused_or_failed)
    }

    /// The conversations due for a follow-up now.
    pub async fn due(&self) -> Result<Vec<DueConversation>, ClientError> {
        self.get(self.url("/v1/followups/due")).await
    }

    /// Every rule's verdict for `user`'s conversation with `persona`.
    pub async fn explain(&self, user: &str, persona: &str) -> Result<Eligibility, ClientError> {
        let mut url = self.url("/v1/followups/explain");
        url.query_pairs_mut()
            .append_pair("user", user)
            .append_pair("persona", persona);
        self.get(url).await
    }

    /// A user's settings and conversations; `None` for a user who never wrote.
    pub async fn user(&self, user: &str) -> Result<Option<UserView>, ClientError> {
        not_found_as_none(self.get(self.url(&format!("/v1/users/{user}"))).await)
    }

    /// Applies `change` to `user`'s settings (creating the user if needed).
    pub async fn update_user(
        &self,
        user: &str,
        change: &SettingsChange,
    ) -> Result<UserView, ClientError> {
        let request = self
            .request(Method::PATCH, self.url(&format!("/v1/users/{user}")))
            .json(change);
        self.read(request).await
    }

    /// Everything stored about `user`; `None` for a user who never wrote.
    pub async fn export(&self, user: &str) -> Result<Option<Export>, ClientError> {
        not_found_as_none(
            self.get(self.url(&format!("/v1/users/{user}/export")))
                .await,
        )
    }

    /// Erases everything about `user`; `None` for a user who never wrote.
    pub async fn erase(&self, user: &str) -> Result<Option<Erasure>, ClientError> {
        let request = self.request(Method::DELETE, self.url(&format!("/v1/users/{user}")));
        not_found_as_none(self.read(request).await)
    }

    /// Usage per persona and model, from `since` on.
    pub async fn usage(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<UsageLine>, ClientError> {
        let mut url = self.url("/v1/usage");
        if let Some(since) = since {
            url.query_pairs_mut()
                .append_pair("since", &since.to_rfc3339());
        }
        self.get(url).await
    }

    /// Writes a backup of the server's store to `dir`, an absolute path on
    /// the server's machine.
    pub async fn backup(&self, dir: &std::path::Path) -> Result<Backup, ClientError> {
        let request = self
            .request(Method::POST, self.url("/v1/store/backup"))
            .json(&serde_json::json!({ "dir": dir }));
        self.read(request).await
    }

    /// Crisis referrals per period.
    pub async fn safety_report(&self, by: Period) -> Result<Vec<SafetyLine>, ClientError> {
        let mut url = self.url("/v1/safety/report");
        let by = match by {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        };
        url.query_pairs_mut().append_pair("by", by);
        self.get(url).await
    }
}

/// A 404 as `None`.
fn not_found_as_none<T>(result: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.status() == Some(404) => Ok(None),
        Err(error) => Err(error),
    }
}
