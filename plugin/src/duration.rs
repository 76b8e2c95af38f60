//! Durations as kubectl prints and reads them: `HumanDuration` for AGE and DURATION columns,
//! Go's `time.ParseDuration` syntax for `--timeout`, `--request-timeout` and `--older-than`.

use std::time::Duration;

/// kubectl's `duration.HumanDuration` (k8s.io/apimachinery/pkg/util/duration): `45s`, `5m12s`,
/// `17m`, `3h5m`, `10h`, `4d5h`, `30d`, `2y45d`, `9y`. `seconds` may be negative: up to one
/// second of clock skew reads as `0s`, more as `<invalid>`.
pub fn human_seconds(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// How long a hook ran, for the DURATION column: milliseconds below a second (`372ms`), else
/// [`human_seconds`] of the whole seconds elapsed (never rounded up).
pub fn human_elapsed(elapsed: jiff::SignedDuration) -> String {
    let millis = elapsed.as_millis();
    if (0..1000).contains(&millis) {
        format!("{millis}ms")
    } else {
        human_seconds(elapsed.as_secs())
    }
}

/// [`human_seconds`] of a [`Duration`].
pub fn human(duration: Duration) -> String {
    human_seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

/// Parses Go's duration syntax (`300ms`, `1.5h`, `1h30m`, `5m0s`) plus `d` for days.
/// `bare_seconds` accepts a plain number as seconds, as kubectl's `--request-timeout` does.
pub fn parse(text: &str, bare_seconds: bool) -> Result<Duration, String> {
    let input = text.trim();
    let invalid = || {
        format!(
            "invalid duration {text:?}: use a number with a unit, e.g. 30s, 5m, 1h30m{}",
            if bare_seconds {
                " (a bare number is seconds)"
            } else {
                ""
            }
        )
    };
    if input.is_empty() {
        return Err(invalid());
    }
    if bare_seconds && input.bytes().all(|b| b.is_ascii_digit()) {
        return input
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| invalid());
    }
    if input == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = input;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if number_len == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    if !total.is_finite() || total > 1e12 {
        return Err(invalid());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration as Go prints it (`5m0s`, `1h30m0s`, `45s`, `1.5s`, `300ms`).
pub fn go_format(duration: Duration) -> String {
    let total = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if total == 0 {
        return match nanos {
            0 => "0s".into(),
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n => format!("{}s", trim_fraction(n)),
        };
    }
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    let seconds = if nanos == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", trim_fraction(nanos).trim_start_matches("0."))
    };
    match (h, m) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

fn trim_fraction(nanos: u32) -> String {
    let text = format!("0.{nanos:09}");
    text.trim_end_matches('0').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: `-o wide` DURATION subtracted whole seconds, so 0.372 s showed `0s` and
    /// 0.499 s (across a second boundary) `1s`.
    #[test]
    fn duration_below_a_second_is_shown_in_milliseconds() {
        let run = |from: &str, to: &str| {
            let from: jiff::Timestamp = from.parse().unwrap();
            let to: jiff::Timestamp = to.parse().unwrap();
            human_elapsed(to.duration_since(from))
        };
        assert_eq!(
            run("2026-05-01T10:00:00.100Z", "2026-05-01T10:00:00.472Z"),
            "372ms"
        );
        assert_eq!(
            run("2026-05-01T10:00:00.900Z", "2026-05-01T10:00:01.399Z"),
            "499ms"
        );
        assert_eq!(
            run("2026-05-01T10:00:00.900Z", "2026-05-01T10:00:02.899Z"),
            "1s"
        );
        assert_eq!(
            run("2026-05-01T10:00:00Z", "2026-05-01T10:05:12.5Z"),
            "5m12s"
        );
    }

    #[test]
    fn human_duration_matches_kubectl() {
        // Cases from k8s.io/apimachinery/pkg/util/duration's own tests.
        let cases = [
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (1, "1s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (5 * 60 + 12, "5m12s"),
            (9 * 60 + 59, "9m59s"),
            (10 * 60, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (7 * 3600 + 59 * 60, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 59 * 60, "47h"),
            (48 * 3600, "2d"),
            (4 * 86400 + 5 * 3600, "4d5h"),
            (7 * 86400 + 23 * 3600, "7d23h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (2 * 365 * 86400 + 45 * 86400, "2y45d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400, "20y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human_seconds(seconds), want, "{seconds}s");
        }
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("5m", false).unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h30m", false).unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1.5h", false).unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("300ms", false).unwrap(), Duration::from_millis(300));
        assert_eq!(parse("2d", false).unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse("0", false).unwrap(), Duration::ZERO);
        assert_eq!(parse("30", true).unwrap(), Duration::from_secs(30));
        for bad in ["", "5", "m", "5x", "1h-3m", "abc", "5m 3s"] {
            assert!(parse(bad, false).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse("-5s", true).is_err());
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(go_format(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_format(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(go_format(Duration::from_secs(45)), "45s");
        assert_eq!(go_format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_format(Duration::from_millis(300)), "300ms");
        assert_eq!(go_format(Duration::ZERO), "0s");
    }
}
