//! Structured logs on stderr (tracing), as JSON lines or text; `RUST_LOG` filters
//! (default `info`).
//!
//! Log fields can hold values from requests (kind, namespace, name, a refused value). The JSON
//! format escapes them as JSON strings; the text format escapes every control character in
//! every field and message ([`escape_control`]), so a value holding a newline or an ANSI escape
//! cannot forge a log line or rewrite a terminal.

use crate::cli::LogFormat;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt as _;

/// `text` with each control character (newline, carriage return, tab, ESC, DEL, …) written as
/// a Rust-style escape (`\n`, `\r`, `\t`, `\u{1b}`); other characters unchanged.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Installs the global subscriber (a second call is a no-op).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => builder
            .fmt_fields(
                tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
                    let value = format!("{value:?}");
                    let value = escape_control(&value);
                    if field.name() == "message" {
                        write!(writer, "{value}")
                    } else {
                        write!(writer, "{field}={value}")
                    }
                })
                .delimited(" "),
            )
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("plain ünïcode"), "plain ünïcode");
        assert_eq!(
            escape_control("a\nb\r\tc\u{1b}[2J\u{7f}"),
            r"a\nb\r\tc\u{1b}[2J\u{7f}"
        );
    }
}
