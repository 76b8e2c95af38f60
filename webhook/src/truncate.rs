//! Bounds on values echoed back from a request, in responses and in logs.
//!
//! A request can carry a value of megabytes (a kind, a name, an `apiVersion`); echoing it
//! whole would turn one request into a log line or a response of the same size. Every echoed
//! value goes through [`echo`]: its first [`MAX_ECHO_CHARS`] characters, then a marker with the
//! value's full length, e.g. `vvvv…(2097152 bytes)` (the core's [`Truncated`]).

use helm_hooks::text::Truncated;

/// How many characters of a value are echoed before it is cut.
pub const MAX_ECHO_CHARS: usize = 256;

/// `value` for display, cut to [`MAX_ECHO_CHARS`] characters.
pub fn echo(value: &str) -> Truncated<'_> {
    Truncated(value, MAX_ECHO_CHARS)
}

/// [`echo`] as an owned string.
pub fn truncate(value: &str) -> String {
    echo(value).to_string()
}
