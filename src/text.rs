//! Bounded text for messages and logs: values that come from objects can be megabytes long
//! and are echoed back only in part.

use std::fmt;

/// Displays its value cut to at most `.1` characters, followed by `…(N bytes)` (N: the whole
/// value's length) when it was cut; shorter values are displayed unchanged. Cuts on a
/// character boundary and allocates nothing of its own.
#[derive(Debug, Clone, Copy)]
pub struct Truncated<'a>(pub &'a str, pub usize);

impl fmt::Display for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Truncated(value, max_chars) = *self;
        match value.char_indices().nth(max_chars) {
            None => f.write_str(value),
            Some((cut, _)) => write!(f, "{}…({} bytes)", &value[..cut], value.len()),
        }
    }
}

/// [`Truncated`] as an owned string.
pub fn truncate(value: &str, max_chars: usize) -> String {
    Truncated(value, max_chars).to_string()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn short_values_are_kept_whole() {
        assert_eq!(truncate("pre-install", 20), "pre-install");
        assert_eq!(truncate("", 0), "");
        let exact = "é".repeat(8);
        assert_eq!(truncate(&exact, 8), exact);
    }

    #[test]
    fn long_values_keep_their_head_and_say_how_long_they_were() {
        assert_eq!(truncate("abcdef", 3), "abc…(6 bytes)");
        // Cut on a character boundary, never inside one.
        assert_eq!(truncate("ééé", 1), "é…(6 bytes)");
    }
}
