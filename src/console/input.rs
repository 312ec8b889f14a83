//! Where the console's lines come from: a line editor on a terminal, or
//! stdin read line by line when it is a pipe or a file.

use std::io::{BufRead, IsTerminal};

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::error::Error;

/// A source of user lines.
pub enum Input {
    /// An interactive line editor. Its history (arrow keys) lives in
    /// memory for the session only: what a user typed is kept nowhere else
    /// than in the store, where export, retention and erasure reach it.
    Editor(Box<DefaultEditor>),
    /// Plain stdin: each line is one message.
    Lines {
        /// Lines read so far, for error messages.
        line: usize,
    },
}

impl Input {
    /// A line editor when stdin is a terminal, plain lines otherwise.
    pub fn detect() -> Self {
        if std::io::stdin().is_terminal()
            && let Ok(editor) = DefaultEditor::new()
        {
            return Self::Editor(Box::new(editor));
        }
        Self::Lines { line: 0 }
    }

    /// Whether a person is typing at a terminal.
    pub fn is_interactive(&self) -> bool {
        matches!(self, Self::Editor(..))
    }

    /// The next line, or `None` at the end of input (Ctrl-D, end of file).
    pub fn read_line(&mut self, prompt: &str) -> Result<Option<String>, Error> {
        tokio::task::block_in_place(|| match self {
            Self::Editor(editor) => loop {
                match editor.readline(prompt) {
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = editor.add_history_entry(line.as_str());
                        }
                        return Ok(Some(line));
                    }
                    // Ctrl-C clears the line, as in a shell; Ctrl-D leaves.
                    Err(ReadlineError::Interrupted) => continue,
                    Err(ReadlineError::Eof) => return Ok(None),
                    Err(e) => return Err(Error::Terminal(e.to_string())),
                }
            },
            Self::Lines { line } => read_stdin_line(line),
        })
    }
}

/// Reads one line of stdin, refusing invalid UTF-8 with the line number.
fn read_stdin_line(line: &mut usize) -> Result<Option<String>, Error> {
    let mut bytes = Vec::new();
    let read = std::io::stdin()
        .lock()
        .read_until(b'\n', &mut bytes)
        .map_err(|e| Error::Terminal(e.to_string()))?;
    if read == 0 {
        return Ok(None);
    }
    *line += 1;
    String::from_utf8(bytes).map(Some).map_err(|_| {
        Error::Input(format!(
            "line {line} of stdin is not valid UTF-8; send text encoded as UTF-8"
        ))
    })
}
