//! The progress bar of long commands, on stderr: drawn only when stderr is
//! a terminal (nothing at all is printed otherwise) and `--quiet` was not
//! given; in colour only where [`super::style`] allows it.

use std::io::IsTerminal;

use indicatif::{ProgressDrawTarget, ProgressStyle};

use super::style::colour_stderr;
use crate::progress::Progress;

/// A bar (or, when the total is unknown, a spinner with a count) for the
/// library's [`Progress`] reports.
pub(crate) struct Bar {
    /// What draws; `None` draws nothing.
    bar: Option<indicatif::ProgressBar>,
    /// Where to draw, until the first stage has its style and message: the
    /// bar stays hidden until then.
    target: Option<ProgressDrawTarget>,
    /// Whether to colour the bar.
    colour: bool,
}

impl Bar {
    /// A bar on stderr, when it is a terminal and `quiet` is off.
    pub(crate) fn new(quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Self {
                bar: None,
                target: None,
                colour: false,
            };
        }
        Self::drawing_to(ProgressDrawTarget::stderr(), colour_stderr())
    }

    /// A bar drawn to `target`.
    pub(crate) fn drawing_to(target: ProgressDrawTarget, colour: bool) -> Self {
        Self {
            bar: Some(indicatif::ProgressBar::hidden()),
            target: Some(target),
            colour,
        }
    }

    /// Removes the bar, so the command's own output starts on a clean line.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn style(&self, total: Option<u64>) -> ProgressStyle {
        let template = match (total.is_some(), self.colour) {
            (true, true) => "{msg} [{bar:30.cyan/blue}] {pos}/{len} ({eta} left)",
            (true, false) => "{msg} [{bar:30}] {pos}/{len} ({eta} left)",
            (false, true) => "{spinner:.cyan} {msg}: {pos} records",
            (false, false) => "{spinner} {msg}: {pos} records",
        };
        // The templates are constants that parse.
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }
}

impl Progress for Bar {
    fn begin(&mut self, stage: &str, total: Option<u64>) {
        let style = self.style(total);
        let Some(bar) = &self.bar else {
            return;
        };
        bar.set_style(style);
        bar.set_length(total.unwrap_or(0));
        bar.set_position(0);
        bar.set_message(stage.to_string());
        bar.reset_eta();
        if let Some(target) = self.target.take() {
            bar.set_draw_target(target);
        }
    }

    fn advance(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A terminal that keeps what was written to it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn drawn(colour: bool, total: Option<u64>) -> String {
        let screen = Screen::default();
        let mut bar = Bar::drawing_to(
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            colour,
        );
        bar.begin("rewriting the store", total);
        bar.advance(7);
        if let Some(inner) = &bar.bar {
            inner.tick();
        }
        screen.0.lock().unwrap().clone()
    }

    #[test]
    fn a_bar_shows_the_stage_and_the_count() {
        let text = drawn(false, Some(10));
        assert!(text.contains("rewriting the store"), "{text:?}");
        assert!(text.contains("7/10"), "{text:?}");
        assert!(!text.contains('\u{1b}'), "no colour asked: {text:?}");
        let spinner = drawn(false, None);
        assert!(spinner.contains("7 records"), "{spinner:?}");
    }

    #[test]
    fn quiet_draws_nothing() {
        let mut bar = Bar::new(true);
        bar.begin("purging", Some(3));
        bar.advance(3);
        assert!(bar.bar.is_none());
    }
}
