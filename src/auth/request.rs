//! What a request says about its client: the request itself, the client's address (behind
//! trusted proxies, the hop they vouch for) and the key throttling counts it under, whether cookies
//! must be `Secure`, and setting one.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::{HeaderValue, header, request::Parts};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::{error::AppError, state::AppState};

/// The request a server function is answering.
pub fn request_parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| AppError::internal("guard", "no request in context"))
}

/// The client's address: the socket's, or, behind `trusted_hops` proxies of ours (`None`: not
/// behind a trusted proxy), the `X-Forwarded-For` hop that many from the right, reading every
/// header line in order (a client may send lines of its own; our proxies append to the last).
/// Anything to the left of our proxies' entries the client could have written. Too few entries:
/// the socket's address.
pub fn client_address(parts: &Parts, trusted_hops: Option<u32>) -> String {
    let forwarded = trusted_hops.and_then(|hops| {
        let entries: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|line| line.to_str().ok())
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .collect();
        let hops = usize::try_from(hops).ok().filter(|hops| *hops >= 1)?;
        entries.len().checked_sub(hops).map(|index| entries[index])
    });
    match forwarded {
        Some(hop) => hop.to_owned(),
        None => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
    }
}

/// The client's address as this server's settings say to read it (behind `TRUST_PROXY`'s
/// proxies or not; see [`client_address`]).
pub fn client_of(state: &AppState, parts: &Parts) -> String {
    let sessions = &state.config.sessions;
    client_address(parts, sessions.trust_proxy.then_some(sessions.trust_proxy_hops))
}

/// The key sign-in throttling counts an address under: an IPv6 address by its /64 (one
/// subscriber's whole allocation, which a client can hop across at will), an IPv4 address (or an
/// IPv4-mapped IPv6 one) as itself; anything unparsable as written.
pub fn throttle_key(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => address.to_owned(),
    }
}

/// Whether cookies for this request must be `Secure`.
pub fn secure(state: &AppState, parts: &Parts) -> bool {
    state.config.sessions.secure_cookies
        || parts.uri.scheme_str() == Some("https")
        || parts
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto == "https")
}

pub fn set_cookie(value: HeaderValue) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.append_header(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(lines: &[&str], socket: &str) -> Parts {
        let mut request = http::Request::builder();
        for line in lines {
            request = request.header("x-forwarded-for", *line);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(socket.parse::<SocketAddr>().unwrap()));
        parts
    }

    #[test]
    fn the_client_is_the_hop_our_proxies_vouch_for_across_every_header_line() {
        let socket = "10.0.0.5:443";
        // Not behind a trusted proxy: the header is the client's own words.
        assert_eq!(client_address(&parts(&["203.0.113.7"], socket), None), "10.0.0.5");
        // One proxy appended the last entry of the last line; the client wrote the rest.
        let spoofed = parts(&["1.1.1.1", "2.2.2.2, 203.0.113.7"], socket);
        assert_eq!(client_address(&spoofed, Some(1)), "203.0.113.7");
        // A client line *after* the proxy's would be a proxy bug; entries are read in order.
        let split = parts(&["9.9.9.9, 198.51.100.4", "203.0.113.7"], socket);
        assert_eq!(client_address(&split, Some(1)), "203.0.113.7");
        assert_eq!(client_address(&split, Some(2)), "198.51.100.4");
        // Fewer entries than trusted hops: nothing to trust, the socket's address.
        assert_eq!(
            client_address(&parts(&["203.0.113.7"], socket), Some(2)),
            "10.0.0.5"
        );
        assert_eq!(client_address(&parts(&[], socket), Some(1)), "10.0.0.5");
    }

    #[test]
    fn ipv6_clients_are_throttled_by_their_slash_64() {
        assert_eq!(throttle_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            throttle_key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_ne!(throttle_key("2001:db8:1:3::1"), throttle_key("2001:db8:1:2::1"));
        assert_eq!(throttle_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(throttle_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(throttle_key("unknown"), "unknown");
    }
}
