//! Bulk loading of synthetic conversations (`troupe dev populate`) into
//! PostgreSQL with `COPY`: a batch is one transaction of four `COPY ...
//! FROM STDIN` statements (users, conversations, messages, topics), each
//! fed one buffer in PostgreSQL's text format. Row-by-row `INSERT`s would
//! pay a round trip per row; `COPY` streams them.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::{PgConnection, Postgres, Transaction};

use super::PgStore;
use super::error::PgError;
use super::rows::word;
use crate::store::{Conversation, DueWindow, SyntheticConversation};

impl PgStore {
    /// How many users the database holds.
    pub async fn user_count(&self) -> Result<usize, PgError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(self.failed("counting users"))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// Loads synthetic conversations in one transaction of `COPY`s, each
    /// conversation given the due window `schedule` says. The users must be
    /// new (a user's conversations all come in one batch); conversation ids
    /// are taken from the table's sequence. For demos and benchmarks.
    pub async fn load_synthetic(
        &self,
        mut items: Vec<SyntheticConversation>,
        schedule: &dyn Fn(&Conversation) -> Option<DueWindow>,
    ) -> Result<(), PgError> {
        if items.is_empty() {
            return Ok(());
        }
        let failed = self.failed("loading synthetic conversations");
        let mut tx = self.pool.begin().await.map_err(&failed)?;
        let ids = reserve_ids(&mut tx, items.len()).await.map_err(&failed)?;
        for (item, id) in items.iter_mut().zip(ids) {
            item.conversation.id = u64::try_from(id).unwrap_or_default();
            item.conversation.due = schedule(&item.conversation);
        }
        let tables = [
            ("users (id, created_at, timezone)", users(&items)),
            (CONVERSATION_COLUMNS, conversations(&items)),
            (
                "messages (conversation_id, seq, role, kind, text, at, model, interrupted, truncated, disclaimers)",
                messages(&items),
            ),
            (
                "topics (conversation_id, position, phrase, score, mentions, updated_at, sensitive)",
                topics(&items),
            ),
        ];
        for (table, rows) in tables {
            copy_in(&mut tx, table, rows).await.map_err(&failed)?;
        }
        tx.commit().await.map_err(&failed)
    }
}

/// The conversation columns a synthetic conversation fills.
const CONVERSATION_COLUMNS: &str = "conversations (id, user_id, persona, started_at, started_by,
    next_seq, user_messages, assistant_messages, last_user_at, last_assistant_at,
    recent_user_times, opted_out, followups_sent, last_followup_at, followup_unseen,
    last_followup_seq, due_from, due_until, hold_until)";

/// `count` new conversation ids from the table's sequence.
async fn reserve_ids(
    tx: &mut Transaction<'static, Postgres>,
    count: usize,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('conversations', 'id'))
         FROM generate_series(1, $1)",
    )
    .bind(i64::try_from(count).unwrap_or(i64::MAX))
    .fetch_all(&mut **tx)
    .await
}

/// Streams `rows` (text format) into `table` with one `COPY`.
async fn copy_in(
    connection: &mut PgConnection,
    table: &str,
    rows: String,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = connection
        .copy_in_raw(&format!("COPY {table} FROM STDIN"))
        .await?;
    copy.send(rows.into_bytes()).await?;
    copy.finish().await.map(|_| ())
}

/// One row per user, each user once.
fn users(items: &[SyntheticConversation]) -> String {
    let mut seen = HashSet::new();
    let mut out = String::new();
    for item in items {
        let user = &item.user;
        if seen.insert(user.id.as_str()) {
            let mut row = Row::new(&mut out);
            row.text(&user.id);
            row.at(Some(user.created_at));
            row.opt_text(user.timezone.as_deref());
            row.end();
        }
    }
    out
}

fn conversations(items: &[SyntheticConversation]) -> String {
    let mut out = String::new();
    for item in items {
        let c = &item.conversation;
        let mut row = Row::new(&mut out);
        row.number(c.id);
        row.text(&c.user);
        row.text(&c.persona);
        row.at(Some(c.started_at));
        row.text(&word(&c.started_by));
        row.number(c.next_seq);
        row.number(c.user_messages);
        row.number(c.assistant_messages);
        row.at(c.last_user_at);
        row.at(c.last_assistant_at);
        row.array(c.recent_user_times.iter().map(|t| timestamp(*t)));
        row.flag(c.opted_out);
        row.number(c.followups_sent);
        row.at(c.last_followup_at);
        row.flag(c.followup_unseen);
        row.opt_number(c.last_followup_seq);
        row.at(c.due.map(|d| d.from));
        row.at(c.due.map(|d| d.until));
        row.at(c.hold_until);
        row.end();
    }
    out
}

fn messages(items: &[SyntheticConversation]) -> String {
    let mut out = String::new();
    for item in items {
        for (seq, m) in item.messages.iter().enumerate() {
            let mut row = Row::new(&mut out);
            row.number(item.conversation.id);
            row.number(seq as u64);
            row.text(&word(&m.role));
            row.text(&word(&m.kind));
            row.text(&m.text);
            row.at(Some(m.at));
            row.opt_text(m.model.as_deref());
            row.flag(m.interrupted);
            row.flag(m.truncated);
            row.array(m.disclaimers.iter().cloned());
            row.end();
        }
    }
    out
}

fn topics(items: &[SyntheticConversation]) -> String {
    let mut out = String::new();
    for item in items {
        for (position, t) in item.topics.iter().enumerate() {
            let mut row = Row::new(&mut out);
            row.number(item.conversation.id);
            row.number(position as u64);
            row.text(&t.phrase);
            row.raw(&t.score.to_string());
            row.number(u64::from(t.mentions));
            row.at(Some(t.updated_at));
            row.flag(t.sensitive);
            row.end();
        }
    }
    out
}

/// An instant as PostgreSQL reads it (microseconds, as a `timestamptz`
/// keeps).
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One row of `COPY`'s text format being written: columns separated by
/// tabs, `\N` for NULL, backslash escapes in values.
struct Row<'a> {
    /// Where the rows go.
    out: &'a mut String,
    /// Whether a column was written (the next needs a tab before it).
    started: bool,
}

impl<'a> Row<'a> {
    fn new(out: &'a mut String) -> Self {
        Self {
            out,
            started: false,
        }
    }

    /// A value written as is (it holds nothing to escape).
    fn raw(&mut self, value: &str) {
        if self.started {
            self.out.push('\t');
        }
        self.started = true;
        self.out.push_str(value);
    }

    fn text(&mut self, value: &str) {
        self.raw("");
        escape_into(self.out, value);
    }

    fn opt_text(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.text(value),
            None => self.raw("\\N"),
        }
    }

    fn number(&mut self, value: u64) {
        self.raw("");
        let _ = write!(self.out, "{}", super::rows::bigint(value));
    }

    fn opt_number(&mut self, value: Option<u64>) {
        match value {
            Some(value) => self.number(value),
            None => self.raw("\\N"),
        }
    }

    fn flag(&mut self, value: bool) {
        self.raw(if value { "t" } else { "f" });
    }

    fn at(&mut self, value: Option<DateTime<Utc>>) {
        match value {
            Some(at) => self.raw(&timestamp(at)),
            None => self.raw("\\N"),
        }
    }

    /// An array of `elements`, each quoted (array syntax) then escaped
    /// (`COPY` syntax).
    fn array(&mut self, elements: impl Iterator<Item = String>) {
        let mut literal = String::from("{");
        for (n, element) in elements.enumerate() {
            if n > 0 {
                literal.push(',');
            }
            literal.push('"');
            for c in element.chars() {
                if c == '"' || c == '\\' {
                    literal.push('\\');
                }
                literal.push(c);
            }
            literal.push('"');
        }
        literal.push('}');
        self.text(&literal);
    }

    fn end(self) {
        self.out.push('\n');
    }
}

/// Appends `value` with `COPY`'s text-format escapes.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_escape_separators_and_quote_array_elements() {
        let mut out = String::new();
        let mut row = Row::new(&mut out);
        row.text("a\tb\\c\nd");
        row.opt_text(None);
        row.array(["x\"y".to_string(), "z".to_string()].into_iter());
        row.flag(true);
        row.end();
        assert_eq!(out, "a\\tb\\\\c\\nd\t\\N\t{\"x\\\\\"y\",\"z\"}\tt\n");
    }
}
