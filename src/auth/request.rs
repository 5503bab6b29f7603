//! What a request says about its client: the request itself, the client's address (behind a
//! trusted proxy, its last hop), whether cookies must be `Secure`, and setting one.

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

/// The client's address: the socket's, or the right-most `X-Forwarded-For` hop behind a trusted
/// proxy (the one our proxy appended; anything to its left the client could have written).
pub fn client_address(parts: &Parts, trust_proxy: bool) -> String {
    let forwarded = trust_proxy
        .then(|| {
            parts
                .headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .rsplit(',')
                .next()
                .map(str::trim)
        })
        .flatten()
        .filter(|hop| !hop.is_empty());
    match forwarded {
        Some(hop) => hop.to_owned(),
        None => parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
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
