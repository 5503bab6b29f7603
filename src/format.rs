//! Numbers as people read them: thousands separated, byte counts in KB, MB, GB, download counts,
//! durations and how soon something expires.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// 1234567 as "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// How many download links a file had signed: "Not downloaded yet", "Downloaded once", "Downloaded
/// 3 times".
pub fn downloads(n: u32) -> String {
    match n {
        0 => "Not downloaded yet".to_owned(),
        1 => "Downloaded once".to_owned(),
        n => format!("Downloaded {} times", thousands(u64::from(n))),
    }
}

/// A byte count to one decimal in the largest unit under which it is at least 1 (decimal units).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1_000 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1_000.0;
    let mut unit = 0;
    while value >= 1_000.0 && unit + 1 < UNITS.len() {
        value /= 1_000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration in its largest whole unit: "7 days", "1 hour", "90 minutes", "30 seconds".
pub fn duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (count, unit) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    plural(count, unit)
}

/// How soon `at` comes, seen from `now`: "Expires in 3 days", "Expires in 5 hours", "Expires in
/// 12 minutes", "Expires in under a minute"; "Expiring now" once it has passed (the sweep is on
/// its way). Rounded down, so it never promises more time than there is.
pub fn expires_in(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    match secs {
        s if s <= 0 => "Expiring now".to_owned(),
        s if s < 60 => "Expires in under a minute".to_owned(),
        s if s < 3_600 => format!("Expires in {}", plural((s / 60) as u64, "minute")),
        s if s < 2 * 86_400 => format!("Expires in {}", plural((s / 3_600) as u64, "hour")),
        s => format!("Expires in {}", plural((s / 86_400) as u64, "day")),
    }
}

fn plural(count: u64, unit: &str) -> String {
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{} {unit}s", thousands(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn downloads_read_as_a_sentence() {
        assert_eq!(downloads(0), "Not downloaded yet");
        assert_eq!(downloads(1), "Downloaded once");
        assert_eq!(downloads(1_200), "Downloaded 1,200 times");
    }

    #[test]
    fn durations_take_their_largest_whole_unit() {
        let secs = Duration::from_secs;
        assert_eq!(duration(secs(7 * 86_400)), "7 days");
        assert_eq!(duration(secs(3_600)), "1 hour");
        assert_eq!(duration(secs(36 * 3_600)), "36 hours");
        assert_eq!(duration(secs(90 * 60)), "90 minutes");
        assert_eq!(duration(secs(30)), "30 seconds");
        assert_eq!(duration(secs(1)), "1 second");
    }

    #[test]
    fn expiry_counts_down_in_whole_units_never_rounding_up() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |secs| now + chrono::TimeDelta::seconds(secs);
        assert_eq!(expires_in(at(3 * 86_400 + 5), now), "Expires in 3 days");
        assert_eq!(expires_in(at(3 * 86_400 - 1), now), "Expires in 2 days");
        assert_eq!(expires_in(at(2 * 86_400 - 1), now), "Expires in 47 hours");
        assert_eq!(expires_in(at(3_600), now), "Expires in 1 hour");
        assert_eq!(expires_in(at(59 * 60 + 59), now), "Expires in 59 minutes");
        assert_eq!(expires_in(at(30), now), "Expires in under a minute");
        assert_eq!(expires_in(at(0), now), "Expiring now");
        assert_eq!(expires_in(at(-10), now), "Expiring now");
    }

    #[test]
    fn bytes_take_the_largest_unit() {
        assert_eq!(bytes(999), "999 bytes");
        assert_eq!(bytes(1_500), "1.5 KB");
        assert_eq!(bytes(188_700_000), "188.7 MB");
        assert_eq!(bytes(2_000_000_000), "2.0 GB");
    }
}
