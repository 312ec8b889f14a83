//! Texts a terminal must not see, found in a TOML document's string
//! values and placed at the character (or the escape that writes it), so
//! `personas check` points at it.

use std::ops::Range;

/// The first character of `text` a terminal must not see (see
/// [`crate::terminal`]); a carriage return before a newline is a Windows
/// line end, not a problem.
pub(super) fn unprintable(text: &str) -> Option<(usize, char)> {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let line_end = c == '\r' && chars.peek().is_some_and(|(_, next)| *next == '\n');
        if crate::terminal::is_unprintable(c) && !line_end {
            return Some((i, c));
        }
    }
    None
}

/// The problem of a string value (written at `span` of `source`) holding
/// an unprintable character: placed at that character, or at the escape
/// (`\u001b`, `\e`) that writes it.
pub(super) fn unprintable_problem(
    source: &str,
    span: Range<usize>,
    path: &str,
    text: &str,
) -> (usize, String) {
    let (index, c) = unprintable(text).unwrap_or((0, '\0'));
    let written = source.get(span.clone()).unwrap_or_default();
    let at = span.start + locate_char(written, c).unwrap_or(0);
    let position = text[..index].chars().count() + 1;
    let message = format!(
        "\"{path}\" holds {} at character {position}; remove it (text may hold no control characters but newlines and tabs, and no bidirectional controls)",
        crate::terminal::describe(c)
    );
    (at, message)
}

/// Where, in a string as written in TOML, the character `c` is: itself, or
/// the escape that writes it (a literal string, in single quotes, has none).
fn locate_char(written: &str, c: char) -> Option<usize> {
    let escapes = !written.starts_with('\'');
    let mut rest = written.char_indices();
    while let Some((i, found)) = rest.next() {
        if found == c {
            return Some(i);
        }
        if found != '\\' || !escapes {
            continue;
        }
        let after = &written[i + 1..];
        let decoded = match after.chars().next() {
            Some('u') => hex_char(after.get(1..5)),
            Some('U') => hex_char(after.get(1..9)),
            Some('x') => hex_char(after.get(1..3)),
            Some('e') => Some('\u{1b}'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('r') => Some('\r'),
            _ => None,
        };
        if decoded == Some(c) {
            return Some(i);
        }
        // Skip the escaped character, so `\\u001b` is not read as an escape.
        rest.next();
    }
    None
}

/// The character a run of hex digits names.
fn hex_char(digits: Option<&str>) -> Option<char> {
    u32::from_str_radix(digits?, 16)
        .ok()
        .and_then(char::from_u32)
}
