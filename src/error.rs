//! The app's one error type: what server functions return and what the client shows.
//!
//! Every variant carries only text that is safe to show a user. Internal causes (SQL errors,
//! I/O errors, panics) are logged on the server and reach the client as [`AppError::Internal`],
//! never verbatim.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// An error a user can be shown, with a stable machine-readable code and an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AppError {
    /// No valid session.
    #[error("Please sign in to continue.")]
    Unauthenticated,
    /// Wrong email or password (deliberately not saying which).
    #[error("The email or password is incorrect.")]
    InvalidCredentials,
    /// A state-changing request from another site.
    #[error("Cross-site requests are not accepted.")]
    CrossSite,
    /// Signed in, but without the permission the action needs.
    #[error("You do not have permission to do this ({permission}).")]
    Forbidden { permission: String },
    /// Missing, or belonging to another organisation: the two are indistinguishable on purpose.
    #[error("Not found.")]
    NotFound,
    /// One field of the input is invalid; `field` names it so the form can show it beside it.
    #[error("{message}")]
    Validation { field: String, message: String },
    /// The request itself is malformed (bad encoding, missing or mistyped arguments).
    #[error("The request was malformed: {message}")]
    BadRequest { message: String },
    /// The request is valid but the thing is not in a state that allows it.
    #[error("{message}")]
    Conflict { message: String },
    /// It existed, and is gone for good (an export's file that expired).
    #[error("{message}")]
    Gone { message: String },
    /// Too many attempts or requests; try again later.
    #[error("{message}")]
    RateLimited { message: String },
    /// The server is at its bound for this kind of work (password checks): answered 503 with
    /// `Retry-After`.
    #[error("The server is busy. Try again in {retry_after_secs} seconds.")]
    Busy { retry_after_secs: u64 },
    /// The server could not be reached, or its answer could not be read (client side only).
    #[error("The server could not be reached. Check your connection and try again.")]
    Unreachable,
    /// Anything else. Details are in the server log, keyed by nothing the client can see.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthenticated | AppError::InvalidCredentials => 401,
            AppError::Forbidden { .. } | AppError::CrossSite => 403,
            AppError::NotFound => 404,
            AppError::Validation { .. } | AppError::BadRequest { .. } => 400,
            AppError::Conflict { .. } => 409,
            AppError::Gone { .. } => 410,
            AppError::RateLimited { .. } => 429,
            AppError::Unreachable | AppError::Busy { .. } => 503,
            AppError::Internal => 500,
        }
    }

    /// How many seconds a client should wait before trying again, when the error says.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Busy { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// A validation error on `field`.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Logs an internal failure (its text may hold anything, so it goes to the server log only)
    /// and returns the opaque [`AppError::Internal`].
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        AppError::Internal
    }
}

/// A database error as logs may show it: a database's own message can quote row values (a
/// duplicate key's email, say), so for those only the code and constraint are shown; other
/// errors (I/O, pool, decoding) say what they are.
#[cfg(feature = "ssr")]
pub struct LogSafe<'a>(pub &'a sqlx::Error);

#[cfg(feature = "ssr")]
impl std::fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            sqlx::Error::Database(error) => write!(
                f,
                "database error (code {}, constraint {})",
                error.code().as_deref().unwrap_or("none"),
                error.constraint().unwrap_or("none")
            ),
            other => write!(f, "{other}"),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    /// Where a repository's error reaches the user: logged once, with its cause but no row values.
    fn from(error: sqlx::Error) -> Self {
        AppError::internal("database error", LogSafe(&error))
    }
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status =
            http::StatusCode::from_u16(self.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.to_http_body())).into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The error as HTTP clients receive it: its `code` and fields, and always a `message`, the
    /// sentence to show (the app's own client reads the code and ignores the extra key).
    pub fn to_http_body(&self) -> serde_json::Value {
        let mut body =
            serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({ "code": "internal" }));
        if let Some(fields) = body.as_object_mut() {
            fields
                .entry("message")
                .or_insert_with(|| serde_json::Value::String(self.to_string()));
        }
        body
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The server could not decode what the client sent.
            ServerFnErrorErr::Args(message) | ServerFnErrorErr::MissingArg(message) => {
                AppError::BadRequest { message }
            }
            // On the server, a body the JSON input codec cannot read is the client's mistake
            // (server functions called during rendering never decode anything).
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(message) => AppError::BadRequest { message },
            // In the browser: the server could not be reached, or its answer could not be read.
            #[cfg(not(feature = "ssr"))]
            ServerFnErrorErr::Deserialization(_) => AppError::Unreachable,
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => AppError::Unreachable,
            // Everything else is a fault on our side; its text is not for the client.
            _ => AppError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "ssr")]
    fn http_bodies_always_carry_a_message_the_client_can_still_read() {
        for error in [
            AppError::NotFound,
            AppError::Internal,
            AppError::Forbidden {
                permission: "pf.export_requests.delete".into(),
            },
            AppError::Conflict {
                message: "Busy.".into(),
            },
        ] {
            let body = error.to_http_body();
            assert_eq!(body["message"], error.to_string());
            assert_eq!(serde_json::from_value::<AppError>(body).unwrap(), error);
        }
    }

    #[test]
    fn serialises_with_a_stable_code_and_no_internal_detail() {
        let json = serde_json::to_value(AppError::Internal).unwrap();
        assert_eq!(json, serde_json::json!({ "code": "internal" }));

        let json = serde_json::to_value(AppError::validation("export_format", "Pick a format.")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "code": "validation", "field": "export_format", "message": "Pick a format." })
        );
    }

    #[test]
    fn malformed_arguments_are_a_bad_request_not_a_server_fault() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::Args("missing field `id`".into()));
        assert_eq!(err.status(), 400);
        #[cfg(feature = "ssr")]
        {
            let err = AppError::from_server_fn_error(ServerFnErrorErr::Deserialization("EOF at 1".into()));
            assert_eq!(
                err.status(),
                400,
                "an unreadable JSON body is the client's mistake"
            );
        }
        let err = AppError::from_server_fn_error(ServerFnErrorErr::ServerError("pool timed out".into()));
        assert_eq!(err, AppError::Internal);
        assert!(!err.to_string().contains("pool"));
    }
}
