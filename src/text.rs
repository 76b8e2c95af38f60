//! Bounded text for messages and logs: values that come from objects can be megabytes long
//! and are echoed back only in part.

/// `value` when it has at most `max_chars` characters; otherwise its first `max_chars`
/// characters followed by `…(N bytes)`, N being the whole value's length.
pub fn truncate(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}…({} bytes)", &value[..cut], value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn short_values_are_kept_whole() {
        assert_eq!(truncate("pre-install", 20), "pre-install");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn long_values_keep_their_head_and_say_how_long_they_were() {
        assert_eq!(truncate("abcdef", 3), "abc…(6 bytes)");
        // Cut on a character boundary, never inside one.
        assert_eq!(truncate("ééé", 1), "é…(6 bytes)");
    }
}
