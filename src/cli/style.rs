//! Colour on a terminal, and nowhere else: never in a pipe or a file, and
//! never when `NO_COLOR` is set to anything but the empty string
//! (<https://no-color.org>).

use std::ffi::OsStr;

/// Whether to colour output going to a terminal (`is_terminal`), given the
/// value of `NO_COLOR`.
pub(crate) fn colour_enabled(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Whether to colour what goes to stdout.
pub(crate) fn colour_stdout() -> bool {
    use std::io::IsTerminal;
    colour_enabled(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// Whether to colour what goes to stderr.
pub(crate) fn colour_stderr() -> bool {
    use std::io::IsTerminal;
    colour_enabled(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// A colour, as its ANSI code.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Colour {
    Red = 31,
    Green = 32,
    Yellow = 33,
}

/// `text` in `colour` when `enabled`, else as it is.
pub(crate) fn paint(text: &str, colour: Colour, enabled: bool) -> String {
    if enabled {
        format!("\u{1b}[{}m{text}\u{1b}[0m", colour as u8)
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_enabled(true, None));
        assert!(colour_enabled(true, Some(OsStr::new(""))));
        assert!(!colour_enabled(true, Some(OsStr::new("1"))));
        assert!(!colour_enabled(false, None));
        assert_eq!(paint("ok", Colour::Green, false), "ok");
        assert_eq!(paint("ok", Colour::Green, true), "\u{1b}[32mok\u{1b}[0m");
    }
}
