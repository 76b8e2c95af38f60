//! Progress while rerunning: a spinner line redrawn in place when stdout is a terminal, plain
//! lines otherwise (CI logs, pipes).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// Writes progress to stdout.
pub struct Progress {
    tty: bool,
    frame: usize,
    spinning: bool,
}

impl Progress {
    /// Progress on stdout, with a spinner when stdout is a terminal.
    pub fn stdout() -> Progress {
        Progress {
            tty: std::io::stdout().is_terminal(),
            frame: 0,
            spinning: false,
        }
    }

    /// A line of output (erasing the spinner first).
    pub fn line(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.spinning {
            let _ = write!(out, "\r\x1b[2K");
            self.spinning = false;
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// Starts waiting on `what`: a plain line when not a terminal.
    pub fn start_wait(&mut self, what: &str, timeout: Duration) {
        if !self.tty {
            self.line(&format!(
                "{what}: waiting (timeout {})",
                crate::duration::go_format(timeout)
            ));
        }
    }

    /// Redraws the spinner (terminal only).
    pub fn tick(&mut self, what: &str, started: Instant) {
        if !self.tty {
            return;
        }
        self.frame = (self.frame + 1) % FRAMES.len();
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "\r\x1b[2K{} {what}: waiting ({})",
            FRAMES[self.frame],
            crate::duration::human(started.elapsed())
        );
        let _ = out.flush();
        self.spinning = true;
    }

    /// Erases the spinner, if drawn.
    pub fn clear(&mut self) {
        if self.spinning {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
            self.spinning = false;
        }
    }
}
