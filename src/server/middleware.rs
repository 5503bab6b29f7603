//! HTTP middleware: security headers, cross-site request rejection and HTTP statuses for
//! server-function errors.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{Method, StatusCode, header};

use crate::error::AppError;

/// Server-function error bodies are a few hundred bytes; anything larger is left alone.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Refuses state-changing requests that a browser marks as coming from another site.
///
/// Leptos server functions do no cross-site checks of their own, and none of ours changes state
/// on GET. Browsers send `Sec-Fetch-Site` (modern) or `Origin` on every cross-site POST; clients
/// that send neither (curl, tests) carry no ambient cookies to abuse.
pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) || is_same_origin(&request) {
        next.run(request).await
    } else {
        tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
        AppError::CrossSite.into_response()
    }
}

fn is_same_origin(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|host| host.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, authority)| authority);
    matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}

/// Server functions answer every error with 500; this gives each [`AppError`] its own status
/// (400 for malformed arguments, 401, 403, 404, 429, 503 with `Retry-After`…), read from the
/// error's `code`, and a body that always says what went wrong in `message`.
pub async fn server_fn_error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response
            .headers()
            .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
    };
    let Ok(error) = serde_json::from_slice::<AppError>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(seconds) = error.retry_after() {
        parts.headers.insert(header::RETRY_AFTER, seconds.into());
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(error.to_http_body().to_string()))
}

/// Everything that is not a page (files, JSON, errors) runs nothing and embeds nothing.
const DEFAULT_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Sets the security headers on every response, and its caching: the bundle (`/pkg/*`, every
/// file named by its content hash) for a year, immutable; the favicon for a day; everything else
/// `no-store`. A page's own Content-Security-Policy (with its nonce, see `app::shell`) is kept.
pub async fn security_headers(request: Request, next: Next) -> Response {
    // Everything but the bundle and its assets (pages, server functions' answers, signed
    // downloads) carries the organisation's data and is stored by no cache.
    let path = request.uri().path();
    let caching = if path.starts_with("/pkg/") {
        "public, max-age=31536000, immutable"
    } else if path.starts_with("/favicon") {
        "public, max-age=86400"
    } else {
        "no-store"
    };
    // Served over HTTPS (directly, or behind a proxy that says so): browsers should never come
    // back over plain HTTP. (A client lying in the header only pins its own browser.)
    let https = request.uri().scheme_str() == Some("https")
        || request
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto == "https");
    let mut response = next.run(request).await;
    // A miss (an old bundle's name, say) must not be remembered for a year.
    let found = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let caching = if found { caching } else { "no-store" };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static(caching));
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            header::HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(header::HeaderValue::from_static(DEFAULT_POLICY));
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Same-origin only: without JavaScript, a failed form post returns to the page it came
        // from by its Referer; no other origin (the S3 store included) ever sees one.
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}
