//! The chat console end users talk in.
//!
//! On a terminal it is a line editor (history, arrow keys); otherwise each
//! line of stdin is one message, so sessions can be scripted. Each session
//! opens with the AI notice, the backend's notice if it has one (the offline
//! backend says its replies are scripted) and the persona's greeting; replies
//! stream token by token. Lines starting with `/` are commands.

mod input;

use std::io::Write;
use std::sync::Arc;

use crate::app::App;
use crate::chat::{ChatService, TurnError};
use crate::error::Error;
use crate::locale::{self, ai_notice};
use crate::model::ChatModel;
use crate::persona::Persona;
use crate::safety::disclosure::Disclosure;
use crate::store::{Message, Role};

pub use input::Input;

/// The slash commands, with their help text.
const COMMANDS: &[(&str, &str)] = &[
    ("/help", "show this list"),
    ("/personas", "list the personas you can talk to"),
    ("/switch ID", "talk to another persona"),
    ("/history", "show this conversation so far"),
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
    /// The runtime.
    app: &'a App,
    /// Runs the turns.
    chat: ChatService,
    /// Who is chatting.
    user: String,
    /// Who they are chatting with.
    persona: Arc<Persona>,
    /// The persona's model.
    model: Arc<dyn ChatModel>,
    /// Backend notices already shown this session.
    notices_shown: Vec<String>,
    /// When to repeat the AI notice and suggest a break.
    disclosure: Disclosure,
}

impl<'a> Console<'a> {
    /// A session of `user` with `persona`.
    pub fn new(
        app: &'a App,
        chat: ChatService,
        user: &str,
        persona: Arc<Persona>,
    ) -> Result<Self, Error> {
        chat.check_access(user, &persona)?;
        let model = app.model_for(&persona)?;
        let minor = chat.is_minor(user)?;
        Ok(Self {
            disclosure: Disclosure::start(app.clock.now(), minor, &app.config.safety),
            app,
            chat,
            user: user.to_string(),
            persona,
            model,
            notices_shown: Vec::new(),
        })
    }

    /// Runs the session until `/quit` or the end of input.
    pub async fn run(&mut self, input: &mut Input) -> Result<SessionOutcome, Error> {
        let mut outcome = SessionOutcome::default();
        self.open()?;
        while let Some(line) = input.read_line(&format!("{}> ", self.user))? {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('/') {
                match self.command(line)? {
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

    /// Shows the notices and the greeting.
    fn notice(&self) -> String {
        let notice = self
            .persona
            .ai_notice
            .clone()
            .unwrap_or_else(|| ai_notice(&self.persona.language, &self.persona.name));
        format!("[{notice}]")
    }

    fn open(&mut self) -> Result<(), Error> {
        let mut lines = vec![self.notice()];
        if let Some(backend_notice) = self.model.session_notice(&self.persona.language)
            && !self.notices_shown.contains(&backend_notice)
        {
            lines.push(format!("[{backend_notice}]"));
            self.notices_shown.push(backend_notice);
        }
        if let Some(followup) = self
            .chat
            .take_unseen_followup(&self.user, &self.persona)
            .map_err(Error::from)?
        {
            lines.push(locale::while_away(
                &self.persona.language,
                &self.persona.name,
            ));
            lines.push(format!(
                "{}: {}",
                self.persona.name,
                printable(&followup.shown_text())
            ));
        }
        lines.push(format!("{}: {}", self.persona.name, self.persona.greeting));
        say(&lines.join("\n"))
    }

    /// Sends one message; returns whether a reply came back.
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
        if let Some(confirmation) = self
            .chat
            .control(&self.user, &self.persona, text)
            .map_err(Error::from)?
        {
            say(&format!("[{confirmation}]"))?;
            return Ok(Sent::Answered);
        }
        let mut out = std::io::stdout();
        let name = self.persona.name.clone();
        let mut started = false;
        let mut on_delta = |delta: &str| {
            if !started {
                let _ = write!(out, "{name}: ");
                started = true;
            }
            let _ = write!(out, "{}", printable(delta));
            let _ = out.flush();
        };
        // On a terminal, Ctrl-C stops the reply (kept, marked interrupted)
        // rather than the program; piped sessions keep the default.
        let stop: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> = if interactive {
            Box::pin(async {
                let _ = tokio::signal::ctrl_c().await;
            })
        } else {
            Box::pin(std::future::pending())
        };
        let mut stop = stop;
        let result = self
            .chat
            .turn(
                &self.user,
                &self.persona,
                self.model.as_ref(),
                text,
                &mut on_delta,
                stop.as_mut(),
            )
            .await;
        if started {
            say("")?;
        }
        match result {
            Ok(reply) => {
                if !started {
                    let who = if reply.model == crate::chat::SAFETY_MODEL {
                        "Troupe"
                    } else {
                        name.as_str()
                    };
                    say(&format!("{who}: {}", printable(&reply.text)))?;
                }
                for line in &reply.disclaimers {
                    say(&format!("— {line}"))?;
                }
                Ok(Sent::Answered)
            }
            Err(TurnError::Input(message)) => {
                errln!("troupe: {message}");
                Ok(Sent::Refused)
            }
            Err(TurnError::Store(e)) => Err(e.into()),
            Err(e) => {
                if let TurnError::Model { disclaimers, .. } = &e {
                    for line in disclaimers {
                        say(&format!("— {line}"))?;
                    }
                }
                errln!("troupe: {e}");
                Ok(Sent::Failed)
            }
        }
    }

    /// Runs a slash command.
    fn command(&mut self, line: &str) -> Result<Flow, Error> {
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
                    .app
                    .personas
                    .iter()
                    .map(|p| format!("  {:<10} {} — {}", p.id, p.name, p.description))
                    .collect();
                say(&list.join("\n"))?;
            }
            ("/switch", Some(id)) => match self.app.personas.get(id) {
                Ok(persona) if self.chat.check_access(&self.user, &persona).is_err() => {
                    errln!(
                        "troupe: {} is for adults only; choose another persona",
                        persona.name
                    );
                }
                Ok(persona) => {
                    self.model = self.app.model_for(&persona)?;
                    self.persona = persona;
                    self.open()?;
                }
                Err(e) => errln!("troupe: {e}"),
            },
            ("/switch", None) => errln!("troupe: /switch needs a persona id, e.g. /switch chef"),
            ("/history", _) => self.show_history()?,
            ("/stop" | "/start", _) => {
                if let Some(confirmation) = self
                    .chat
                    .control(&self.user, &self.persona, name)
                    .map_err(Error::from)?
                {
                    say(&format!("[{confirmation}]"))?;
                }
            }
            (other, _) => errln!("troupe: unknown command {other}; /help lists the commands"),
        }
        Ok(Flow::Continue)
    }

    fn show_history(&self) -> Result<(), Error> {
        let store = self.chat.store().hold()?;
        let messages = match store.conversation(&self.user, &self.persona.id)? {
            Some(conversation) => store.messages(&conversation)?,
            None => Vec::new(),
        };
        if messages.is_empty() {
            return say("(no messages yet)");
        }
        let lines: Vec<String> = messages
            .iter()
            .map(|m| history_line(m, &self.persona.name))
            .collect();
        say(&lines.join("\n"))
    }
}

/// One message as a console line: `[2026-11-26 09:00] Chef Marco: text`.
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
        printable(&message.shown_text())
    )
}

/// Where earlier Troupe releases kept the line editor's history of what
/// `user` typed; the console now keeps it in memory for the session only,
/// and erasure still removes such a file.
pub fn legacy_history_file(data_dir: &std::path::Path, user: &str) -> std::path::PathBuf {
    data_dir.join("console_history").join(user)
}

/// Text from a model or the store, safe to print: control characters
/// (terminal escape sequences among them) are dropped, newlines and tabs kept.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text
        .chars()
        .all(|c| !c.is_control() || c == '\n' || c == '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect(),
    )
}

/// What the loop does after a command.
enum Flow {
    Continue,
    Quit,
}

/// Prints a line to stdout.
fn say(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|_| out.flush())
        .map_err(|e| Error::Terminal(e.to_string()))
}
