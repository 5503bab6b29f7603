//! The real server binary, started on a free port: pages, health check, 404, config errors, shutdown.

#![cfg(feature = "ssr")]

mod common;

use std::{process::Command, time::Duration};

use common::{BIN, TestServer};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn serves_the_exports_page_with_the_hydration_script() {
    let server = TestServer::start("page", &[]);
    let response = client()
        .get(server.url("/settings/exports"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Data Exports · Exports</title>"), "{html}");
    // Nobody is signed in: the page's gate asks for it, and no data is rendered.
    assert!(html.contains("Please sign in"), "{html}");
    assert!(
        html.contains("/pkg/data-exports.js"),
        "no hydration script in {html}"
    );
    assert!(
        html.contains("/pkg/data-exports.wasm") || html.contains("data-exports_bg.wasm"),
        "{html}"
    );
    assert!(html.contains("hydrate"), "{html}");
}

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts_and_every_response_is_hardened() {
    let server = TestServer::start("headers", &[]);
    let mut nonces = Vec::new();
    for path in ["/login", "/settings/exports"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {policy}"))
            .to_owned();
        for directive in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(
                policy.contains(directive),
                "{path}: {directive} missing from {policy}"
            );
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        let html = response.text().await.unwrap();
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path}: no script at all");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: a script without this response's nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce is used once");
    for path in ["/login", "/healthz", "/no-such-page", "/pkg/data-exports.css"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
    }
    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert!(
        health.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
}

#[tokio::test]
async fn the_root_redirects_to_the_exports_page() {
    let server = TestServer::start("root", &[]);
    // A browser navigation: leptos_axum answers 302 only to requests that accept HTML.
    let response = client()
        .get(server.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()["location"], "/settings/exports");
}

#[tokio::test]
async fn healthz_answers_with_the_version() {
    let server = TestServer::start("healthz", &[]);
    let response = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn an_unknown_path_is_a_404_page() {
    let server = TestServer::start("notfound", &[]);
    let response = client().get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"), "{html}");
}

#[test]
fn a_bad_configuration_value_stops_the_server_with_a_clear_message() {
    let output = Command::new(BIN)
        .arg("serve")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LEPTOS_SITE_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid configuration"), "{stderr}");
    assert!(
        stderr.contains("site-addr") || stderr.contains("site_addr"),
        "{stderr}"
    );
}

#[test]
fn a_missing_configuration_file_is_named() {
    let output = Command::new(BIN)
        .args(["--config", "/nonexistent/Leptos.toml", "serve"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/Leptos.toml"), "{stderr}");
}

#[test]
fn sigterm_shuts_the_server_down_cleanly() {
    let mut server = TestServer::start("sigterm", &[]);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        server
            .wait_for_line("shut down cleanly", Duration::from_secs(5))
            .is_some()
    );
}
