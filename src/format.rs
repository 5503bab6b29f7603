//! Numbers as people read them: thousands separated, byte counts in KB, MB, GB, download counts.

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
    fn bytes_take_the_largest_unit() {
        assert_eq!(bytes(999), "999 bytes");
        assert_eq!(bytes(1_500), "1.5 KB");
        assert_eq!(bytes(188_700_000), "188.7 MB");
        assert_eq!(bytes(2_000_000_000), "2.0 GB");
    }
}
