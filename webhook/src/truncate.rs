//! Bounds on values echoed back from a request, in responses and in logs.
//!
//! A request can carry a value of megabytes (a kind, a name, an `apiVersion`); echoing it
//! whole would turn one request into a log line or a response of the same size. Every echoed
//! value goes through [`Truncated`]: its first [`MAX_ECHO_CHARS`] characters, then a marker
//! with the value's full length, e.g. `vvvv…(2097152 bytes)`.

use std::fmt;

/// How many characters of a value are echoed before it is cut.
pub const MAX_ECHO_CHARS: usize = 256;

/// Displays a value cut to [`MAX_ECHO_CHARS`] characters plus `…(N bytes)` when longer;
/// shorter values are displayed unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Truncated<'a>(pub &'a str);

impl fmt::Display for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_ECHO_CHARS) {
            None => f.write_str(self.0),
            Some((cut, _)) => write!(f, "{}…({} bytes)", &self.0[..cut], self.0.len()),
        }
    }
}

/// [`Truncated`] as an owned string.
pub fn truncate(value: &str) -> String {
    Truncated(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_with_their_length() {
        assert_eq!(truncate("short"), "short");
        let exact = "é".repeat(MAX_ECHO_CHARS);
        assert_eq!(truncate(&exact), exact);
        let long = format!("{exact}xyz");
        assert_eq!(
            truncate(&long),
            format!("{exact}…({} bytes)", MAX_ECHO_CHARS * 2 + 3)
        );
    }
}
