//! The app's paths, named once: the router, links and redirects all use these.

/// The Data Exports page.
pub const EXPORTS_PAGE: &str = "/settings/exports";

/// The sign-in page.
pub const LOGIN_PAGE: &str = "/login";
