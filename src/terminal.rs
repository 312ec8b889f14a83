//! Text on its way to a terminal.
//!
//! Everything Troupe prints — replies, persona fields, stored messages,
//! errors quoting a model server, log lines, JSON — passes through
//! [`printable`] (JSON through [`json_escaped`]), so no text from a persona
//! file, a model, a server or the store can move the cursor, retitle the
//! window, write the clipboard (an OSC 52 sequence) or make a line display
//! as another (a bidirectional override). One predicate,
//! [`is_unprintable`], decides what goes: persona and config files are
//! refused when a text holds such a character, replies and follow-ups are
//! stored without them, and every line printed is stripped of them.

use std::borrow::Cow;
use std::io::Write;

/// Whether `c` must never reach a terminal: a control character (C0 but
/// newline and tab, DEL, C1; ESC, CSI and OSC start escape sequences) or a
/// bidirectional formatting character (see [`is_bidi_control`]).
pub fn is_unprintable(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// The bidirectional formatting characters: the Arabic letter mark, the
/// left-to-right and right-to-left marks, the embeddings and overrides
/// (U+202A–U+202E) and the isolates (U+2066–U+2069). They are invisible
/// and reorder what follows them, so a text can display as another.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `text` without its unprintable characters; newlines and tabs are kept.
/// Borrows when there is nothing to remove, which is nearly always.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unprintable) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|c| !is_unprintable(*c)).collect())
}

/// The first unprintable character of `text`, with its byte offset.
pub fn first_unprintable(text: &str) -> Option<(usize, char)> {
    text.char_indices().find(|(_, c)| is_unprintable(*c))
}

/// A character for a message: `U+001B (ESC)`, `U+202E (right-to-left
/// override)`.
pub fn describe(c: char) -> String {
    let name = match c {
        '\u{1b}' => "ESC, which starts terminal escape sequences",
        '\u{7}' => "BEL",
        '\r' => "carriage return",
        '\u{8}' => "backspace",
        '\u{9b}' => "CSI, which starts terminal escape sequences",
        '\u{9d}' => "OSC, which starts terminal commands",
        '\u{202E}' => "right-to-left override",
        '\u{202D}' => "left-to-right override",
        c if is_bidi_control(c) => "a bidirectional formatting character",
        _ => "a control character",
    };
    format!("U+{:04X} ({name})", u32::from(c))
}

/// JSON text that is safe on a terminal: each unprintable character (which
/// serde_json leaves raw when it is DEL, C1 or a bidi control) becomes its
/// `\uXXXX` escape, so the data is intact for the program reading it. Such
/// characters only ever occur inside JSON strings, so the result is the
/// same JSON value.
pub fn json_escaped(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_unprintable) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_unprintable(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Prints `text` and a newline on stdout, made printable. A closed pipe
/// (`troupe … | head`) is not worth a panic, so failures are ignored.
pub fn out_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", printable(text));
}

/// Prints `text` and a newline on stderr, made printable; failures are
/// ignored (see [`out_line`]).
pub fn err_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", printable(text));
}

/// Where log lines go: stderr, each line made printable. Log fields quote
/// texts from outside (a model server's error, a file name), and the log
/// formatter escapes only some control characters, in some fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine(Vec::new())
    }
}

/// One log event, gathered whole (so no character is split between
/// writes) and written to stderr, printable, when dropped.
#[derive(Debug)]
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let _ = std::io::stderr()
            .lock()
            .write_all(printable(&text).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_bidi_controls_are_removed_and_newlines_and_tabs_kept() {
        let hostile = "a\u{1b}]52;c;cm0gLXJm\u{7}b\u{1b}[2J\r\u{9b}31m\u{202E}c\u{2066}\n\td\u{7f}";
        assert_eq!(printable(hostile), "a]52;c;cm0gLXJmb[2J31mc\n\td");
        assert!(matches!(printable("plain, déjà vu\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_first_unprintable_character_is_found_with_its_offset() {
        assert_eq!(first_unprintable("é\u{1b}x"), Some((2, '\u{1b}')));
        assert_eq!(first_unprintable("fine\n"), None);
        assert!(describe('\u{202E}').contains("U+202E"));
    }

    #[test]
    fn json_keeps_its_value_with_unprintable_characters_escaped() {
        let value = serde_json::json!({"name": "a\u{9b}b\u{202E}c\u{1b}"});
        let text = serde_json::to_string(&value).unwrap();
        let escaped = json_escaped(&text);
        assert!(!escaped.chars().any(is_unprintable), "{escaped}");
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, value);
    }
}
