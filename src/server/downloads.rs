//! `POST /settings/exports/{id}/download`: the Download button without JavaScript. It signs a
//! fresh link (audited, like the server function) and answers 303 to it, in the new tab the form
//! opened; a refusal is a short page saying why, with the way back.

use axum::{
    extract::{Path, State},
    response::{Html, IntoResponse, Redirect, Response},
};
use http::{StatusCode, header, request::Parts};
use uuid::Uuid;

use crate::{
    api::exports::sign_download,
    auth::{
        guard::{Authorized, authorize},
        model::Permission,
    },
    error::AppError,
    routes,
    state::AppState,
};

/// The route, as axum matches it; links are built with [`routes::export_download_action`].
pub const ROUTE: &str = "/settings/exports/{id}/download";

pub async fn download(State(state): State<AppState>, Path(id): Path<String>, parts: Parts) -> Response {
    let stylesheet = state.config.bundle.stylesheet.clone();
    let Ok(id) = id.parse::<Uuid>() else {
        return refused(&AppError::NotFound, &stylesheet);
    };
    let user = match authorize(&state, &parts, Permission::ViewExports).await {
        Ok(user) => user,
        Err(AppError::Unauthenticated) => return Redirect::to(routes::LOGIN_PAGE).into_response(),
        Err(error) => return refused(&error, &stylesheet),
    };
    match sign_download(&Authorized { state, user }, id).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(error) => refused(&error, &stylesheet),
    }
}

/// Why there is no download, as a page (its sentence is one a user may see).
fn refused(error: &AppError, stylesheet: &str) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Download unavailable</title><link rel=\"stylesheet\" href=\"{}\"></head>\
         <body><main class=\"page narrow-page\"><h1>Download unavailable</h1><p role=\"alert\">{}</p>\
         <p><a href=\"{}\">Back to Data Exports</a></p></main></body></html>",
        escape(stylesheet),
        escape(&error.to_string()),
        routes::EXPORTS_PAGE
    );
    (
        status,
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )],
        Html(page),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
