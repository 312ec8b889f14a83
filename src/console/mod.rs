//! The chat console end users talk in.
//!
//! On a terminal it is a line editor (history, arrow keys); otherwise each
//! line of stdin is one message, so sessions can be scripted. Each session
//! opens with the AI notice, the backend's notice if it has one (the offline
//! backend says its replies are scripted) and the persona's greeting; replies
//! stream token by token. Lines starting with `/` are commands.
//!
//! The console reaches its data through a [`Reach`]: the data dir's files,
//! opened only for each turn's reads and writes (it holds nothing while it
//! waits at its prompt), or the server holding the data dir. Either way it
//! shows the same thing; [`render`] draws a turn's events.

mod input;
pub mod render;

use std::io::Write;

use crate::app::App;
use crate::chat::TurnError;
use crate::error::Error;
use crate::locale;
use crate::reach::{Notices, Reach};
use crate::report::PersonaSummary;
use crate::safety::disclosure::Disclosure;
use crate::store::{Message, Role};
use crate::terminal::printable;
use render::{Ended, Layout, TurnPrinter};

pub use input::{BoundedLine, Input, Line, read_bounded_line};

/// The slash commands, with their help text.
const COMMANDS: &[(&str, &str)] = &[
    ("/help", "show this list"),
    ("/personas", "list the personas you can talk to"),
    ("/switch ID", "talk to another persona"),
    ("/history", "show this conversation so far"),
    (
        "/greetings",
        "show every greeting this persona can open with",
    ),
    (
        "/stop",
        "no more check-ins from this persona (STOP works too)",
    ),
    ("/start", "allow check-ins again"),
    ("/quit", "leave (Ctrl-D works too)"),
];

/// How a session ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionOutcome {
    /// Turns whose reply failed (the messages were still kept).
    pub failed_turns: usize,
    /// Messages refused before they were stored (too long, empty).
    pub refused_messages: usize,
}

/// How one message fared.
enum Sent {
    /// Stored, and answered.
    Answered,
    /// Refused before it was stored.
    Refused,
    /// Stored, but the reply failed.
    Failed,
}

/// An open chat session: one user, one persona at a time.
pub struct Console<'a> {
    /// The runtime: the clock and the safety settings the session keeps
    /// time by.
    app: &'a App,
    /// Where turns run and data is read: here, or in the server.
    reach: &'a Reach<'a>,
    /// Who is chatting.
    user: String,
    /// Whether they are marked as a minor.
    minor: bool,
    /// Who they are chatting with.
    persona: PersonaSummary,
    /// Backend notices already shown this session.
    notices_shown: Vec<String>,
    /// When to repeat the AI notice and suggest a break.
    disclosure: Disclosure,
}

impl<'a> Console<'a> {
    /// A session of `user` with `persona` (see [`Reach::chat_persona`]).
    pub async fn new(
        app: &'a App,
        reach: &'a Reach<'a>,
        user: &str,
        persona: PersonaSummary,
    ) -> Result<Self, Error> {
        let minor = reach.is_minor(user).await?;
        if minor && persona.adults_only {
            return Err(crate::chat::adults_only(&persona.name).into());
        }
        Ok(Self {
            disclosure: Disclosure::start(app.clock.now(), minor, &app.config.safety),
            app,
            reach,
            user: user.to_string(),
            minor,
            persona,
            notices_shown: Vec::new(),
        })
    }

    /// Runs the session until `/quit` or the end of input.
    pub async fn run(&mut self, input: &mut Input) -> Result<SessionOutcome, Error> {
        let mut outcome = SessionOutcome::default();
        self.open().await?;
        // Lines up to the crisis window are read whole, for the chat to
        // refuse past the limit or answer a crisis; a longer one is not
        // read past the window, nor sent.
        let limit = self.app.config.chat.max_message_chars;
        let window = crate::chat::crisis_window(limit);
        while let Some(line) = input.read_line(&format!("{}> ", self.user), window)? {
            let Line::Text(line) = line else {
                errln!(
                    "troupe: the message is longer than {window} characters; the limit is {limit}, so split it into shorter messages (the rest of that line was skipped)"
                );
                outcome.refused_messages += 1;
                continue;
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('/') {
                match self.command(line, input.is_interactive()).await? {
                    Flow::Continue => continue,
                    Flow::Quit => break,
                }
            }
            match self.send(line, input.is_interactive()).await? {
                Sent::Answered => {}
                Sent::Refused => outcome.refused_messages += 1,
                Sent::Failed => outcome.failed_turns += 1,
            }
        }
        Ok(outcome)
    }

    /// The AI notice, bracketed.
    fn notice(&self) -> String {
        format!("[{}]", self.persona.ai_notice)
    }

    /// Shows the notices, the follow-up the user has not seen, and the
    /// greeting.
    async fn open(&mut self) -> Result<(), Error> {
        let mut lines = vec![self.notice()];
        if let Some(backend_notice) = self.persona.backend_notice.clone()
            && !self.notices_shown.contains(&backend_notice)
        {
            lines.push(format!("[{backend_notice}]"));
            self.notices_shown.push(backend_notice);
        }
        let unseen = self
            .reach
            .take_unseen_followup(&self.user, &self.persona)
            .await?;
        if let Some(followup) = unseen {
            lines.push(locale::while_away(
                &self.persona.language,
                &self.persona.name,
            ));
            lines.push(format!("{}: {}", self.persona.name, followup.shown_text()));
        }
        let greeting = self.reach.greeting(&self.user, &self.persona).await?;
        lines.push(format!("{}: {greeting}", self.persona.name));
        say(&lines.join("\n"))
    }

    /// Sends one message, with the notices due before it.
    async fn send(&mut self, text: &str, interactive: bool) -> Result<Sent, Error> {
        let reminders = self.disclosure.on_message(self.app.clock.now());
        if reminders.notice {
            say(&self.notice())?;
        }
        if reminders.take_a_break {
            say(&format!(
                "[{}]",
                locale::take_a_break(&self.persona.language)
            ))?;
        }
        self.turn(text, interactive).await
    }

    /// Runs one turn and shows it; returns how it went.
    async fn turn(&mut self, text: &str, interactive: bool) -> Result<Sent, Error> {
        let mut printer = TurnPrinter::new(Layout::Console, &self.persona.name);
        let mut ended = None;
        let mut on_event = |event| {
            if let Some(end) = printer.show(event) {
                ended = Some(end);
            }
        };
        // On a terminal, Ctrl-C stops the reply rather than the program;
        // piped sessions keep the default.
        let stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = if interactive {
            Box::pin(async {
                let _ = tokio::signal::ctrl_c().await;
            })
        } else {
            Box::pin(std::future::pending())
        };
        let mut stop = stop;
        self.reach
            .turn(
                &self.user,
                &self.persona,
                text,
                Notices::LeftOut,
                &mut on_event,
                stop.as_mut(),
            )
            .await?;
        match ended {
            Some(Ended::Answered) => Ok(Sent::Answered),
            Some(Ended::Refused(error)) => {
                errln!("troupe: {error}");
                Ok(Sent::Refused)
            }
            Some(Ended::Failed(TurnError::Store(e))) => Err(e.into()),
            Some(Ended::Failed(error)) => {
                errln!("troupe: {error}");
                Ok(Sent::Failed)
            }
            None => Ok(Sent::Failed),
        }
    }

    /// Runs a slash command.
    async fn command(&mut self, line: &str, interactive: bool) -> Result<Flow, Error> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default();
        let arg = words.next();
        match (name, arg) {
            ("/quit" | "/exit", _) => return Ok(Flow::Quit),
            ("/help", _) => {
                let help: Vec<String> = COMMANDS
                    .iter()
                    .map(|(c, h)| format!("  {c:<12} {h}"))
                    .collect();
                say(&format!("Commands:\n{}", help.join("\n")))?;
            }
            ("/personas", _) => {
                let list: Vec<String> = self
                    .reach
                    .personas()
                    .await?
                    .iter()
                    .map(|p| format!("  {:<10} {} — {}", p.id, p.name, p.description))
                    .collect();
                say(&list.join("\n"))?;
            }
            ("/switch", Some(id)) => self.switch(id).await?,
            ("/switch", None) => errln!("troupe: /switch needs a persona id, e.g. /switch chef"),
            ("/history", _) => self.show_history().await?,
            ("/greetings", _) => say(&greetings_list(&self.persona))?,
            ("/stop" | "/start", _) => {
                // Confirmed as Troupe's, like STOP typed as a message.
                self.turn(name, interactive).await?;
            }
            (other, _) => errln!("troupe: unknown command {other}; /help lists the commands"),
        }
        Ok(Flow::Continue)
    }

    /// Talks to persona `id` from now on.
    async fn switch(&mut self, id: &str) -> Result<(), Error> {
        match self.reach.chat_persona(id).await {
            Ok(persona) if persona.adults_only && self.minor => {
                errln!(
                    "troupe: {} is for adults only; choose another persona",
                    persona.name
                );
            }
            Ok(persona) => {
                self.persona = persona;
                self.open().await?;
            }
            Err(e) => errln!("troupe: {e}"),
        }
        Ok(())
    }

    async fn show_history(&self) -> Result<(), Error> {
        let messages = self.reach.history(&self.user, &self.persona).await?;
        if messages.is_empty() {
            return say("(no messages yet)");
        }
        let lines: Vec<String> = messages
            .iter()
            .map(|m| history_line(&m.message, &self.persona.name))
            .collect();
        say(&lines.join("\n"))
    }
}

/// Every greeting a persona can open a conversation with, as written (a
/// new conversation picks one per user, macros expanded), numbered.
fn greetings_list(persona: &PersonaSummary) -> String {
    let all: Vec<String> = std::iter::once(&persona.greeting)
        .chain(&persona.alternate_greetings)
        .enumerate()
        .map(|(n, greeting)| format!("  {}. {}", n + 1, printable(greeting)))
        .collect();
    format!("{} can open with:\n{}", persona.name, all.join("\n"))
}

/// One message as a console line: `[2026-11-26 09:00] Chef Marco: text`,
/// to print through [`crate::terminal`] like every line.
pub fn history_line(message: &Message, persona_name: &str) -> String {
    let who = match (message.role, message.kind) {
        (Role::User, _) => "you",
        // Helplines come from Troupe, not from the persona.
        (Role::Assistant, crate::store::MessageKind::Safety) => "Troupe",
        (Role::Assistant, _) => persona_name,
    };
    let mark = if message.interrupted {
        " [interrupted]"
    } else if message.truncated {
        " [cut short]"
    } else {
        ""
    };
    let kind = if message.kind == crate::store::MessageKind::FollowUp {
        " (follow-up)"
    } else {
        ""
    };
    format!(
        "[{}] {who}{kind}: {}{mark}",
        message.at.format("%Y-%m-%d %H:%M"),
        message.shown_text()
    )
}

/// Where earlier Troupe releases kept the line editor's history of what
/// `user` typed; the console now keeps it in memory for the session only,
/// and erasure still removes such a file.
pub fn legacy_history_file(data_dir: &std::path::Path, user: &str) -> std::path::PathBuf {
    data_dir.join("console_history").join(user)
}

/// What the loop does after a command.
enum Flow {
    Continue,
    Quit,
}

/// Prints a line to stdout, made printable.
fn say(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", printable(text))
        .and_then(|_| out.flush())
        .map_err(|e| Error::Terminal(e.to_string()))
}
