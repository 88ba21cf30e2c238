//! Progress for work that can take more than a second: bars (known length) and spinners
//! (unknown length) on stderr, drawn by indicatif. Hidden when stderr is not a terminal (logs,
//! pipes, CI) or when the user asked for quiet (`--quiet`); stdout is never touched, so a
//! command's output reads the same either way.
//!
//! A command gets a [`Progress`] from the CLI and hands it to the library functions it calls;
//! each of those opens its own bars with [`Progress::bar`] or [`Progress::spinner`]. Code that
//! wants no output passes [`Progress::hidden`].

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes (stderr or nowhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    visible: bool,
}

impl Progress {
    /// Bars on stderr when it is a terminal and `quiet` is not set.
    pub fn stderr(quiet: bool) -> Progress {
        Progress { visible: !quiet && std::io::stderr().is_terminal() }
    }

    /// No output at all.
    pub fn hidden() -> Progress {
        Progress { visible: false }
    }

    pub fn is_visible(&self) -> bool {
        self.visible
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    /// A bar for `len` steps, labelled `what`.
    pub fn bar(&self, len: u64, what: &str) -> Bar {
        let bar = ProgressBar::with_draw_target(Some(len), self.target());
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed} (eta {eta})") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        Bar(bar)
    }

    /// A spinner for work of unknown length, labelled `what`.
    pub fn spinner(&self, what: &str) -> Bar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        if self.visible {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Bar(bar)
    }
}

/// One bar or spinner; cleared from the terminal when dropped. Cheap to share across threads
/// (`&Bar` is `Sync`).
pub struct Bar(ProgressBar);

impl Bar {
    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    pub fn position(&self) -> u64 {
        self.0.position()
    }

    pub fn set_message(&self, what: impl Into<String>) {
        self.0.set_message(what.into());
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_and_hidden_draw_nothing_but_still_count() {
        assert!(!Progress::stderr(true).is_visible());
        let p = Progress::hidden();
        let b = p.bar(10, "work");
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| (0..5).for_each(|_| b.inc(1)));
            }
        });
        assert_eq!(b.position(), 10);
        assert!(b.0.is_hidden());
        assert!(p.spinner("waiting").0.is_hidden());
    }
}
