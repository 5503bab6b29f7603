//! `Content-Disposition: attachment` with a safe file name (RFC 6266): an ASCII `filename`
//! fallback and the full UTF-8 name in `filename*` (RFC 8187).

use std::fmt::Write;

/// Longest name kept, in characters (the extension survives truncation).
const MAX_NAME_CHARS: usize = 150;

/// The header value for downloading as `name`. Whatever `name` holds, the result is one valid
/// header line: no CR/LF, quotes, slashes, bidirectional overrides or leading dots.
pub fn attachment(name: &str) -> String {
    let name = clean(name);
    let fallback = ascii_fallback(&name);
    let mut value = format!("attachment; filename=\"{fallback}\"");
    if fallback != name {
        value.push_str("; filename*=UTF-8''");
        for byte in name.bytes() {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                value.push(byte as char);
            } else {
                let _ = write!(value, "%{byte:02X}");
            }
        }
    }
    value
}

/// The name with dangerous characters removed, trimmed, and shortened with its extension kept.
pub fn clean(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .map(|c| {
            if matches!(c, '/' | '\\' | '"' | ':' | '*' | '?' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches(['.', ' ']).trim();
    let name = if trimmed.is_empty() { "export" } else { trimmed };
    truncate_keeping_extension(name, MAX_NAME_CHARS)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}')
}

fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.chars().count() <= 10 => (stem, Some(ext)),
        _ => (name, None),
    };
    let room = max - extension.map_or(0, |ext| ext.chars().count() + 1);
    let stem: String = stem.chars().take(room).collect();
    match extension {
        Some(ext) => format!("{}.{ext}", stem.trim_end()),
        None => stem,
    }
}

/// Printable ASCII only; anything else becomes `_`, runs collapsed.
fn ascii_fallback(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = if c.is_ascii_graphic() || c == ' ' { c } else { '_' };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_single_valid_header(value: &str) -> bool {
        http::HeaderValue::from_str(value).is_ok() && value.is_ascii() && !value.contains(['\r', '\n'])
    }

    #[test]
    fn plain_names_stay_readable() {
        assert_eq!(
            attachment("acme-full-export-2026-11-26.csv"),
            "attachment; filename=\"acme-full-export-2026-11-26.csv\""
        );
    }

    #[test]
    fn hostile_names_produce_one_valid_header() {
        let long = format!("{}.xlsx", "x".repeat(320));
        let cases = [
            "evil\r\nSet-Cookie: a=b.csv",
            "quote\"d.csv",
            "../../etc/passwd",
            "..\\..\\boot.ini",
            ".hidden.csv",
            "report\u{202E}vsc.exe",
            "Clínica São José 🧠.json",
            "Ελληνικά.csv",
            long.as_str(),
            "",
            "   ",
        ];
        for name in cases {
            let value = attachment(name);
            assert!(is_single_valid_header(&value), "{name:?} -> {value:?}");
            let fallback = value.split('"').nth(1).unwrap();
            assert!(!fallback.contains(['/', '\\', '"']), "{value}");
            assert!(!fallback.starts_with('.'), "{value}");
            assert!(fallback.chars().count() <= MAX_NAME_CHARS, "{value}");
        }
        assert!(attachment(&long).contains(".xlsx\""));
        assert!(!attachment("report\u{202E}vsc.exe").contains("%E2%80%AE"));
        let utf8 = attachment("Clínica 🧠.json");
        assert!(
            utf8.contains("filename*=UTF-8''Cl%C3%ADnica%20%F0%9F%A7%A0.json"),
            "{utf8}"
        );
        assert!(attachment("").contains("filename=\"export\""));
    }
}
