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
    /// A line of more than `max_chars` characters is [`Line::TooLong`]:
    /// from a pipe, no more of it than that is read into memory.
    pub fn read_line(&mut self, prompt: &str, max_chars: usize) -> Result<Option<Line>, Error> {
        tokio::task::block_in_place(|| match self {
            Self::Editor(editor) => loop {
                match editor.readline(prompt) {
                    Ok(line) if line.chars().nth(max_chars).is_some() => {
                        return Ok(Some(Line::TooLong));
                    }
                    Ok(line) => {
                        if !line.trim().is_empty() {
                            let _ = editor.add_history_entry(line.as_str());
                        }
                        return Ok(Some(Line::Text(line)));
                    }
                    // Ctrl-C clears the line, as in a shell; Ctrl-D leaves.
                    Err(ReadlineError::Interrupted) => continue,
                    Err(ReadlineError::Eof) => return Ok(None),
                    Err(e) => return Err(Error::Terminal(e.to_string())),
                }
            },
            Self::Lines { line } => read_stdin_line(line, max_chars),
        })
    }
}

/// One line of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The line, without its newline.
    Text(String),
    /// A line longer than the bound; what was read of it is dropped and
    /// the rest was skipped without being kept.
    TooLong,
}

/// One line of a byte stream, read with a bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundedLine {
    /// The line's bytes, without the newline.
    Whole(Vec<u8>),
    /// The line was longer than the bound; it was read up to the bound,
    /// then skipped to its end without being kept.
    TooLong,
}

/// Reads one line of at most `max_chars` UTF-8 characters from `reader`
/// (`None` at the end of input). A longer line is read only up to its
/// character `max_chars + 1`; the rest of it is skipped a buffer at a
/// time and never held, so a 10 MB paste costs no more memory than the
/// bound and the next line is read as usual.
pub fn read_bounded_line(
    reader: &mut impl BufRead,
    max_chars: usize,
) -> std::io::Result<Option<BoundedLine>> {
    let mut line = Vec::new();
    let mut chars = 0;
    let mut read_any = false;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(read_any.then_some(BoundedLine::Whole(line)));
        }
        read_any = true;
        let mut used = 0;
        let mut ended = None;
        for &byte in buffer {
            used += 1;
            if byte == b'\n' {
                ended = Some(true);
                break;
            }
            // A byte that does not continue a character starts one.
            if byte & 0xC0 != 0x80 {
                chars += 1;
                if chars > max_chars {
                    ended = Some(false);
                    break;
                }
            }
            line.push(byte);
        }
        reader.consume(used);
        match ended {
            Some(true) => return Ok(Some(BoundedLine::Whole(line))),
            Some(false) => {
                skip_line(reader)?;
                return Ok(Some(BoundedLine::TooLong));
            }
            None => {}
        }
    }
}

/// Skips the rest of the current line, newline included, a buffer at a
/// time.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

/// Reads one line of stdin, refusing invalid UTF-8 with the line number.
fn read_stdin_line(line: &mut usize, max_chars: usize) -> Result<Option<Line>, Error> {
    let read = read_bounded_line(&mut std::io::stdin().lock(), max_chars)
        .map_err(|e| Error::Terminal(e.to_string()))?;
    let Some(read) = read else {
        return Ok(None);
    };
    *line += 1;
    match read {
        BoundedLine::TooLong => Ok(Some(Line::TooLong)),
        BoundedLine::Whole(bytes) => String::from_utf8(bytes)
            .map(|text| Some(Line::Text(text)))
            .map_err(|_| {
                Error::Input(format!(
                    "line {line} of stdin is not valid UTF-8; send text encoded as UTF-8"
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max_chars: usize) -> Vec<BoundedLine> {
        let mut reader = std::io::BufReader::with_capacity(7, input);
        std::iter::from_fn(|| read_bounded_line(&mut reader, max_chars).unwrap()).collect()
    }

    #[test]
    fn lines_within_the_bound_are_read_whole_counting_characters_not_bytes() {
        assert_eq!(
            lines("héé\nabc\r\nlast".as_bytes(), 4),
            [
                BoundedLine::Whole("héé".into()),
                BoundedLine::Whole(b"abc\r".to_vec()),
                BoundedLine::Whole(b"last".to_vec()),
            ]
        );
    }

    #[test]
    fn a_line_over_the_bound_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; 100_000];
        input.extend_from_slice(b"\nnext\n");
        assert_eq!(
            lines(&input, 10),
            [BoundedLine::TooLong, BoundedLine::Whole(b"next".to_vec())]
        );
        assert_eq!(
            lines(b"0123456789", 10),
            [BoundedLine::Whole(b"0123456789".to_vec())]
        );
        assert_eq!(lines(b"0123456789a", 10), [BoundedLine::TooLong]);
    }
}
