//! How a turn's events look on the terminal, in the console and for one
//! message from the command line (`troupe chat PERSONA --message TEXT`),
//! whether the turn ran here or in a server: the persona's reply as it
//! arrives, Troupe's own replies (helplines, the STOP confirmation) as
//! Troupe's, disclaimers on their own lines.

use std::io::Write;

use crate::chat::{ReplyKind, TurnError, TurnEvent};
use crate::terminal::printable;

/// Where the events are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The console: every line on stdout, the speaker named.
    Console,
    /// One message: the reply alone on stdout (so it can be piped), the
    /// notices on stderr.
    OneShot,
}

/// How a turn ended, once shown.
#[derive(Debug)]
pub enum Ended {
    /// A reply came.
    Answered,
    /// The message was refused before anything was stored.
    Refused(TurnError),
    /// No reply (the message may be kept); the error says what happened.
    Failed(TurnError),
}

/// Shows the events of one turn.
#[derive(Debug)]
pub struct TurnPrinter<'a> {
    /// Where.
    layout: Layout,
    /// The persona's name, for the console's speaker.
    persona_name: &'a str,
    /// Whether part of a reply has been shown.
    streamed: bool,
}

impl<'a> TurnPrinter<'a> {
    /// A printer for a turn with the persona named `persona_name`.
    pub fn new(layout: Layout, persona_name: &'a str) -> Self {
        Self {
            layout,
            persona_name,
            streamed: false,
        }
    }

    /// Shows `event`; the last event of a turn says how it ended.
    pub fn show(&mut self, event: TurnEvent) -> Option<Ended> {
        match event {
            // A one-shot message always shows the notice before the turn.
            TurnEvent::Notice(text) if self.layout == Layout::Console => {
                line(&format!("[{text}]"));
            }
            TurnEvent::Notice(_) => {}
            TurnEvent::BreakReminder(text) => match self.layout {
                Layout::Console => line(&format!("[{text}]")),
                Layout::OneShot => errln!("[{text}]"),
            },
            TurnEvent::Delta(delta) => self.delta(&delta),
            TurnEvent::Finished(reply) => {
                if self.streamed {
                    line("");
                } else {
                    self.whole(reply.kind, &reply.text);
                }
                disclaimers(&reply.disclaimers);
                return Some(Ended::Answered);
            }
            TurnEvent::Failed(error) => {
                // A one-shot message's stdout ends with a newline whatever
                // happened.
                if self.streamed || self.layout == Layout::OneShot {
                    line("");
                }
                // What arrived before the break still gets its disclaimers.
                disclaimers(error.partial_disclaimers());
                return Some(match error {
                    TurnError::Input(_) => Ended::Refused(error),
                    other => Ended::Failed(other),
                });
            }
        }
        None
    }

    /// A piece of the persona's reply.
    fn delta(&mut self, delta: &str) {
        let mut out = std::io::stdout().lock();
        if !self.streamed && self.layout == Layout::Console {
            let _ = write!(out, "{}: ", printable(self.persona_name));
        }
        let _ = write!(out, "{}", printable(delta));
        let _ = out.flush();
        self.streamed = true;
    }

    /// A reply that came whole: Troupe's own, never streamed.
    fn whole(&self, kind: ReplyKind, text: &str) {
        match (self.layout, kind) {
            (Layout::OneShot, _) => line(text),
            (Layout::Console, ReplyKind::Persona) => {
                line(&format!("{}: {text}", self.persona_name))
            }
            (Layout::Console, ReplyKind::Crisis) => line(&format!("Troupe: {text}")),
            (Layout::Console, ReplyKind::Control) => line(&format!("[{text}]")),
        }
    }
}

/// Disclaimer lines, each on its own line after the reply.
fn disclaimers(lines: &[String]) {
    for text in lines {
        line(&format!("— {text}"));
    }
}

/// A line on stdout, made printable; a closed pipe is not worth failing
/// over.
fn line(text: &str) {
    outln!("{text}");
}
